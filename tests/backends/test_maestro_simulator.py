"""``MaestroSimulator`` (divi 0.15.1's runner on Maestro) and ``QiskitSimulator``.

Counts are compared with exact distributions by ``ground_truth.tvd_bound`` (false alarm
below 1e-9 per comparison), expectation values with ``SparsePauliOp`` values to 1e-9.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from maestro_support import counts_by_outcome, exact_expectation, needs_maestro
from qiskit import QuantumCircuit, qasm2
from random_circuits import QASM_GATES, gate_tour

from qiskit_divi import _maestro
from qiskit_divi.backends import (
    CircuitRunner,
    ExecutionResult,
    MaestroSimulator,
    ParallelSimulator,
    QiskitSimulator,
    maestro_simulator,
)
from qiskit_divi.exceptions import QoroConfigurationError, QoroInputError

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
BELL = HEADER + "qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n"
X0 = HEADER + "qreg q[3];\ncreg c[3];\nx q[0];\nmeasure q -> c;\n"


def test_qiskit_simulator_is_parallel_simulator() -> None:
    assert QiskitSimulator is ParallelSimulator


def test_without_maestro_construction_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent() -> None:
        raise ImportError("No module named 'maestro'")

    monkeypatch.setattr(_maestro, "_import", absent)
    _maestro.available.cache_clear()
    try:
        with pytest.raises(QoroConfigurationError, match=r"qiskit-divi\[maestro\]"):
            MaestroSimulator()
    finally:
        _maestro.available.cache_clear()


@pytest.fixture
def sim() -> Iterator[MaestroSimulator]:
    yield MaestroSimulator(shots=4000, seed=17)


@needs_maestro
def test_runner_properties() -> None:
    sim = MaestroSimulator()
    assert isinstance(sim, CircuitRunner)
    assert (sim.shots, sim.supports_expval, sim.is_async, sim.seed) == (5000, True, False, None)
    assert not MaestroSimulator(force_sampling=True).supports_expval
    with pytest.raises(ValueError, match="Shots must be a positive integer. Got 0."):
        MaestroSimulator(shots=0)


@needs_maestro
def test_sampling_results_have_parallel_simulators_shape(sim: MaestroSimulator) -> None:
    result = sim.submit_circuits({"bell": BELL, "x0": X0})
    assert isinstance(result, ExecutionResult) and not result.is_async()
    assert [entry["label"] for entry in result.results or []] == ["bell", "x0"]
    assert all(set(entry) == {"label", "results"} for entry in result.results or [])
    assert result.results[1]["results"] == {"001": 4000}  # type: ignore[index]
    assert result.run_time > 0
    assert sim.submit_circuits({}) == ExecutionResult(results=[])


@needs_maestro
def test_gate_tour_counts_sample_the_exact_distribution(sim: MaestroSimulator) -> None:
    tour = gate_tour(QASM_GATES, measure=True, seed=23)
    result = sim.submit_circuits({c.name: qasm2.dumps(c) for c in tour})
    for circuit, entry in zip(tour, result.results or [], strict=True):
        assert entry["label"] == circuit.name
        assert_sampled_from(
            counts_by_outcome(entry["results"]), outcome_probabilities(circuit), circuit.name
        )


@needs_maestro
def test_ham_ops_give_exact_expectation_values_keyed_by_term(sim: MaestroSimulator) -> None:
    """As a Qoro EXPECTATION job: {term: <term>}, terms as sent (qubit 0 leftmost);
    the circuits' measurements (the wire adds them) are ignored."""
    tour = [c for c in gate_tour(QASM_GATES, measure=True, seed=29) if c.num_qubits == 3]
    ham_ops = "ZII;IIZ;XYZ;YYI;IXX"
    result = sim.submit_circuits({c.name: qasm2.dumps(c) for c in tour}, ham_ops=ham_ops)
    for circuit, entry in zip(tour, result.results or [], strict=True):
        assert list(entry["results"]) == ham_ops.split(";")
        exact = [exact_expectation(circuit, term) for term in ham_ops.split(";")]
        np.testing.assert_allclose(list(entry["results"].values()), exact, atol=1e-9)


