"""Fixtures of the ParallelSimulator tests: fresh caches, QASM texts, plain-Aer baselines."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2, transpile
from qiskit.circuit.random import random_circuit

from qiskit_divi.backends.parallel_simulator import caches


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test starts without cached simulators, prepared circuits or shapes."""
    caches.clear()
    yield
    caches.clear()


def qasm(body: str, n_qubits: int = 2, n_clbits: int | None = None) -> str:
    n_clbits = n_qubits if n_clbits is None else n_clbits
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n_qubits}];\ncreg c[{n_clbits}];\n{body}\n'
    )


@pytest.fixture(scope="session")
def make_qasm() -> Callable[..., str]:
    """``make_qasm(body, n_qubits=2, n_clbits=n_qubits)``: a program with registers q and c."""
    return qasm


def qaoa_circuit(n: int, p: int, seed: int, rzz: bool = False) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.35]
    circuit = QuantumCircuit(n, n)
    circuit.h(range(n))
    for _ in range(p):
        gamma, beta = rng.uniform(0, math.pi, 2)
        for i, j in edges:
            if rzz:
                circuit.rzz(2 * gamma, i, j)
            else:
                circuit.cx(i, j)
                circuit.rz(2 * gamma, j)
                circuit.cx(i, j)
        circuit.rx(2 * beta, range(n))
    circuit.measure(range(n), range(n))
    return circuit


def hardware_efficient(n: int, layers: int, seed: int) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(n, n)
    for _ in range(layers):
        for q in range(n):
            circuit.ry(rng.uniform(0, 2 * math.pi), q)
            circuit.rz(rng.uniform(0, 2 * math.pi), q)
        for q in range(n - 1):
            circuit.cx(q, q + 1)
    circuit.measure(range(n), range(n))
    return circuit


@pytest.fixture(scope="session")
def hea() -> Callable[[int, int, int], QuantumCircuit]:
    """``hea(num_qubits, layers, seed)``: a measured hardware-efficient circuit."""
    return hardware_efficient


def _chain(n: int, seed: int) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(n, n)
    for q in range(n):
        circuit.ry(rng.uniform(0, 3), q)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    return circuit


def _special_circuits() -> dict[str, QuantumCircuit]:
    """One circuit per branch of the skip decision that random circuits rarely reach."""
    circuits: dict[str, QuantumCircuit] = {}
    clifford = QuantumCircuit(3, 3)
    clifford.h(0), clifford.s(0), clifford.h(1), clifford.cx(0, 2), clifford.sdg(1)
    clifford.measure(range(3), range(3))
    circuits["clifford"] = clifford  # stabilizer method; transpilation merges h.s into u2
    disguised = QuantumCircuit(3, 3)
    disguised.h(range(3)), disguised.p(math.pi / 2, 2), disguised.cx(0, 1)
    disguised.measure(range(3), range(3))
    circuits["clifford_in_disguise"] = disguised  # statevector as written, stabilizer transpiled
    cancelling = QuantumCircuit(3, 3)
    cancelling.h(0), cancelling.t(0), cancelling.tdg(0), cancelling.h(1)
    cancelling.rx(0.3, 2), cancelling.rx(-0.3, 2), cancelling.cx(0, 1)
    cancelling.measure(range(3), range(3))
    circuits["cancels_to_clifford"] = cancelling
    swapped = _chain(12, 1)
    swapped.swap(2, 5), swapped.ry(0.3, 2), swapped.cx(2, 7)
    swapped.measure(range(12), range(12))
    circuits["swap_12q"] = swapped  # elided by the transpiler: qubits relabelled
    unmeasured = _chain(11, 2)
    unmeasured.rx(0.9, range(11))
    unmeasured.cx(10, 3), unmeasured.cx(10, 3)  # keeps rx on the unmeasured qubit 10 relevant
    unmeasured.measure(range(10), range(10))
    circuits["unmeasured_ancilla"] = unmeasured  # Aer truncation differs once the pair cancels
    mid = _chain(10, 3)
    mid.measure(0, 0), mid.ry(0.4, 1), mid.measure(range(1, 10), range(1, 10))
    circuits["mid_circuit_measure"] = mid
    circuits["two_registers"] = QuantumCircuit.from_qasm_str(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg a[1];\ncreg b[2];\n'
        "h q[0];\nrx(0.4) q[1];\ncx q[0],q[2];\nmeasure q[0] -> a[0];\n"
        "measure q[1] -> b[0];\nmeasure q[2] -> b[1];\n"
    )
    return circuits


@pytest.fixture(scope="session")
def corpus() -> dict[str, str]:
    """QASM texts that exercise every branch of the transpile-skip decision."""
    circuits: dict[str, QuantumCircuit] = {}
    for s in range(3):
        circuits[f"qaoa_cx_{s}"] = qaoa_circuit(10, 2, s)  # >= 3 gates on a pair: init check
        circuits[f"qaoa_rzz_{s}"] = qaoa_circuit(11, 2, 10 + s, rzz=True)
        circuits[f"hea_{s}"] = hardware_efficient(4, 2, s)
    for s in range(6):
        circuits[f"random_{s}"] = random_circuit(5 + s, 4, max_operands=2, measure=True, seed=s)
    circuits |= _special_circuits()
    texts = {label: qasm2.dumps(circuit) for label, circuit in circuits.items()}
    texts["reset_and_if"] = qasm(
        "h q[0];\nmeasure q[0] -> c[0];\nreset q[0];\nif(c==1) x q[1];\nmeasure q -> c;"
    )
    texts["custom_gate"] = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\ngate mine(t) a,b { rx(t) a; cx a,b; }\n'
        "qreg q[3];\ncreg c[3];\nmine(0.7) q[0],q[1];\nh q[2];\nmeasure q -> c;\n"
    )
    texts["scientific_notation"] = qasm(
        "rz(1.e-07) q[0];\nh q[0];\nrx(2.5e-1) q[1];\nmeasure q -> c;"
    )
    return texts


def plain_aer_counts(qasm_texts, simulator, shots, options, **transpile_options):
    """What a user gets from plain Aer on the same circuits, transpiled the standard way."""
    circuits = [QuantumCircuit.from_qasm_str(text) for text in qasm_texts]
    transpiled = transpile(circuits, simulator, **transpile_options)
    result = simulator.run(transpiled, shots=shots, **options).result()
    return [dict(result.get_counts(i)) for i in range(len(circuits))]


@pytest.fixture(scope="session")
def plain_aer() -> Callable[..., list[dict[str, int]]]:
    """``plain_aer(texts, simulator, shots, options, **transpile_options)``: the baseline."""
    return plain_aer_counts
