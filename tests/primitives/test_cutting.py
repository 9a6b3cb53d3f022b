"""Circuit cutting end to end and EXACT: planning, sub-experiments, reconstruction.

Nothing is submitted: ``EstimatorV2.plan`` builds the one sampling job of the cut PUBs from
the backend's ``Target`` only. Each planned sub-experiment (its QASM text, as it would
travel) is simulated exactly (:func:`ground_truth.midcircuit_outcome_probabilities`: the
QPD measurements are mid-circuit) and turned into counts over ``S = 2**50`` shots, the
planned shots of every sample being replaced by ``S`` in the payload (the decoder checks
each circuit returned its planned shots). Rounding the counts costs ``~1e-15`` per
probability, so the decoded values must equal ``Statevector`` expectation values to
``1e-9``: a wrong coefficient, sign, bit order or label fails by far more (the mutation
tests below show by how much).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from ground_truth import midcircuit_outcome_probabilities, outcome_probabilities
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import SparsePauliOp, Statevector
from random_circuits import NON_UNITARY, QASM_GATES, gate, num_qubits_of

from qiskit_divi import EstimatorV2, QoroBackend
from qiskit_divi._qasm.loader import load
from qiskit_divi.primitives.cutting import FINDER_SEED, addon, apply_layout, cuttable, find_layout
from qiskit_divi.primitives.estimator import ESTIMATOR_CODEC, EstimatorPlan
from qiskit_divi.primitives.payloads import EstimatorPayload

S = 2**50
"""Shots of every exact sub-experiment: counts are rounded probabilities times S."""
TOLERANCE = 1e-9
_STANDARD = get_standard_gate_name_mapping()
_UNITARY = tuple(name for name in QASM_GATES if name not in NON_UNITARY)
_ONE_QUBIT = ("rx", "ry", "rz", "u", "h", "sx", "p", "r", "t", "s", "y")
CROSS_GATES = ("cx", "cz", "rzz", "crx", "cu", "rxx", "ryy", "rzx", "cp", "ch", "ecr", "cry")
"""Two-qubit gates placed across the halves, where the cut finder cuts."""


def two_halves(seed: int, num_qubits: int, cross: int, layers: int = 3) -> QuantumCircuit:
    """A random parametric circuit over every standard gate (1 to 4 qubits) inside two halves
    of its qubits, with ``cross`` two-qubit gates between the halves (where the finder cuts), and a
    barrier (removed before cutting)."""
    rng = np.random.default_rng(seed)
    theta = ParameterVector("θ", 2)
    halves = [list(range(num_qubits // 2)), list(range(num_qubits // 2, num_qubits))]
    circuit = QuantumCircuit(num_qubits, name=f"halves_{seed}")

    def angle() -> Any:
        if rng.random() < 0.4:
            coefficient = float(rng.choice([-1.0, 0.5, 2.0]))
            return coefficient * theta[int(rng.integers(2))] + float(rng.uniform(-1, 1))
        return float(rng.uniform(-math.pi, math.pi))

    def place(name: str, qubits: Sequence[int]) -> None:
        circuit.append(gate(name, [angle() for _ in _STANDARD[name].params]), list(qubits))

    crossings = set(rng.choice(2 * layers, cross, replace=False).tolist())
    for step in range(2 * layers):
        half = halves[step % 2]
        for q in half:
            place(str(rng.choice(_ONE_QUBIT)), [q])
        names = [name for name in _UNITARY if num_qubits_of(name) <= len(half)]
        for _ in range(2):
            name = str(rng.choice(names))
            place(name, [int(q) for q in rng.permutation(half)[: num_qubits_of(name)]])
        if step in crossings:
            # From the last qubit of one half to the first of the other: always a cut.
            pair = [halves[0][-1], halves[1][0]]
            place(str(rng.choice(CROSS_GATES)), pair if rng.random() < 0.5 else pair[::-1])
        if step == 1:
            circuit.barrier()
    return circuit


def random_observable(rng: np.random.Generator, num_qubits: int, terms: int = 3) -> SparsePauliOp:
    """``terms`` random X/Y/Z/I Pauli terms plus an identity term, random real coefficients."""
    labels = sorted({"".join(rng.choice(list("IXYZ"), num_qubits)) for _ in range(terms)})
    labels = [label for label in labels if set(label) != {"I"}] + ["I" * num_qubits]
    return SparsePauliOp(labels, rng.uniform(-1, 1, len(labels)))


def random_pub(seed: int, num_qubits: int, cross: int) -> tuple[Any, ...]:
    """A PUB of :func:`two_halves`: observables of shape (2, 1), bindings of shape (3,)."""
    circuit = two_halves(seed, num_qubits, cross)
    rng = np.random.default_rng(1000 + seed)
    observables = [[random_observable(rng, num_qubits)] for _ in range(2)]
    values = rng.uniform(-math.pi, math.pi, (3, circuit.num_parameters))
    return circuit, observables, values


def exact_counts(text: str) -> dict[str, int]:
    """Counts of one planned sub-experiment (its QASM text) over exactly ``S`` shots,
    ``S`` times its exact distribution (the rounding remainder on the likeliest outcome)."""
    circuit = load(text)
    probabilities = midcircuit_outcome_probabilities(circuit)
    counts = {outcome: round(p * S) for outcome, p in probabilities.items()}
    counts[max(probabilities, key=probabilities.__getitem__)] += S - sum(counts.values())
    return {format(k, f"0{circuit.num_clbits}b"): n for k, n in counts.items() if n}


def exact_payload(plan: EstimatorPlan) -> EstimatorPayload:
    """The payload of ``plan`` with every cut sample planned at ``S`` shots."""
    payload = plan.payload([f"job{j}" for j in range(len(plan.specs))])
    pubs = []
    for pub in payload.pubs:
        assert pub.cutting is not None
        samples = tuple(
            dataclasses.replace(entry, shots=(S,) * len(entry.shots))
            for entry in pub.cutting.samples
        )
        pubs.append(
            dataclasses.replace(pub, cutting=dataclasses.replace(pub.cutting, samples=samples))
        )
    return dataclasses.replace(payload, pubs=tuple(pubs))


def exact_raw(plan: EstimatorPlan) -> list[dict[str, dict[str, int]]]:
    """Every job's exact counts (all cut PUBs travel in the plan's one job)."""
    (spec,) = plan.specs
    return [{label: exact_counts(text) for label, text in spec.circuits.items()}]


def decode(payload: EstimatorPayload, raw: list[dict[str, dict[str, int]]]) -> Any:
    return ESTIMATOR_CODEC.decode(payload, raw, None)


def reference(pub: tuple[Any, ...]) -> np.ndarray:
    """Exact expectation values of a PUB (observables (2, 1) x bindings (3,)), by
    ``Statevector``."""
    circuit, observables, values = pub
    states = [Statevector(circuit.assign_parameters(row)) for row in values]
    return np.array(
        [[state.expectation_value(obs[0]).real for state in states] for obs in observables]
    )


def estimator(backend: QoroBackend, max_qubits: int, **options: Any) -> EstimatorV2:
    return EstimatorV2(
        backend, options={"cutting_max_qubits": max_qubits, "progress": False, **options}
    )


def test_midcircuit_reference_equals_statevector_on_final_measurements() -> None:
    """With final measurements only, the branching reference is Statevector's distribution."""
    circuit = two_halves(11, 5, 2).assign_parameters([0.3, -1.2])
    measured = QuantumCircuit(5, 6)
    measured.compose(circuit, inplace=True)
    for qubit, clbit in zip((3, 0, 4, 1), (5, 0, 2, 3), strict=True):
        measured.measure(qubit, clbit)
    exact = outcome_probabilities(measured)
    branched = midcircuit_outcome_probabilities(measured)
    for outcome in set(exact) | set(branched):
        assert branched.get(outcome, 0.0) == pytest.approx(exact.get(outcome, 0.0), abs=1e-12)


