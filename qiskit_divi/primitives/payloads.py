"""The journal payloads of primitive calls, as frozen dataclasses.

A primitive call journals one payload under its first Qoro job id; it is all a fresh
process needs (with the Qoro job ids) to rebuild the call's ``PrimitiveResult``. Every
payload carries ``"format"``; ``from_json`` reads each known format and refuses the
others. Format 1 (the only one so far)::

    sampler:   {"format": 1, "jobs": [job, ...], "pubs": [sampler pub, ...]}
    estimator: {"format": 1, "method": "expectation" | "sampling", "jobs": [job, ...],
                "pubs": [estimator pub, ...]}
    pointer:   {"format": 1, "primary": <first job id>}   (under every other job id)

    job:           {"job_id": str, "shots": int | null}   (null: EXPECTATION, or shot groups:
                                                          each PUB has its own shots)
    sampler pub:   {"job": <index into jobs> | null (not sent), "shots": int,
                    "shape": [int, ...], "num_clbits": int,
                    "registers": [[name, [clbit index, ...]], ...], "circuit_metadata": {...}}
    estimator pub: {"shape": [...], "param_shape": [...], "obs_shape": [...],
                    "num_qubits": int, "observables": [{qiskit_label: coeff}, ...] (flat, C order),
                    "target_precision": float, "shots": int | null, "circuit_metadata": {...},
                    "job": int,
                    # sampling only:
                    "groups": [{"qubits": [int, ...], "paulis": [qiskit_label, ...]}, ...],
                    "param_groups": [[group index, ...] per flat binding index]}

Circuit labels follow from the payload (:func:`pub_label`): ``p<pub>_<flat binding>``,
plus ``_g<group>`` for the estimator's sampling fallback, whether a circuit travelled bound
or as a parameter set of a template (the server labels each set's circuit), so a job with
shot groups or templates journals exactly what format 1 already described. The API token is
never journaled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..api.validation import is_integer
from ..exceptions import JournalError

PAYLOAD_FORMAT = 1
"""The format this version writes."""

METHOD_EXPECTATION = "expectation"
METHOD_SAMPLING = "sampling"

Shape = tuple[int, ...]
PayloadT = TypeVar("PayloadT", "SamplerPayload", "EstimatorPayload")


def pub_label(pub_index: int, flat_index: int, group: int | None = None) -> str:
    """Qoro circuit label of binding ``flat_index`` of PUB ``pub_index`` (and measurement group)."""
    label = f"p{pub_index}_{flat_index}"
    return label if group is None else f"{label}_g{group}"


def shape_size(shape: Sequence[int]) -> int:
    return math.prod(shape)


@dataclass(frozen=True)
class QoroJobRef:
    """One Qoro job of a call: its id and its shots (``None`` for EXPECTATION jobs and for jobs
    with shot groups)."""

    job_id: str
    shots: int | None

    def to_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "shots": self.shots}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QoroJobRef:
        shots = data.get("shots")
        return cls(str(data["job_id"]), None if shots is None else int(shots))


# --- sampler ------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplerPubPlan:
    """What one sampler PUB sends and how its counts split into registers.

    ``job`` is the index of its Qoro job (``None``: nothing to measure, not sent);
    ``registers`` the classical registers in circuit order, each with the indices of its
    bits among the circuit's clbits.
    """

    job: int | None
    shots: int
    shape: Shape
    num_clbits: int
    registers: tuple[tuple[str, tuple[int, ...]], ...]
    circuit_metadata: Any

    @property
    def size(self) -> int:
        return shape_size(self.shape)

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "shots": self.shots,
            "shape": list(self.shape),
            "num_clbits": self.num_clbits,
            "registers": [[name, list(clbits)] for name, clbits in self.registers],
            "circuit_metadata": self.circuit_metadata,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SamplerPubPlan:
        job = data["job"]
        return cls(
            job=None if job is None else int(job),
            shots=int(data["shots"]),
            shape=_shape(data["shape"]),
            num_clbits=int(data["num_clbits"]),
            registers=tuple(
                (str(name), tuple(int(c) for c in clbits)) for name, clbits in data["registers"]
            ),
            circuit_metadata=data.get("circuit_metadata", {}),
        )


@dataclass(frozen=True)
class SamplerPayload:
    """The journal payload of a :class:`~qiskit_divi.SamplerV2` call."""

    jobs: tuple[QoroJobRef, ...]
    pubs: tuple[SamplerPubPlan, ...]

    def labels(self) -> list[list[str]]:
        """The circuit labels of each Qoro job, in job order."""
        out: list[list[str]] = [[] for _ in self.jobs]
        for index, pub in enumerate(self.pubs):
            if pub.job is not None:
                out[pub.job].extend(pub_label(index, flat) for flat in range(pub.size))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PAYLOAD_FORMAT,
            "jobs": [job.to_json() for job in self.jobs],
            "pubs": [pub.to_json() for pub in self.pubs],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SamplerPayload:
        """Read a journaled payload by its ``"format"``.

        Raises :class:`UnknownPayloadFormatError` for a format this version does not read,
        :class:`~qiskit_divi.exceptions.JournalError` when a field is missing or malformed.
        """
        return _read(cls, data, {1: cls._from_format_1})

    @classmethod
    def _from_format_1(cls, data: Mapping[str, Any]) -> SamplerPayload:
        return cls(
            jobs=tuple(QoroJobRef.from_json(job) for job in data["jobs"]),
            pubs=tuple(SamplerPubPlan.from_json(pub) for pub in data["pubs"]),
        )


# --- estimator ----------------------------------------------------------------------


@dataclass(frozen=True)
class MeasurementGroup:
    """Qubit-wise commuting Pauli terms (Qiskit labels) measured by one circuit, on ``qubits``."""

    qubits: tuple[int, ...]
    paulis: tuple[str, ...]

    def basis(self, num_qubits: int) -> str:
        """The group's measurement basis as one Qiskit label (``I`` where no term acts)."""
        letters = ["I"] * num_qubits  # indexed by qubit
        for label in self.paulis:
            for qubit in range(num_qubits):
                letter = label[num_qubits - 1 - qubit]
                if letter != "I":
                    letters[qubit] = letter
        return "".join(reversed(letters))

    def to_json(self) -> dict[str, Any]:
        return {"qubits": list(self.qubits), "paulis": list(self.paulis)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MeasurementGroup:
        return cls(tuple(int(q) for q in data["qubits"]), tuple(str(p) for p in data["paulis"]))


@dataclass(frozen=True)
class SamplingPlan:
    """How the sampling fallback measures one estimator PUB.

    ``groups`` are its measurement circuits per binding; ``param_groups[p]`` the groups
    binding ``p`` (flat index) needs. Every binding of a group runs ``shots`` shots.
    """

    shots: int
    groups: tuple[MeasurementGroup, ...]
    param_groups: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class EstimatorPubPlan:
    """What one estimator PUB sends and how its values recombine.

    ``observables`` are flat (C order over ``obs_shape``), each ``{Qiskit Pauli label:
    real coefficient}``; ``sampling`` is set by the sampling fallback only.
    """

    job: int
    shape: Shape
    param_shape: Shape
    obs_shape: Shape
    num_qubits: int
    observables: tuple[Mapping[str, float], ...]
    target_precision: float
    circuit_metadata: Any
    sampling: SamplingPlan | None = None

    @property
    def shots(self) -> int | None:
        return None if self.sampling is None else self.sampling.shots

    @property
    def num_bindings(self) -> int:
        return shape_size(self.param_shape)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "shape": list(self.shape),
            "param_shape": list(self.param_shape),
            "obs_shape": list(self.obs_shape),
            "num_qubits": self.num_qubits,
            "observables": [dict(observable) for observable in self.observables],
            "target_precision": self.target_precision,
            "shots": self.shots,
            "circuit_metadata": self.circuit_metadata,
            "job": self.job,
        }
        if self.sampling is not None:
            out["groups"] = [group.to_json() for group in self.sampling.groups]
            out["param_groups"] = [list(ids) for ids in self.sampling.param_groups]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], method: str) -> EstimatorPubPlan:
        sampling = None
        if method == METHOD_SAMPLING:
            sampling = SamplingPlan(
                shots=int(data["shots"]),
                groups=tuple(MeasurementGroup.from_json(group) for group in data["groups"]),
                param_groups=tuple(tuple(int(g) for g in ids) for ids in data["param_groups"]),
            )
        return cls(
            job=int(data["job"]),
            shape=_shape(data["shape"]),
            param_shape=_shape(data["param_shape"]),
            obs_shape=_shape(data["obs_shape"]),
            num_qubits=int(data["num_qubits"]),
            observables=tuple(
                {str(label): float(coeff) for label, coeff in observable.items()}
                for observable in data["observables"]
            ),
            target_precision=data["target_precision"],
            circuit_metadata=data.get("circuit_metadata", {}),
            sampling=sampling,
        )


