"""ShapeParser: texts of one shape share a parse, and bind to the circuits their own parse gives."""

from __future__ import annotations

import pytest
from qiskit import qasm2

from qiskit_divi._qasm import ShapeParser

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'


def _text(a: float, b: float, c: float = 0.25) -> str:
    return (
        HEADER + f"ry({a}) q[0];\ncx q[0],q[1];\nu({b},{c},-1.5e-3) q[1];\nmeasure q[0] -> c[0];\n"
    )


def _load(text: str):
    return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)


def test_texts_differing_only_in_angles_share_one_skeleton_and_bind_to_the_parsed_circuit():
    parser = ShapeParser(_load)
    texts = [_text(0.5, 1.25), _text(-3.0, 2e-9, 7.0), _text(1.0, 1.0, 1.0)]
    circuits = [parser.parse(text) for text in texts]
    assert len({id(c.skeleton) for c in circuits}) == 1
    assert circuits[1].values == (-3.0, 2e-9, 7.0, -1.5e-3)
    for circuit, text in zip(circuits, texts, strict=True):
        assert circuit.bound() == _load(text)
        assert (circuit.num_qubits, circuit.num_clbits) == (2, 2)


def test_angles_bind_in_text_order_beyond_ten_parameters():
    """Parameter order is by vector index (a[2] before a[10]), as the literals are."""
    angles = [0.1 * (k + 1) for k in range(12)]
    text = HEADER + "".join(f"rz({a}) q[{k % 2}];\n" for k, a in enumerate(angles))
    parser = ShapeParser(_load)
    parser.parse(text)  # the first text of a shape is the parse itself
    circuit = parser.parse(text.replace("rz(0.30000000000000004)", "rz(-7.5)"))
    assert circuit.bound() == _load(text.replace("rz(0.30000000000000004)", "rz(-7.5)"))
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
    parser = ShapeParser(_load)
    first, second = parser.parse(text), parser.parse(text)
    assert first.values == second.values == ()
    assert first.bound() == second.bound() == _load(text)


def test_a_broadcast_statement_is_not_mistaken_for_a_shape_of_one_angle():
    parser = ShapeParser(_load)
    broadcast = HEADER + "rz(0.5) q;\n"
    parser.parse(broadcast)
    other = parser.parse(HEADER + "rz(0.75) q;\n")
    assert other.bound() == _load(HEADER + "rz(0.75) q;\n")


def test_the_cache_is_bounded():
    parser = ShapeParser(_load, max_shapes=2)
    for qubit in range(5):
        parser.parse(HEADER.replace("q[2]", "q[6]") + f"rz(0.5) q[{qubit}];\n")
    assert len(parser) == 2


def test_the_loader_runs_once_per_shape_and_errors_propagate_uncached():
    calls = []

    def load(text):
        calls.append(text)
        return _load(text)

    parser = ShapeParser(load)
    texts = [_text(a, 2 * a) for a in (0.5, 1.5, 2.5)]
    for text in texts:
        parser.parse(text)
    assert calls == texts[:1]
    assert parser.loads == 1
    bad = HEADER + "rz(0.5) q[7];\n"
    for _ in range(2):
        with pytest.raises(qasm2.QASM2ParseError):
            parser.parse(bad)
    assert calls.count(bad) == 2
    assert parser.loads == 3


def test_integral_and_signed_literals_bind_to_the_floats_the_parser_gives():
    parser = ShapeParser(_load)
    parser.parse(_text(0.5, 1.25))
    for a, b, c in [(1, 0, -2), (1e3, -0.0, 3.0), (+2, 1e-300, 7)]:
        text = _text(a, b, c)
        bound, parsed = parser.parse(text).bound(), _load(text)
        assert bound == parsed
        for mine, theirs in zip(bound.data, parsed.data, strict=True):
            assert [(type(p), p) for p in mine.operation.params] == [
                (type(p), p) for p in theirs.operation.params
            ]


@pytest.mark.parametrize(
    "wrap",
    ["2*({})", "-({})", "({})", "pi*({})", "({})*3", "({0})+({0})", "sin({})"],
)
def test_a_literal_inside_an_expression_never_stands_for_the_gate_angle(wrap):
    """The first text's expression equals its literal (at 0.0): sharing its skeleton would
    drop the expression for every later angle (2*(x) bound as x)."""
    parser = ShapeParser(_load)
    texts = [HEADER + f"rx({wrap.format(v)}) q[0];\nry({v}) q[1];\n" for v in (0.0, 1.5, -0.75)]
    for text in texts:
        assert parser.parse(text).bound() == _load(text), text
