"""``EstimatorV2``: Qiskit's estimator primitive on a Qoro backend.

>>> estimator = EstimatorV2(mode=backend)
>>> result = estimator.run([(isa_circuit, observables, parameter_values)]).result()
>>> result[0].data.evs, result[0].data.stds

PUBs, observables (anything ``ObservablesArray`` accepts, projectors included:
they are expanded into Pauli terms) and parameter values are coerced and
broadcast exactly as ``StatevectorEstimator`` does. Circuits must end without
measurements (final ones are dropped, mid-circuit ones are refused) and pass the
backend's ISA check before anything is sent.

Two methods, chosen by the backend:

**EXPECTATION jobs** (``backend.supports_expval``, e.g. ``qoro_maestro``). Each
parameter binding becomes one circuit with a terminal measurement on every qubit
(as the reference client sends them), labelled ``p<pub>_<flat binding index>``.
The job's ``observables`` is the union of the non-identity Pauli terms of the
call, written qubit 0 LEFTMOST (the reverse of Qiskit labels); the service
returns every term's exact value for every circuit, keyed by that term, and the
coefficients are recombined here. Identity terms are 1 and computed locally.
``observables`` must match every circuit's width, so circuits of different
widths go in different jobs: ONE job per distinct width (usually one per call).
``evs`` are exact, ``stds`` 0; ``precision`` changes nothing (it must still be
positive, as in Qiskit's estimators).

**Sampling fallback** (every other backend). For each binding, the Pauli terms
it needs are split into qubit-wise commuting groups (``abelian_grouping``, on by
default; else one group per term); each group is one circuit with the basis
rotations (H for X, S†H for Y, translated into the backend's native gates) and
measurements of the group's support, labelled ``p<pub>_<binding>_g<group>``.
Shots per PUB: ``ceil(1 / precision**2)`` (``ceil((norm / precision)**2)`` with
``scale_shots_by_norm``). ``stds`` follow ``BackendEstimatorV2``:
``sum(|coeff| * sqrt(1 - ev**2)) / sqrt(shots)``. All circuits with the same shots
are ONE job: one job per distinct shots value (usually one per call).

A call whose observables are all multiples of the identity still sends one
small job (so every call has a Qoro job id); its values are computed locally.

Journal payload (kind ``estimator``; see :mod:`.job` for the common part)::

    {"format": 1, "method": "expectation" | "sampling",
     "jobs": [{"job_id": str, "shots": int | null}, ...],
     "pubs": [{"job": int, "shape": [...], "param_shape": [...], "obs_shape": [...],
               "num_qubits": int, "observables": [{qiskit_label: coeff}, ...] (flat, C order),
               "target_precision": float, "shots": int | null, "circuit_metadata": {...},
               # sampling only:
               "groups": [{"qubits": [int, ...], "paulis": [qiskit_label, ...]}, ...],
               "param_groups": [[group index, ...] per flat binding index]}, ...]}
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ClassicalRegister, QuantumRegister
from qiskit.primitives import BaseEstimatorV2, DataBin, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.quantum_info import PauliList, SparsePauliOp
from qiskit.transpiler import PassManager
from qiskit.transpiler.passes import Optimize1qGatesDecomposition

from .._circuits import bound_qasm
from ..api.errors import QoroInputError, QoroProtocolError
from ..api.models import JobType
from ..api.observables import join_ham_ops, qiskit_label_to_wire
from ..api.submission import MAX_SHOTS, JobSpec
from ..journal import KIND_ESTIMATOR
from ._common import (
    check_isa,
    check_mode,
    check_precision,
    check_pubs,
    json_safe,
    pub_label,
    shape_size,
)
from .job import PAYLOAD_FORMAT, QoroPrimitiveJob, journal_call, rebuild_job, submit_call
from .options import EstimatorOptions, coerce_options
from .sampler import _outcome_bits, _retrieve

if TYPE_CHECKING:
    from ..backend import QoroBackend
    from ..journal import JournalEntry
    from ..provider import QoroProvider

logger = logging.getLogger(__name__)

METHOD_EXPECTATION = "expectation"
METHOD_SAMPLING = "sampling"


def _is_identity(label: str) -> bool:
    return not label.strip("I")


@dataclass
class _Pub:
    """A coerced PUB, prepared: its measurement-free circuit and its observables as Pauli dicts."""

    index: int
    pub: EstimatorPub
    template: QuantumCircuit
    observables: list[dict[str, float]]
    entry: dict[str, Any] = field(default_factory=dict)

    @property
    def num_qubits(self) -> int:
        return self.template.num_qubits

    def broadcast(self) -> tuple[np.ndarray, np.ndarray]:
        """Flat binding and observable indices, broadcast to the PUB's shape."""
        params = np.arange(shape_size(self.pub.parameter_values.shape)).reshape(
            self.pub.parameter_values.shape
        )
        obs = np.arange(shape_size(self.pub.observables.shape)).reshape(self.pub.observables.shape)
        return tuple(np.broadcast_arrays(params, obs))  # type: ignore[return-value]


