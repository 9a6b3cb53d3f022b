"""``EstimatorV2``: Qiskit's estimator primitive on a Qoro backend.

.. code-block:: python

    estimator = EstimatorV2(mode=backend)
    result = estimator.run([(isa_circuit, observables, parameter_values)]).result()
    result[0].data.evs, result[0].data.stds

PUBs, observables (anything ``ObservablesArray`` accepts, projectors included:
they are expanded into Pauli terms) and parameter values are coerced and
broadcast exactly as ``StatevectorEstimator`` does. Circuits must end without
measurements (final ones are dropped, mid-circuit ones are refused) and pass the
backend's ISA check before anything is sent (except the PUBs that are cut, below).

Two methods, chosen by the backend:

**EXPECTATION jobs** (``backend.supports_expval``, e.g. ``qoro_maestro``). Each
parameter binding is one circuit with a terminal measurement on every qubit
(as the reference client sends them), labelled ``p<pub>_<flat binding index>``;
with the ``templates`` option (the default) a parametric PUB travels as ONE circuit
template whose parameter sets carry those labels (the server binds it).
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
``sum(|coeff| * sqrt(1 - ev**2)) / sqrt(shots)``. With ``templates``, each group of a
parametric PUB is one template, with a parameter set for each binding that needs the
group. The call is ONE job; PUBs at different precisions (so shots) are one bound job
with ``shot_groups``, unless one template job per shots value is estimated to upload
fewer bytes (the rule: :mod:`qiskit_divi.primitives._batches`).

A call whose observables are all multiples of the identity still sends one
small job (so every call has a Qoro job id); its values are computed locally.

**Circuit cutting** (the ``cutting`` extra). A PUB wider than the backend, or than the
``cutting_max_qubits`` option, is not refused: its circuit (virtual, not ISA) is cut into
pieces that fit, and the call's sub-experiments, transpiled here, travel as ONE more sampling
job; the values are reconstructed with their ``stds``, and ``metadata["cutting"]`` says
what was cut. :meth:`EstimatorV2.plan_cuts` previews the cost; a PUB whose sampling overhead
exceeds ``cutting_max_overhead`` is refused before any job. Details:
:mod:`qiskit_divi.primitives.cutting`.

The journal payload (kind ``estimator``) is an
:class:`~qiskit_divi.primitives.payloads.EstimatorPayload`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ClassicalRegister, QuantumRegister
from qiskit.primitives import BaseEstimatorV2, DataBin, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.quantum_info import PauliList, SparsePauliOp
from qiskit.transpiler import PassManager, generate_preset_pass_manager
from qiskit.transpiler.passes import Optimize1qGatesDecomposition

from .._circuits import json_safe, to_qasm, validate_circuit
from .._compat import sparse_observables
from ..api.errors import QoroInputError, QoroProtocolError
from ..api.models import JobType
from ..api.observables import join_ham_ops, qiskit_label_to_wire
from ..api.submission import MAX_SHOTS, JobSpec
from ..api.validation import is_real
from ..journal import KIND_ESTIMATOR
from ._batches import Batch, job_specs, plan_jobs, shot_groups_of
from ._common import (
    check_isa,
    check_mode,
    check_precision,
    check_pubs,
    check_total_shots,
    outcome_bits,
    parity_means,
    retrieve_as,
)
from .cut_reconstruction import cut_term_values
from .cutting import (
    FINDER_SEED,
    MAX_SUBEXPERIMENTS,
    CutPub,
    CutReport,
    PubCutter,
    piece_limit,
    sorted_by_shots,
)
from .job import QoroPrimitiveJob, RawResults, journal_call, rebuild_job, submit_call
from .options import EstimatorOptions, coerce_options
from .payloads import (
    METHOD_EXPECTATION,
    METHOD_SAMPLING,
    CuttingPlan,
    EstimatorPayload,
    EstimatorPubPlan,
    MeasurementGroup,
    QoroJobRef,
    SamplingPlan,
    pub_label,
    shape_size,
)

if TYPE_CHECKING:
    from ..backend import QoroBackend
    from ..journal import JournalEntry
    from ..provider import QoroProvider

logger = logging.getLogger(__name__)


def _is_identity(label: str) -> bool:
    return not label.strip("I")


def _broadcast(param_shape: Sequence[int], obs_shape: Sequence[int]) -> tuple[np.ndarray, ...]:
    """Flat binding and observable indices, broadcast to the PUB's shape."""
    params = np.arange(shape_size(param_shape)).reshape(tuple(param_shape))
    obs = np.arange(shape_size(obs_shape)).reshape(tuple(obs_shape))
    return tuple(np.broadcast_arrays(params, obs))


