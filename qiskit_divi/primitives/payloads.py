"""The journal payloads of primitive calls, as frozen dataclasses.

A primitive call journals one payload under its first Qoro job id; it is all a fresh
process needs (with the Qoro job ids) to rebuild the call's ``PrimitiveResult``. Every
payload carries ``"format"``; ``from_json`` reads each known format and refuses the
others. Format 1::

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

Format 2 is format 1 plus, in an estimator pub whose circuit was cut (``EstimatorV2``'s
``cutting_max_qubits``, :mod:`qiskit_divi.primitives.cutting`), a ``"cutting"`` object
(:class:`CuttingPlan`; ``"shots"`` is then null); a call journals format 2 only when it cut
a PUB, so older versions keep reading every other call and refuse a cut one clearly::

    cutting: {"max_qubits": int, "cuts": [{"kind": "gate" | "wire", "operation": str,
                                           "qubits": [int, ...], "index": int}, ...],
              "qubits": [int, ...], "terms": [qiskit_label, ...],
              "pieces": [{"width": int, "groups": [{"num_bits": int,
                                                    "observables": [[obs bit, ...], ...]}, ...],
                          "lookup": [[[group, observable], ...] per term]}, ...],
              "samples": [{"coefficients": [float, ...], "shots": [int, ...],
                           "qpd_bits": [[int per piece] per sample]}, ...],
              "binding_samples": [index into samples, per flat binding]}

Circuit labels follow from the payload (:func:`pub_label`; :func:`cut_label` for the
sub-experiments of a cut PUB): ``p<pub>_<flat binding>``,
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
"""The format this version writes for every call that cut no PUB."""
CUT_PAYLOAD_FORMAT = 2
"""The format of an estimator call with a cut PUB (format 1 plus ``"cutting"``)."""

METHOD_EXPECTATION = "expectation"
METHOD_SAMPLING = "sampling"

Shape = tuple[int, ...]
PayloadT = TypeVar("PayloadT", "SamplerPayload", "EstimatorPayload")


def pub_label(pub_index: int, flat_index: int, group: int | None = None) -> str:
    """Qoro circuit label of binding ``flat_index`` of PUB ``pub_index`` (and measurement group)."""
    label = f"p{pub_index}_{flat_index}"
    return label if group is None else f"{label}_g{group}"


def cut_label(pub_index: int, flat_index: int, sample: int, piece: int, group: int) -> str:
    """Qoro circuit label of the sub-experiment of a cut PUB: binding ``flat_index``, QPD
    ``sample``, ``piece`` (subcircuit) and measurement ``group`` of that piece."""
    return f"p{pub_index}_{flat_index}_s{sample}_{piece}_{group}"


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
class Cut:
    """One cut of a PUB's circuit: a ``"gate"`` cut of a two-qubit gate, or a ``"wire"`` cut
    of ``qubits[0]`` just before ``operation`` acts on it. ``index`` is the instruction's
    position in the circuit as cut (barriers removed, gates on 3+ qubits decomposed)."""

    kind: str
    operation: str
    qubits: tuple[int, ...]
    index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "operation": self.operation,
            "qubits": list(self.qubits),
            "index": self.index,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cut:
        return cls(
            str(data["kind"]),
            str(data["operation"]),
            tuple(int(q) for q in data["qubits"]),
            int(data["index"]),
        )


@dataclass(frozen=True)
class CutGroup:
    """A qubit-wise commuting group measured by the sub-experiments of one piece.

    Their clbits are ``num_bits`` observable bits (clbits ``0 .. num_bits - 1``), then the
    QPD measurement bits; each observable of the group is the parity of the observable bits
    it lists, times the parity of all QPD bits (a group of identities has one bit that no
    observable lists: qiskit-addon-cutting measures qubit 0 for it).
    """

    num_bits: int
    observables: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"num_bits": self.num_bits, "observables": [list(o) for o in self.observables]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CutGroup:
        return cls(
            int(data["num_bits"]),
            tuple(tuple(int(b) for b in bits) for bits in data["observables"]),
        )


@dataclass(frozen=True)
class CutPiece:
    """One piece (subcircuit) of a cut PUB: its width, its measurement groups and, per term
    of :attr:`CuttingPlan.terms`, where the term's factor on this piece is measured
    (``(group, observable)`` locations, averaged when several)."""

    width: int
    groups: tuple[CutGroup, ...]
    lookup: tuple[tuple[tuple[int, int], ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "groups": [group.to_json() for group in self.groups],
            "lookup": [[list(at) for at in where] for where in self.lookup],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CutPiece:
        return cls(
            int(data["width"]),
            tuple(CutGroup.from_json(group) for group in data["groups"]),
            tuple(tuple((int(g), int(o)) for g, o in where) for where in data["lookup"]),
        )


@dataclass(frozen=True)
class CutSamples:
    """The quasi-probability samples of one binding: coefficient and shots of each, and the
    number of QPD bits of each sample's sub-experiments on each piece."""

    coefficients: tuple[float, ...]
    shots: tuple[int, ...]
    qpd_bits: tuple[tuple[int, ...], ...]

    @property
    def sampling_overhead(self) -> float:
        """``(sum |coefficient|)**2``: the factor on the shots an uncut circuit would need."""
        return float(sum(abs(c) for c in self.coefficients) ** 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "coefficients": list(self.coefficients),
            "shots": list(self.shots),
            "qpd_bits": [list(bits) for bits in self.qpd_bits],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CutSamples:
        return cls(
            tuple(float(c) for c in data["coefficients"]),
            tuple(int(n) for n in data["shots"]),
            tuple(tuple(int(b) for b in bits) for bits in data["qpd_bits"]),
        )


@dataclass(frozen=True)
class CuttingPlan:
    """How a cut estimator PUB was sent and how its values are reconstructed.

    ``qubits`` are the circuit's qubits that some instruction touches (the others stay
    ``|0>`` and are not cut). ``terms`` are the PUB's non-identity Pauli terms (Qiskit labels
    on all its circuit's qubits) with only I or Z on the other qubits; every binding measures
    all of them, and every other term of the PUB is exactly 0. ``binding_samples[p]`` is the
    index in ``samples`` of binding ``p``'s samples (bindings whose cut gates have the same
    decomposition share one).
    """

    max_qubits: int
    cuts: tuple[Cut, ...]
    qubits: tuple[int, ...]
    terms: tuple[str, ...]
    pieces: tuple[CutPiece, ...]
    samples: tuple[CutSamples, ...]
    binding_samples: tuple[int, ...]

    def labels(self, pub_index: int) -> list[str]:
        """The labels of the PUB's sub-experiments, binding by binding."""
        out: list[str] = []
        for flat, k in enumerate(self.binding_samples):
            for i in range(len(self.samples[k].coefficients)):
                for s, piece in enumerate(self.pieces):
                    groups = range(len(piece.groups))
                    out.extend(cut_label(pub_index, flat, i, s, g) for g in groups)
        return out

    @property
    def circuits_per_sample(self) -> int:
        return sum(len(piece.groups) for piece in self.pieces)

    @property
    def num_subexperiments(self) -> int:
        """Circuits sent for the PUB (every binding)."""
        return self.circuits_per_sample * sum(
            len(self.samples[k].coefficients) for k in self.binding_samples
        )

    @property
    def shots(self) -> int:
        """Shots sent for the PUB (every binding)."""
        per_binding = (sum(self.samples[k].shots) for k in self.binding_samples)
        return self.circuits_per_sample * sum(per_binding)

    @property
    def sampling_overhead(self) -> float:
        """The largest sampling overhead among the bindings."""
        return max(samples.sampling_overhead for samples in self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "max_qubits": self.max_qubits,
            "cuts": [cut.to_json() for cut in self.cuts],
            "qubits": list(self.qubits),
            "terms": list(self.terms),
            "pieces": [piece.to_json() for piece in self.pieces],
            "samples": [samples.to_json() for samples in self.samples],
            "binding_samples": list(self.binding_samples),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CuttingPlan:
        return cls(
            max_qubits=int(data["max_qubits"]),
            cuts=tuple(Cut.from_json(cut) for cut in data["cuts"]),
            qubits=tuple(int(q) for q in data["qubits"]),
            terms=tuple(str(term) for term in data["terms"]),
            pieces=tuple(CutPiece.from_json(piece) for piece in data["pieces"]),
            samples=tuple(CutSamples.from_json(samples) for samples in data["samples"]),
            binding_samples=tuple(int(k) for k in data["binding_samples"]),
        )


@dataclass(frozen=True)
class EstimatorPubPlan:
    """What one estimator PUB sends and how its values recombine.

    ``observables`` are flat (C order over ``obs_shape``), each ``{Qiskit Pauli label:
    real coefficient}``; ``sampling`` is set by the sampling fallback only, ``cutting`` for a
    PUB whose circuit was cut (whatever the call's method).
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
    cutting: CuttingPlan | None = None

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
        if self.cutting is not None:
            out["cutting"] = self.cutting.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], method: str) -> EstimatorPubPlan:
        sampling = None
        cutting = data.get("cutting")
        if method == METHOD_SAMPLING and cutting is None:
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
            cutting=None if cutting is None else CuttingPlan.from_json(cutting),
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
            if pub.cutting is not None:
                out[pub.job].extend(pub.cutting.labels(index))
            elif pub.sampling is None:
                out[pub.job].extend(pub_label(index, p) for p in range(pub.num_bindings))
            else:
                for p, groups in enumerate(pub.sampling.param_groups):
                    out[pub.job].extend(pub_label(index, p, g) for g in groups)
        return out

    def to_json(self) -> dict[str, Any]:
        cut = any(pub.cutting is not None for pub in self.pubs)
        return {
            "format": CUT_PAYLOAD_FORMAT if cut else PAYLOAD_FORMAT,
            "method": self.method,
            "jobs": [job.to_json() for job in self.jobs],
            "pubs": [pub.to_json() for pub in self.pubs],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EstimatorPayload:
        """Read a journaled payload by its ``"format"`` (raises as
        :meth:`SamplerPayload.from_json`)."""
        return _read(cls, data, {1: cls._from_format_1, 2: cls._from_format_1})

    @classmethod
    def _from_format_1(cls, data: Mapping[str, Any]) -> EstimatorPayload:
        # Format 2 differs only by the "cutting" objects that EstimatorPubPlan reads.
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

    def __init__(self, found: Any, readable: Sequence[int]) -> None:
        self.found = found
        self.readable = tuple(readable)
        super().__init__(
            f"journaled in format {found!r}; this version of qiskit_divi reads {self.formats}."
        )

    @property
    def formats(self) -> str:
        """The formats this version reads for the payload's kind: ``"format 1"``,
        ``"formats 1 and 2"``."""
        plural = "s" if len(self.readable) > 1 else ""
        return f"format{plural} " + " and ".join(str(f) for f in self.readable)


def _read(
    cls: type[PayloadT],
    data: Mapping[str, Any],
    readers: Mapping[int, Callable[[Mapping[str, Any]], PayloadT]],
) -> PayloadT:
    """``data`` read by the reader of its ``"format"``; every error is a :class:`JournalError`."""
    found: Any = data.get("format")
    reader = readers.get(found) if is_integer(found) else None
    if reader is None:
        raise UnknownPayloadFormatError(found, sorted(readers))
    try:
        return reader(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise JournalError(
            f"The journal payload is not a valid {cls.__name__} of format {found}: "
            f"{type(exc).__name__}: {exc}. It was not written by qiskit_divi, or was edited."
        ) from exc


def _shape(value: Any) -> Shape:
    return tuple(int(n) for n in value)
