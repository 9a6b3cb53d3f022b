"""Options of :class:`~qiskit_divi.SamplerV2` and :class:`~qiskit_divi.EstimatorV2`.

Both primitives take ``options=`` as ``None``, a ``dict`` or an instance of the
dataclasses below, like ``qiskit-ibm-runtime``; ``primitive.options`` is the
live (mutable) instance. Every assignment is checked when it is made
(``sampler.options.default_shots = -1`` raises at once, as does a misspelt
``sampler.options.defualt_shots = 100``), and ``run`` checks again.

:class:`SamplerOptions`

====================  ===============  ===============================================
option                default          meaning
====================  ===============  ===============================================
``default_shots``     1024             shots of PUBs that set none (as
                                       ``StatevectorSampler`` and ``qiskit-aer``)
``timeout``           None             seconds ``job.result()`` waits before raising
                                       a ``JobTimeoutError`` (None: no limit)
``progress``          True             live display on stderr while a Qoro job is
                                       not final, and an INFO log line per status
                                       change (:mod:`qiskit_divi.progress`)
``tag``               "qiskit_divi"    the Qoro job ``tag``
``templates``         True             send each parametric PUB as one circuit template
                                       bound by the server (``qoro-api.md`` 3.5); False:
                                       one bound circuit per binding, as 0.6 did
                                       (:mod:`qiskit_divi.primitives._batches`)
====================  ===============  ===============================================

:class:`EstimatorOptions`: the last four above, plus

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
``cutting_max_qubits``    None      cut every PUB wider than this many qubits (as well
                                    as those wider than the backend, always cut) into
                                    pieces of at most this width
                                    (:mod:`qiskit_divi.primitives.cutting`; the
                                    ``cutting`` extra). None: cut only PUBs wider than
                                    the backend
``cutting_max_overhead``  1e4       refuse (before any job) a PUB whose cuts cost a
                                    sampling overhead above this: its shots grow by
                                    the overhead
========================  ========  =====================================================

There is no simulator seed: the Qoro API takes none, so ``seed_simulator`` (or
``seed``) is refused with an explanation rather than silently ignored. The
``qiskit-ibm-runtime`` options that have no meaning here (``resilience_level``,
``twirling``, ``optimization_level``, ``default_shots`` on the estimator, ...) are
refused too, each with what to do instead (:data:`IBM_RUNTIME_ADVICE`): a program
ported from IBM that sets them expects something this package does not do.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..api.errors import QoroInputError
from ..api.validation import (
    boolean,
    is_integer,
    non_empty_str,
    optional_positive_seconds,
    positive_int,
    positive_number,
)

_SEED_NAMES = frozenset({"seed", "seed_simulator", "simulator_seed", "seed_estimator"})

_NO_MITIGATION = (
    "qiskit_divi requests no error mitigation: EXPECTATION jobs (on systems that support them, "
    "e.g. qoro_maestro) are exact, and other systems return their raw counts. Remove the option."
)
_NO_SUPPRESSION = (
    "qiskit_divi requests no error suppression (no dynamical decoupling, no twirling), "
    "so there is nothing to configure. Remove the option."
)
_TRANSPILE_FIRST = (
    "The primitives run ISA circuits as given and do not transpile: transpile first, with "
    "generate_preset_pass_manager(backend=backend, optimization_level=...).run(circuits). "
    "Remove the option."
)

IBM_RUNTIME_ADVICE: dict[str, str] = {
    "resilience_level": _NO_MITIGATION,
    "resilience": _NO_MITIGATION,
    "dynamical_decoupling": _NO_SUPPRESSION,
    "twirling": _NO_SUPPRESSION,
    "optimization_level": _TRANSPILE_FIRST,
    "transpilation": _TRANSPILE_FIRST,
    "max_execution_time": (
        "qiskit_divi sets no server-side execution-time limit; to bound how long job.result() "
        "waits, set timeout (seconds)."
    ),
    "environment": (
        "Use tag for the Qoro job tag (IBM's job_tags), progress for the progress display and "
        "the INFO log line per status change, and the logging module (logger 'qiskit_divi') "
        "for the log level."
    ),
    "execution": (
        "qiskit_divi sends no execution options (init_qubits, rep_delay, meas_type): qubits "
        "start in |0> and results are counts. Remove the option."
    ),
    "simulator": (
        "The noise model, coupling map and basis gates are those of the Qoro system: choose "
        "another system (provider.get_backend(name)) instead. There is no simulator seed."
    ),
    "experimental": "There are no experimental options. Remove the option.",
}
"""What to do instead of each ``qiskit-ibm-runtime`` option name that does not apply here."""

_SAMPLER_ADVICE: dict[str, str] = {
    "shots": "SamplerV2 takes default_shots (or shots= in run(), or per PUB).",
    "default_precision": "SamplerV2 takes shots: set default_shots (or shots= in run()).",
}


def _estimator_shots_advice(value: Any) -> str:
    equivalent = ""
    if is_integer(value) and value > 0:
        equivalent = (
            f" (default_shots={int(value)} is default_precision={1 / math.sqrt(int(value)):.6g})"
        )
    return (
        "EstimatorV2 takes a precision, not shots: set default_precision (or precision= in run()); "
        f"the sampling fallback runs ceil(1 / precision**2) shots{equivalent}, and EXPECTATION "
        "jobs are exact whatever the precision."
    )


OptionsT = TypeVar("OptionsT", "SamplerOptions", "EstimatorOptions")


# --- checks of one field ---------------------------------------------------------------


def _optional_positive_int(value: Any, name: str) -> int | None:
    return None if value is None else positive_int(value, name)


def _at_least_one(value: Any, name: str) -> float:
    number = positive_number(value, name)
    if number < 1:
        raise QoroInputError(
            f"{name} must be at least 1 (a cut never costs less than no cut), got {value!r}."
        )
    return number


_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "default_shots": positive_int,
    "default_precision": positive_number,
    "abelian_grouping": boolean,
    "scale_shots_by_norm": boolean,
    "timeout": optional_positive_seconds,
    "progress": boolean,
    "tag": non_empty_str,
    "templates": boolean,
    "cutting_max_qubits": _optional_positive_int,
    "cutting_max_overhead": _at_least_one,
}
"""The check of each field: raises :class:`QoroInputError`, returns the value to store."""


def _check(name: str, value: Any) -> Any:
    check = _CHECKS.get(name)
    return value if check is None else check(value, name)


def _unknown(cls: type, names: list[str], values: dict[str, Any] | None = None) -> QoroInputError:
    """The error for unknown field names: what to use instead of each, and the valid fields."""
    fields = [f.name for f in dataclasses.fields(cls)]
    valid = ", ".join(fields)
    seeds = sorted(set(names) & _SEED_NAMES)
    if seeds:
        return QoroInputError(
            f"{seeds[0]} is not supported: the Qoro API takes no simulator seed, so results "
            f"cannot be made reproducible that way. Valid {cls.__name__} fields: {valid}."
        )
    details = []
    for name in names:
        advice = _advice(cls, name, (values or {}).get(name))
        if advice is not None:
            details.append(advice)
        else:
            close = difflib.get_close_matches(name, fields, n=1)
            if close:
                details.append(f"Did you mean {close[0]!r} instead of {name!r}?")
    return QoroInputError(
        f"Unknown {cls.__name__} field(s) {', '.join(map(repr, names))}. "
        + "".join(f"{detail} " for detail in details)
        + f"Valid fields: {valid}."
    )


def _advice(cls: type, name: str, value: Any) -> str | None:
    """What to use instead of ``name`` on ``cls``, when it is a name users bring from elsewhere."""
    if cls is EstimatorOptions and name in ("default_shots", "shots"):
        return f"{name}: {_estimator_shots_advice(value)}"
    if cls is SamplerOptions and name in _SAMPLER_ADVICE:
        return f"{name}: {_SAMPLER_ADVICE[name]}"
    advice = IBM_RUNTIME_ADVICE.get(name)
    if advice is None:
        return None
    return f"{name} is a qiskit-ibm-runtime option with no counterpart in qiskit_divi. {advice}"


class _OptionsMixin:
    """Checks every assignment: unknown names and invalid values raise :class:`QoroInputError`."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _field_names(type(self)):
            raise _unknown(type(self), [name], {name: value})
        object.__setattr__(self, name, _check(name, value))

    def __delattr__(self, name: str) -> None:
        raise QoroInputError(
            f"{type(self).__name__} fields cannot be deleted; assign a value to {name} instead."
        )

    def __getattr__(self, name: str) -> Any:
        # Only reached for missing attributes: explain the qiskit-ibm-runtime names.
        advice = _advice(type(self), name, None) if not name.startswith("_") else None
        if advice is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}. {advice}")

    def update(self, **kwargs: Any) -> None:
        """Set several fields at once; nothing changes if a name or a value is invalid."""
        unknown = sorted(set(kwargs) - _field_names(type(self)))
        if unknown:
            raise _unknown(type(self), unknown, kwargs)
        checked = {key: _check(key, value) for key, value in kwargs.items()}
        for key, value in checked.items():
            object.__setattr__(self, key, value)

    def validate(self) -> None:
        """Raise :class:`QoroInputError` naming the first invalid field.

        Assignments are checked as they are made; this also catches values put
        in place behind the options' back (``object.__setattr__``, ``__dict__``).
        """
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            _check(f.name, getattr(self, f.name))