@dataclass(frozen=True)
class _PreparedPub:
    """A coerced, checked PUB: its measurement-free circuit and its observables as Pauli dicts."""

    index: int
    pub: EstimatorPub
    template: QuantumCircuit
    observables: tuple[dict[str, float], ...]

    @property
    def num_qubits(self) -> int:
        return int(self.template.num_qubits)

    def plan(
        self, job: int, sampling: SamplingPlan | None = None, cutting: CuttingPlan | None = None
    ) -> EstimatorPubPlan:
        return EstimatorPubPlan(
            job=job,
            shape=tuple(self.pub.shape),
            param_shape=tuple(self.pub.parameter_values.shape),
            obs_shape=tuple(self.pub.observables.shape),
            num_qubits=self.num_qubits,
            observables=self.observables,
            target_precision=self.pub.precision,
            circuit_metadata=json_safe(self.pub.circuit.metadata, {}),
            sampling=sampling,
            cutting=cutting,
        )

    def terms(self) -> tuple[str, ...]:
        """The distinct non-identity Pauli terms of all the PUB's observables, sorted."""
        return tuple(
            sorted({label for obs in self.observables for label in obs if not _is_identity(label)})
        )


@dataclass(frozen=True)
class EstimatorPlan:
    """What an estimator call sends (its :class:`JobSpec` objects) and the plan of each PUB."""

    method: str
    specs: tuple[JobSpec, ...]
    pubs: tuple[EstimatorPubPlan, ...]
    circuit_metadata: tuple[Any, ...] = ()
    """Each PUB's circuit metadata as given (the journal keeps the JSON-safe part only)."""

    def payload(self, job_ids: Sequence[str]) -> EstimatorPayload:
        """The journal payload once the jobs of :attr:`specs` have ``job_ids``."""
        jobs = tuple(
            QoroJobRef(job_id, spec.shots) for job_id, spec in zip(job_ids, self.specs, strict=True)
        )
        return EstimatorPayload(method=self.method, jobs=jobs, pubs=self.pubs)


def _quantum_template(circuit: QuantumCircuit, index: int) -> QuantumCircuit:
    """The circuit on one register ``q``, final measurements dropped, no classical bits."""
    stripped = circuit.remove_final_measurements(inplace=False)
    template = QuantumCircuit(QuantumRegister(stripped.num_qubits, "q"), name=circuit.name)
    template.global_phase = stripped.global_phase
    for instruction in stripped.data:
        if instruction.clbits or instruction.operation.name == "measure":
            raise QoroInputError(
                f"PUB {index}: its circuit '{circuit.name}' has a mid-circuit "
                f"'{instruction.operation.name}' using classical bits; estimator circuits must "
                "end without measurements (final measurements are dropped)."
            )
        template.append(
            instruction.operation,
            [template.qubits[stripped.find_bit(q).index] for q in instruction.qubits],
            copy=False,
        )
    return template


