"""The template form of ``add_circuits`` (``qoro-api.md`` 3.5): binding and refusals.

Correctness is checked against ``qiskit.quantum_info`` on the circuit Qiskit binds itself
(``assign_parameters``): sampled counts within ``ground_truth.tvd_bound`` (false alarm
below 1e-9 per comparison), EXPECTATION values to 1e-9. Every request is a raw HTTP body
built here, as the contract says, never by the package's own client.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from ground_truth import assert_sampled_from, outcome_probabilities, without_measurements
from hypothesis import given
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression, ParameterVector
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import SparsePauliOp, Statevector
from random_circuits import (
    DIFFERENTIAL,
    TARGET_GATES,
    measured,
    observables,
    parameter_values,
    unitary_circuits,
)

from qiskit_divi._qasm import HEADER, format_real, qasm2_statement_names
from qiskit_divi.api.circuits import pack_circuit
from qiskit_divi.emulator import EmulatorConfig, uploads
from qiskit_divi.emulator.templates import (
    CircuitTemplate,
    TemplateError,
    parameter_names,
    parameter_sets,
)

SHOTS = 4000
NUM_PARAMETERS = 12
"""Enough for ``theta_1`` and ``theta_10``/``theta_11`` to share a prefix."""
NAMES = [f"theta_{i}" for i in range(NUM_PARAMETERS)]


# --- building raw bodies ------------------------------------------------------------


def _argument(param: Any) -> str:
    if isinstance(param, ParameterExpression) and param.parameters:
        if isinstance(param, Parameter):
            return param.name
        return "(" + str(param).replace("**", "^") + ")"
    return format_real(float(param))


def template_text(circuit: QuantumCircuit) -> str:
    """OpenQASM 2 of ``circuit`` with its parameters written by name (a template), bits
    flattened onto ``q`` and ``c``."""
    statement = qasm2_statement_names()
    qubit = {bit: f"q[{i}]" for i, bit in enumerate(circuit.qubits)}
    clbit = {bit: f"c[{i}]" for i, bit in enumerate(circuit.clbits)}
    lines = [HEADER + f"qreg q[{circuit.num_qubits}];"]
    if circuit.num_clbits:
        lines.append(f"creg c[{circuit.num_clbits}];")
    for instruction in circuit.data:
        name = instruction.operation.name
        qubits = ",".join(qubit[q] for q in instruction.qubits)
        if name == "measure":
            lines.append(f"measure {qubits} -> {clbit[instruction.clbits[0]]};")
        elif name in ("reset", "barrier"):
            lines.append(f"{name} {qubits};")
        else:
            args = [_argument(p) for p in instruction.operation.params]
            call = statement[name][1] + (f"({','.join(args)})" if args else "")
            lines.append(f"{call} {qubits};")
    return "\n".join(lines) + "\n"


def named(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with its parameters ``θ[i]`` renamed ``theta_i`` (QASM identifiers)."""
    rename = {p: Parameter(f"theta_{p.index}") for p in circuit.parameters}  # type: ignore[attr-defined]
    return circuit.assign_parameters(rename)


def template_body(
    text: str,
    names: Sequence[str],
    sets: Sequence[tuple[str, Sequence[float]]],
    *,
    finalized: bool = True,
    **measurement: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "circuit_template": pack_circuit(text),
        "parameter_names": list(names),
        "parameter_sets": [{"label": label, "values": list(values)} for label, values in sets],
        "mode": "append",
        "finalized": "true" if finalized else "false",
    }
    return body | (measurement or {"shots": 100})


def values_by_name(circuit: QuantumCircuit, row: Sequence[float]) -> list[float]:
    """One value per name of :data:`NAMES` (the circuit's own parameters take ``row``; an
    unused name gets a value the binding must ignore)."""
    by_name = {p.name: float(v) for p, v in zip(circuit.parameters, row, strict=True)}
    return [by_name.get(name, 123.0) for name in NAMES]


def wire_term(label: str) -> str:
    """A Qiskit Pauli label (qubit 0 rightmost) as a wire term (qubit 0 leftmost)."""
    return label[::-1]


def exact_expectation(circuit: QuantumCircuit, term: str) -> float:
    state = Statevector(without_measurements(circuit))
    return float(state.expectation_value(SparsePauliOp(wire_term(term))).real)


# --- correctness -------------------------------------------------------------------