@needs_maestro
def test_a_seeded_runner_is_reproducible_per_label() -> None:
    first = MaestroSimulator(shots=2000, seed=5).submit_circuits({"a": BELL, "b": BELL})
    again = MaestroSimulator(shots=2000, maestro_config={"seed": 5}).submit_circuits(
        {"b": BELL, "a": BELL}
    )
    by_label = {e["label"]: e["results"] for e in again.results or []}
    assert {e["label"]: e["results"] for e in first.results or []} == by_label
    assert by_label["a"] != by_label["b"]  # one seed per label, not one for all
    sim = MaestroSimulator(shots=2000)
    sim.set_seed(5)
    assert sim.submit_circuits({"a": BELL}).results == [{"label": "a", "results": by_label["a"]}]


@needs_maestro
def test_maestro_config_chooses_the_method(caplog: pytest.LogCaptureFixture) -> None:
    import maestro

    caplog.set_level(logging.INFO, logger="qiskit_divi.backends.maestro_simulator")
    by_name = MaestroSimulator(
        shots=100, maestro_config={"simulation_type": "MatrixProductState", "max_bond_dimension": 8}
    )
    assert by_name.submit_circuits({"x0": X0}).results == [{"label": "x0", "results": {"001": 100}}]
    assert "MatrixProductState: 1" in caplog.text
    caplog.clear()
    config = maestro.SimulatorConfig(simulation_type=maestro.SimulationType.Statevector, seed=3)
    by_config = MaestroSimulator(shots=100, maestro_config=config)
    assert (by_config.method, by_config.seed) == ("Statevector", 3)
    by_config.submit_circuits({"x0": X0})
    assert "Statevector: 1" in caplog.text


@needs_maestro
@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        ({"bond": 2}, QoroInputError, "Unknown Maestro options"),
        ({"simulation_type": "Quick"}, QoroInputError, "Unknown Maestro simulation method"),
        (["seed"], TypeError, "maestro_config must be a mapping"),
    ],
)
def test_bad_configs_fail_at_construction(config: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        MaestroSimulator(maestro_config=config)


@needs_maestro
@pytest.mark.parametrize(
    ("ham_ops", "match"),
    [
        ("ZI;ZZZ", "All Hamiltonian operators must have the same length."),
        ("ZA", "Hamiltonian operators must contain only I, X, Y, Z characters."),
        ("ZZZ", "ham_ops terms have 3 letters; circuit 'other' has 2 qubits"),
    ],
)
def test_bad_ham_ops_fail_before_anything_runs(
    sim: MaestroSimulator, monkeypatch: pytest.MonkeyPatch, ham_ops: str, match: str
) -> None:
    ran: list[object] = []
    monkeypatch.setattr(maestro_simulator, "estimate", lambda *a, **k: ran.append(a))
    with pytest.raises(ValueError, match=match):
        sim.submit_circuits({"other": BELL, "bell": BELL}, ham_ops=ham_ops)
    assert ran == []


@needs_maestro
def test_a_bad_circuit_fails_before_anything_runs(
    sim: MaestroSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[object] = []
    monkeypatch.setattr(maestro_simulator, "sample", lambda *a, **k: ran.append(a))
    with pytest.raises(QoroInputError, match="Not valid OpenQASM 2"):
        sim.submit_circuits({"good": BELL, "bad": HEADER + "qreg q[1];\nfoo q[0];\n"})
    assert ran == []


@needs_maestro
def test_force_sampling_refuses_ham_ops_and_other_keywords_are_refused() -> None:
    with pytest.raises(ValueError, match="force_sampling=True"):
        MaestroSimulator(force_sampling=True).submit_circuits({"bell": BELL}, ham_ops="ZZ")
    with pytest.raises(TypeError, match="job_type"):
        MaestroSimulator().submit_circuits({"bell": BELL}, job_type="SIMULATE")


@needs_maestro
def test_a_60_qubit_ghz_runs_on_mps(
    sim: MaestroSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qiskit_divi.backends.maestro_simulator")
    n = 60
    circuit = QuantumCircuit(n, n)
    circuit.h(0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    circuit.measure(range(n), range(n))
    result = sim.submit_circuits({"ghz": qasm2.dumps(circuit)})
    counts = (result.results or [])[0]["results"]
    assert_sampled_from(counts_by_outcome(counts), {0: 0.5, (1 << n) - 1: 0.5})
    assert "MatrixProductState: 1" in caplog.text
    expval = sim.submit_circuits({"ghz": qasm2.dumps(circuit)}, ham_ops="X" * n + ";" + "Z" * n)
    np.testing.assert_allclose(list((expval.results or [])[0]["results"].values()), [1.0, 1.0])
