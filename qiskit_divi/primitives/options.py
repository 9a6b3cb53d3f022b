"""Options of :class:`~qiskit_divi.SamplerV2` and :class:`~qiskit_divi.EstimatorV2`.

Both primitives take ``options=`` as ``None``, a ``dict`` or an instance of the
dataclasses below, like ``qiskit-ibm-runtime``; ``primitive.options`` is the
live (mutable) instance, checked at every ``run``.

:class:`SamplerOptions`

====================  ===============  ===============================================
option                default          meaning
====================  ===============  ===============================================
``default_shots``     1024             shots of PUBs that set none (as
                                       ``StatevectorSampler`` and ``qiskit-aer``)
``timeout``           None             seconds ``job.result()`` waits before raising
                                       a ``JobTimeoutError`` (None: no limit)
``progress``          True             INFO log line per Qoro job status change
``tag``               "qiskit_divi"    the Qoro job ``tag``
====================  ===============  ===============================================

:class:`EstimatorOptions`: the last three above, plus

========================  ========  =====================================================
option                    default   meaning
========================  ========  =====================================================
``default_precision``     0.015625  precision of PUBs that set none (1/sqrt(4096), as
                                    ``BackendEstimatorV2`` and ``qiskit-ibm-runtime``).
                                    Only the sampling fallback uses it, to choose
                                    ``ceil(1 / precision**2)`` shots; EXPECTATION jobs
                                    are exact whatever the precision
``abelian_grouping``      True      sampling fallback: measure qubit-wise commuting
                                    Pauli terms together (one circuit per group)
``scale_shots_by_norm``   False     sampling fallback: use ``ceil((norm / precision)**2)``
                                    shots, ``norm`` being the largest sum of absolute
                                    non-identity coefficients among the PUB's
                                    observables, so that the reported ``stds`` stay
                                    below ``precision`` for observables with large
                                    coefficients
========================  ========  =====================================================

There is no simulator seed: the Qoro API takes none, so ``seed_simulator`` (or
``seed``) is refused with an explanation rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, TypeVar

from .._circuits import positive_int
from ..api.errors import QoroInputError

_SEED_NAMES = frozenset({"seed", "seed_simulator", "simulator_seed"})

OptionsT = TypeVar("OptionsT", "SamplerOptions", "EstimatorOptions")


def _check_common(options: Any) -> None:
    timeout = options.timeout
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0
    ):
        raise QoroInputError(f"timeout must be a positive number of seconds or None, got {timeout!r}.")
    if not isinstance(options.progress, bool):
        raise QoroInputError(f"progress must be True or False, got {options.progress!r}.")
    if not isinstance(options.tag, str) or not options.tag:
        raise QoroInputError(f"tag must be a non-empty string, got {options.tag!r}.")


def _unknown(cls: type, names: list[str]) -> QoroInputError:
    valid = ", ".join(f.name for f in dataclasses.fields(cls))
    seeds = sorted(set(names) & _SEED_NAMES)
    if seeds:
        return QoroInputError(
            f"{seeds[0]} is not supported: the Qoro API takes no simulator seed, so results "
            f"cannot be made reproducible that way. Valid {cls.__name__} fields: {valid}."
        )
    return QoroInputError(
        f"Unknown {cls.__name__} field(s) {', '.join(map(repr, names))}. Valid fields: {valid}."
    )


class _OptionsMixin:
    def update(self, **kwargs: Any) -> None:
        """Set several fields at once (unknown names raise :class:`QoroInputError`)."""
        names = {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise _unknown(type(self), unknown)
        for key, value in kwargs.items():
            setattr(self, key, value)


@dataclass
class SamplerOptions(_OptionsMixin):
    """Options of :class:`~qiskit_divi.SamplerV2` (see the module table)."""

    default_shots: int = 1024
    timeout: float | None = None
    progress: bool = True
    tag: str = "qiskit_divi"

    def validate(self) -> None:
        """Raise :class:`QoroInputError` naming the first invalid field."""
        positive_int(self.default_shots, "default_shots")
        _check_common(self)


@dataclass
class EstimatorOptions(_OptionsMixin):
    """Options of :class:`~qiskit_divi.EstimatorV2` (see the module table)."""

    default_precision: float = 0.015625
    abelian_grouping: bool = True
    scale_shots_by_norm: bool = False
    timeout: float | None = None
    progress: bool = True
    tag: str = "qiskit_divi"

    def validate(self) -> None:
        """Raise :class:`QoroInputError` naming the first invalid field."""
        precision = self.default_precision
        if (
            isinstance(precision, bool)
            or not isinstance(precision, numbers.Real)
            or not math.isfinite(precision)
            or precision <= 0
        ):
            raise QoroInputError(f"default_precision must be a positive number, got {precision!r}.")
        for name in ("abelian_grouping", "scale_shots_by_norm"):
            if not isinstance(getattr(self, name), bool):
                raise QoroInputError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        _check_common(self)


def coerce_options(cls: type[OptionsT], options: Any) -> OptionsT:
    """``None``, a mapping or an instance of ``cls`` as a fresh, validated ``cls``."""
    if options is None:
        out = cls()
    elif isinstance(options, cls):
        out = dataclasses.replace(options)
    elif isinstance(options, dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise _unknown(cls, unknown)
        out = cls(**options)
    else:
        raise QoroInputError(
            f"options must be None, a dict or a {cls.__name__}, got {type(options).__name__}."
        )
    out.validate()
    return out