def _pauli_dicts(pub: EstimatorPub) -> tuple[dict[str, float], ...]:
    """Each observable (flat, C order) as ``{qiskit Pauli label: real coefficient}``."""
    out = []
    for obs in sparse_observables(pub.observables):
        op = SparsePauliOp.from_sparse_observable(obs.as_paulis()).simplify()
        terms: dict[str, float] = {}
        for label, coeff in zip(op.paulis.to_labels(), op.coeffs, strict=True):
            terms[label] = terms.get(label, 0.0) + float(np.real(coeff))
        out.append(terms)
    return tuple(out)


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
            ``scale_shots_by_norm`` False, ``timeout``, ``progress``, ``tag``,
            ``templates`` True, ``cutting_max_qubits`` None, ``cutting_max_overhead`` 1e4).
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
        plan = self.plan(pubs, precision=precision)
        cut = any(pub.cutting is not None for pub in plan.pubs)
        if len(plan.specs) > 1 + cut:
            logger.info(
                "Estimator call split into %d Qoro jobs (%s%s).",
                len(plan.specs),
                "one per circuit width"
                if plan.method == METHOD_EXPECTATION
                else "one per shots value, templates estimated cheaper than shot groups",
                ", and one for the cut PUBs" if cut else "",
            )
        backend, options = self._backend, self._options
        provider = backend.provider
        payload = plan.payload(submit_call(provider, plan.specs))
        journal_call(provider, KIND_ESTIMATOR, backend.name, payload)
        return QoroPrimitiveJob(
            provider,
            ESTIMATOR_CODEC,
            payload,
            backend=backend,
            backend_name=backend.name,
            progress=options.progress,
            timeout=options.timeout,
            circuit_metadata=plan.circuit_metadata,
        )

    def plan(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
    ) -> EstimatorPlan:
        """What :meth:`run` would submit for these arguments (checked as ``run`` checks them);
        nothing is sent."""
        return plan_estimator_call(self._coerce(pubs, precision), self._backend, self._options)

    def plan_cuts(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
    ) -> list[CutReport]:
        """What cutting each PUB would cost, without sending anything: its cuts, sampling
        overhead, sub-experiments and shots (:class:`~qiskit_divi.primitives.cutting.CutReport`;
        ``print`` one for a summary). A PUB over ``cutting_max_overhead`` is reported with
        the reason :meth:`run` would refuse it rather than raised."""
        coerced = self._coerce(pubs, precision)
        width = _backend_width(self._backend)
        reports = []
        budget = MAX_SUBEXPERIMENTS  # shared by the call's PUBs, as in run()
        for index, pub in enumerate(coerced):
            item = _prepare(index, pub)
            limit = piece_limit(item.num_qubits, width, self._options.cutting_max_qubits)
            if limit is None:
                reports.append(CutReport(index, item.num_qubits, None))
                continue
            cutter = _cutter(item, limit, self._options)
            report = cutter.report(uncut_shots(item, self._options), budget)
            if report.refused is None:
                budget -= report.num_subexperiments
            reports.append(report)
        return reports

    def _coerce(
        self, pubs: Iterable[EstimatorPubLike], precision: float | None
    ) -> list[EstimatorPub]:
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
        return coerced

    @classmethod
    def retrieve(cls, job_id: str, provider: QoroProvider) -> QoroPrimitiveJob:
        """Re-attach to an estimator call by (any of) its Qoro job id(s), from any process."""
        return retrieve_as(job_id, provider, KIND_ESTIMATOR)


def plan_estimator_call(
    pubs: Sequence[EstimatorPub], backend: QoroBackend, options: EstimatorOptions
) -> EstimatorPlan:
    """Check coerced ``pubs`` against ``backend`` and plan their jobs; nothing is sent.

    This is what :meth:`EstimatorV2.run` submits and journals: EXPECTATION jobs when the
    backend runs them, else the sampling fallback; PUBs to cut
    (:mod:`qiskit_divi.primitives.cutting`) in one more sampling job.
    """
    width = _backend_width(backend)
    uncut: list[_PreparedPub] = []
    cut: list[tuple[_PreparedPub, CutPub]] = []
    budget = MAX_SUBEXPERIMENTS
    for index, pub in enumerate(pubs):
        item = _prepare(index, pub)
        limit = piece_limit(item.num_qubits, width, options.cutting_max_qubits)
        if limit is None:
            check_isa(_measured_all(item.template), index, backend, estimator=True)
            uncut.append(item)
        else:
            cut_pub = _cutter(item, limit, options).plan(uncut_shots(item, options), budget)
            budget -= cut_pub.plan.num_subexperiments
            cut.append((item, cut_pub))
    method = METHOD_EXPECTATION if backend.supports_expval else METHOD_SAMPLING
    specs: list[JobSpec] = []
    plans: dict[int, EstimatorPubPlan] = {}
    if uncut:
        planned = (
            _plan_expectation(uncut, backend, options)
            if backend.supports_expval
            else _SamplingPlanner(backend, options).plan(uncut)
        )
        specs.extend(planned.specs)
        plans.update((item.index, plan) for item, plan in zip(uncut, planned.pubs, strict=True))
    if cut:
        specs.append(_cut_job([cut_pub for _, cut_pub in cut], backend, options))
        for item, cut_pub in cut:
            plans[item.index] = item.plan(job=len(specs) - 1, cutting=cut_pub.plan)
        logger.info(
            "Estimator call: %d PUB(s) cut into %d sub-experiments (%s), sent as one Qoro job.",
            len(cut),
            sum(cut_pub.plan.num_subexperiments for _, cut_pub in cut),
            "; ".join(str(CutReport.of(i.index, i.num_qubits, c.plan)) for i, c in cut),
        )
    ordered = tuple(plans[index] for index in range(len(pubs)))
    metadata = tuple(pub.circuit.metadata for pub in pubs)
    return EstimatorPlan(method, tuple(specs), ordered, metadata)