def test_midcircuit_reference_by_hand() -> None:
    """ry(2a) q0; cx q0,q1; reset q0; measure q1 -> c2; measure q0 -> c0; h q0;
    measure q0 -> c1; x q0; measure q0 -> c0 (overwrites): c2 = 1 with probability
    sin(a)**2 (the reset leaves q1 mixed), c1 uniform, and c0 = 1 - c1 (the last
    measurement overwrites c0 with the collapsed q0, flipped)."""
    a = 0.7
    circuit = QuantumCircuit(2, 3)
    circuit.ry(2 * a, 0)
    circuit.cx(0, 1)
    circuit.reset(0)
    circuit.measure(1, 2)
    circuit.measure(0, 0)
    circuit.h(0)
    circuit.measure(0, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    got = midcircuit_outcome_probabilities(circuit)
    p1 = math.sin(a) ** 2
    expected = {0b001: (1 - p1) / 2, 0b010: (1 - p1) / 2, 0b101: p1 / 2, 0b110: p1 / 2}
    assert got.keys() == expected.keys()
    for outcome, p in expected.items():
        assert got[outcome] == pytest.approx(p, abs=1e-15)
    with pytest.raises(ValueError, match="max_branches"):
        midcircuit_outcome_probabilities(circuit, max_branches=2)


# Piece limit and the PUBs of one call (seed, qubits, crossing gates): one job for both.
CALLS = [
    (3, [(0, 5, 1), (1, 6, 2)]),
    (4, [(2, 7, 1), (5, 7, 2)]),
    (3, [(4, 6, 1), (3, 5, 2)]),
    (3, [(6, 5, 1), (7, 6, 2)]),
]


@pytest.mark.parametrize(
    ("max_qubits", "cases"), CALLS, ids=["-".join(str(c[0]) for c in cases) for _, cases in CALLS]
)
def test_cut_random_pubs_are_exact(
    maestro: QoroBackend, max_qubits: int, cases: list[tuple[int, int, int]]
) -> None:
    """Two random cut PUBs in one call: every ev equals Statevector's, metadata matches the
    plan."""
    pubs = [random_pub(*case) for case in cases]
    plan = estimator(maestro, max_qubits).plan(pubs, precision=0.1)
    assert len(plan.specs) == 1  # every sub-experiment of the call in ONE job
    labels = set(plan.specs[0].circuits)
    result = decode(exact_payload(plan), exact_raw(plan))
    for index, (pub, (seed, n, cross)) in enumerate(zip(pubs, cases, strict=True)):
        cutting = plan.pubs[index].cutting
        assert cutting is not None
        assert set(cutting.labels(index)) <= labels
        kinds = [cut.kind for cut in cutting.cuts]
        assert kinds and set(kinds) == {"gate"} and len(kinds) <= cross, (seed, cutting.cuts)
        assert max(piece.width for piece in cutting.pieces) <= max_qubits
        evs = result[index].data.evs
        assert evs.shape == (2, 3)
        np.testing.assert_allclose(evs, reference(pub), rtol=0, atol=TOLERANCE, err_msg=str(seed))
        metadata = result[index].metadata["cutting"]
        assert metadata["cuts"] == [cut.to_json() for cut in cutting.cuts]
        assert metadata["max_qubits"] == max_qubits
        assert sum(metadata["piece_widths"]) >= n
        # At S shots per circuit the standard deviations are tiny.
        assert (result[index].data.stds >= 0).all()
        assert result[index].data.stds.max() < 1e-6


def wire_cut_circuit() -> QuantumCircuit:
    """Six qubits where qubit 2 talks to every qubit of the other half, then back to its
    own: into pieces of 4, the cut finder moves qubit 2 over by a wire cut (and cuts one
    gate), cheaper than cutting the three gates."""
    circuit = QuantumCircuit(6, name="wire")
    theta = Parameter("θ")
    for q in range(6):
        circuit.ry(0.4 + 0.3 * q, q)
        circuit.rz(theta * (q + 1) / 3, q)
    circuit.cx(0, 1)
    circuit.crx(theta, 1, 2)
    circuit.cx(3, 4)
    circuit.cu(0.3, theta, 0.5, 0.2, 4, 5)
    for q in (3, 4, 5):
        circuit.cx(2, q)
    circuit.rzz(theta, 0, 2)
    circuit.cz(1, 2)
    circuit.ccx(3, 4, 5)
    return circuit


def test_wire_and_gate_cuts_are_exact(maestro: QoroBackend) -> None:
    circuit = wire_cut_circuit()
    rng = np.random.default_rng(7)
    observables = [[random_observable(rng, 6, terms=2)] for _ in range(2)]
    values = np.array([[0.4], [1.7], [-2.2]])
    pub = (circuit, observables, values)
    plan = estimator(maestro, 4).plan([pub], precision=0.1)
    cutting = plan.pubs[0].cutting
    assert cutting is not None
    assert sorted(cut.kind for cut in cutting.cuts) == ["gate", "wire"]
    result = decode(exact_payload(plan), exact_raw(plan))
    np.testing.assert_allclose(result[0].data.evs, reference(pub), rtol=0, atol=TOLERANCE)
    assert {cut["kind"] for cut in result[0].metadata["cutting"]["cuts"]} == {"gate", "wire"}


def rzz_across(num_qubits: int = 6) -> QuantumCircuit:
    """Two entangled halves joined by ONE ``rzz(θ)``: its cut's coefficients depend on θ."""
    circuit = QuantumCircuit(num_qubits, name="rzz_across")
    theta = Parameter("θ")
    half = num_qubits // 2
    for q in range(num_qubits):
        circuit.h(q)
        circuit.ry(0.2 + 0.35 * q, q)
    for q in range(half - 1):
        circuit.cx(q, q + 1)
    for q in range(half, num_qubits - 1):
        circuit.cry(0.7, q, q + 1)
    circuit.rzz(theta, half - 1, half)
    circuit.cswap(0, 1, 2)
    circuit.rxx(-0.6, half, half + 1)
    return circuit


RZZ_VALUES = np.array([[0.3], [1.1], [2.5], [-0.8]])


@pytest.fixture(scope="module")
def rzz_call(maestro: QoroBackend) -> tuple[tuple[Any, ...], EstimatorPlan, Any, Any]:
    """The rzz PUB, its plan, exact payload and raw counts."""
    circuit = rzz_across()
    rng = np.random.default_rng(3)
    observables = [[random_observable(rng, 6, terms=3)] for _ in range(2)]
    pub = (circuit, observables, RZZ_VALUES)
    plan = estimator(maestro, 3).plan([pub], precision=0.2)
    return pub, plan, exact_payload(plan), exact_raw(plan)


def test_cut_parametric_gate_has_coefficients_per_binding(
    rzz_call: tuple[tuple[Any, ...], EstimatorPlan, Any, Any],
) -> None:
    pub, plan, payload, raw = rzz_call
    cutting = plan.pubs[0].cutting
    assert cutting is not None
    assert [(cut.kind, cut.operation) for cut in cutting.cuts] == [("gate", "rzz")]
    # Four angles, four decompositions.
    assert len(cutting.samples) == len(RZZ_VALUES)
    assert len({samples.coefficients for samples in cutting.samples}) == len(RZZ_VALUES)
    result = decode(payload, raw)
    np.testing.assert_allclose(result[0].data.evs, reference(pub), rtol=0, atol=TOLERANCE)


def test_idle_qubits_are_not_cut(maestro: QoroBackend) -> None:
    """A qubit no instruction touches stays |0>: terms with X or Y on it are exactly 0,
    with Z its factor is 1, exactly (qubit 3 idle, between the halves)."""
    inner = rzz_across()
    circuit = QuantumCircuit(7, name="idle")
    circuit.compose(inner, qubits=[0, 1, 2, 4, 5, 6], inplace=True)
    rng = np.random.default_rng(5)
    observables = [
        [random_observable(rng, 7, terms=3) + SparsePauliOp(["IIIXIII", "IIIZIZI"], [0.5, 0.7])]
        for _ in range(2)
    ]
    pub = (circuit, observables, RZZ_VALUES[:3])
    plan = estimator(maestro, 3).plan([pub], precision=0.2)
    cutting = plan.pubs[0].cutting
    assert cutting is not None
    assert 3 not in cutting.qubits
    assert [cut.kind for cut in cutting.cuts] == ["gate"]
    result = decode(exact_payload(plan), exact_raw(plan))
    np.testing.assert_allclose(result[0].data.evs, reference(pub), rtol=0, atol=TOLERANCE)


def test_a_circuit_without_instructions_is_exact(maestro: QoroBackend) -> None:
    """Every qubit idle: the PUB still runs (one piece of one qubit) and each term is
    <0...0|P|0...0> exactly: 1 with only I and Z, else 0."""
    circuit = QuantumCircuit(6, name="empty")
    observable = SparsePauliOp(["ZZIIIZ", "IIXIII", "YIIIIZ", "IIIIII"], [0.5, 2.0, -1.0, 0.25])
    plan = estimator(maestro, 3).plan([(circuit, observable)], precision=0.2)
    cutting = plan.pubs[0].cutting
    assert cutting is not None and cutting.cuts == () and cutting.qubits == (0,)
    result = decode(exact_payload(plan), exact_raw(plan))
    exact = Statevector(circuit).expectation_value(observable).real
    assert exact == pytest.approx(0.75)
    assert result[0].data.evs == pytest.approx(exact, abs=TOLERANCE)


def broadcast_reference(
    circuit: QuantumCircuit, observables: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Exact evs of a PUB broadcast as Qiskit broadcasts: observables (an object array of
    SparsePauliOp) against bindings (``values[..., parameter]``)."""
    obs_ids = np.arange(observables.size).reshape(observables.shape)
    binding_ids = np.arange(values[..., 0].size).reshape(values.shape[:-1])
    obs_ids, binding_ids = np.broadcast_arrays(obs_ids, binding_ids)
    rows = values.reshape(-1, values.shape[-1])
    flat = observables.reshape(-1)
    states = [Statevector(circuit.assign_parameters(row)) for row in rows]
    out = np.zeros(obs_ids.shape)
    for index in np.ndindex(obs_ids.shape):
        out[index] = states[binding_ids[index]].expectation_value(flat[obs_ids[index]]).real
    return out


def test_observables_on_one_piece_and_2d_bindings(maestro: QoroBackend) -> None:
    """Two PUBs in one call. The first: bindings of shape (2, 2) against observables of
    shape (3, 1, 1), broadcast as Qiskit does, one observable identity only. The second:
    every term on one piece (the other piece measures an identity: the library then
    measures an ignored bit), against bindings of shape (2,)."""
    circuit = rzz_across()
    observables = np.empty((3, 1, 1), dtype=object)
    observables[0, 0, 0] = SparsePauliOp(["IIIIIZ", "XIIIXY", "IIIIII"], [0.6, -0.3, 0.2])
    observables[1, 0, 0] = SparsePauliOp(["ZXYIII", "IIIIII"], [0.9, -0.4])
    observables[2, 0, 0] = SparsePauliOp(["IIIIII"], [0.7])
    values = np.array([[[0.3], [1.9]], [[-2.4], [0.0]]])
    one_piece = np.empty(2, dtype=object)
    one_piece[0] = SparsePauliOp(["IIIIIZ", "IIIIXY", "IIIIII"], [0.6, -0.3, 0.2])
    one_piece[1] = SparsePauliOp(["IIIIII"], [0.7])
    pubs = [(circuit, observables, values), (circuit, one_piece, values[1])]
    plan = estimator(maestro, 3).plan(pubs, precision=0.2)
    second = plan.pubs[1].cutting
    assert second is not None
    assert any(group.observables == ((),) for piece in second.pieces for group in piece.groups)
    result = decode(exact_payload(plan), exact_raw(plan))
    for index, (shape, (_, obs, vals)) in enumerate(zip([(3, 2, 2), (2,)], pubs, strict=True)):
        expected = broadcast_reference(circuit, obs, vals)
        assert result[index].data.evs.shape == expected.shape == shape
        np.testing.assert_allclose(result[index].data.evs, expected, rtol=0, atol=TOLERANCE)


def test_routed_backend_is_exact(provider: Any) -> None:
    """On fake_nairobi (a coupling map: sub-experiments are routed, clbits follow) through
    the sampling method, the values are still exact."""
    pub = random_pub(4, 6, 1)
    plan = estimator(provider.get_backend("fake_nairobi"), 3).plan([pub], precision=0.1)
    assert plan.method == "sampling"
    result = decode(exact_payload(plan), exact_raw(plan))
    np.testing.assert_allclose(result[0].data.evs, reference(pub), rtol=0, atol=TOLERANCE)


def _mutated(payload: EstimatorPayload, **changes: Any) -> EstimatorPayload:
    pub = payload.pubs[0]
    assert pub.cutting is not None
    cutting = dataclasses.replace(pub.cutting, **changes)
    return dataclasses.replace(payload, pubs=(dataclasses.replace(pub, cutting=cutting),))


def test_mutations_are_detected(rzz_call: tuple[tuple[Any, ...], EstimatorPlan, Any, Any]) -> None:
    """The exact comparison is sensitive: a flipped coefficient, another binding's
    coefficients or one sample's counts swapped with another's each move an ev by > 1e-3."""
    pub, _, payload, raw = rzz_call
    expected = reference(pub)
    cutting = payload.pubs[0].cutting
    assert cutting is not None

    def error(mutated: EstimatorPayload, counts: Any = raw) -> float:
        return float(np.abs(decode(mutated, counts)[0].data.evs - expected).max())

    assert error(payload) < TOLERANCE
    first = cutting.samples[0]
    largest = int(np.argmax(np.abs(first.coefficients)))
    flipped = list(first.coefficients)
    flipped[largest] *= -1
    samples = (dataclasses.replace(first, coefficients=tuple(flipped)), *cutting.samples[1:])
    assert error(_mutated(payload, samples=samples)) > 1e-3
    # Every binding decoded with binding 0's coefficients (labels of binding p unchanged).
    same = (cutting.samples[0],) * len(cutting.samples)
    assert error(_mutated(payload, samples=same)) > 1e-3
    # Sample 0's counts read for sample 1 (binding 0, every piece and group).
    swapped = {
        label: raw[0][label.replace("_s1_", "_s0_")] if label.startswith("p0_0_s1_") else counts
        for label, counts in raw[0].items()
    }
    assert error(payload, [swapped]) > 1e-3


@pytest.mark.parametrize("case", ["halves", "wire"], ids=["gate cuts", "gate and wire cuts"])
def test_apply_layout_reproduces_find_cuts(case: str) -> None:
    """``apply_layout`` of ``find_layout``'s layout is exactly ``find_cuts``' circuit."""
    cutting = addon()
    if case == "halves":
        template, limit = two_halves(5, 7, 2), 4
    else:
        template, limit = wire_cut_circuit(), 4
    rows = np.random.default_rng(0).uniform(-1, 1, template.num_parameters)
    bound = cuttable(template).assign_parameters(rows)
    layout = find_layout(bound, limit, 1e4)
    expected, found = cutting.find_cuts(
        bound,
        cutting.OptimizationParameters(seed=FINDER_SEED, max_gamma=100.0),
        cutting.DeviceConstraints(qubits_per_subcircuit=limit),
    )
    got = apply_layout(bound, layout)

    def shape(circuit: QuantumCircuit) -> list[tuple[str, tuple[int, ...]]]:
        return [
            (i.operation.name, tuple(circuit.find_bit(q).index for q in i.qubits))
            for i in circuit.data
        ]

    assert shape(got) == shape(expected)
    assert layout.overhead == pytest.approx(float(found["sampling_overhead"]))
    # Each Cut names the instruction it cuts (gate) or precedes (wire), on its qubits.
    for cut in layout.cuts:
        instruction = bound.data[cut.index]
        qubits = tuple(bound.find_bit(q).index for q in instruction.qubits)
        assert instruction.operation.name == cut.operation
        assert qubits == cut.qubits if cut.kind == "gate" else cut.qubits[0] in qubits