def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


@dataclass
class SamplerOptions(_OptionsMixin):
    """Options of :class:`~qiskit_divi.SamplerV2` (see the module table)."""

    default_shots: int = 1024
    timeout: float | None = None
    progress: bool = True
    tag: str = "qiskit_divi"
    templates: bool = True


@dataclass
class EstimatorOptions(_OptionsMixin):
    """Options of :class:`~qiskit_divi.EstimatorV2` (see the module table)."""

    default_precision: float = 0.015625
    abelian_grouping: bool = True
    scale_shots_by_norm: bool = False
    timeout: float | None = None
    progress: bool = True
    tag: str = "qiskit_divi"
    templates: bool = True
    cutting_max_qubits: int | None = None
    cutting_max_overhead: float = 1e4


def coerce_options(cls: type[OptionsT], options: Any) -> OptionsT:
    """``None``, a mapping or an instance of ``cls`` as a fresh, validated ``cls``."""
    if options is None:
        out = cls()
    elif isinstance(options, cls):
        out = dataclasses.replace(options)
    elif isinstance(options, dict):
        unknown = sorted(set(options) - _field_names(cls))
        if unknown:
            raise _unknown(cls, unknown, options)
        out = cls(**options)
    else:
        raise QoroInputError(
            f"options must be None, a dict or a {cls.__name__}, got {type(options).__name__}."
        )
    out.validate()
    return out
