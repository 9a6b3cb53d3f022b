"""The transpile-skip decision, the Clifford probe's rerun, and what preparation costs."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from qiskit_divi.backends import ParallelSimulator
from qiskit_divi.backends.parallel_simulator import caches
from qiskit_divi.backends.parallel_simulator.transpile_skip import (
    is_stabilizer_like,
    skip_verdict,
)

OPTIONS = {"max_parallel_threads": 2, "max_parallel_experiments": 2, "max_parallel_shots": 1}


def verdict(text: str):
    return skip_verdict(QuantumCircuit.from_qasm_str(text), caches.noiseless_entry())


@pytest.mark.parametrize(
    ("label", "skips"),
    [
        ("qaoa_cx_0", True),
        ("qaoa_rzz_0", True),
        ("hea_0", True),
        ("two_registers", True),
        ("clifford", False),
        ("clifford_in_disguise", True),
        ("swap_12q", False),
        ("unmeasured_ancilla", False),
        ("mid_circuit_measure", False),
        ("reset_and_if", False),
        ("custom_gate", False),
        ("scientific_notation", True),
    ],
)
def test_skip_verdict(corpus, label, skips):
    assert (verdict(corpus[label]) is not None) is skips


def test_skip_verdict_rejects_unsupported_gates_noise_and_elided_swaps(make_qasm):
    bell = make_qasm("rx(0.2) q[0];\ncx q[0],q[1];\nmeasure q -> c;")
    assert verdict(make_qasm("ch q[0],q[1];\nmeasure q -> c;")) is None  # not native to Aer
    noisy = caches.SimulatorEntry(AerSimulator(noise_model=NoiseModel()), noiseless=False)
    assert skip_verdict(QuantumCircuit.from_qasm_str(bell), noisy) is None
    assert verdict(bell) == (0, 1)
    swap_block = "".join(f"cx q[{k % 2}],q[{1 - k % 2}];\n" for k in range(9))  # one swap
    assert verdict(make_qasm(f"ry(0.3) q[0];\nry(0.7) q[1];\n{swap_block}measure q -> c;")) is None


@pytest.mark.parametrize(
    ("probabilities", "stabilizer_like"),
    [
        ([1, 0, 0, 0], True),
        ([0.5, 0, 0, 0.5], True),
        ([0.25] * 4, True),
        ([0.5, 0.25, 0.25, 0], False),
        ([0.3, 0.7], False),
        ([1 / 3, 1 / 3, 1 / 3, 0], False),
        ([], True),
    ],
)
def test_is_stabilizer_like(probabilities, stabilizer_like):
    assert is_stabilizer_like(np.array(probabilities)) is stabilizer_like


def test_clifford_looking_results_are_rerun_transpiled(corpus, plain_aer):
    texts = {
        "disguised": corpus["clifford_in_disguise"],
        "hea": corpus["hea_1"],
        "cancelling": corpus["cancels_to_clifford"],
        "disguised_again": corpus["clifford_in_disguise"],
    }
    result = ParallelSimulator(shots=300, simulation_seed=11, n_processes=2).submit_circuits(texts)
    entry = caches.noiseless_entry()
    assert entry.get(texts["disguised"], 11).probe_qubits is None  # remembered as transpiled
    assert entry.get(texts["hea"], 11).probe_qubits is not None
    # one transpile call for both suspects (each distinct text once), none for the HEA circuit
    assert (entry.stats.transpile_calls, entry.stats.circuits_transpiled) == (1, 2)
    assert [row["results"] for row in result.results] == plain_aer(
        list(texts.values()),
        AerSimulator(),
        300,
        {"seed_simulator": 11, **OPTIONS},
        seed_transpiler=11,
    )


def test_native_circuits_are_neither_transpiled_nor_parsed_twice(corpus):
    texts = {"hea": corpus["hea_0"], "clifford": corpus["clifford"], "hea_again": corpus["hea_0"]}
    simulator = ParallelSimulator(shots=100, simulation_seed=1)
    loads = caches.shapes.loads
    first = simulator.submit_circuits(texts)
    stats = caches.noiseless_entry().stats
    assert (stats.transpile_calls, stats.circuits_transpiled) == (1, 1)  # the Clifford circuit
    assert caches.shapes.loads - loads == 2  # one parse per distinct text
    second = simulator.submit_circuits(texts)
    assert (stats.transpile_calls, caches.shapes.loads - loads) == (1, 2)  # from the cache
    assert second == first


def test_with_the_skip_off_every_circuit_is_transpiled_and_cached_apart(corpus):
    texts = {"hea": corpus["hea_0"], "qaoa": corpus["qaoa_rzz_0"]}
    on = ParallelSimulator(shots=100, simulation_seed=1).submit_circuits(texts)
    stats = caches.noiseless_entry().stats
    assert stats.circuits_transpiled == 0
    off = ParallelSimulator(shots=100, simulation_seed=1, transpile_skip=False)
    assert off.submit_circuits(texts) == on
    assert (stats.transpile_calls, stats.circuits_transpiled) == (1, 2)
    assert caches.noiseless_entry().get(texts["hea"], 1, skip=False).probe_qubits is None


def test_auto_backend_transpiles_each_distinct_circuit_once_across_calls(make_qasm):
    bell = make_qasm("h q[0];\ncx q[0],q[1];\nmeasure q -> c;")
    texts = {"a": bell, "b": make_qasm("h q[0];\nmeasure q[0] -> c[0];"), "a_again": bell}
    simulator = ParallelSimulator(qiskit_backend="auto", shots=100, simulation_seed=2)
    first = simulator.submit_circuits(texts)
    second = simulator.submit_circuits(texts)
    from qiskit_ibm_runtime.fake_provider import FakeQuitoV2

    stats = caches.auto_entry(FakeQuitoV2).stats
    assert (stats.transpile_calls, stats.circuits_transpiled) == (1, 2)
    assert first == second


def test_texts_of_one_shape_are_parsed_once_and_bit_identical_to_plain_aer(hea, plain_aer):
    texts = {f"qaoa{i}": text for i, text in enumerate(_qaoa_bindings(5, 6, seed=3))}
    texts |= {f"hea{s}": qasm2.dumps(hea(4, 2, s)) for s in range(6)}
    loads = caches.shapes.loads
    result = ParallelSimulator(shots=300, simulation_seed=7, n_processes=2).submit_circuits(texts)
    assert caches.shapes.loads - loads == 2  # one per shape
    entry = caches.noiseless_entry()
    assert entry.stats.transpile_calls == 0
    assert all(entry.get(text, 7).probe_qubits is not None for text in texts.values())
    expected = plain_aer(
        list(texts.values()), AerSimulator(), 300, {"seed_simulator": 7, **OPTIONS}
    )
    assert [row["results"] for row in result.results] == expected


def _qaoa_bindings(n: int, count: int, seed: int) -> list[str]:
    """``count`` QAOA texts of one shape (fixed edges, >= 3 gates per pair, fresh angles)."""
    rng = np.random.default_rng(seed)
    edges = [(i, (i + 1) % n) for i in range(n)]
    texts = []
    for _ in range(count):
        circuit = QuantumCircuit(n, n)
        circuit.h(range(n))
        for _ in range(2):
            gamma, beta = rng.uniform(0, np.pi, 2)
            for i, j in edges:
                circuit.cx(i, j), circuit.rz(2 * gamma, j), circuit.cx(i, j)
            circuit.rx(2 * beta, range(n))
        circuit.measure(range(n), range(n))
        texts.append(qasm2.dumps(circuit))
    return texts


def test_the_init_stage_check_runs_on_each_bound_circuit(monkeypatch):
    texts = _qaoa_bindings(5, 3, seed=4)
    entry = caches.noiseless_entry()
    checked: list[QuantumCircuit] = []
    original = entry.init_stage_permutes

    def spy(circuit):
        checked.append(circuit)
        return original(circuit)

    monkeypatch.setattr(entry, "init_stage_permutes", spy)  # an instance, not the module
    ParallelSimulator(shots=10, simulation_seed=1).submit_circuits(
        {f"t{i}": text for i, text in enumerate(texts)}
    )
    assert checked == [QuantumCircuit.from_qasm_str(text) for text in texts]


def test_forgetting_prepared_circuits_keeps_the_simulator_and_the_shapes(make_qasm):
    texts = {
        "a": make_qasm("h q[0];\ncx q[0],q[1];\nmeasure q -> c;"),
        "b": make_qasm("h q[0];\nmeasure q[0] -> c[0];"),
    }
    simulator = ParallelSimulator(qiskit_backend="auto", shots=100, simulation_seed=2)
    loads = caches.shapes.loads
    first = simulator.submit_circuits(texts)
    from qiskit_ibm_runtime.fake_provider import FakeQuitoV2

    entry = caches.auto_entry(FakeQuitoV2)
    caches.forget_prepared_circuits()
    second = simulator.submit_circuits(texts)
    assert caches.auto_entry(FakeQuitoV2) is entry  # the simulator is kept
    # transpiled again, nothing else: the texts are not parsed again
    assert (entry.stats.transpile_calls, caches.shapes.loads - loads) == (2, 2)
    assert first == second
