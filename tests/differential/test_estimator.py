"""``EstimatorV2`` against ``Statevector`` expectation values: EXPECTATION jobs exactly
(1e-6), the sampling fallback within a Hoeffding bound; observable arrays broadcast
against parameter bindings, ISA and transpiled.

Sampling-fallback bound: each Pauli term's estimate is a mean of ``N`` values ``±1``
(``N = ceil(1 / precision**2)`` shots of its measurement group), so by Hoeffding and a
union bound over the ``m`` terms of an observable,
``|estimate - exact| <= sum_j |c_j| * sqrt(2 ln(2m / delta) / N)`` except with
probability ``delta`` (``ground_truth.FALSE_ALARM_PROBABILITY``).

Parametric PUBs run with templates on (the default: the server binds them) and off; the
sampling fallback's PUBs at different precisions (one job with shot groups, or one template
job per shots value: ``qiskit_divi.primitives._batches``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ground_truth import FALSE_ALARM_PROBABILITY
from hypothesis import given
from hypothesis import strategies as st
from parametric_tour import parametrised
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter
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
TEMPLATES = [pytest.param(True, id="templates"), pytest.param(False, id="bound")]


def _exact(circuit: QuantumCircuit, observable: SparsePauliOp) -> float:
    return float(np.real(Statevector(circuit).expectation_value(observable)))


def _tolerance(observable: SparsePauliOp, exact_job: bool, precision: float = PRECISION) -> float:
    if exact_job:
        return 1e-6
    terms = [(label, c) for label, c in observable.to_list() if set(label) != {"I"}]
    if not terms:
        return 1e-9
    shots = math.ceil(1 / precision**2)
    deviation = math.sqrt(2 * math.log(2 * len(terms) / FALSE_ALARM_PROBABILITY) / shots)
    return sum(abs(c) for _, c in terms) * deviation + 1e-9


def _check(backend, pubs, level, *, templates: bool = True, precisions=None) -> None:
    """``pubs``: (logical circuit, observables (list), values or None). Observables travel as a
    (k, 1) array, so with B bindings the PUB result has shape (k, B). ``precisions``: each
    PUB's precision (default: all ``PRECISION``)."""
    exact_job = backend.supports_expval
    precisions = precisions or [PRECISION] * len(pubs)
    submitted = []
    for (circuit, obs, values), precision in zip(pubs, precisions, strict=True):
        isa = (
            circuit
            if level is None
            else transpile(circuit, backend, optimization_level=level, seed_transpiler=SEED)
        )
        mapped = [[o.apply_layout(isa.layout)] for o in obs]
        submitted.append((isa, mapped, values_for(isa, circuit, values), precision))
    estimator = EstimatorV2(mode=backend, options={"templates": templates})
    result = estimator.run(submitted).result()
    for (circuit, obs, values), precision, pub_result in zip(pubs, precisions, result, strict=True):
        evs = pub_result.data.evs
        bindings = (
            [circuit] if values is None else [circuit.assign_parameters(row) for row in values]
        )
        assert evs.shape == (len(obs), len(bindings))
        for k, observable in enumerate(obs):
            for b, bound in enumerate(bindings):
                exact = _exact(bound, observable)
                assert abs(evs[k, b] - exact) <= _tolerance(observable, exact_job, precision), (
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


@pytest.mark.parametrize("templates", TEMPLATES)
def test_every_gate_with_parametric_angles(estimator_backend, templates):
    """Every angle of every gate's tour is a parameter (bare or affine), bound to the tour's
    own values: the template writer and the server's binding on the whole gate set. One call
    (a template per gate)."""
    rng = np.random.default_rng(5)
    pubs = []
    for circuit in gate_tour(TARGET_GATES, measure=False):
        parametric, values = parametrised(circuit)
        if values is None:
            continue
        labels = ["".join(rng.choice(list("IXYZ"), circuit.num_qubits)) for _ in range(3)]
        observable = SparsePauliOp(labels, rng.uniform(-1, 1, 3))
        pubs.append((parametric, [observable], np.vstack([values, values[::-1]])))
    assert len(pubs) > 30
    _check(estimator_backend, pubs, None, templates=templates, precisions=[0.03] * len(pubs))


@pytest.mark.parametrize("templates", TEMPLATES)
@pytest.mark.parametrize("level", TRANSPILE_LEVELS)
@DIFFERENTIAL
@given(data=st.data())
def test_random_parametric_pubs(estimator_backend, level, templates, data):
    gates = TARGET_GATES if level is None else QASM_GATES
    pubs = []
    for _ in range(data.draw(st.integers(1, 2))):
        circuit = data.draw(unitary_circuits(gates, num_parameters=3))
        obs = [
            data.draw(observables(circuit.num_qubits)) for _ in range(data.draw(st.integers(1, 2)))
        ]
        pubs.append((circuit, obs, parameter_values(data.draw, circuit)))
    # Different precisions per PUB: different shots in the sampling fallback.
    precisions = [data.draw(st.sampled_from([PRECISION, 2 * PRECISION])) for _ in pubs]
    _check(estimator_backend, pubs, level, templates=templates, precisions=precisions)


@pytest.mark.parametrize("templates", TEMPLATES)
def test_scaled_angles_after_a_zero_binding(estimator_backend, templates):
    """Angles ``2*a``, ``3*b`` bound first at zero, where the bound text ``2.0*(0.0)`` has the
    angle of its literal: every later binding must still get its factor (a shape parser that
    took the literal for the angle would drop it)."""
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(2, name="scaled")
    circuit.h(0)
    circuit.ry(2 * a, 0)
    circuit.cx(0, 1)
    circuit.rz(3 * b, 1)
    circuit.crx(2 * a, 0, 1)
    circuit.ry(b, 1)
    observable = SparsePauliOp(["ZZ", "XI", "IY", "ZX"], [0.7, -0.4, 0.9, 0.3])
    values = np.array([[0.0, 0.0], [0.4, -1.1], [1.3, 0.2]])
    _check(estimator_backend, [(circuit, [observable], values)], None, templates=templates)