def _backend_width(backend: QoroBackend) -> int:
    return int(backend.target.num_qubits or 0)


def _prepare(index: int, pub: EstimatorPub) -> _PreparedPub:
    check_precision(pub.precision, f"PUB {index}: its precision")
    return _PreparedPub(index, pub, _quantum_template(pub.circuit, index), _pauli_dicts(pub))


def _cutter(item: _PreparedPub, limit: int, options: EstimatorOptions) -> PubCutter:
    return PubCutter(
        item.index,
        item.template,
        item.pub.parameter_values,
        item.terms(),
        limit,
        options.cutting_max_overhead,
    )


def _cut_job(cut: Sequence[CutPub], backend: QoroBackend, options: EstimatorOptions) -> JobSpec:
    """ONE sampling job of every sub-experiment of the call, transpiled to the backend."""
    entries = sorted_by_shots([entry for cut_pub in cut for entry in cut_pub.circuits])
    manager = generate_preset_pass_manager(
        optimization_level=1, target=backend.target, seed_transpiler=FINDER_SEED
    )
    transpiled = manager.run([circuit for _, circuit, _ in entries])  # a list in, a list out
    circuits: dict[str, str] = {}
    for position, ((label, _, _), circuit) in enumerate(zip(entries, transpiled, strict=True)):
        validate_circuit(circuit, position, backend.target, backend.name)
        circuits[label] = to_qasm(circuit, position)
    shots = [n for _, _, n in entries]
    if len(set(shots)) == 1:
        return backend.job_spec(circuits, shots=shots[0], tag=options.tag)
    return backend.job_spec(circuits, shot_groups=shot_groups_of(shots), tag=options.tag)


def uncut_shots(item: _PreparedPub, options: EstimatorOptions) -> int:
    """Shots per circuit of ``item`` in the sampling fallback: ``ceil(1 / precision**2)``
    (``ceil((norm / precision)**2)`` with ``scale_shots_by_norm``)."""
    precision = item.pub.precision  # positive: checked by _prepare
    scale = 1.0
    if options.scale_shots_by_norm:
        norm = max(
            (
                sum(abs(c) for label, c in obs.items() if not _is_identity(label))
                for obs in item.observables
            ),
            default=0.0,
        )
        scale = norm if norm > 0 else 1.0
    shots = max(1, math.ceil((scale / float(precision)) ** 2 - 1e-9))
    if shots > MAX_SHOTS:
        raise QoroInputError(
            f"PUB {item.index}: precision {precision:g} needs {shots:,} shots per circuit, "
            f"more than the {MAX_SHOTS:,} allowed; ask for a larger precision."
        )
    return shots


# --- EXPECTATION jobs ---------------------------------------------------------------


def _plan_expectation(
    prepared: Sequence[_PreparedPub], backend: QoroBackend, options: EstimatorOptions
) -> EstimatorPlan:
    """One EXPECTATION job per circuit width; its observables the union of the width's terms."""
    terms: dict[int, dict[str, None]] = {}
    batches = []
    for item in prepared:
        width_terms = terms.setdefault(item.num_qubits, {})
        for observable in item.observables:
            for label in observable:
                if not _is_identity(label):
                    width_terms.setdefault(qiskit_label_to_wire(label))
        flats = tuple(range(item.pub.parameter_values.size))
        batches.append(
            Batch(
                index=item.index,
                circuit=_measured_all(item.template),
                bindings=item.pub.parameter_values,
                flats=flats,
                labels=tuple(pub_label(item.index, flat) for flat in flats),
                key=item.num_qubits,
            )
        )
    specs, job_of = job_specs(
        plan_jobs(batches, templates=options.templates),
        lambda form: backend.job_spec(
            form.circuits,
            job_type=JobType.EXPECTATION,
            # Identity terms are computed locally; a width whose terms are all
            # identities still needs one term for a valid job.
            observables=join_ham_ops(list(terms[_width(form.key)]) or ["I" * _width(form.key)]),
            tag=options.tag,
            templates=form.templates,
        ),
    )
    plans = tuple(item.plan(job=job_of(item.num_qubits)) for item in prepared)
    return EstimatorPlan(METHOD_EXPECTATION, specs, plans)


