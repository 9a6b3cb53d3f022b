"""What the Maestro tests share: the skip marker for machines without the extra, and
comparisons of Maestro's results with exact ``qiskit.quantum_info`` references.

Importable from every test module (``pythonpath = ["tests"]`` in ``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from qiskit_divi import _maestro

needs_maestro = pytest.mark.skipif(
    not _maestro.available(),
    reason='Maestro is not installed: pip install "qiskit-divi[maestro]" to run these tests',
)
"""Skips (with the reason shown by ``-ra``) a test that needs Maestro; never passes it."""

METHODS = (_maestro.STATEVECTOR, _maestro.MATRIX_PRODUCT_STATE)


def counts_by_outcome(counts: Mapping[str, int]) -> dict[int, int]:
    """Qiskit counts (registers joined by spaces, declared in clbit order) by outcome
    integer, bit ``i`` being clbit ``i`` (the keys of ``ground_truth.outcome_probabilities``)."""
    out: dict[int, int] = {}
    for key, count in counts.items():
        outcome = int(key.replace(" ", "") or "0", 2)
        out[outcome] = out.get(outcome, 0) + count
    return out


def exact_expectation(circuit: QuantumCircuit, wire_term: str) -> float:
    """<term> on the circuit's state; ``wire_term`` has qubit 0 leftmost."""
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    return float(state.expectation_value(SparsePauliOp(wire_term[::-1])).real)