def _quantum_template(circuit: QuantumCircuit, index: int) -> QuantumCircuit:
    """The circuit on one register ``q``, final measurements dropped, no classical bits."""
    stripped = circuit.remove_final_measurements(inplace=False)
    template = QuantumCircuit(QuantumRegister(stripped.num_qubits, "q"), name=circuit.name)
    template.global_phase = stripped.global_phase
    for instruction in stripped.data:
        if instruction.clbits or instruction.operation.name == "measure":
            raise QoroInputError(
                f"PUB {index}: its circuit '{circuit.name}' has a mid-circuit '{instruction.operation.name}' "
                "using classical bits; estimator circuits must end without measurements (final "
                "measurements are dropped)."
            )
        template.append(
            instruction.operation,
            [template.qubits[stripped.find_bit(q).index] for q in instruction.qubits],
            copy=False,
        )
    return template


def _pauli_dicts(pub: EstimatorPub) -> list[dict[str, float]]:
    """Each observable (flat, C order) as ``{qiskit Pauli label: real coefficient}``."""
    out = []
    for obs in pub.observables.sparse_observables_array().reshape(-1):
        op = SparsePauliOp.from_sparse_observable(obs.as_paulis()).simplify()
        terms: dict[str, float] = {}
        for label, coeff in zip(op.paulis.to_labels(), op.coeffs):
            terms[label] = terms.get(label, 0.0) + float(np.real(coeff))
        out.append(terms)
    return out


def _measured_all(template: QuantumCircuit) -> QuantumCircuit:
    n = template.num_qubits
    circuit = QuantumCircuit(QuantumRegister(n, "q"), ClassicalRegister(n, "c"), name=template.name)
    circuit.compose(template, qubits=range(n), inplace=True)
    circuit.measure(range(n), range(n))
    return circuit


