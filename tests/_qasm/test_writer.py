"""The fast OpenQASM 2 writer: its text reads back as exactly the circuit it was written from."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from ground_truth import without_measurements
from hypothesis import given
from hypothesis import strategies as st
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm2
from qiskit.circuit import Gate, Parameter, ParameterVector
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.quantum_info import Operator
from random_circuits import DIFFERENTIAL, TARGET_GATES, unitary_circuits

from qiskit_divi._circuits import bound_qasm, flatten_registers, to_qasm
from qiskit_divi._qasm import QasmTemplate, format_real
from qiskit_divi._qasm.writer import SymbolicQasm, symbolic_qasm, template_parameter_names
from qiskit_divi.api.errors import QoroInputError
from qiskit_divi.target import qasm2_standard_gates


def _load(text: str) -> QuantumCircuit:
    return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)


def _random_circuit(seed: int, num_qubits: int = 4, depth: int = 40) -> QuantumCircuit:
    """Every standard gate the target offers, random angles of any magnitude, measures, resets."""
    rng = np.random.default_rng(seed)
    mapping = get_standard_gate_name_mapping()
    names = [name for name in qasm2_standard_gates() if mapping[name].num_qubits <= num_qubits]
    circuit = QuantumCircuit(QuantumRegister(num_qubits, "q"), ClassicalRegister(num_qubits, "c"))
    for _ in range(depth):
        op = mapping[str(rng.choice(names))]
        angles = [
            float(
                rng.choice(
                    [rng.normal(), rng.uniform(-1e-7, 1e-7), rng.normal() * 1e12, math.pi / 3]
                )
            )
            for _ in op.params
        ]
        gate = op.base_class(*angles) if op.params else op
        circuit.append(gate, [int(q) for q in rng.permutation(num_qubits)[: op.num_qubits]])
    circuit.barrier()
    circuit.reset(0)
    circuit.measure(range(num_qubits), list(reversed(range(num_qubits))))
    return circuit


@pytest.mark.parametrize("seed", range(8))
def test_text_reads_back_as_the_same_circuit_with_the_same_angles(seed):
    circuit = _random_circuit(seed)
    template = QasmTemplate.of(circuit)
    assert template is not None
    assert _load(template.render()) == circuit  # exact angles: repr round-trips a double


@pytest.mark.parametrize("seed", range(4))
def test_text_matches_qasm2_dumps_up_to_angle_formatting(seed):
    circuit = _random_circuit(seed)
    ours, theirs = _load(to_qasm(circuit)), _load(qasm2.dumps(circuit))
    assert [(i.operation.name, i.qubits, i.clbits) for i in ours.data] == [
        (i.operation.name, i.qubits, i.clbits) for i in theirs.data
    ]
    for mine, reference in zip(ours.data, theirs.data, strict=True):
        assert np.allclose(
            mine.operation.params, reference.operation.params, rtol=1e-12, atol=1e-12
        )


def test_parameters_are_filled_per_binding_including_expressions():
    theta = ParameterVector("t", 3)
    circuit = QuantumCircuit(QuantumRegister(2, "q"), ClassicalRegister(2, "c"))
    circuit.ry(theta[0], 0)
    circuit.rzz(2 * theta[1] - theta[2], 0, 1)
    circuit.u(theta[2], 0.25, theta[0], 1)
    circuit.measure([0, 1], [0, 1])
    template = QasmTemplate.of(circuit)
    assert template is not None and template.num_parameters == 3
    for values in ([0.1, 0.2, 0.3], [-1e-9, 3.0, 1e9]):
        assert _load(template.render(values)) == circuit.assign_parameters(values)


def test_wrong_number_of_values_and_non_finite_values_are_refused():
    x = Parameter("x")
    circuit = QuantumCircuit(QuantumRegister(1, "q"))
    circuit.rx(x, 0)
    template = QasmTemplate.of(circuit)
    with pytest.raises(ValueError, match="Expected 1 parameter values, got 2"):
        template.render([1.0, 2.0])
    with pytest.raises(ValueError, match="not a finite angle"):
        template.render([math.nan])


@pytest.mark.parametrize(
    "values",
    [
        [0.1, -2.0, 3.5],
        [1e-05, 0.25, 1e300],
        [2.0, 1e22, -0.0],
        [7, np.float64(0.5), np.float32(0.25)],
    ],
    ids=["plain", "exponent without a point", "large integral", "other number types"],
)
def test_templates_of_bare_parameters_render_like_bound_circuits(values):
    a, b, c = Parameter("a"), Parameter("b"), Parameter("c")
    circuit = QuantumCircuit(QuantumRegister(2, "q"))
    circuit.rz(b, 0)
    circuit.rx(a, 1)
    circuit.cp(c, 0, 1)
    circuit.ry(b, 1)  # a parameter used twice, out of order
    template = QasmTemplate.of(circuit)
    text = template.render(values)
    assert _load(text) == circuit.assign_parameters([float(v) for v in values])
    assert text.count("(") == 4 and all(format_real(float(v)) in text for v in values)


def test_templates_of_bare_parameters_refuse_non_finite_values():
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(QuantumRegister(1, "q"))
    circuit.rz(a, 0)
    circuit.rx(b, 0)
    template = QasmTemplate.of(circuit)
    for bad in (math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match="not a finite angle"):
            template.render([0.5, bad])


def test_bound_qasm_renders_every_binding_in_flat_order_and_names_bad_values():
    x, y = Parameter("x"), Parameter("y")
    circuit = QuantumCircuit(QuantumRegister(1, "q"), ClassicalRegister(1, "c"))
    circuit.rx(x, 0)
    circuit.rz(y, 0)
    circuit.measure(0, 0)
    bindings = BindingsArray.coerce({(x, y): np.arange(12.0).reshape(3, 2, 2)})
    texts = bound_qasm(circuit, bindings)
    expected = [circuit.assign_parameters(row) for row in np.arange(12.0).reshape(6, 2)]
    assert [_load(text) for text in texts] == expected
    with pytest.raises(QoroInputError, match="finite parameter values"):
        bound_qasm(circuit, BindingsArray.coerce({(x, y): [[0.0, math.inf]]}))


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda c: c.append(Gate("mygate", 1, []), [0]), id="custom gate"),
        pytest.param(lambda c: c.ecr(0, 1), id="gate needing a definition"),
        pytest.param(lambda c: c.rx(math.inf, 0), id="infinite angle"),
    ],
)
def test_circuits_qasm2_dumps_must_write_are_not_templated(build):
    circuit = QuantumCircuit(QuantumRegister(2, "q"))
    build(circuit)
    assert QasmTemplate.of(circuit) is None


def test_any_registers_are_written_as_flatten_registers_lays_them_out():
    circuit = QuantumCircuit(
        QuantumRegister(2, "a"),
        QuantumRegister(1, "b"),
        ClassicalRegister(1, "x"),
        ClassicalRegister(2, "y"),
    )
    circuit.h(2)
    circuit.cx(2, 0)
    circuit.measure([0, 1, 2], [2, 0, 1])
    assert _load(to_qasm(circuit)) == flatten_registers(circuit)
    assert _load(to_qasm(QuantumCircuit(3))) == QuantumCircuit(QuantumRegister(3, "q"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5, "0.5"),
        (1e-05, "1.0e-05"),
        (-2.5e20, "-2.5e+20"),
        (3.0, "3.0"),
        (1.2345678901234567, "1.2345678901234567"),
    ],
)
def test_reals_are_written_with_a_decimal_point_and_read_back_exactly(value, text):
    assert format_real(value) == text
    circuit = _load(f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nrz({text}) q[0];')
    assert circuit.data[0].operation.params[0] == value


# --- the template form: names where the angles go ----------------------------------------


def _substitute(symbolic: SymbolicQasm, values) -> str:
    """What a server does: each name replaced by ``str(float)`` as raw text."""
    text = symbolic.qasm
    for name, value in zip(symbolic.parameter_names, values, strict=True):
        text = text.replace(name, str(float(value)))
    return text


def _one_gate(name: str) -> tuple[QuantumCircuit, list[Parameter]]:
    op = get_standard_gate_name_mapping()[name]
    parameters = [Parameter(f"p{i}") for i in range(len(op.params))]
    circuit = QuantumCircuit(QuantumRegister(op.num_qubits, "q"))
    circuit.append(op.base_class(*parameters), range(op.num_qubits))
    return circuit, parameters


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name, op in get_standard_gate_name_mapping().items()
        if op.params and name not in ("delay", "global_phase")
    ),
)
def test_every_parametric_standard_gate_is_templated_exactly_or_refused(name):
    circuit, parameters = _one_gate(name)
    symbolic, template = symbolic_qasm(circuit), QasmTemplate.of(circuit)
    # Refused exactly when the bound writer refuses it (qasm2.dumps would write a definition).
    assert (symbolic is None) == (template is None)
    if name in qasm2_standard_gates():
        assert symbolic is not None  # every gate of the target travels in template form
    if symbolic is None:
        return
    assert len(symbolic.parameter_names) == len(parameters)
    for values in ([0.3 + 0.41 * i for i in range(len(parameters))], [-1.25, 2.5, -0.75, 1e-3]):
        values = values[: len(parameters)]
        text = _substitute(symbolic, values)
        assert text == template.render(values)  # the very text of the bound writer
        bound = circuit.assign_parameters(values)
        assert Operator(_load(text)) == Operator(bound)
        assert _load(text) == bound


def test_affine_expressions_are_written_as_qasm_arithmetic_of_the_names():
    a, b = Parameter("a"), Parameter("b")
    v = ParameterVector("v", 2)
    circuit = QuantumCircuit(QuantumRegister(2, "q"), ClassicalRegister(2, "c"))
    circuit.rz(2 * a + 1, 0)
    circuit.rx(a - b / 3, 1)
    circuit.ry(v[0], 0)
    circuit.cu(v[1], -a, b, 1.5, 0, 1)
    circuit.rzz(0.5 * v[0] - 2.25 * v[1] + 0.125, 0, 1)
    circuit.u(-v[1], b + 0, 3 * b - 3 * b + a, 1)
    circuit.measure([0, 1], [1, 0])
    symbolic = symbolic_qasm(circuit)
    assert symbolic is not None
    assert symbolic.parameter_names == ("t0000", "t0001", "t0002", "t0003")
    assert "rz(1.0+2.0*(t0000)) q[0];" in symbolic.qasm
    template = QasmTemplate.of(circuit)
    for values in ([0.1, -0.2, 0.3, -0.4], [1e-05, -1e-05, 1e22, -3.0], [-0.0, 7.0, 2.0, 1.0]):
        text = _substitute(symbolic, values)
        bound = circuit.assign_parameters(values)
        assert Operator(without_measurements(_load(text))) == Operator(without_measurements(bound))
        # The same gates on the same bits with the same angles (to rounding) as the bound text.
        rendered = _load(template.render(values))
        for mine, reference in zip(_load(text).data, rendered.data, strict=True):
            assert (mine.name, mine.qubits, mine.clbits) == (
                reference.name,
                reference.qubits,
                reference.clbits,
            )
            assert np.allclose(mine.params, reference.params, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    "angle",
    [
        lambda a, b: a * b,
        lambda a, b: a**2 + b,
        lambda a, b: (a + b).sin(),
        lambda a, b: (a * 1j).exp() + b,
    ],
    ids=["product", "power", "sin", "complex"],
)
def test_expressions_that_are_not_affine_are_refused(angle):
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(QuantumRegister(1, "q"))
    circuit.rz(angle(a, b), 0)
    assert QasmTemplate.of(circuit) is not None  # the bound writer handles it...
    assert symbolic_qasm(circuit) is None  # ...the template form leaves it to the bound form


def test_a_parameter_in_no_gate_argument_is_refused_and_a_parametric_phase_is_dropped():
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(QuantumRegister(1, "q"))
    circuit.rz(a, 0)
    circuit.global_phase = b
    assert symbolic_qasm(circuit) is None  # b would be a name nowhere in the text
    circuit.rx(b, 0)
    symbolic = symbolic_qasm(circuit)
    assert symbolic is not None
    text = _substitute(symbolic, [0.25, -0.5])
    assert Operator(_load(text)).equiv(Operator(circuit.assign_parameters([0.25, -0.5])))


def test_names_are_fixed_width_identifiers_no_name_inside_another():
    assert template_parameter_names(3) == ("t0000", "t0001", "t0002")
    wide = template_parameter_names(12_345)
    assert {len(name) for name in wide} == {6} and wide[-1] == "t12344"
    names = template_parameter_names(120)
    assert all(a == b or a not in b for a in names for b in names)
    theta = ParameterVector("θ", 120)
    circuit = QuantumCircuit(QuantumRegister(3, "q"))
    for i, parameter in enumerate(theta):
        circuit.append(
            get_standard_gate_name_mapping()[["rz", "crx", "u1", "rzz"][i % 4]].base_class(
                parameter
            ),
            [i % 3, (i + 1) % 3][: 1 if i % 4 in (0, 2) else 2],
        )
    symbolic = symbolic_qasm(circuit)
    assert symbolic is not None and symbolic.parameter_names == names
    for name in names:  # each name occurs exactly once, as a whole word
        assert symbolic.qasm.count(name) == 1
        assert re.search(rf"[(,]{name}[),]", symbolic.qasm)
    values = np.random.default_rng(5).normal(size=120) * 10.0 ** np.arange(-60, 60)
    assert _substitute(symbolic, values) == QasmTemplate.of(circuit).render(values)


@DIFFERENTIAL
@given(data=st.data())
def test_random_parametric_circuits_bind_to_the_qiskit_bound_operator(data):
    circuit = data.draw(unitary_circuits(TARGET_GATES, max_qubits=3, num_parameters=3))
    symbolic = symbolic_qasm(circuit)
    # The only angles tests/random_circuits draws are affine: the template form takes them all.
    assert symbolic is not None
    values = data.draw(
        st.lists(
            st.floats(-10, 10, allow_nan=False),
            min_size=circuit.num_parameters,
            max_size=circuit.num_parameters,
        )
    )
    bound = circuit.assign_parameters(values)
    assert Operator(without_measurements(_load(_substitute(symbolic, values)))).equiv(
        Operator(without_measurements(bound))
    )