def _width(key: Hashable) -> int:
    assert isinstance(key, int)  # EXPECTATION batches are keyed by circuit width
    return key


# --- sampling fallback --------------------------------------------------------------


class _SamplingPlanner:
    """Measurement groups, shots and circuits of the sampling fallback on one backend."""

    def __init__(self, backend: QoroBackend, options: EstimatorOptions) -> None:
        self._backend = backend
        self._options = options

    def plan(self, prepared: Sequence[_PreparedPub]) -> EstimatorPlan:
        sampling = [
            SamplingPlan(uncut_shots(item, self._options), *self._groups_of(item))
            for item in prepared
        ]
        if not any(plan.groups for plan in sampling):
            # Only identities: one one-circuit job so the call has an id (values are local).
            sampling[0] = _identity_only(sampling[0], prepared[0].num_qubits)
        batches = [
            batch
            for item, plan in zip(prepared, sampling, strict=True)
            for batch in self._batches(item, plan)
        ]
        options = self._options
        specs, job_of = job_specs(
            plan_jobs(batches, templates=options.templates),
            lambda form: self._backend.job_spec(
                form.circuits,
                shots=form.shots,
                tag=options.tag,
                shot_groups=form.shot_groups,
                templates=form.templates,
            ),
        )
        plans = tuple(
            item.plan(job=job_of(plan.shots), sampling=plan)
            for item, plan in zip(prepared, sampling, strict=True)
        )
        return EstimatorPlan(METHOD_SAMPLING, specs, plans)

    def _needed_terms(self, item: _PreparedPub) -> list[tuple[str, ...]]:
        """The non-identity terms each binding (flat index) needs, sorted."""
        param_index, obs_index = _broadcast(
            item.pub.parameter_values.shape, item.pub.observables.shape
        )
        needed: list[dict[str, None]] = [
            {} for _ in range(shape_size(item.pub.parameter_values.shape))
        ]
        for p, o in zip(param_index.reshape(-1), obs_index.reshape(-1), strict=True):
            for label in item.observables[o]:
                if not _is_identity(label):
                    needed[int(p)].setdefault(label)
        return [tuple(sorted(terms)) for terms in needed]

    def _groups_of(
        self, item: _PreparedPub
    ) -> tuple[tuple[MeasurementGroup, ...], tuple[tuple[int, ...], ...]]:
        """The PUB's distinct measurement groups, and the groups each binding needs."""
        groups: list[MeasurementGroup] = []
        group_ids: dict[tuple[str, ...], int] = {}
        by_terms: dict[tuple[str, ...], tuple[int, ...]] = {}  # bindings often need the same
        param_groups = []
        for key in self._needed_terms(item):
            if key not in by_terms:
                ids = []
                for paulis in self._grouped(key) if key else []:
                    if paulis not in group_ids:
                        group_ids[paulis] = len(groups)
                        groups.append(_measurement_group(paulis, item.num_qubits))
                    ids.append(group_ids[paulis])
                by_terms[key] = tuple(ids)
            param_groups.append(by_terms[key])
        return tuple(groups), tuple(param_groups)

    def _grouped(self, labels: Sequence[str]) -> list[tuple[str, ...]]:
        if not self._options.abelian_grouping:
            return [(label,) for label in labels]
        return [
            tuple(group.to_labels())
            for group in PauliList(list(labels)).group_qubit_wise_commuting()
        ]

    def _batches(self, item: _PreparedPub, plan: SamplingPlan) -> list[Batch]:
        """The PUB's measurement circuits: one batch per group, of the bindings that need it."""
        flats: dict[int, list[int]] = {}  # group -> the bindings (flat indices) that need it
        for flat, group_ids in enumerate(plan.param_groups):
            for g in group_ids:
                flats.setdefault(g, []).append(flat)
        return [
            Batch(
                index=item.index,
                circuit=self._measurement_template(item, plan.groups[g]),
                bindings=item.pub.parameter_values,
                flats=tuple(needed),
                labels=tuple(pub_label(item.index, flat, g) for flat in needed),
                key=plan.shots,
                shots=plan.shots,
            )
            for g, needed in sorted(flats.items())
        ]

    def _rotations(self, basis: str, num_qubits: int) -> QuantumCircuit:
        """Basis change of a qubit-wise basis (Qiskit label) into Z, in the backend's gates."""
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

    def _measurement_template(self, item: _PreparedPub, group: MeasurementGroup) -> QuantumCircuit:
        n, qubits = item.num_qubits, list(group.qubits)
        circuit = QuantumCircuit(
            QuantumRegister(n, "q"), ClassicalRegister(len(qubits), "c"), name=item.template.name
        )
        circuit.compose(item.template, qubits=range(n), inplace=True)
        circuit.compose(self._rotations(group.basis(n), n), qubits=range(n), inplace=True)
        circuit.measure(qubits, range(len(qubits)))
        check_isa(circuit, item.index, self._backend, estimator=True)
        return circuit