@dataclass(frozen=True)
class EstimatorPayload:
    """The journal payload of an :class:`~qiskit_divi.EstimatorV2` call."""

    method: str
    jobs: tuple[QoroJobRef, ...]
    pubs: tuple[EstimatorPubPlan, ...]

    def labels(self) -> list[list[str]]:
        """The circuit labels of each Qoro job, in job order."""
        out: list[list[str]] = [[] for _ in self.jobs]
        for index, pub in enumerate(self.pubs):
            if pub.sampling is None:
                out[pub.job].extend(pub_label(index, p) for p in range(pub.num_bindings))
            else:
                for p, groups in enumerate(pub.sampling.param_groups):
                    out[pub.job].extend(pub_label(index, p, g) for g in groups)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PAYLOAD_FORMAT,
            "method": self.method,
            "jobs": [job.to_json() for job in self.jobs],
            "pubs": [pub.to_json() for pub in self.pubs],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EstimatorPayload:
        """Read a journaled payload by its ``"format"`` (raises as
        :meth:`SamplerPayload.from_json`)."""
        return _read(cls, data, {1: cls._from_format_1})

    @classmethod
    def _from_format_1(cls, data: Mapping[str, Any]) -> EstimatorPayload:
        method = data["method"]
        if method not in (METHOD_EXPECTATION, METHOD_SAMPLING):
            raise JournalError(
                f"Unknown estimator method {method!r} in the journal payload; this version of "
                f"qiskit_divi writes {METHOD_EXPECTATION!r} or {METHOD_SAMPLING!r}."
            )
        return cls(
            method=method,
            jobs=tuple(QoroJobRef.from_json(job) for job in data["jobs"]),
            pubs=tuple(EstimatorPubPlan.from_json(pub, method) for pub in data["pubs"]),
        )


