"""``EstimatorV2`` against ``Statevector`` expectation values: EXPECTATION jobs exactly
(1e-6), the sampling fallback within a Hoeffding bound; observable arrays broadcast
against parameter bindings, ISA and transpiled.

Sampling-fallback bound: each Pauli term's estimate is a mean of ``N`` values ``±1``
(``N = ceil(1 / precision**2)`` shots of its measurement group), so by Hoeffding and a
union bound over the ``m`` terms of an observable,
``|estimate - exact| <= sum_j |c_j| * sqrt(2 ln(2m / delta) / N)`` except with
probability ``delta`` (``ground_truth.FALSE_ALARM_PROBABILITY``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ground_truth import FALSE_ALARM_PROBABILITY
from hypothesis import given
from hypothesis import strategies as st
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import SparsePauliOp, Statevector
from random_circuits import (
    DIFFERENTIAL,
    QASM_GATES,
    TARGET_GATES,
    gate_tour,
    observables,
    parameter_values,
    unitary_circuits,
    values_for,
)

from qiskit_divi import EstimatorV2

SEED = 9
PRECISION = 0.01
TRANSPILE_LEVELS = [None, 1, 2]


def _exact(circuit: QuantumCircuit, observable: SparsePauliOp) -> float:
    return float(np.real(Statevector(circuit).expectation_value(observable)))


def _tolerance(observable: SparsePauliOp, exact_job: bool) -> float:
    if exact_job:
        return 1e-6
    terms = [(label, c) for label, c in observable.to_list() if set(label) != {"I"}]
    if not terms:
        return 1e-9
    shots = math.ceil(1 / PRECISION**2)
    deviation = math.sqrt(2 * math.log(2 * len(terms) / FALSE_ALARM_PROBABILITY) / shots)
    return sum(abs(c) for _, c in terms) * deviation + 1e-9


def _check(backend, pubs, level) -> None:
    """``pubs``: (logical circuit, observables (list), values or None). Observables travel as a
    (k, 1) array, so with B bindings the PUB result has shape (k, B)."""
    exact_job = backend.supports_expval
    submitted = []
    for circuit, obs, values in pubs:
        isa = (
            circuit
            if level is None
            else transpile(circuit, backend, optimization_level=level, seed_transpiler=SEED)
        )
        mapped = [[o.apply_layout(isa.layout)] for o in obs]
        submitted.append((isa, mapped, values_for(isa, circuit, values)))
    result = EstimatorV2(mode=backend).run(submitted, precision=PRECISION).result()
    for (circuit, obs, values), pub_result in zip(pubs, result, strict=True):
        evs = pub_result.data.evs
        bindings = (
            [circuit] if values is None else [circuit.assign_parameters(row) for row in values]
        )
        assert evs.shape == (len(obs), len(bindings))
        for k, observable in enumerate(obs):
            for b, bound in enumerate(bindings):
                exact = _exact(bound, observable)
                assert abs(evs[k, b] - exact) <= _tolerance(observable, exact_job), (
                    f"{circuit.name} observable {observable.to_list()} binding {b}: "
                    f"{evs[k, b]} vs exact {exact}"
                )


@pytest.fixture(params=["exact", "sampling"])
def estimator_backend(request, exact_backend, noiseless):
    return exact_backend if request.param == "exact" else noiseless


@pytest.mark.parametrize("level", TRANSPILE_LEVELS)
def test_every_gate(estimator_backend, level):
    gates = TARGET_GATES if level is None else QASM_GATES
    rng = np.random.default_rng(4)
    for circuit in gate_tour(gates, measure=False):  # one job per gate
        labels = ["".join(rng.choice(list("IXYZ"), circuit.num_qubits)) for _ in range(3)]
        _check(
            estimator_backend,
            [(circuit, [SparsePauliOp(labels, rng.uniform(-1, 1, 3))], None)],
            level,
        )


@pytest.mark.parametrize("level", TRANSPILE_LEVELS)
@DIFFERENTIAL
@given(data=st.data())
def test_random_parametric_pubs(estimator_backend, level, data):
    gates = TARGET_GATES if level is None else QASM_GATES
    pubs = []
    for _ in range(data.draw(st.integers(1, 2))):
        circuit = data.draw(unitary_circuits(gates, num_parameters=3))
        obs = [
            data.draw(observables(circuit.num_qubits)) for _ in range(data.draw(st.integers(1, 2)))
        ]
        pubs.append((circuit, obs, parameter_values(data.draw, circuit)))
    _check(estimator_backend, pubs, level)