def _measurement_group(paulis: tuple[str, ...], num_qubits: int) -> MeasurementGroup:
    """The group of qubit-wise commuting ``paulis``, measured on the qubits they act on."""
    acting = {q for label in paulis for q in range(num_qubits) if label[num_qubits - 1 - q] != "I"}
    return MeasurementGroup(tuple(sorted(acting)), paulis)


def _identity_only(plan: SamplingPlan, num_qubits: int) -> SamplingPlan:
    """``plan`` with one circuit, measuring qubit 0, for a call with only identity terms."""
    identity = "I" * num_qubits
    return SamplingPlan(
        shots=plan.shots,
        groups=(MeasurementGroup((0,), (identity,)),),
        param_groups=((0,), *plan.param_groups[1:]),
    )


# --- decoding -----------------------------------------------------------------------


def _check_real(value: Any, label: str, term: str) -> float:
    if not is_real(value):
        raise QoroProtocolError(
            f"Malformed server reply: the value of term '{term}' for circuit '{label}' is "
            f"{value!r}, not a number."
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


def _exact_values(
    index: int, pub: EstimatorPubPlan, raw_job: Mapping[str, Mapping[str, Any]]
) -> _TermValues:
    """The values of an EXPECTATION job: every term, exact, for every binding."""
    labels = [label for obs in pub.observables for label in obs if not _is_identity(label)]
    terms = _TermValues.empty(labels, pub.num_bindings)
    wire = [qiskit_label_to_wire(label) for label in terms.column]
    for p in range(pub.num_bindings):
        circuit_label = pub_label(index, p)
        row = raw_job[circuit_label]
        try:
            values = [row[term] for term in wire]
        except KeyError as missing:
            raise QoroProtocolError(
                f"Malformed server reply: circuit '{circuit_label}' has no value for the term "
                f"'{missing.args[0]}'."
            ) from None
        # The common case, plain floats, skips the per-value check.
        if not all(type(value) is float or type(value) is int for value in values):
            values = [
                _check_real(value, circuit_label, term)
                for value, term in zip(values, wire, strict=True)
            ]
        terms.value[p] = values
    terms.measured[:] = True
    return terms


def _sampled_values(
    index: int, pub: EstimatorPubPlan, plan: SamplingPlan, raw_job: Mapping[str, Mapping[str, Any]]
) -> _TermValues:
    """The values of the sampling fallback: each group's terms from its circuit's parities."""
    terms = _TermValues.empty(
        (label for group in plan.groups for label in group.paulis), len(plan.param_groups)
    )
    n = pub.num_qubits
    for p, group_ids in enumerate(plan.param_groups):
        for g in group_ids:
            group = plan.groups[g]
            circuit_label = pub_label(index, p, g)
            matrix, counts = outcome_bits(raw_job[circuit_label], len(group.qubits), circuit_label)
            check_total_shots(counts, plan.shots, circuit_label)
            masks = np.array(
                [[label[n - 1 - q] != "I" for q in group.qubits] for label in group.paulis],
                dtype=np.int64,
            ).reshape(len(group.paulis), len(group.qubits))
            expvals = parity_means(matrix, counts, masks, plan.shots)
            for label, ev in zip(group.paulis, expvals, strict=True):
                column = terms.column[label]
                terms.value[p, column] = float(ev)
                terms.variance[p, column] = 1.0 - float(ev) ** 2
                terms.measured[p, column] = True
    return terms


def _cut_values(
    index: int, pub: EstimatorPubPlan, plan: CuttingPlan, raw_job: Mapping[str, Mapping[str, Any]]
) -> _TermValues:
    """The values of a cut PUB's terms; a term the plan leaves out is exactly 0 (X or Y on a
    qubit no instruction touches)."""
    values, variances = cut_term_values(index, plan, raw_job)
    labels = [label for obs in pub.observables for label in obs if not _is_identity(label)]
    terms = _TermValues.empty([*plan.terms, *labels], pub.num_bindings)
    columns = [terms.column[term] for term in plan.terms]
    terms.value[:, columns] = values
    terms.variance[:, columns] = variances
    terms.measured[:] = True
    n = pub.num_qubits
    idle = [q for q in range(n) if q not in plan.qubits]
    for label in terms.column:
        if label not in plan.terms and all(label[n - 1 - q] in "IZ" for q in idle):
            raise QoroProtocolError(
                f"The plan of this estimator call (or its journal entry) does not measure the "
                f"term '{label}' of cut PUB {index}, which is not 0; please report this."
            )
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
                    f"The plan of this estimator call (or its journal entry) measures the term "
                    f"'{label}' not for every binding that needs it, so the result cannot be "
                    "built; please report this."
                )
            ev += coeff * terms.value[p, column]
            deviation += abs(coeff) * np.sqrt(np.maximum(terms.variance[p, column], 0.0))
        evs[where] = ev
        spread[where] = deviation
    return evs, spread


