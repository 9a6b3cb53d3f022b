"""The primitive calls whose journal entries are kept in ``data/`` (written by an earlier version).

``data/make_journal_fixtures.py`` ran these calls and saved what the journal and the
server held; ``test_journal_payloads.py`` rebuilds their results with today's code. The
inputs must stay exactly as they are: the saved entries describe these circuits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import SparsePauliOp
from sample_circuits import bell

H2 = SparsePauliOp.from_list(
    [("II", -1.0524), ("IZ", 0.3979), ("ZI", -0.3979), ("ZZ", -0.0113), ("XX", 0.1809)]
)


def two_register_circuit() -> QuantumCircuit:
    """Three qubits, three parameters, registers ``low[1]`` and ``high[2]`` filled out of order."""
    theta = ParameterVector("t", 3)
    circuit = QuantumCircuit(
        QuantumRegister(3, "q"), ClassicalRegister(1, "low"), ClassicalRegister(2, "high")
    )
    circuit.name = "two_registers"
    circuit.ry(theta[0], 0)
    circuit.ry(theta[1], 1)
    circuit.cx(0, 1)
    circuit.rx(theta[2], 2)
    circuit.measure(2, 0)  # low[0]
    circuit.measure(0, 2)  # high[1]
    circuit.measure(1, 1)  # high[0]
    circuit.metadata = {"case": "sampler"}
    return circuit


def unmeasured_circuit() -> QuantumCircuit:
    circuit = QuantumCircuit(1, name="unmeasured")
    circuit.h(0)
    return circuit


def sampler_pubs() -> list[Any]:
    """Two shot counts (two Qoro jobs when the fixtures were written, one with shot groups
    today) and a PUB without classical bits (not sent)."""
    values = np.linspace(0.2, 2.9, 12).reshape(2, 2, 3)
    return [(two_register_circuit(), values, 400), (bell(), None, 300), (unmeasured_circuit(),)]


def ansatz(num_qubits: int) -> QuantumCircuit:
    theta = ParameterVector("a", 2 * num_qubits)
    circuit = QuantumCircuit(num_qubits, name=f"ansatz{num_qubits}")
    for q in range(num_qubits):
        circuit.ry(theta[2 * q], q)
        circuit.rz(theta[2 * q + 1], q)
    for q in range(num_qubits - 1):
        circuit.cx(q, q + 1)
    return circuit


def estimator_pubs(precisions: tuple[float | None, float | None] = (None, None)) -> list[Any]:
    """Parameters of shape (2, 1) against three observables (shape (2, 3)), and a 3-qubit PUB."""
    two, three = ansatz(2), ansatz(3)
    two.metadata = {"case": "estimator"}
    values = np.linspace(-1.1, 2.3, 8).reshape(2, 1, 4)
    observables = [H2, "XY", {"ZZ": 0.5, "II": -1.0}]
    first: tuple[Any, ...] = (two, observables, values)
    second: tuple[Any, ...] = (three, ["XYZ", "ZZI"], np.linspace(0.3, 1.7, 6))
    if precisions[0] is not None:
        first += (precisions[0],)
    if precisions[1] is not None:
        second += (precisions[1],)
    return [first, second]


SAMPLING_PRECISIONS = (0.05, 0.1)
"""Precisions of the sampling-fallback case: 400 and 100 shots, so two Qoro jobs when the
fixtures were written (one with shot groups today)."""