# --- pointers and format dispatch -------------------------------------------------------


@dataclass(frozen=True)
class PointerPayload:
    """Journaled under every Qoro job of a call but the first: where the payload is."""

    primary: str

    def to_json(self) -> dict[str, Any]:
        return {"format": PAYLOAD_FORMAT, "primary": self.primary}


def primary_of(data: Mapping[str, Any]) -> str | None:
    """The first job id if ``data`` is a :class:`PointerPayload` (any format has it), else None."""
    primary = data.get("primary")
    return None if primary is None else str(primary)


class UnknownPayloadFormatError(JournalError):
    """A journal payload in a format this version does not read."""

    def __init__(self, found: Any) -> None:
        self.found = found
        super().__init__(
            f"journaled in format {found!r}; this version of qiskit_divi reads format "
            f"{PAYLOAD_FORMAT}."
        )


def _read(
    cls: type[PayloadT],
    data: Mapping[str, Any],
    readers: Mapping[int, Callable[[Mapping[str, Any]], PayloadT]],
) -> PayloadT:
    """``data`` read by the reader of its ``"format"``; every error is a :class:`JournalError`."""
    found: Any = data.get("format")
    reader = readers.get(found) if is_integer(found) else None
    if reader is None:
        raise UnknownPayloadFormatError(found)
    try:
        return reader(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise JournalError(
            f"The journal payload is not a valid {cls.__name__} of format {found}: "
            f"{type(exc).__name__}: {exc}. It was not written by qiskit_divi, or was edited."
        ) from exc


def _shape(value: Any) -> Shape:
    return tuple(int(n) for n in value)