class EstimatorV2(BaseEstimatorV2):
    """Qiskit's ``BaseEstimatorV2`` on a Qoro backend, constructed like qiskit-ibm-runtime's.

    Args:
        mode: the :class:`~qiskit_divi.QoroBackend` to run on.
        options: ``None``, a dict or :class:`EstimatorOptions`
            (``default_precision`` 0.015625, ``abelian_grouping`` True,
            ``scale_shots_by_norm`` False, ``timeout``, ``progress``, ``tag``).
    """

    def __init__(
        self, mode: QoroBackend, options: EstimatorOptions | Mapping[str, Any] | None = None
    ) -> None:
        self._backend = check_mode(mode, "EstimatorV2")
        self._options = coerce_options(EstimatorOptions, options)

    def __repr__(self) -> str:
        return f"<EstimatorV2(mode={self._backend!r})>"

    @property
    def mode(self) -> QoroBackend:
        return self._backend

    @property
    def backend(self) -> QoroBackend:
        return self._backend

    @property
    def options(self) -> EstimatorOptions:
        """The live options (mutable; checked on assignment and again at every ``run``)."""
        return self._options

    @property
    def method(self) -> str:
        """``"expectation"`` on systems running EXPECTATION jobs, else ``"sampling"``."""
        return METHOD_EXPECTATION if self._backend.supports_expval else METHOD_SAMPLING

    def run(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
    ) -> QoroPrimitiveJob:
        """Submit the PUBs (as few Qoro jobs as the API allows) and return the job at once.

        Everything is checked before any request; invalid input raises
        :class:`QoroInputError` (a ``ValueError``) and creates no job.
        """
        options = self._options
        options.validate()
        if precision is None:
            precision = options.default_precision
        check_precision(precision, "run(precision=...)")
        check_pubs(
            pubs,
            "Estimator",
            "run([(circuit, observables)]) or run([(circuit, observables, parameter_values)])",
        )
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        if not coerced:
            raise QoroInputError(
                "run() got no PUBs: pass at least one (circuit, observables[, parameter values])."
            )
        backend = self._backend
        prepared = []
        for index, pub in enumerate(coerced):
            check_precision(pub.precision, f"PUB {index}: its precision")
            template = _quantum_template(pub.circuit, index)
            check_isa(_measured_all(template), index, backend, estimator=True)
            prepared.append(_Pub(index, pub, template, _pauli_dicts(pub)))
        for item in prepared:
            item.entry = {
                "shape": list(item.pub.shape),
                "param_shape": list(item.pub.parameter_values.shape),
                "obs_shape": list(item.pub.observables.shape),
                "num_qubits": item.num_qubits,
                "observables": item.observables,
                "target_precision": item.pub.precision,
                "shots": None,
                "circuit_metadata": json_safe(item.pub.circuit.metadata),
            }
        if self.method == METHOD_EXPECTATION:
            specs = self._plan_expectation(prepared)
        else:
            specs = self._plan_sampling(prepared)
        if len(specs) > 1:
            logger.info(
                "Estimator call split into %d Qoro jobs (%s).",
                len(specs),
                "one per circuit width"
                if self.method == METHOD_EXPECTATION
                else "one per shots value",
            )
        provider = backend.provider
        job_ids = submit_call(provider, specs)
        payload = {
            "format": PAYLOAD_FORMAT,
            "method": self.method,
            "jobs": [
                {"job_id": job_id, "shots": spec.shots} for job_id, spec in zip(job_ids, specs)
            ],
            "pubs": [item.entry for item in prepared],
        }
        journal_call(provider, KIND_ESTIMATOR, backend.name, payload)
        return QoroPrimitiveJob(
            provider,
            ESTIMATOR_CODEC,
            payload,
            backend=backend,
            backend_name=backend.name,
            progress=options.progress,
            timeout=options.timeout,
            circuit_metadata=[pub.circuit.metadata for pub in coerced],
        )

    @classmethod
    def retrieve(cls, job_id: str, provider: QoroProvider) -> QoroPrimitiveJob:
        """Re-attach to an estimator call by (any of) its Qoro job id(s), from any process."""
        return _retrieve(job_id, provider, KIND_ESTIMATOR)

    # --- EXPECTATION jobs -----------------------------------------------------------

    def _plan_expectation(self, prepared: list[_Pub]) -> list[JobSpec]:
        backend, options = self._backend, self._options
        widths: dict[int, tuple[dict[str, str], dict[str, None]]] = {}
        for item in prepared:
            circuits, terms = widths.setdefault(item.num_qubits, ({}, {}))
            item.entry["job"] = list(widths).index(item.num_qubits)
            for observable in item.observables:
                for label in observable:
                    if not _is_identity(label):
                        terms.setdefault(qiskit_label_to_wire(label))
            texts = bound_qasm(_measured_all(item.template), item.pub.parameter_values, item.index)
            for flat, text in enumerate(texts):
                circuits[pub_label(item.index, flat)] = text
        return [
            JobSpec(
                system_name=backend.name,
                job_type=JobType.EXPECTATION,
                circuits=circuits,
                # Identity terms are computed locally; a width whose terms are all
                # identities still needs one term for a valid job.
                observables=join_ham_ops(list(terms) or ["I" * width]),
                tag=options.tag,
            )
            for width, (circuits, terms) in widths.items()
        ]

    # --- sampling fallback ----------------------------------------------------------

    def _shots(self, item: _Pub) -> int:
        precision = item.pub.precision  # positive: checked in run()
        scale = 1.0
        if self._options.scale_shots_by_norm:
            norm = max(
                (
                    sum(abs(c) for label, c in obs.items() if not _is_identity(label))
                    for obs in item.observables
                ),
                default=0.0,
            )
            scale = norm if norm > 0 else 1.0
        shots = max(1, math.ceil((scale / precision) ** 2 - 1e-9))
        if shots > MAX_SHOTS:
            raise QoroInputError(
                f"PUB {item.index}: precision {precision:g} needs {shots:,} shots per circuit, more than the "
                f"{MAX_SHOTS:,} allowed; ask for a larger precision."
            )
        return shots

    def _groups(self, labels: Sequence[str]) -> list[list[str]]:
        if not self._options.abelian_grouping:
            return [[label] for label in labels]
        return [group.to_labels() for group in PauliList(list(labels)).group_qubit_wise_commuting()]

    def _rotations(self, basis: str, num_qubits: int) -> QuantumCircuit:
        """Basis change of a qubit-wise basis (Qiskit label) into Z, in the backend's native gates."""
        rotation = QuantumCircuit(num_qubits)
        for qubit in range(num_qubits):
            letter = basis[num_qubits - 1 - qubit]
            if letter == "Y":
                rotation.sdg(qubit)
            if letter in "XY":
                rotation.h(qubit)
        target = self._backend.target
        if all(
            target.instruction_supported(i.operation.name, (rotation.find_bit(i.qubits[0]).index,))
            for i in rotation.data
        ):
            return rotation
        return PassManager([Optimize1qGatesDecomposition(target=target)]).run(rotation)

    def _plan_sampling(self, prepared: list[_Pub]) -> list[JobSpec]:
        backend, options = self._backend, self._options
        by_shots: dict[int, dict[str, str]] = {}
        pending: list[
            tuple[_Pub, int, int, QuantumCircuit]
        ] = []  # (pub, flat binding, group, measured template)
        for item in prepared:
            shots = self._shots(item)
            item.entry["shots"] = shots
            by_shots.setdefault(shots, {})
            item.entry["job"] = list(by_shots).index(shots)
            param_index, obs_index = item.broadcast()
            needed: dict[int, dict[str, None]] = {
                p: {} for p in range(shape_size(item.pub.parameter_values.shape))
            }
            for p, o in zip(param_index.reshape(-1), obs_index.reshape(-1)):
                for label in item.observables[o]:
                    if not _is_identity(label):
                        needed[int(p)].setdefault(label)
            groups: list[dict[str, Any]] = []
            group_ids: dict[tuple[str, ...], int] = {}
            grouping_cache: dict[tuple[str, ...], list[int]] = {}
            param_groups: list[list[int]] = []
            for p in range(len(needed)):
                key = tuple(sorted(needed[p]))
                if key not in grouping_cache:
                    ids = []
                    for paulis in self._groups(key) if key else []:
                        group_key = tuple(paulis)
                        if group_key not in group_ids:
                            group_ids[group_key] = len(groups)
                            groups.append(self._group_entry(paulis, item.num_qubits))
                        ids.append(group_ids[group_key])
                    grouping_cache[key] = ids
                param_groups.append(grouping_cache[key])
            item.entry["groups"] = groups
            item.entry["param_groups"] = param_groups
        if not any(item.entry["groups"] for item in prepared):
            # Only identities: one one-circuit job so the call has an id (values are computed locally).
            first = prepared[0]
            identity = "I" * first.num_qubits
            first.entry["groups"] = [{"basis": identity, "qubits": [0], "paulis": [identity]}]
            first.entry["param_groups"][0] = [0]
        for item in prepared:
            texts: dict[int, list[str]] = {}  # group -> the QASM of every binding
            circuits = by_shots[item.entry["shots"]]
            for flat, group_list in enumerate(item.entry["param_groups"]):
                for g in group_list:
                    if g not in texts:
                        template = self._measurement_template(item, item.entry["groups"][g])
                        texts[g] = bound_qasm(template, item.pub.parameter_values, item.index)
                    circuits[pub_label(item.index, flat, g)] = texts[g][flat]
        for item in prepared:
            for group in item.entry["groups"]:
                group.pop("basis", None)
        return [
            JobSpec(
                system_name=backend.name,
                job_type=backend.job_type,
                circuits=circuits,
                shots=shots,
                tag=options.tag,
            )
            for shots, circuits in by_shots.items()
        ]

    @staticmethod
    def _group_entry(paulis: Sequence[str], num_qubits: int) -> dict[str, Any]:
        basis = ["I"] * num_qubits  # indexed by qubit
        for label in paulis:
            for qubit in range(num_qubits):
                letter = label[num_qubits - 1 - qubit]
                if letter != "I":
                    basis[qubit] = letter
        qubits = [q for q in range(num_qubits) if basis[q] != "I"]
        return {"basis": "".join(reversed(basis)), "qubits": qubits, "paulis": list(paulis)}

    def _measurement_template(self, item: _Pub, group: Mapping[str, Any]) -> QuantumCircuit:
        n, qubits = item.num_qubits, group["qubits"]
        circuit = QuantumCircuit(
            QuantumRegister(n, "q"), ClassicalRegister(len(qubits), "c"), name=item.template.name
        )
        circuit.compose(item.template, qubits=range(n), inplace=True)
        circuit.compose(self._rotations(group["basis"], n), qubits=range(n), inplace=True)
        circuit.measure(qubits, range(len(qubits)))
        check_isa(circuit, item.index, self._backend, estimator=True)
        return circuit


