"""How primitive calls travel (``qiskit_divi.primitives._batches``): templates for parametric
PUBs, bound circuits otherwise, and the documented rule between one shot-groups job and one
template job per shots value. Plans only: nothing is sent (``SamplerV2.plan`` /
``EstimatorV2.plan``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator, SparsePauliOp

from qiskit_divi import EstimatorV2, QoroInputError, SamplerV2
from qiskit_divi.api.circuits import pack_circuit
from qiskit_divi.api.submission import check_shot_groups
from qiskit_divi.primitives._batches import (
    EXTRA_JOB_BYTES,
    Batch,
    bound_bytes,
    bound_circuits,
    template_bytes,
    template_of,
)
from qiskit_divi.primitives.payloads import pub_label

from .conftest import random_ansatz


def measured_ansatz(num_qubits: int, layers: int, seed: int) -> QuantumCircuit:
    circuit = random_ansatz(num_qubits, layers, seed)
    circuit.measure_all()
    return circuit


def bound_text(template, values) -> str:
    """The template's QASM with each name replaced by str(value), as the server binds it."""
    text = template.qasm
    for name, value in sorted(
        zip(template.parameter_names, values, strict=True), key=lambda nv: -len(nv[0])
    ):
        text = text.replace(name, str(float(value)))
    return text


def test_a_parametric_pub_is_one_template_labelled_as_its_bound_circuits(maestro):
    circuit = measured_ansatz(3, 2, 1)
    fixed = QuantumCircuit(1, 1)
    fixed.x(0)
    fixed.measure(0, 0)
    values = np.random.default_rng(0).uniform(-3, 3, (2, 3, circuit.num_parameters))
    plan = SamplerV2(mode=maestro).plan([(circuit, values), fixed], shots=10)
    (spec,) = plan.specs
    assert spec.shots == 10 and spec.shot_groups is None
    assert list(spec.circuits) == ["p1_0"]  # the circuit without parameters travels bound
    (template,) = spec.templates
    flat = values.reshape(-1, circuit.num_parameters)
    assert [s.label for s in template.parameter_sets] == [pub_label(0, i) for i in range(6)]
    for parameter_set, row in zip(template.parameter_sets, flat, strict=True):
        assert list(parameter_set.values) == row.tolist()  # exact doubles, in Qiskit's order
        # the server's binding is the very circuit Qiskit binds
        bound = qasm2.loads(
            bound_text(template, parameter_set.values),
            custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
        )
        want = circuit.assign_parameters(row).remove_final_measurements(inplace=False)
        assert Operator(bound.remove_final_measurements(inplace=False)).equiv(Operator(want))
    assert plan.payload(["job"]).labels() == [[pub_label(0, i) for i in range(6)] + ["p1_0"]]


def test_templates_off_sends_one_bound_circuit_per_binding(maestro):
    circuit = measured_ansatz(2, 1, 2)
    values = np.zeros((3, circuit.num_parameters))
    sampler = SamplerV2(mode=maestro, options={"templates": False})
    (spec,) = sampler.plan([(circuit, values)], shots=10).specs
    assert spec.templates == () and list(spec.circuits) == ["p0_0", "p0_1", "p0_2"]


def test_a_circuit_the_writer_cannot_template_travels_bound(maestro):
    theta = Parameter("θ")
    circuit = QuantumCircuit(1, 1)
    circuit.rx(theta * theta, 0)  # not affine: no QASM arithmetic of the names
    circuit.measure(0, 0)
    (spec,) = SamplerV2(mode=maestro).plan([(circuit, [[0.5], [1.0]])], shots=5).specs
    assert spec.templates == () and list(spec.circuits) == ["p0_0", "p0_1"]


def test_non_finite_values_are_refused_before_any_job(maestro):
    circuit = measured_ansatz(2, 1, 3)
    values = np.zeros(circuit.num_parameters)
    values[1] = math.nan
    for templates in (True, False):
        with pytest.raises(QoroInputError, match="finite parameter values"):
            SamplerV2(mode=maestro, options={"templates": templates}).plan([(circuit, values)])


# --- several shots values --------------------------------------------------------------


def test_different_shots_without_parameters_are_one_job_with_shot_groups(maestro):
    one = QuantumCircuit(1, 1)
    one.x(0)
    one.measure(0, 0)
    plan = SamplerV2(mode=maestro).plan([(one, None, 5), (one, None, 9), (one, None, 5)])
    (spec,) = plan.specs
    assert spec.shots is None and spec.templates == ()
    assert list(spec.circuits) == ["p0_0", "p1_0", "p2_0"]
    assert spec.shot_groups == ((0, 1, 5), (1, 2, 9), (2, 3, 5))
    check_shot_groups(spec.shot_groups, len(spec.circuits))
    payload = plan.payload(["only"])
    assert [pub.job for pub in payload.pubs] == [0, 0, 0]
    assert payload.jobs[0].shots is None  # per-PUB shots are in the PUB plans


def test_runs_of_equal_shots_share_one_group(maestro):
    circuit = measured_ansatz(2, 1, 4)
    values = np.zeros((2, circuit.num_parameters))
    sampler = SamplerV2(mode=maestro, options={"templates": False})
    (spec,) = sampler.plan([(circuit, values, 7), (circuit, values, 7), (circuit, values, 3)]).specs
    assert spec.shot_groups == ((0, 4, 7), (4, 6, 3))


