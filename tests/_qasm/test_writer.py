"""The fast OpenQASM 2 writer: its text reads back as exactly the circuit it was written from."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm2
from qiskit.circuit import Gate, Parameter, ParameterVector
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.primitives.containers.bindings_array import BindingsArray

from qiskit_divi._circuits import bound_qasm, flatten_registers, to_qasm
from qiskit_divi._qasm import QasmTemplate, format_real
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