# --- decoding ----------------------------------------------------------------------


def _check_real(value: Any, label: str, term: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise QoroProtocolError(
            f"Malformed server reply: the value of term '{term}' for circuit '{label}' is {value!r}, not a number."
        )
    return float(value)


@dataclass
class _TermValues:
    """Per-binding values of a PUB's non-identity Pauli terms: ``value[p, column[label]]``,
    its single-shot variance (zero when exact) and whether it was measured at all."""

    column: dict[str, int]
    value: np.ndarray
    variance: np.ndarray
    measured: np.ndarray

    @classmethod
    def empty(cls, labels: Iterable[str], num_bindings: int) -> _TermValues:
        column = {label: j for j, label in enumerate(dict.fromkeys(labels))}
        shape = (num_bindings, len(column))
        return cls(column, np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=bool))


class _EstimatorCodec:
    kind = KIND_ESTIMATOR

    def labels(self, payload: Mapping[str, Any]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in payload["jobs"]]
        for index, pub in enumerate(payload["pubs"]):
            if payload["method"] == METHOD_EXPECTATION:
                out[pub["job"]].extend(
                    pub_label(index, p) for p in range(shape_size(pub["param_shape"]))
                )
            else:
                for p, groups in enumerate(pub["param_groups"]):
                    out[pub["job"]].extend(pub_label(index, p, g) for g in groups)
        return out

    def decode(
        self,
        payload: Mapping[str, Any],
        raw: Sequence[Mapping[str, Mapping[str, Any]]],
        circuit_metadata: Sequence[Any] | None,
    ) -> PrimitiveResult:
        job_ids = [job["job_id"] for job in payload["jobs"]]
        method = payload["method"]
        if method not in (METHOD_EXPECTATION, METHOD_SAMPLING):
            raise QoroProtocolError(f"Unknown estimator method {method!r} in the journal payload.")
        results = []
        for index, pub in enumerate(payload["pubs"]):
            shape = tuple(pub["shape"])
            params = np.arange(shape_size(pub["param_shape"])).reshape(pub["param_shape"])
            obs = np.arange(shape_size(pub["obs_shape"])).reshape(pub["obs_shape"])
            param_index, obs_index = np.broadcast_arrays(params, obs)
            raw_job = raw[pub["job"]]
            if method == METHOD_EXPECTATION:
                terms = self._exact_values(index, pub, raw_job)
            else:
                terms = self._sampled_values(index, pub, raw_job)
            evs, spread = _combine(pub["observables"], terms, param_index, obs_index)
            stds = (
                spread / math.sqrt(pub["shots"])
                if pub["shots"]
                else np.zeros(shape, dtype=np.float64)
            )
            metadata: dict[str, Any] = {"target_precision": pub["target_precision"]}
            if pub["shots"]:
                metadata["shots"] = pub["shots"]
            metadata["circuit_metadata"] = (
                circuit_metadata[index]
                if circuit_metadata is not None
                else pub.get("circuit_metadata", {})
            )
            metadata["job_id"] = job_ids[pub["job"]]
            results.append(PubResult(DataBin(evs=evs, stds=stds, shape=shape), metadata=metadata))
        return PrimitiveResult(results, metadata={"version": 2, "job_ids": job_ids})

    @staticmethod
    def _exact_values(
        index: int, pub: Mapping[str, Any], raw_job: Mapping[str, Mapping[str, Any]]
    ) -> _TermValues:
        labels = [label for obs in pub["observables"] for label in obs if not _is_identity(label)]
        num_bindings = shape_size(pub["param_shape"])
        terms = _TermValues.empty(labels, num_bindings)
        wire = [qiskit_label_to_wire(label) for label in terms.column]
        for p in range(num_bindings):
            circuit_label = pub_label(index, p)
            row = raw_job[circuit_label]
            try:
                values = [row[term] for term in wire]
            except KeyError as missing:
                raise QoroProtocolError(
                    f"Malformed server reply: circuit '{circuit_label}' has no value for the term '{missing.args[0]}'."
                ) from None
            if not all(type(value) is float or type(value) is int for value in values):
                values = [
                    _check_real(value, circuit_label, term) for value, term in zip(values, wire)
                ]
            terms.value[p] = values
        terms.measured[:] = True
        return terms

    @staticmethod
    def _sampled_values(
        index: int, pub: Mapping[str, Any], raw_job: Mapping[str, Mapping[str, Any]]
    ) -> _TermValues:
        terms = _TermValues.empty(
            (label for group in pub["groups"] for label in group["paulis"]),
            len(pub["param_groups"]),
        )
        shots = int(pub["shots"])
        n = int(pub["num_qubits"])
        for p, group_ids in enumerate(pub["param_groups"]):
            for g in group_ids:
                group = pub["groups"][g]
                qubits = group["qubits"]
                circuit_label = pub_label(index, p, g)
                matrix, counts = _outcome_bits(raw_job[circuit_label], len(qubits), circuit_label)
                if int(counts.sum()) != shots:
                    raise QoroProtocolError(
                        f"Malformed server reply: circuit '{circuit_label}' returned {int(counts.sum())} shots, "
                        f"not {shots}."
                    )
                masks = np.array(
                    [[label[n - 1 - q] != "I" for q in qubits] for label in group["paulis"]],
                    dtype=np.int64,
                ).reshape(len(group["paulis"]), len(qubits))
                parity = (matrix.astype(np.int64) @ masks.T) % 2  # outcomes x paulis
                expvals = (counts[:, None] * (1 - 2 * parity)).sum(axis=0) / shots
                for label, ev in zip(group["paulis"], expvals):
                    column = terms.column[label]
                    terms.value[p, column] = float(ev)
                    terms.variance[p, column] = 1.0 - float(ev) ** 2
                    terms.measured[p, column] = True
        return terms


