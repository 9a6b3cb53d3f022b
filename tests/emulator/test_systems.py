"""The emulator's simulators: batched runs map results back to their circuits, exact Pauli
expectations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from ground_truth import assert_sampled_from
from qiskit.circuit.library import C3SXGate, XXPlusYYGate
from qiskit.quantum_info import Pauli, random_statevector

from qiskit_divi.emulator.circuits import CircuitParser
from qiskit_divi.emulator.systems import SystemCatalogue, expectation_job, pauli_expectations

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'


@pytest.fixture(scope="module")
def catalogue() -> SystemCatalogue:
    return SystemCatalogue()


def _flip(angle0: float, angle1: float) -> str:
    return (
        HEADER
        + f"rx({angle0}) q[0];\nrx({angle1}) q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];\n"
    )


@pytest.mark.parametrize("system", ["qoro_maestro", "fake_ion"])
def test_interleaved_shapes_come_back_in_submission_order(catalogue, system):
    """Deterministic outcomes: rx(pi) flips a qubit, rx(0) does not; two shapes interleave."""
    parser = CircuitParser()
    pi = repr(math.pi)
    texts = [
        _flip(pi, 0.0),
        HEADER + "x q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];\n",
        _flip(0.0, pi),
        _flip(pi, pi),
        HEADER + "x q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];\n",
        _flip(0.0, 0.0),
    ]
    counts = catalogue.simulator(system).sample([parser.parse(t) for t in texts], shots=200, seed=7)
    most_common = [max(c, key=c.get) for c in counts]
    assert most_common == [0b01, 0b10, 0b10, 0b11, 0b10, 0b00]
    assert all(sum(c.values()) == 200 for c in counts)
    if system == "qoro_maestro":  # noiseless: every shot is the expected outcome
        assert all(len(c) == 1 for c in counts)


def test_native_circuits_run_untranspiled_with_the_right_distribution(catalogue):
    """Circuits of native gates run as uploaded, bound per circuit: analytic statistics."""
    parser = CircuitParser()
    native = [
        parser.parse(
            HEADER + f"ry({t}) q[0];\ncx q[0],q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];\n"
        )
        for t in (0.3, 1.1, 2.0)
    ]
    simulator = catalogue.simulator("qoro_maestro")
    assert simulator.runs_natively([(native[0].skeleton, [0, 1, 2])])
    shots = 20000
    for circuit, counts in zip(native, simulator.sample(native, shots=shots, seed=3), strict=True):
        theta = circuit.values[0]
        exact = {0b00: math.cos(theta / 2) ** 2, 0b11: math.sin(theta / 2) ** 2}
        assert_sampled_from(counts, exact, f"ry({theta})")
        assert set(counts) <= {0b00, 0b11}


def test_pauli_expectations_match_quantum_info_for_every_pauli():
    for n in (1, 2, 3):
        states = [random_statevector(2**n, seed=10 * n + k) for k in range(3)]
        terms = [
            "".join(t) for t in itertools.product("IXYZ", repeat=n)
        ]  # wire order: qubit 0 leftmost
        got = pauli_expectations(np.stack([s.data for s in states]), terms)
        expected = [[s.expectation_value(Pauli(t[::-1])).real for t in terms] for s in states]
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_expectation_job_binds_each_circuit(catalogue):
    parser = CircuitParser()
    angles = [0.0, 0.7, 2.5]
    texts = [HEADER.replace("creg c[2];\n", "") + f"ry({a}) q[0];\nh q[1];\n" for a in angles]
    values = expectation_job([parser.parse(t) for t in texts], ["ZI", "XI", "IX", "ZX"])
    for angle, row in zip(angles, values, strict=True):
        assert row == pytest.approx(
            {"ZI": math.cos(angle), "XI": math.sin(angle), "IX": 1.0, "ZX": math.cos(angle)},
            abs=1e-12,
        )


def test_a_circuit_that_measures_nothing_reads_all_zeros(catalogue):
    parser = CircuitParser()
    circuits = [
        parser.parse(HEADER + "h q[0];\ncx q[0],q[1];\n"),
        parser.parse(HEADER + "x q[0];\nmeasure q[0] -> c[1];\n"),
    ]
    for system in ("qoro_maestro", "fake_ion"):
        counts = catalogue.simulator(system).sample(circuits, shots=100, seed=5)
        assert counts[0] == {0: 100}
        assert sum(counts[1].values()) == 100


def test_expectation_of_a_circuit_with_a_reset_after_gates_is_refused():
    """Its state is mixed: one statevector trajectory would be a plausible wrong answer."""
    parser = CircuitParser()
    fresh = parser.parse(HEADER.replace("creg c[2];\n", "") + "reset q[1];\nh q[0];\n")
    assert expectation_job([fresh], ["XI", "IZ"]) == [pytest.approx({"XI": 1.0, "IZ": 1.0})]
    twice = parser.parse(
        HEADER.replace("creg c[2];\n", "") + "reset q[0];\nreset q[0];\nh q[0];\nx q[1];\n"
    )  # resetting a fresh qubit again keeps it in |0>: still one pure state
    assert expectation_job([twice], ["XI", "IZ", "ZI"]) == [  # wire order: qubit 0 leftmost
        pytest.approx({"XI": 1.0, "IZ": -1.0, "ZI": 0.0}, abs=1e-12)
    ]
    mixed = parser.parse(HEADER.replace("creg c[2];\n", "") + "h q[0];\nreset q[0];\n")
    with pytest.raises(ValueError, match="resets a qubit after acting on it"):
        expectation_job([mixed], ["ZI"])


def _with_ch(qc):
    qc.ch(0, 1)


def _with_rccx(qc):
    qc.rccx(0, 1, 2)


def _with_c3sx(qc):
    qc.append(C3SXGate(), [0, 1, 2, 3])


def _with_definitions(qc):  # qasm2.dumps writes gate definitions for these
    qc.iswap(0, 1)
    qc.append(XXPlusYYGate(0.7, 0.2), [1, 2])
    qc.cs(2, 3)


@pytest.mark.parametrize("add", [_with_ch, _with_rccx, _with_c3sx, _with_definitions])
def test_expectation_jobs_run_gates_aer_lacks(add):
    """Target gates Aer does not run natively, and gate definitions, are translated first."""
    from qiskit import QuantumCircuit, qasm2
    from qiskit.quantum_info import Statevector

    qc = QuantumCircuit(4)
    qc.h(0)
    qc.ry(0.4, 1)
    qc.h(2)
    qc.rx(1.1, 3)
    add(qc)
    reference = Statevector(qc)
    terms = ["ZIII", "XZII", "IYXI", "IIZZ", "ZZZZ", "XXYY"]
    (values,) = expectation_job([CircuitParser().parse(qasm2.dumps(qc))], terms)
    for term in terms:
        assert values[term] == pytest.approx(
            reference.expectation_value(Pauli(term[::-1])).real, abs=1e-9
        )
