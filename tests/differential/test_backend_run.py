"""``QoroBackend.run`` counts against exact outcome distributions, ISA and transpiled."""

from __future__ import annotations

import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from hypothesis import given
from hypothesis import strategies as st
from qiskit import QuantumCircuit, transpile
from random_circuits import (
    DIFFERENTIAL,
    QASM_GATES,
    TARGET_GATES,
    gate_tour,
    measured,
    unitary_circuits,
)

SHOTS = 20_000
SEED = 5
TRANSPILE_LEVELS = [
    None,
    1,
    2,
]  # None: the ISA circuit as drawn; else transpile(optimization_level=...)


def _integer_counts(counts: dict[str, int]) -> dict[int, int]:
    return {int(key.replace(" ", ""), 2): value for key, value in counts.items()}


def _run_and_check(backend, circuits: list[QuantumCircuit], level: int | None) -> None:
    submitted = (
        circuits
        if level is None
        else transpile(circuits, backend, optimization_level=level, seed_transpiler=SEED)
    )
    result = backend.run(submitted, shots=SHOTS).result()
    for i, circuit in enumerate(circuits):
        assert_sampled_from(
            _integer_counts(result.get_counts(i)), outcome_probabilities(circuit), circuit.name
        )


@pytest.mark.parametrize("level", TRANSPILE_LEVELS)
def test_every_gate(exact_backend, level):
    """One job per gate, so that no other circuit of a job changes how the emulator runs it."""
    gates = TARGET_GATES if level is None else QASM_GATES
    for circuit in gate_tour(gates, measure=True):
        _run_and_check(exact_backend, [circuit], level)


@pytest.mark.parametrize("level", TRANSPILE_LEVELS)
@DIFFERENTIAL
@given(data=st.data())
def test_random_circuits(exact_backend, level, data):
    gates = TARGET_GATES if level is None else QASM_GATES
    count = data.draw(st.integers(1, 3))
    circuits = [data.draw(measured(data.draw(unitary_circuits(gates)))) for _ in range(count)]
    _run_and_check(exact_backend, circuits, level)
