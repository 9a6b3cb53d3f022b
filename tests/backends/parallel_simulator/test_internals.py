"""Canaries: the behaviours of Qiskit and Aer that ``parallel_simulator.internals`` relies on.

Each test fails when an upgrade of Qiskit or Aer changes one of them; the fix then
belongs in ``internals.py`` (and in the code that relies on it), not here.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from ground_truth import outcome_probabilities
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm2, transpile
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from random_circuits import QASM_GATES, gate_tour

from qiskit_divi.backends.parallel_simulator import internals

SEED = 4242


@pytest.fixture(scope="module")
def aer():
    return AerSimulator()


def _distinct_circuits() -> list[QuantumCircuit]:
    return gate_tour(["rx", "cry", "rzz", "u", "cu"], measure=True, seed=3)


@pytest.mark.parametrize("seed", [SEED, 2**63 - 3000, -5])
def test_aer_seeds_experiment_i_with_the_seed_plus_i_strides(aer, seed):
    circuits = _distinct_circuits()
    result = aer.run(circuits, shots=50, seed_simulator=seed).result()
    reported = [result.results[i].seed_simulator for i in range(len(circuits))]
    assert reported == [(seed + i * internals.AER_SEED_STRIDE) % 2**64 for i in range(5)]
    assert [internals.experiment_seed(result, i) for i in range(len(circuits))] == [
        internals.sub_batch_seed(seed, i) for i in range(len(circuits))
    ]


@pytest.mark.parametrize("seed", [SEED, 2**63 - 3000, -5])
def test_a_circuit_run_alone_with_its_batch_seed_draws_what_it_drew_in_the_batch(aer, seed):
    circuits = _distinct_circuits()
    batch = aer.run(circuits, shots=300, seed_simulator=seed, max_parallel_experiments=2).result()
    for i, circuit in enumerate(circuits):
        alone = aer.run(circuit, shots=300, seed_simulator=internals.experiment_seed(batch, i))
        assert alone.result().get_counts() == batch.get_counts(i)
    for offset in (0, 2):
        part = aer.run(
            circuits[offset:], shots=300, seed_simulator=internals.sub_batch_seed(seed, offset)
        )
        assert part.result().get_counts() == batch.get_counts()[offset:]


def test_aer_rejects_the_unsigned_seeds_it_reports(aer):
    with pytest.raises(TypeError):
        aer.run(_distinct_circuits()[0], shots=1, seed_simulator=2**64 - 5).result()
    assert internals.aer_seed(2**64 - 5) == -5


def test_transpile_default_level_is_the_level_of_the_init_stage_we_run(aer):
    circuit = QuantumCircuit(3, 3)
    circuit.h(0), circuit.cx(0, 1), circuit.cx(0, 1), circuit.rz(0.3, 1), circuit.rz(-0.3, 1)
    circuit.cx(1, 2), circuit.rx(0.2, 2), circuit.t(2), circuit.tdg(2), circuit.ry(0.5, 0)
    circuit.swap(0, 2), circuit.measure(range(3), range(3))
    by_level = [
        generate_preset_pass_manager(optimization_level=level, backend=aer, seed_transpiler=1).run(
            circuit
        )
        for level in range(3)
    ]
    default = transpile(circuit, aer, seed_transpiler=1)
    assert [default == out for out in by_level] == [False, False, True]
    assert by_level[internals.TRANSPILE_OPTIMIZATION_LEVEL] == default


def three_swaps() -> QuantumCircuit:
    """A circuit whose qubits 0 and 1 go through nine alternating CX (three swaps): a block
    equal to one swap, which the init stage removes by relabelling the qubits."""
    circuit = QuantumCircuit(3, 3)
    circuit.ry(0.3, 0), circuit.ry(0.7, 1), circuit.rx(1.1, 2)
    for k in range(9):
        circuit.cx(k % 2, 1 - k % 2)
    circuit.cx(1, 2)
    circuit.measure(range(3), range(3))
    return circuit


def test_the_init_stage_records_its_qubit_relabelling_under_the_keys_we_read(aer):
    swapped = QuantumCircuit(3, 3)
    swapped.ry(0.4, 0), swapped.swap(0, 2), swapped.cx(2, 1)
    swapped.measure(range(3), range(3))
    written: list[bool] = []

    def callback(pass_, dag, time, property_set, count):
        written.append(property_set[internals.VIRTUAL_PERMUTATION_LAYOUT] is not None)

    assert transpile(three_swaps(), aer).layout.final_layout is not None  # relabelled
    for circuit in (swapped, three_swaps()):
        manager = generate_preset_pass_manager(
            optimization_level=internals.TRANSPILE_OPTIMIZATION_LEVEL, backend=aer
        )
        written.clear()
        manager.init.run(circuit, callback=callback)
        assert any(written)  # the eliding pass writes this key
        properties = manager.init.property_set
        assert any(properties[key] is not None for key in internals.PERMUTATION_LAYOUT_KEYS)
        assert internals.InitStage(aer).permutes(circuit)
    kept = QuantumCircuit(3, 3)
    kept.ry(0.3, 0), kept.ry(0.7, 1), kept.cx(0, 1), kept.cx(1, 2), kept.cx(0, 1)
    kept.measure(range(3), range(3))
    layout = transpile(kept, aer).layout
    assert layout is None or layout.final_layout is None
    assert not internals.InitStage(aer).permutes(kept)


def test_the_transpiler_elides_the_permutation_gates(aer):
    for name in internals.PERMUTATION_GATES & set(aer.target.operation_names):
        circuit = QuantumCircuit(3, 3)
        circuit.ry(0.4, 0), circuit.append(get_standard_gate_name_mapping()[name], [0, 2])
        circuit.measure(range(3), range(3))
        assert name not in transpile(circuit, aer).count_ops()


def _method(aer, circuit: QuantumCircuit) -> str:
    return aer.run(circuit, shots=4, seed_simulator=1).result().results[0].metadata["method"]


def test_aer_runs_every_other_native_gate_with_the_statevector_method(aer):
    """A circuit with a gate outside STABILIZER_GATES is never simulated as Clifford, even at
    Clifford angles: the skip relies on it (an untranspiled circuit keeps its method)."""
    mapping = get_standard_gate_name_mapping()
    others = sorted(
        name
        for name in aer.target.operation_names
        if name in mapping
        and name not in internals.STABILIZER_GATES
        and name not in ("measure", "reset", "delay", "barrier", "global_phase")
    )
    assert {"rx", "ry", "p", "u", "t", "cp", "rzz"} <= set(others)
    for name in others:
        op = mapping[name]
        for angle in (math.pi / 2, math.pi, 0.0):
            gate = op.base_class(*[angle] * len(op.params)) if op.params else op
            circuit = QuantumCircuit(op.num_qubits + 1, op.num_qubits + 1)
            circuit.h(0), circuit.append(gate, range(op.num_qubits))
            circuit.measure(range(op.num_qubits + 1), range(op.num_qubits + 1))
            assert _method(aer, circuit) == "statevector", (name, angle)


def test_aer_runs_a_circuit_of_stabilizer_gates_with_the_stabilizer_method(aer):
    circuit = QuantumCircuit(3, 3)
    for name in sorted(internals.STABILIZER_GATES - internals.PERMUTATION_GATES - {"pauli"}):
        op = get_standard_gate_name_mapping()[name]
        gate = op.base_class(*[math.pi / 2] * len(op.params)) if op.params else op
        circuit.append(gate, range(op.num_qubits))
    circuit.measure(range(3), range(3))
    assert _method(aer, circuit) == "stabilizer"


def test_a_probe_changes_no_count_and_records_the_exact_marginal(aer):
    for circuit in gate_tour(QASM_GATES, measure=True)[::5]:
        native = transpile(circuit, aer, optimization_level=0)
        qubits = tuple(range(min(circuit.num_qubits, 3)))
        probed = internals.with_probe(native.copy(), qubits)
        plain_counts = aer.run(native, shots=200, seed_simulator=SEED).result().get_counts()
        result = aer.run(probed, shots=200, seed_simulator=SEED).result()
        assert result.get_counts() == plain_counts, circuit.name
        marginal = Statevector(native.remove_final_measurements(inplace=False))
        exact = marginal.probabilities(list(qubits))
        np.testing.assert_allclose(internals.probe_probabilities(result, 0), exact, atol=1e-12)


def test_hex_counts_format_as_get_counts_does(aer):
    registers = QuantumCircuit(
        QuantumRegister(4, "q"),
        ClassicalRegister(1, "a"),
        ClassicalRegister(3, "b"),
        ClassicalRegister(2, "unused"),
    )
    registers.h(range(4)), registers.cx(0, 3)
    registers.measure([0, 1, 2, 3], [0, 2, 3, 1])
    single = QuantumCircuit(3, 5)
    single.h(0), single.cx(0, 2), single.measure([0, 2], [4, 0])
    unnamed = qasm2.loads(qasm2.dumps(single))
    circuits = [registers, single, unnamed, *gate_tour(["rx", "ccx"], measure=True)]
    result = aer.run(circuits, shots=300, seed_simulator=SEED).result()
    assert all(next(iter(experiment.data.counts)).startswith("0x") for experiment in result.results)
    assert internals.all_counts(result, len(circuits)) == [
        dict(result.get_counts(i)) for i in range(len(circuits))
    ]
    assert set(outcome_probabilities(single)) == {
        int(key, 2) for key in internals.all_counts(result, len(circuits))[1]
    }


@pytest.mark.parametrize("pool", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_concurrent_futures_pools_keep_their_size_in_max_workers(pool):
    with pool(3) as executor:
        assert executor._max_workers == 3
        assert internals.executor_workers(executor) == 3
