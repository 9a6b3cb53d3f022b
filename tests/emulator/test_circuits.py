"""The emulator's circuit parser: texts of one shape share a parse, and bind to the same circuits."""

from __future__ import annotations

import pytest
from qiskit import qasm2

from qiskit_divi.emulator.circuits import CircuitParser, QasmSyntaxError, group_by_skeleton, parameter_binds

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'


def _text(a: float, b: float, c: float = 0.25) -> str:
    return HEADER + f"ry({a}) q[0];\ncx q[0],q[1];\nu({b},{c},-1.5e-3) q[1];\nmeasure q[0] -> c[0];\n"


def _load(text: str):
    return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)


def test_texts_differing_only_in_angles_share_one_skeleton_and_bind_to_the_parsed_circuit():
    parser = CircuitParser()
    texts = [_text(0.5, 1.25), _text(-3.0, 2e-9, 7.0), _text(1.0, 1.0, 1.0)]
    circuits = [parser.parse(text) for text in texts]
    assert len({id(c.skeleton) for c in circuits}) == 1
    assert circuits[1].values == (-3.0, 2e-9, 7.0, -1.5e-3)
    for circuit, text in zip(circuits, texts):
        assert circuit.bound() == _load(text)
        assert (circuit.num_qubits, circuit.num_clbits) == (2, 2)


def test_angles_bind_in_text_order_beyond_ten_parameters():
    """Parameter order is by vector index (a[2] before a[10]), as the literals are."""
    angles = [0.1 * (k + 1) for k in range(12)]
    text = HEADER + "".join(f"rz({a}) q[{k % 2}];\n" for k, a in enumerate(angles))
    parser = CircuitParser()
    parser.parse(text)  # the first text of a shape is the parse itself
    circuit = parser.parse(text.replace("rz(0.30000000000000004)", "rz(-7.5)"))
    assert circuit.bound() == _load(text.replace("rz(0.30000000000000004)", "rz(-7.5)"))
    binds = parameter_binds(circuit.skeleton, [circuit])
    assert [values[0] for values in binds.values()] == list(circuit.values)
    assert circuit.values[2] == -7.5


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(HEADER + "rz(pi/2) q[0];\nrz(0.5) q[1];\n", id="expression argument"),
        pytest.param(HEADER + "rz(0.5) q;\n", id="broadcast over a register"),
        pytest.param(HEADER + "gate g(t) a { rz(t) a; }\ng(0.5) q[0];\n", id="gate definition"),
        pytest.param(HEADER + "h q[0];\n", id="no angles"),
    ],
)
def test_texts_that_cannot_share_a_skeleton_parse_as_themselves(text):
    parser = CircuitParser()
    first, second = parser.parse(text), parser.parse(text)
    assert first.values == second.values == ()
    assert first.bound() == second.bound() == _load(text)


def test_a_broadcast_statement_is_not_mistaken_for_a_shape_of_one_angle():
    parser = CircuitParser()
    broadcast = HEADER + "rz(0.5) q;\n"
    parser.parse(broadcast)
    other = parser.parse(HEADER + "rz(0.75) q;\n")
    assert other.bound() == _load(HEADER + "rz(0.75) q;\n")


def test_invalid_text_raises_with_the_parsers_message_and_is_not_cached():
    parser = CircuitParser()
    with pytest.raises(QasmSyntaxError, match="q"):
        parser.parse(HEADER + "rz(0.5) q[7];\n")
    with pytest.raises(QasmSyntaxError):
        parser.parse(HEADER + "rz(0.5) q[7];\n")
    with pytest.raises(QasmSyntaxError):
        parser.parse("not qasm at all")


def test_the_cache_is_bounded():
    parser = CircuitParser(max_shapes=2)
    for qubit in range(5):
        parser.parse(HEADER.replace("q[2]", "q[6]") + f"rz(0.5) q[{qubit}];\n")
    assert len(parser._skeletons) == 2


def test_grouping_keeps_first_appearance_order_and_binds_values_per_parameter():
    parser = CircuitParser()
    other = HEADER + "x q[1];\nmeasure q[1] -> c[1];\n"
    circuits = [parser.parse(t) for t in (_text(0.1, 0.2), other, _text(0.3, 0.4), other)]
    groups = group_by_skeleton(circuits)
    assert [positions for _, positions in groups] == [[0, 2], [1, 3]]
    binds = parameter_binds(groups[0][0], [circuits[0], circuits[2]])
    assert list(binds.values()) == [[0.1, 0.3], [0.2, 0.4], [0.25, 0.25], [-1.5e-3, -1.5e-3]]
