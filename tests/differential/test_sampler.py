"""``SamplerV2`` against exact outcome distributions: parametric PUBs, several bindings,
several classical registers, ISA and transpiled; parametric PUBs with templates on (the
default: the server binds them) and off (bound here), PUBs at different shots (one job
with shot groups, or one template job per shots value: ``qiskit_divi.primitives._batches``).

Bound: ``ground_truth.assert_sampled_from``, the TVD bound that a correct sampler exceeds
with probability at most ``ground_truth.FALSE_ALARM_PROBABILITY``."""

from __future__ import annotations

import numpy as np
import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from hypothesis import given
from hypothesis import strategies as st
from parametric_tour import parametrised
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
TEMPLATES = [pytest.param(True, id="templates"), pytest.param(False, id="bound")]


def _check(backend, pubs, level, *, templates: bool = True, shots=None) -> None:
    """``pubs``: (logical circuit, values or None); checks every binding of every PUB.

    ``shots``: each PUB's shots (default: all ``SHOTS``)."""
    submitted = []
    for k, (circuit, values) in enumerate(pubs):
        isa = (
            circuit
            if level is None
            else transpile(circuit, backend, optimization_level=level, seed_transpiler=SEED)
        )
        submitted.append(
            (isa, values_for(isa, circuit, values), SHOTS if shots is None else shots[k])
        )
    sampler = SamplerV2(mode=backend, options={"templates": templates})
    result = sampler.run(submitted).result()
    for k, pub_result in enumerate(result):
        assert pub_result.metadata["shots"] == submitted[k][2]
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


@pytest.mark.parametrize("templates", TEMPLATES)
def test_every_gate_with_parametric_angles(exact_backend, templates):
    """Every angle of every gate's tour is a parameter (bare or affine), bound to the tour's
    own values: the template writer and the server's binding on the whole gate set. One call
    (one job, a template per gate)."""
    pubs = []
    for circuit in gate_tour(TARGET_GATES, measure=True):
        parametric, values = parametrised(circuit)
        if values is not None:
            pubs.append((parametric, np.vstack([values, values[::-1]])))
    assert len(pubs) > 30
    _check(exact_backend, pubs, None, templates=templates, shots=[4000] * len(pubs))


@pytest.mark.parametrize("templates", TEMPLATES)
@pytest.mark.parametrize("level", TRANSPILE_LEVELS)
@DIFFERENTIAL
@given(data=st.data())
def test_random_parametric_pubs(exact_backend, level, templates, data):
    gates = TARGET_GATES if level is None else QASM_GATES
    pubs = []
    for _ in range(data.draw(st.integers(1, 2))):
        circuit = data.draw(measured(data.draw(unitary_circuits(gates, num_parameters=3))))
        pubs.append((circuit, parameter_values(data.draw, circuit)))
    # Different shots per PUB: one job with shot groups, or one template job per value.
    shots = [data.draw(st.sampled_from([SHOTS, SHOTS // 2])) for _ in pubs]
    _check(exact_backend, pubs, level, templates=templates, shots=shots)
