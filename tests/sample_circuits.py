"""Small named circuits that many tests share (``from sample_circuits import bell``)."""

from __future__ import annotations

from qiskit import QuantumCircuit, qasm2


def bell(width: int = 2) -> QuantumCircuit:
    """GHZ state on ``width`` qubits (a Bell pair for 2), every qubit measured into its clbit.

    Exact outcome distribution: all zeros and all ones, one half each.
    """
    qc = QuantumCircuit(width, width, name="bell")
    qc.h(0)
    for q in range(1, width):
        qc.cx(0, q)
    qc.measure(range(width), range(width))
    return qc


def bell_qasm(width: int = 2) -> str:
    """:func:`bell` as OpenQASM 2 text (divi's circuit format)."""
    return qasm2.dumps(bell(width))
