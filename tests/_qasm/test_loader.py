"""The one OpenQASM 2 loader: each dialect reads what Qiskit's own readers read, and
errors come out as the caller's exception class with the parser's message."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit, qasm2
from random_circuits import QASM_GATES, gate_tour

from qiskit_divi._qasm import FROM_QASM_STR, LEGACY_GATES, load

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
TOUR = [qasm2.dumps(circuit) for circuit in gate_tour(QASM_GATES, measure=True)]


class _Rejected(Exception):
    pass


@pytest.mark.parametrize("text", TOUR, ids=lambda text: text.splitlines()[-2][:24])
def test_both_dialects_read_every_gate_as_qiskit_does(text):
    assert load(text, dialect=FROM_QASM_STR) == QuantumCircuit.from_qasm_str(text)
    reference = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    assert load(text) == reference
    assert load(text, dialect=LEGACY_GATES) == reference


def test_only_the_from_qasm_str_dialect_knows_the_legacy_classical_functions():
    text = HEADER + "rz(asin(0.5)) q[0];\nmeasure q -> c;\n"
    assert load(text, dialect=FROM_QASM_STR) == QuantumCircuit.from_qasm_str(text)
    with pytest.raises(qasm2.QASM2ParseError, match="asin"):
        load(text)


def test_includes_are_searched_in_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "mine.inc").write_text("gate mine a { x a; }\n")
    monkeypatch.chdir(tmp_path)
    text = HEADER.replace('"qelib1.inc";', '"qelib1.inc";\ninclude "mine.inc";') + "mine q[1];\n"
    for dialect in (FROM_QASM_STR, LEGACY_GATES):
        circuit = load(text, dialect=dialect)
        assert [instruction.name for instruction in circuit.data] == ["mine"]
    assert load(text, dialect=FROM_QASM_STR) == QuantumCircuit.from_qasm_str(text)


def test_without_an_error_class_the_parser_errors_propagate():
    with pytest.raises(qasm2.QASM2ParseError):
        load(HEADER + "notagate q[0];\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + "notagate q[0];\n", "<input>:5,0: 'notagate' is not defined in this scope"),
        ("OPENQASM 2.0;\nqreg q[1];\nU(1/0,0,0) q[0];", "<input>:3,3: cannot divide by zero"),
        ("OPENQASM 2.0;\nqreg q[100000000000];", "Register size too large."),
    ],
    ids=["unknown gate", "evaluation", "circuit error"],
)
def test_an_error_class_gets_the_parsers_message_without_quotes(text, message):
    with pytest.raises(_Rejected) as info:
        load(text, error=_Rejected)
    assert str(info.value) == message
    assert info.value.__cause__ is None and info.value.__suppress_context__
