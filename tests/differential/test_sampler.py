"""``SamplerV2`` against exact outcome distributions: parametric PUBs, several bindings,
several classical registers, ISA and transpiled."""

from __future__ import annotations

import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from hypothesis import given
from hypothesis import strategies as st
from qiskit import transpile
from random_circuits import (
    DIFFERENTIAL,
    QASM_GATES,
    TARGET_GATES,
    gate_tour,
    measured,
    parameter_values,
    unitary_circuits,
    values_for,
)

from qiskit_divi import SamplerV2

SHOTS = 20_000
SEED = 3
TRANSPILE_LEVELS = [None, 1, 2]


def _check(backend, pubs, level) -> None:
    """``pubs``: (logical circuit, values or None); checks every binding of every PUB."""
    submitted = []
    for circuit, values in pubs:
        isa = (
            circuit
            if level is None
            else transpile(circuit, backend, optimization_level=level, seed_transpiler=SEED)
        )
        submitted.append((isa, values_for(isa, circuit, values)))
    result = SamplerV2(mode=backend).run(submitted, shots=SHOTS).result()
    for (circuit, values), pub_result in zip(pubs, result, strict=True):
        joined = pub_result.join_data()
        bindings = [()] if values is None else [(b,) for b in range(len(values))]
        for loc in bindings:
            bound = circuit if values is None else circuit.assign_parameters(values[loc[0]])
            counts = joined.get_int_counts(loc) if loc else joined.get_int_counts()
            assert_sampled_from(
                counts, outcome_probabilities(bound), f"{circuit.name} binding {loc}"
            )


@pytest.mark.parametrize("level", TRANSPILE_LEVELS)
def test_every_gate(exact_backend, level):
    """One job per gate, so that no other circuit of a job changes how the emulator runs it."""
    gates = TARGET_GATES if level is None else QASM_GATES
    for circuit in gate_tour(gates, measure=True):
        _check(exact_backend, [(circuit, None)], level)


@pytest.mark.parametrize("level", TRANSPILE_LEVELS)
@DIFFERENTIAL
@given(data=st.data())
def test_random_parametric_pubs(exact_backend, level, data):
    gates = TARGET_GATES if level is None else QASM_GATES
    pubs = []
    for _ in range(data.draw(st.integers(1, 2))):
        circuit = data.draw(measured(data.draw(unitary_circuits(gates, num_parameters=3))))
        pubs.append((circuit, parameter_values(data.draw, circuit)))
    _check(exact_backend, pubs, level)
