"""Circuit templates on the wire: validation before any job, chunking under the request
budget, and the local binding the bound fallback sends."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm2
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import Operator

from qiskit_divi._qasm.writer import QasmTemplate, symbolic_qasm
from qiskit_divi.api.circuits import unpack_circuit
from qiskit_divi.api.errors import QoroInputError
from qiskit_divi.api.models import JobType, ParameterSet
from qiskit_divi.api.submission import CircuitTemplate, JobSpec
from qiskit_divi.api.templates import bind_template, check_template, chunk_parameter_sets

QASM = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nrz(t0000) q[0];\nrx(t0001) q[0];'


def _template(
    qasm: str = QASM, names=("t0000", "t0001"), sets=(("s0", (0.5, -1.0)),)
) -> CircuitTemplate:
    return CircuitTemplate(
        qasm, tuple(names), tuple(ParameterSet(label, tuple(v)) for label, v in sets)
    )


def _spec(*templates: CircuitTemplate, circuits=None) -> JobSpec:
    return JobSpec("qoro_maestro", JobType.SIMULATE, circuits or {}, shots=10, templates=templates)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (_template(names=("t0000", "t0000")), "names parameter 't0000' twice"),
        (_template(sets=(("s0", (0.5,)),)), "'s0' has 1 values for 2 parameter names"),
        (_template(sets=(("s0", (0.5, math.nan)),)), "gives t0001 the value nan"),
        (_template(sets=(("s0", (math.inf, 0.0)),)), "gives t0000 the value inf"),
        (_template(sets=(("s0", (True, 0.0)),)), "values must be finite real numbers"),
        (_template(sets=(("s0", ("0.5", 0.0)),)), "values must be finite real numbers"),
        (_template(sets=(("s0", (1j, 0.0)),)), "values must be finite real numbers"),
        (_template(sets=(("s", (0, 0)), ("s", (1, 1)))), "two parameter sets labelled 's'"),
        (_template(sets=()), "no parameter sets"),
        (_template(names=("t0000", "t0001", "t0002")), "'t0002' that occurs nowhere"),
        (_template(names=("t0000", "1x")), "names must be identifiers"),
        (_template(names=("t0000", "pi")), "an OpenQASM 2 word"),
        (
            _template(QASM.replace("t0001", "t00001"), names=("t0000", "t00001")),
            "'t0000' inside parameter 't00001'",
        ),
        (
            _template(QASM.replace("rx(t0001)", "rx(r)"), names=("t0000", "r")),
            "'r' that also occurs inside a longer word",  # in "rz" and "rx"
        ),
        (_template(qasm="  "), "has no QASM text"),
    ],
)
def test_bad_templates_fail_before_any_job_saying_what_to_do(template, message):
    with pytest.raises(QoroInputError, match=message):
        check_template(template)
    with pytest.raises(QoroInputError, match=message):  # JobSpec checks them: no job exists yet
        _spec(template)


def test_labels_are_distinct_across_circuits_and_templates_and_listed_in_order():
    first = _template(sets=(("a", (0, 0)), ("b", (1, 1))))
    with pytest.raises(QoroInputError, match="Label 'a' names two circuits"):
        _spec(first, circuits={"a": QASM})
    with pytest.raises(QoroInputError, match="Label 'b' names two circuits"):
        _spec(first, _template(sets=(("b", (0, 0)),)))
    spec = _spec(first, _template(sets=(("c", (0, 0)),)), circuits={"z": QASM})
    assert spec.labels() == ["z", "a", "b", "c"]
    with pytest.raises(QoroInputError, match="Shot groups do not combine"):
        JobSpec("s", JobType.SIMULATE, {"z": QASM}, shot_groups=((0, 1, 5),), templates=(first,))
    with pytest.raises(QoroInputError, match="pass CircuitTemplate"):
        _spec(("qasm", ("t0000",), ()))  # type: ignore[arg-type]


def _many_sets(count: int, width: int = 100, seed: int = 3) -> CircuitTemplate:
    theta = ParameterVector("θ", width)
    circuit = QuantumCircuit(QuantumRegister(20, "q"), ClassicalRegister(20, "c"))
    for i, parameter in enumerate(theta):
        circuit.ry(parameter, i % 20)
        circuit.cx(i % 20, (i + 1) % 20)
    circuit.measure(range(20), range(20))
    symbolic = symbolic_qasm(circuit)
    assert symbolic is not None
    rng = np.random.default_rng(seed)
    sets = tuple(
        ParameterSet(f"pub0_{k}", tuple(float(v) for v in rng.normal(size=width)))
        for k in range(count)
    )
    return CircuitTemplate(symbolic.qasm, symbolic.parameter_names, sets)


@pytest.mark.parametrize("observables", [None, "ZZ;XI" * 2000])
def test_sets_are_chunked_in_order_with_every_body_under_the_budget(observables):
    template = _many_sets(300)
    budget = 100_000
    requests = chunk_parameter_sets(
        template,
        shots=None if observables else 100,
        observables=observables,
        max_bytes=budget,
    )
    assert len(requests) > 1
    sizes = [len(json.dumps(r.to_json())) for r in requests]
    assert max(sizes) <= budget
    # Greedy: no chunk could have taken the next chunk's first set.
    row = len(json.dumps({"label": "pub0_100", "values": list(template.parameter_sets[0].values)}))
    assert all(size + row > budget * 0.98 for size in sizes[:-1])
    sent = [row for r in requests for row in r.parameter_sets]
    assert sent == list(template.parameter_sets)
    assert not any(r.finalized for r in requests)  # the caller finalises the job's last call
    assert {r.circuit_template for r in requests} == {requests[0].circuit_template}
    assert unpack_circuit(requests[0].circuit_template) == template.qasm
    assert all(r.observables == observables for r in requests)


def test_a_template_whose_fixed_part_exceeds_the_budget_is_refused_and_a_big_set_goes_alone():
    template = _many_sets(3)
    fixed = len(
        json.dumps(chunk_parameter_sets(template, shots=5, observables=None)[0].to_json())
    ) - sum(
        len(json.dumps({"label": r.label, "values": list(r.values)})) + 2
        for r in template.parameter_sets
    )
    with pytest.raises(QoroInputError, match="without any parameter set, more than the"):
        chunk_parameter_sets(template, shots=5, observables=None, max_bytes=fixed)
    alone = chunk_parameter_sets(template, shots=5, observables=None, max_bytes=fixed + 10)
    assert [len(r.parameter_sets) for r in alone] == [1, 1, 1]


def test_local_binding_writes_the_bound_writers_text_and_the_qiskit_bound_circuit():
    template = _many_sets(4, width=30)
    theta = ParameterVector("θ", 30)
    circuit = QuantumCircuit(QuantumRegister(20, "q"), ClassicalRegister(20, "c"))
    for i, parameter in enumerate(theta):
        circuit.ry(parameter, i % 20)
        circuit.cx(i % 20, (i + 1) % 20)
    circuit.measure(range(20), range(20))
    writer = QasmTemplate.of(circuit)
    bound = bind_template(template)
    assert list(bound) == [row.label for row in template.parameter_sets]
    for row in template.parameter_sets:
        assert bound[row.label] == writer.render(row.values)


def test_local_binding_of_expressions_and_awkward_values_reads_back_as_the_bound_circuit():
    theta = ParameterVector("θ", 2)
    circuit = QuantumCircuit(QuantumRegister(2, "q"))
    circuit.rz(2 * theta[0] - 1, 0)
    circuit.crx(theta[1] - theta[0] / 4, 0, 1)
    symbolic = symbolic_qasm(circuit)
    values = [(1e-05, -1e22), (-0.0, 3.0), (np.float32(0.25), 7)]
    template = CircuitTemplate(
        symbolic.qasm,
        symbolic.parameter_names,
        tuple(ParameterSet(f"s{k}", v) for k, v in enumerate(values)),
    )
    check_template(template)
    bound = bind_template(template)
    for k, v in enumerate(values):
        text = bound[f"s{k}"]
        assert "e-05" not in text or "1.0e-05" in text  # strict OpenQASM 2 reals
        loaded = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        assert Operator(loaded) == Operator(circuit.assign_parameters([float(x) for x in v]))