def _combine(
    observables: Sequence[Mapping[str, float]],
    terms: _TermValues,
    param_index: np.ndarray,
    obs_index: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Expectation values and their spread (sum of ``|coeff| * sqrt(variance)``) at every
    position of the broadcast shape, term by term in each observable's order."""
    evs = np.zeros(param_index.shape, dtype=np.float64)
    spread = np.zeros(param_index.shape, dtype=np.float64)
    for o, observable in enumerate(observables):
        where = obs_index == o
        if not where.any():
            continue
        p = param_index[where]
        ev = np.zeros(p.shape, dtype=np.float64)
        deviation = np.zeros(p.shape, dtype=np.float64)
        for label, coeff in observable.items():
            if _is_identity(label):
                ev += coeff
                continue
            column = terms.column.get(label)
            if column is None or not terms.measured[p, column].all():
                raise QoroProtocolError(
                    f"The plan of this estimator call (or its journal entry) measures the term '{label}' not "
                    "for every binding that needs it, so the result cannot be built; please report this."
                )
            ev += coeff * terms.value[p, column]
            deviation += abs(coeff) * np.sqrt(np.maximum(terms.variance[p, column], 0.0))
        evs[where] = ev
        spread[where] = deviation
    return evs, spread


ESTIMATOR_CODEC = _EstimatorCodec()


def retrieve_estimator_job(provider: QoroProvider, entry: JournalEntry) -> QoroPrimitiveJob:
    """Retriever registered for the ``estimator`` journal kind."""
    return rebuild_job(provider, entry, ESTIMATOR_CODEC)