def _rule_picks_templates(plan_batches) -> bool:
    """The documented rule, from the documented estimates."""
    saved = sum(
        bound_bytes(b, template_of(b)) - template_bytes(template_of(b)) for b in plan_batches
    )
    return saved > (len({b.shots for b in plan_batches}) - 1) * EXTRA_JOB_BYTES


def _batches(circuit, values, shots_list) -> list[Batch]:
    from qiskit.primitives.containers.bindings_array import BindingsArray

    bindings = BindingsArray.coerce({tuple(circuit.parameters): values})
    flats = tuple(range(bindings.size))
    return [
        Batch(i, circuit, bindings, flats, tuple(pub_label(i, f) for f in flats), s, s)
        for i, s in enumerate(shots_list)
    ]


@pytest.mark.parametrize(
    ("num_qubits", "bindings", "picks_templates"),
    [(2, 1, False), (12, 60, True)],
)
def test_several_shots_pick_the_form_the_rule_documents(
    maestro, num_qubits, bindings, picks_templates
):
    circuit = measured_ansatz(num_qubits, 3, 5)
    values = np.random.default_rng(1).uniform(-3, 3, (bindings, circuit.num_parameters))
    assert _rule_picks_templates(_batches(circuit, values, [100, 200])) is picks_templates
    plan = SamplerV2(mode=maestro).plan([(circuit, values, 100), (circuit, values, 200)])
    if picks_templates:  # one job per shots value, each PUB one template
        assert [spec.shots for spec in plan.specs] == [100, 200]
        assert all(len(spec.templates) == 1 and not spec.circuits for spec in plan.specs)
        assert [pub.job for pub in plan.pubs] == [0, 1]
    else:  # one bound job with shot groups
        (spec,) = plan.specs
        assert spec.templates == () and len(spec.circuits) == 2 * bindings
        assert spec.shot_groups == ((0, bindings, 100), (bindings, 2 * bindings, 200))
    off = SamplerV2(mode=maestro, options={"templates": False})
    assert len(off.plan([(circuit, values, 100), (circuit, values, 200)]).specs) == 1


def test_byte_estimates_are_close_to_what_is_uploaded():
    circuit = measured_ansatz(8, 2, 6)
    values = np.random.default_rng(2).uniform(-3, 3, (40, circuit.num_parameters))
    (batch,) = _batches(circuit, values, [10])
    template = template_of(batch)
    assert template is not None
    packed = sum(
        len(label) + len(pack_circuit(text)) + 6 for label, text in bound_circuits(batch).items()
    )
    assert abs(bound_bytes(batch, template) - packed) < 0.05 * packed
    rows = sum(
        len(f'{{"label": "{s.label}", "values": [{", ".join(map(repr, s.values))}]}}, ')
        for s in template.parameter_sets
    )
    assert rows < template_bytes(template) < rows + len(pack_circuit(template.qasm)) + 2000


# --- estimator ----------------------------------------------------------------------


def test_expectation_jobs_send_one_template_per_parametric_pub(maestro):
    circuit = random_ansatz(3, 2, 7)
    values = np.random.default_rng(3).uniform(-3, 3, (4, circuit.num_parameters))
    (spec,) = EstimatorV2(mode=maestro).plan([(circuit, [["XYZ"], ["ZZI"]], values)]).specs
    assert spec.observables is not None and not spec.circuits
    (template,) = spec.templates
    assert [s.label for s in template.parameter_sets] == [pub_label(0, i) for i in range(4)]
    assert "measure" in template.qasm  # EXPECTATION circuits end measuring every qubit


def test_sampling_fallback_sends_each_group_only_for_the_bindings_that_need_it(noiseless):
    circuit = random_ansatz(2, 1, 8)
    values = np.random.default_rng(4).uniform(-3, 3, (2, 1, circuit.num_parameters))
    # binding 0 needs XX only, binding 1 ZZ only (observables broadcast (2, 1) x (1, 2))
    observables = [[SparsePauliOp("XX"), SparsePauliOp("II")], [SparsePauliOp("II"), "ZZ"]]
    plan = EstimatorV2(mode=noiseless).plan([(circuit, observables, values)], precision=0.1)
    (spec,) = plan.specs
    sets = {t.parameter_sets[0].label: len(t.parameter_sets) for t in spec.templates}
    assert sorted(sets) == ["p0_0_g0", "p0_1_g1"] and set(sets.values()) == {1}
    assert sorted(plan.payload(["j"]).labels()[0]) == ["p0_0_g0", "p0_1_g1"]


def test_sampling_fallback_with_different_precisions_is_one_job(noiseless):
    circuit = random_ansatz(2, 1, 9)
    values = np.zeros(circuit.num_parameters)
    plan = EstimatorV2(mode=noiseless).plan(
        [(circuit, "XX", values, 0.05), (circuit, "YY", values, 0.1)]
    )
    (spec,) = plan.specs
    assert spec.templates == () and spec.shot_groups == ((0, 1, 400), (1, 2, 100))
    assert [pub.shots for pub in plan.pubs] == [400, 100]
