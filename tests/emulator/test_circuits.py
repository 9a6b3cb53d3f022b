"""The emulator's circuit parser: invalid text, grouping by skeleton, Aer parameter binds."""

from __future__ import annotations

import pytest

from qiskit_divi.emulator.circuits import (
    CircuitParser,
    QasmSyntaxError,
    group_by_skeleton,
    parameter_binds,
)

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'


def _text(a: float, b: float, c: float = 0.25) -> str:
    return (
        HEADER + f"ry({a}) q[0];\ncx q[0],q[1];\nu({b},{c},-1.5e-3) q[1];\nmeasure q[0] -> c[0];\n"
    )


def test_parameter_binds_follow_the_text_order_beyond_ten_parameters():
    angles = [0.1 * (k + 1) for k in range(12)]
    text = HEADER + "".join(f"rz({a}) q[{k % 2}];\n" for k, a in enumerate(angles))
    parser = CircuitParser()
    parser.parse(text)
    circuit = parser.parse(text.replace("rz(0.30000000000000004)", "rz(-7.5)"))
    binds = parameter_binds(circuit.skeleton, [circuit])
    assert [values[0] for values in binds.values()] == list(circuit.values)
    assert circuit.values[2] == -7.5


def test_invalid_text_raises_with_the_parsers_message_and_is_not_cached():
    parser = CircuitParser()
    with pytest.raises(QasmSyntaxError, match="q"):
        parser.parse(HEADER + "rz(0.5) q[7];\n")
    with pytest.raises(QasmSyntaxError):
        parser.parse(HEADER + "rz(0.5) q[7];\n")
    with pytest.raises(QasmSyntaxError):
        parser.parse("not qasm at all")


def test_grouping_keeps_first_appearance_order_and_binds_values_per_parameter():
    parser = CircuitParser()
    other = HEADER + "x q[1];\nmeasure q[1] -> c[1];\n"
    circuits = [parser.parse(t) for t in (_text(0.1, 0.2), other, _text(0.3, 0.4), other)]
    groups = group_by_skeleton(circuits)
    assert [positions for _, positions in groups] == [[0, 2], [1, 3]]
    binds = parameter_binds(groups[0][0], [circuits[0], circuits[2]])
    assert list(binds.values()) == [[0.1, 0.3], [0.2, 0.4], [0.25, 0.25], [-1.5e-3, -1.5e-3]]