def _pub_result(
    index: int, pub: EstimatorPubPlan, raw_job: Mapping[str, Mapping[str, Any]], metadata: Any
) -> PubResult:
    param_index, obs_index = _broadcast(pub.param_shape, pub.obs_shape)
    out: dict[str, Any] = {"target_precision": pub.target_precision}
    if pub.cutting is not None:
        terms = _cut_values(index, pub, pub.cutting, raw_job)
        evs, stds = _combine(pub.observables, terms, param_index, obs_index)
        out["cutting"] = CutReport.of(index, pub.num_qubits, pub.cutting).metadata()
    else:
        if pub.sampling is None:
            terms = _exact_values(index, pub, raw_job)
        else:
            terms = _sampled_values(index, pub, pub.sampling, raw_job)
        evs, spread = _combine(pub.observables, terms, param_index, obs_index)
        shots = pub.shots
        stds = spread / math.sqrt(shots) if shots else np.zeros(pub.shape, dtype=np.float64)
        if shots:
            out["shots"] = shots
    out["circuit_metadata"] = metadata
    return PubResult(DataBin(evs=evs, stds=stds, shape=pub.shape), metadata=out)


class EstimatorCodec:
    """Reads estimator journal payloads and decodes their results."""

    kind = KIND_ESTIMATOR

    def read(self, data: Mapping[str, Any]) -> EstimatorPayload:
        return EstimatorPayload.from_json(data)

    def decode(
        self,
        payload: EstimatorPayload,
        raw: RawResults,
        circuit_metadata: Sequence[Any] | None,
    ) -> PrimitiveResult:
        job_ids = [job.job_id for job in payload.jobs]
        results = []
        for index, pub in enumerate(payload.pubs):
            metadata = pub.circuit_metadata if circuit_metadata is None else circuit_metadata[index]
            result = _pub_result(index, pub, raw[pub.job], metadata)
            result.metadata["job_id"] = job_ids[pub.job]
            results.append(result)
        return PrimitiveResult(results, metadata={"version": 2, "job_ids": job_ids})


ESTIMATOR_CODEC = EstimatorCodec()


def retrieve_estimator_job(provider: QoroProvider, entry: JournalEntry) -> QoroPrimitiveJob:
    """The :class:`QoroPrimitiveJob` of an ``estimator`` journal entry
    (``provider.retrieve_job``)."""
    return rebuild_job(provider, entry, ESTIMATOR_CODEC)