@DIFFERENTIAL
@given(data=st.data())
def test_random_parametric_templates_sample_the_circuits_qiskit_binds(api, data):
    circuit = named(
        data.draw(
            measured(data.draw(unitary_circuits(TARGET_GATES, num_parameters=NUM_PARAMETERS)))
        )
    )
    rows = parameter_values(data.draw, circuit)
    if rows is None:
        rows = np.zeros((1, 0))
    sets = [(f"set_{i}", values_by_name(circuit, row)) for i, row in enumerate(rows)]
    job_id = api.init()
    resp = api.post(
        f"job/{job_id}/add_circuits/",
        template_body(template_text(circuit), NAMES, sets, shots=SHOTS),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["circuits_added"] == len(sets)
    counts = api.counts(job_id)
    assert list(counts) == [label for label, _ in sets]
    for (label, _), row in zip(sets, rows, strict=True):
        bound = circuit.assign_parameters(row) if circuit.num_parameters else circuit
        histogram = {int(bits, 2): n for bits, n in counts[label].items()}
        assert sum(histogram.values()) == SHOTS
        assert_sampled_from(histogram, outcome_probabilities(bound), label)


# --- ParameterVector names, as divi 0.15.1 sends them ----------------------------------

W = ParameterVector("w_0", 11)
"""``w_0[1]`` and ``w_0[10]`` coexist: a name must never hit another one's prefix."""
B = ParameterVector("β", 3)
VECTOR_NAMES = [str(p) for p in [*W, *B]]  # exactly as ``str(param)`` gives them: 'β[0]'


def vector_named(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` (parameters ``θ[i]``, ``i < 14``) on ``w_0[i]`` then ``β[i - 11]``, with a
    fixed tail on qubit 0 using ``w_0[1]``, ``w_0[10]`` and ``β[0]`` negated and inside
    expressions (``str`` writes ``-w_0[1]``, ``w_0[10] - 0.5*β[0]``, ...)."""
    pool = [*W, *B]
    out = circuit.assign_parameters(
        {p: pool[p.index] for p in circuit.parameters}  # type: ignore[attr-defined]
    )
    out.rz(-W[1], 0)
    out.ry(W[10] - 0.5 * B[0], 0)
    out.rx(-W[10] / 2 + 2 * W[1], 0)
    out.rz(-B[0], 0)
    return out


def vector_rows(draw: st.DrawFn, circuit: QuantumCircuit) -> np.ndarray:
    """Bindings of ``circuit``'s parameters; the first all negative."""
    rows = parameter_values(draw, circuit)
    assert rows is not None  # the tail has parameters
    rows[0] = -np.abs(rows[0]) - 0.01
    return rows


def vector_sets(circuit: QuantumCircuit, rows: np.ndarray) -> list[tuple[str, list[float]]]:
    """One set per row, a value for every name of :data:`VECTOR_NAMES` (123 if unused)."""
    out = []
    for i, row in enumerate(rows):
        by_name = {str(p): float(v) for p, v in zip(circuit.parameters, row, strict=True)}
        out.append((f"set_{i}", [by_name.get(name, 123.0) for name in VECTOR_NAMES]))
    return out


def test_the_vector_tail_is_written_with_the_names_verbatim():
    """The template text carries ``str(param)`` names (the helper is what the tests
    below send), negated and inside expressions."""
    text = template_text(vector_named(QuantumCircuit(1)))
    for name in ("w_0[1]", "w_0[10]", "β[0]"):
        assert name in text
    assert "(-w_0[1])" in text or "-w_0[1]" in text


@DIFFERENTIAL
@given(data=st.data())
def test_vector_named_templates_sample_the_circuits_qiskit_binds(api, data):
    """Random circuits on ``w_0[0..10]`` and ``β[0..2]``; TVD within ``tvd_bound``."""
    unitary = data.draw(unitary_circuits(TARGET_GATES, num_parameters=len(VECTOR_NAMES)))
    circuit = data.draw(measured(vector_named(unitary)))
    rows = vector_rows(data.draw, circuit)
    sets = vector_sets(circuit, rows)
    job_id = api.init()
    resp = api.post(
        f"job/{job_id}/add_circuits/",
        template_body(template_text(circuit), VECTOR_NAMES, sets, shots=SHOTS),
    )
    assert resp.status_code == 200, resp.text
    counts = api.counts(job_id)
    assert list(counts) == [label for label, _ in sets]
    for (label, _), row in zip(sets, rows, strict=True):
        bound = circuit.assign_parameters(row)
        histogram = {int(bits, 2): n for bits, n in counts[label].items()}
        assert sum(histogram.values()) == SHOTS
        assert_sampled_from(histogram, outcome_probabilities(bound), label)


@DIFFERENTIAL
@given(data=st.data())
def test_vector_named_templates_give_the_exact_expectation_values(api, data):
    """The same circuits (no resets) in an EXPECTATION job: each term of a random
    observable to 1e-9 of ``Statevector.expectation_value``."""
    unitary = data.draw(
        unitary_circuits(TARGET_GATES, num_parameters=len(VECTOR_NAMES), resets=False)
    )
    circuit = data.draw(measured(vector_named(unitary)))
    rows = vector_rows(data.draw, circuit)
    sets = vector_sets(circuit, rows)
    terms = [
        wire_term(label) for label in data.draw(observables(circuit.num_qubits)).paulis.to_labels()
    ]
    job_id = api.init("EXPECTATION")
    body = template_body(template_text(circuit), VECTOR_NAMES, sets, observables=";".join(terms))
    resp = api.post(f"job/{job_id}/add_circuits/", body)
    assert resp.status_code == 200, resp.text
    values = api.values(job_id)
    for (label, _), row in zip(sets, rows, strict=True):
        bound = circuit.assign_parameters(row)
        for term in terms:
            expected = exact_expectation(bound, term)
            assert values[label][term] == pytest.approx(expected, abs=1e-9), (label, term)


@pytest.mark.parametrize(
    ("text", "names", "values", "bound"),
    [
        # prefixes: theta_1 / theta_10, w_0[1] / w_0[10], a base without its subscript
        ("rz(theta_1+theta_10)", ["theta_1", "theta_10"], [1, 2], "rz(1.0+2.0)"),
        ("rz(w_0[1]-w_0[10])", ["w_0[1]", "w_0[10]"], [1, -2], "rz(1.0-(-2.0))"),
        ("rz(w_0[10]-w_0[1])", ["w_0[1]", "w_0[10]"], [1, -2], "rz((-2.0)-1.0)"),
        ("rz(w_0[3])", ["w_0"], [1], "rz(w_0[3])"),
        ("rz(w_0+w_0[3])", ["w_0", "w_0[3]"], [1, 2], "rz(1.0+2.0)"),
        # a name is not hit after an identifier character, nor (ending in one) before one or '['
        ("rz(xβ[0]+β[01]+β[0])", ["β[0]"], [5], "rz(xβ[0]+β[01]+5.0)"),
        ("rz(βγ+β+γβ)", ["β", "γ"], [1, 2], "rz(βγ+1.0+γβ)"),
        ("rz(a_β+β_a)", ["β"], [1], "rz(a_β+β_a)"),
        ("rz(a.bc+a.b[0]+a.b)", ["a.b"], [1], "rz(a.bc+a.b[0]+1.0)"),
        # the longest name wins, once; a value is never matched again
        ("rz(a.b+a)", ["a", "a.b"], [1, 2], "rz(2.0+1.0)"),
        ("rz(a[1][2])", ["a[1]", "a[1][2]"], [1, 2], "rz(2.0)"),
        ("rz(e5)", ["e5", "e"], [1, 2], "rz(1.0)"),
        # numbers, comments and strings are not names
        ("rz(1e5+1.e5+e5)", ["e5"], [3], "rz(1e5+1.e5+3.0)"),
        (
            'include "β[0].inc"; // β[0]\nrz(β[0])',
            ["β[0]"],
            [3],
            'include "β[0].inc"; // β[0]\nrz(3.0)',
        ),
        # negative values are parenthesised unless a whole argument (divi's -w_0[3]/2)
        (
            "rz(-w_0[3]/2) u(w_0[3], 1*w_0[3], w_0[3]^2)",
            ["w_0[3]"],
            [-0.93],
            "rz(-(-0.93)/2) u(-0.93, 1*(-0.93), (-0.93)^2)",
        ),
        # a gate name before '[' cannot occur in a valid text: such a name is harmless
        ("ry(x[0]) q[0]; x q[0];", ["x[0]"], [1], "ry(1.0) q[0]; x q[0];"),
    ],
)
def test_names_match_verbatim_as_whole_names(text, names, values, bound):
    template = CircuitTemplate.of(text, parameter_names(names))
    (row,) = parameter_sets([{"label": "a", "values": values}], len(names))
    assert template.bind(row.texts) == bound
    assert template.bound_bytes(row.texts) == len(bound.encode())


def test_a_vector_named_like_a_gate_binds(api):
    """``ParameterVector("x")`` (the feature maps' default) gives ``x[0]``: accepted and
    bound, while the gate ``x`` is left alone."""
    text = _one_qubit_template("ry(x[0]) q[0];\nx q[1];\nry(-x[1]/2) q[1];", n=2)
    (z,) = _z_values(api, text, ["x[0]", "x[1]"], [[0.7, -0.4]])
    assert z == pytest.approx([math.cos(0.7), -math.cos(0.2)], abs=1e-9)


def test_a_template_sent_as_divi_0151_sends_it_binds(api):
    """The wire body F5 captured from a real divi 0.15.1 QAOA run: ``rz(1*β[0])`` and
    ``rx(2*γ[0])`` with names ``β[0]``, ``γ[0]``; labels as divi makes them."""
    text = _one_qubit_template(
        "h q[0];\nh q[1];\ncx q[0],q[1];\nrz(1*β[0]) q[1];\ncx q[0],q[1];\n"
        "rx(2*γ[0]) q[0];\nrx(2*γ[0]) q[1];",
        n=2,
    )
    rows = [[1.1258457480757533, 0.26779110424868613], [-0.5, -2.25]]
    z = _z_values(api, text, ["β[0]", "γ[0]"], rows)
    for (beta, gamma), got in zip(rows, z, strict=True):
        circuit = QuantumCircuit(2)
        circuit.h([0, 1])
        circuit.rzz(beta, 0, 1)
        circuit.rx(2 * gamma, [0, 1])
        state = Statevector(circuit)
        expected = [state.expectation_value(SparsePauliOp(wire_term(t))).real for t in ("ZI", "IZ")]
        assert got == pytest.approx(expected, abs=1e-9)


def _parametrised_gates() -> list[str]:
    standard = get_standard_gate_name_mapping()
    return [name for name in TARGET_GATES if name in standard and standard[name].params]


def _gate_tour_circuit(name: str) -> QuantumCircuit:
    """A generic entangled state on the gate's qubits and a spectator, then the gate with
    parameters (a bare name, a negated one, an expression) as its angles."""
    gate = get_standard_gate_name_mapping()[name]
    n = gate.num_qubits + 1
    circuit = QuantumCircuit(n, n)
    for q in range(n):
        circuit.ry(0.3 + 0.2 * q, q)
        circuit.rz(0.7 - 0.1 * q, q)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    p = [Parameter(f"theta_{i}") for i in range(len(gate.params))]
    angles: list[Any] = [p[0]] + [(-1) ** i * (i + 1) * p[i] + 0.25 for i in range(1, len(p))]
    circuit.append(type(gate)(*angles), list(range(n))[::-1][: gate.num_qubits])
    circuit.measure(range(n), range(n))
    return circuit


@pytest.mark.parametrize("name", _parametrised_gates())
def test_every_parametrised_gate_binds_to_the_exact_expectation_values(api, name):
    """Includes the controlled rotations Aer's ``parameter_binds`` leaves unbound."""
    circuit = _gate_tour_circuit(name)
    names = [p.name for p in circuit.parameters]
    rows = [[0.4 + 0.9 * i + 0.37 * k for i in range(len(names))] for k in range(3)]
    rows[1] = [-v for v in rows[1]]  # negative values, bare and inside expressions
    terms = ["".join(t) for t in ("Z" + "I" * 3, "XY" + "Z" * 2, "YXZX")]
    terms = [t[: circuit.num_qubits] for t in terms]
    job_id = api.init("EXPECTATION")
    body = template_body(
        template_text(circuit),
        names,
        [(f"{name}_{k}", row) for k, row in enumerate(rows)],
        observables=";".join(terms),
    )
    resp = api.post(f"job/{job_id}/add_circuits/", body)
    assert resp.status_code == 200, resp.text
    values = api.values(job_id)
    for k, row in enumerate(rows):
        bound = circuit.assign_parameters(dict(zip(circuit.parameters, row, strict=True)))
        for term in terms:
            expected = exact_expectation(bound, term)
            assert values[f"{name}_{k}"][term] == pytest.approx(expected, abs=1e-9), (k, term)


def _one_qubit_template(body: str, n: int = 1) -> str:
    return HEADER + f"qreg q[{n}];\ncreg c[{n}];\n{body}\nmeasure q -> c;\n"


def _z_values(api, text: str, names: list[str], rows: list[list[float]]) -> list[list[float]]:
    n = int(text.split("qreg q[")[1].split("]")[0])
    terms = ["I" * q + "Z" + "I" * (n - q - 1) for q in range(n)]
    job_id = api.init("EXPECTATION")
    sets = [(f"r{k}", row) for k, row in enumerate(rows)]
    resp = api.post(
        f"job/{job_id}/add_circuits/", template_body(text, names, sets, observables=";".join(terms))
    )
    assert resp.status_code == 200, resp.text
    values = api.values(job_id)
    return [[values[f"r{k}"][t] for t in terms] for k in range(len(rows))]


def test_names_are_whole_identifiers_outside_comments_and_strings(api):
    """theta_1 is not replaced inside theta_10 or x_theta_1, nor in a comment; 1e-1 keeps
    its exponent although 'e' could be a name."""
    text = _one_qubit_template(
        '// theta_1 theta_10 "theta_1"\n'
        "ry(theta_1) q[0];\nry(theta_10) q[1];\n"
        "gate x_theta_1(a) t { ry(a) t; }\n"
        "x_theta_1(theta_1 + 0.0*e + 1e-1) q[2];",
        n=3,
    )
    rows = [[0.3, 1.1, 7.0], [-2.0, 0.05, -1.0]]
    for (v1, v10, _), z in zip(
        rows, _z_values(api, text, ["theta_1", "theta_10", "e"], rows), strict=True
    ):
        assert z == pytest.approx([math.cos(v1), math.cos(v10), math.cos(v1 + 0.1)], abs=1e-9)


def test_negative_values_keep_the_meaning_of_expressions(api):
    """``-theta``, ``theta^2`` and ``2*theta`` with a negative theta: the value is
    parenthesised where a bare ``-0.5`` would change the expression."""
    text = _one_qubit_template(
        "ry(-theta) q[0];\nry(theta^2) q[1];\nry(2*theta - theta) q[2];\nry( theta ) q[3];", n=4
    )
    for theta in (-0.5, -1.25e-5, 0.7, -3.5):
        (z,) = _z_values(api, text, ["theta"], [[theta]])
        expected = [math.cos(-theta), math.cos(theta**2), math.cos(theta), math.cos(theta)]
        assert z == pytest.approx(expected, abs=1e-9), theta


def test_integer_values_and_exponent_only_reprs_bind_exactly(api):
    """``3`` and ``1e-05`` (no point in Python's repr) are valid values."""
    text = _one_qubit_template("ry(a) q[0];\nry(b) q[1];", n=2)
    (z,) = _z_values(api, text, ["a", "b"], [[3, 1e-05]])
    assert z == pytest.approx([math.cos(3.0), math.cos(1e-05)], abs=1e-12)


def test_templates_and_bound_circuits_share_one_job(api, qasm):
    """Chunks of both forms, labels unique across the job, results in upload order."""
    job_id = api.init()
    resp = api.add(job_id, {"bound": qasm(1, "x q[0]")}, finalized=False, shots=50)
    assert resp.status_code == 200, resp.text
    text = _one_qubit_template("rx(phi) q[0];")
    first = template_body(text, ["phi"], [("zero", [0.0]), ("pi", [math.pi])], finalized=False)
    second = template_body(text, ["phi"], [("again", [math.pi])], shots=50)
    for body in (first | {"shots": 50}, second):
        resp = api.post(f"job/{job_id}/add_circuits/", body)
        assert resp.status_code == 200, resp.text
    assert resp.json()["total_circuits"] == 4
    counts = api.counts(job_id)
    assert counts == {"bound": {"1": 50}, "zero": {"0": 50}, "pi": {"1": 50}, "again": {"1": 50}}


def test_a_template_with_a_gate_definition_binds_inside_calls_only(api):
    text = _one_qubit_template("gate turn(a) t { ry(a) t; }\nturn(theta_0) q[0];")
    (z,) = _z_values(api, text, ["theta_0"], [[0.9]])
    assert z == pytest.approx([math.cos(0.9)], abs=1e-9)


# --- the tokeniser, without HTTP --------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ry(theta) q[0];",
        "u(theta, -theta, theta^2) q[0]; // theta",
        'include "theta.inc";\nrz( theta ) q[0];',
        "rz(theta_1+theta_10*theta_1) q[0];",
    ],
)
@pytest.mark.parametrize("values", [[-0.5, 2.0], [1e-05, -1e300], [0, 7]])
def test_bound_bytes_is_the_size_of_the_bound_text(text, values):
    template = CircuitTemplate.of(
        text, ("theta", "theta_1") if "theta_1" in text else ("theta", "x")
    )
    (row,) = parameter_sets([{"label": "a", "values": values}], 2)
    bound = template.bind(row.texts)
    assert template.bound_bytes(row.texts) == len(bound.encode())
    assert template.min_bound_bytes <= len(bound.encode())
    assert "theta.inc" in bound or "include" not in text
    assert "// theta" in bound or "//" not in text


# --- refusals -------------------------------------------------------------------------

GOOD_TEXT = _one_qubit_template("ry(theta_0) q[0];")


def _refused(api, body: Any, job_type: str = "SIMULATE", *, raw: bool = False) -> str:
    """Post ``body`` to a fresh job; assert a 400 that stored nothing; the error text."""
    job_id = api.init(job_type)
    path = f"job/{job_id}/add_circuits/"
    if raw:
        resp = api.post(path, data=body, headers={"Content-Type": "application/json"})
    else:
        resp = api.post(path, body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert isinstance(error, str) and error
    measurement = {"observables": "Z"} if job_type == "EXPECTATION" else {"shots": 10}
    ok = api.post(path, template_body(GOOD_TEXT, ["theta_0"], [("after", [0.1])], **measurement))
    assert ok.status_code == 200, ok.text
    assert ok.json()["total_circuits"] == 1  # the refused request added nothing
    return error


def _good(**changes: Any) -> dict[str, Any]:
    body = template_body(GOOD_TEXT, ["theta_0"], [("a", [0.5])])
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"circuits": {"x": pack_circuit(GOOD_TEXT)}}, "not both"),
        ({"shot_groups": [[0, 1, 10]], "shots": None}, "shot_groups"),
        ({"parameter_names": None}, "parameter_names"),
        ({"parameter_sets": None}, "parameter_sets"),
        ({"circuit_template": 5}, "circuit_template"),
        ({"circuit_template": "not base64"}, "base64"),
        ({"parameter_names": "theta_0"}, "list of strings"),
        ({"parameter_names": [1]}, "list of strings"),
        ({"parameter_names": ["1a"]}, "starts with '1'"),
        ({"parameter_names": ["[0]"]}, "starts with '['"),
        ({"parameter_names": ["-a"]}, "starts with '-'"),
        ({"parameter_names": [""]}, "not a valid parameter name (has 0 characters)"),
        ({"parameter_names": ["a" * 129]}, "has 129 characters"),
        ({"parameter_names": ["a b"]}, "contains ' '"),
        ({"parameter_names": ["a\tb"]}, "contains '\\t'"),
        ({"parameter_names": ["a\u00a0"]}, "not a valid parameter name"),
        ({"parameter_names": ["a\x00"]}, "contains '\\x00'"),
        ({"parameter_names": ["a\x7f"]}, "contains '\\x7f'"),
        ({"parameter_names": ['a"']}, "contains '\"'"),
        ({"parameter_names": ["a'"]}, "not a valid parameter name"),
        ({"parameter_names": ["a;"]}, "contains ';'"),
        ({"parameter_names": ["f(0)"]}, "contains '('"),
        ({"parameter_names": ["a)"]}, "contains ')'"),
        ({"parameter_names": ["a,b"]}, "contains ','"),
        ({"parameter_names": ["a//b"]}, "'//'"),
        ({"parameter_names": ["β[0]", "β[0]"]}, "repeated"),
        ({"parameter_names": ["pi/2"]}, "keyword"),
        ({"parameter_names": ["pi*w"]}, "keyword"),
        ({"parameter_names": ["rz+1"]}, "gate"),
        ({"parameter_names": ["q[0]"]}, "starts with 'q', which is declared by the template"),
        ({"parameter_names": ["c[0]"]}, "starts with 'c', which is declared by the template"),
        ({"parameter_names": ["q-1"]}, "declared by the template"),
        ({"parameter_names": ["pi"]}, "keyword"),
        ({"parameter_names": ["sin"]}, "keyword"),
        ({"parameter_names": ["CX"]}, "keyword"),
        ({"parameter_names": ["rz"]}, "gate"),
        ({"parameter_names": ["cu3"]}, "gate"),
        ({"parameter_names": ["measure"]}, "keyword"),
        ({"parameter_names": ["q"]}, "declared by the template"),
        ({"parameter_names": ["c"]}, "declared by the template"),
        ({"parameter_names": ["theta_0", "theta_0"]}, "repeated"),
        ({"parameter_sets": []}, "non-empty list"),
        ({"parameter_sets": {"label": "a", "values": [1.0]}}, "non-empty list"),
        ({"parameter_sets": [["a", [1.0]]]}, "exactly the keys"),
        ({"parameter_sets": [{"label": "a", "values": [1.0], "x": 1}]}, "exactly the keys"),
        ({"parameter_sets": [{"values": [1.0]}]}, "exactly the keys"),
        ({"parameter_sets": [{"label": "", "values": [1.0]}]}, "non-empty string"),
        ({"parameter_sets": [{"label": 3, "values": [1.0]}]}, "non-empty string"),
        (
            {"parameter_sets": [{"label": "a", "values": [1.0]}, {"label": "a", "values": [2.0]}]},
            "Duplicate",
        ),
        ({"parameter_sets": [{"label": "a", "values": []}]}, "one number per parameter name (1)"),
        ({"parameter_sets": [{"label": "a", "values": [1.0, 2.0]}]}, "got 2"),
        ({"parameter_sets": [{"label": "a", "values": 1.0}]}, "one number per parameter"),
        ({"parameter_sets": [{"label": "a", "values": [True]}]}, "finite numbers"),
        ({"parameter_sets": [{"label": "a", "values": ["0.5"]}]}, "finite numbers"),
        ({"parameter_sets": [{"label": "a", "values": [None]}]}, "finite numbers"),
        ({"parameter_sets": [{"label": "a", "values": [10**400]}]}, "finite numbers"),
        ({"mode": "overwrite"}, "mode"),
    ],
)
def test_malformed_template_uploads_are_refused_before_anything_is_stored(api, changes, says):
    assert says in _refused(api, _good(**changes))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_values_are_refused(api, literal):
    body = json.dumps(_good(parameter_sets=[{"label": "a", "values": [0.0]}]))
    body = body.replace('"values": [0.0]', f'"values": [{literal}]')
    assert "finite numbers" in _refused(api, body.encode(), raw=True)


def test_stray_template_keys_without_a_template_are_refused(api, qasm):
    body = {
        "circuits": {"x": pack_circuit(qasm(1))},
        "parameter_sets": [{"label": "a", "values": []}],
        "finalized": "true",
        "shots": 10,
    }
    assert "circuit_template" in _refused(api, body)


@pytest.mark.parametrize(
    ("text", "names", "says"),
    [
        (_one_qubit_template("gate g(a) t { ry(a) t; }\ng(theta_0) q[0];"), ["a"], "declared"),
        (_one_qubit_template("gate g(a) t { ry(a) t; }\ng(theta_0) q[0];"), ["g"], "declared"),
        (_one_qubit_template("ry(theta_0) q[0];").replace("qelib1", "other"), ["theta_0"], "other"),
        (HEADER + "qreg q[n];\ncreg c[1];\nmeasure q[0] -> c[0];\n", ["n"], "invalid OpenQASM"),
        (HEADER + "qreg q[30];\ncreg c[1];\nry(theta_0) q[0];\n", ["theta_0"], "30 qubits"),
        (HEADER + "qreg q[1];\nry(theta_0) q[0];\n", ["theta_0"], "no classical bits"),
        (_one_qubit_template("ry(theta_0) q[0]"), ["theta_0"], "invalid OpenQASM"),
    ],
)
def test_templates_that_cannot_bind_to_a_runnable_circuit_are_refused(api, text, names, says):
    body = template_body(text, names, [("a", [0.5] * len(names))])
    assert says in _refused(api, body)


def test_a_label_already_in_the_job_is_refused(api):
    job_id = api.init()
    path = f"job/{job_id}/add_circuits/"
    first = template_body(GOOD_TEXT, ["theta_0"], [("a", [0.1])], finalized=False)
    assert api.post(path, first).status_code == 200
    resp = api.post(path, template_body(GOOD_TEXT, ["theta_0"], [("b", [0.1]), ("a", [0.2])]))
    assert resp.status_code == 400 and "Duplicate circuit label 'a'" in resp.json()["error"]


def test_observables_must_fit_the_template_width(api):
    body = template_body(GOOD_TEXT, ["theta_0"], [("a", [0.1])], observables="ZZ")
    assert "2 qubits" in _refused(api, body, "EXPECTATION")


# --- limits: bound circuits count like uploaded ones ----------------------------------------


def test_a_bound_circuit_over_max_circuit_bytes_is_refused(make_server, client):
    text = _one_qubit_template("ry(a) q[0];" * 20)
    srv = make_server(config=EmulatorConfig(max_circuit_bytes=len(text) + 40))
    api = client(srv)
    job_id = api.init()
    ok = template_body(text, ["a"], [("short", [0.5])], finalized=False)
    assert api.post(f"job/{job_id}/add_circuits/", ok).status_code == 200
    long = template_body(text, ["a"], [("long", [0.12345678901234566])])
    resp = api.post(f"job/{job_id}/add_circuits/", long)
    assert resp.status_code == 413, resp.text
    assert "'long'" in resp.json()["error"] and "max_circuit_bytes" in resp.json()["error"]
    assert srv.jobs[job_id].n_circuits == 1


def test_bound_circuits_count_against_the_job_byte_limit(make_server, client):
    text = _one_qubit_template("ry(a) q[0];")
    srv = make_server(config=EmulatorConfig(max_job_circuit_bytes=20 * len(text)))
    api = client(srv)
    job_id = api.init()
    body = template_body(text, ["a"], [(f"s{i}", [0.5]) for i in range(15)], finalized=False)
    assert api.post(f"job/{job_id}/add_circuits/", body).status_code == 200
    more = template_body(text, ["a"], [(f"t{i}", [0.5]) for i in range(10)])
    resp = api.post(f"job/{job_id}/add_circuits/", more)
    assert resp.status_code == 413 and "max_job_circuit_bytes" in resp.json()["error"]
    assert srv.jobs[job_id].n_circuits == 15


def test_bound_circuits_count_against_the_memory_budget(make_server, client):
    text = HEADER + "qreg q[20];\ncreg c[20];\nry(a) q[0];\nmeasure q -> c;\n"
    srv = make_server(config=EmulatorConfig(max_job_memory_bytes=2**26))
    api = client(srv)
    job_id = api.init()
    body = template_body(text, ["a"], [(f"s{i}", [0.5]) for i in range(400)], shots=1000)
    resp = api.post(f"job/{job_id}/add_circuits/", body)
    assert resp.status_code == 400 and "memory budget" in resp.json()["error"]
    assert srv.jobs[job_id].n_circuits == 0


def test_a_tiny_template_with_many_sets_is_refused_without_binding(
    make_server, client, monkeypatch
):
    """The floor of the bound size (template without names + 3 bytes a value) times the
    count of sets is checked before any set is read: refused at the cost of the JSON parse
    (measured: a million sets, 32 MB, refused in the time ``json.loads`` takes). 100 000 sets
    here against a 16 MiB job keep the test fast."""

    def never(*args: Any) -> Any:
        raise AssertionError("a set was read or bound")

    monkeypatch.setattr(uploads, "parameter_sets", never)
    monkeypatch.setattr(CircuitTemplate, "bind", never)
    text = _one_qubit_template("ry(a) q[0];\n// " + "padding " * 25)  # ~300 bytes bound
    big_body = 64 * 2**20
    srv = make_server(
        config=EmulatorConfig(max_body_bytes=big_body, max_job_circuit_bytes=16 * 2**20)
    )
    api = client(srv)
    job_id = api.init()
    raw = (
        f'{{"circuit_template":"{pack_circuit(text)}","parameter_names":["a"],'
        f'"parameter_sets":[{_MANY_SETS}],"mode":"append","finalized":"true","shots":1}}'
    ).encode()
    assert len(raw) < big_body
    resp = api.post(
        f"job/{job_id}/add_circuits/", data=raw, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413 and "max_job_circuit_bytes" in resp.json()["error"]
    assert srv.jobs[job_id].n_circuits == 0


_MANY_SETS = ",".join(f'{{"label":"{i}","values":[0]}}' for i in range(100_000))


def test_many_sets_over_the_default_body_size_are_refused_unread(api):
    raw = f'{{"circuit_template":"x","parameter_names":["a"],"parameter_sets":[{_MANY_SETS}]}}'
    job_id = api.init()
    resp = api.post(
        f"job/{job_id}/add_circuits/",
        data=raw.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 413


# --- unit checks of the validators ------------------------------------------------------


def test_parameter_names_accepts_identifiers_and_keeps_their_order():
    assert parameter_names(["b", "a_1", "_x", "A9"]) == ("b", "a_1", "_x", "A9")
    names = ["β[0]", "w_0[3]", "θ", "x[0]", "pi[1]", "a.b", "ham:0/β", "ψ²"]
    assert parameter_names(names) == tuple(names)
    with pytest.raises(TemplateError, match="keyword"):
        parameter_names(["U"])


def test_a_name_unused_by_the_template_is_ignored():
    template = CircuitTemplate.of(GOOD_TEXT, ("theta_0", "unused"))
    (row,) = parameter_sets([{"label": "a", "values": [0.5, 9.0]}], 2)
    assert template.bind(row.texts) == GOOD_TEXT.replace("theta_0", "0.5")
