"""The register scan reads the widths the parser would build, without parsing."""

from __future__ import annotations

import pytest
from qiskit import qasm2
from random_circuits import QASM_GATES, gate_tour
from sample_circuits import bell

from qiskit_divi._qasm.scan import RegisterSizes, declared_register_sizes

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'

TEXTS = [
    HEADER + "qreg q[3];\ncreg c[2];\n",
    HEADER + "qreg a[2];\nqreg b[5];\ncreg m[1];\ncreg n[4];\n",
    HEADER + "qreg // a comment between the tokens\n q\n[\n7\n]\n;\ncreg\tc [ 2 ] ;\n",
    HEADER + "// qreg hidden[1000];\nqreg q[2]; // creg d[9];\n",
    "OPENQASM 2.0;qreg q[1];qreg r[1];creg c[1];U(0,0,0) q[0];\n",
    HEADER + "qreg qregs[4];\ncreg cregister[2];\n",
    HEADER + "gate g a { x a; }\nqreg q[2];\ng q[0];\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_scan_counts_what_the_parser_builds(text):
    circuit = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    sizes = declared_register_sizes(text)
    assert sizes.num_qubits == circuit.num_qubits
    assert sizes.num_clbits == circuit.num_clbits
    assert sizes.qregs == tuple(reg.size for reg in circuit.qregs)
    assert sizes.cregs == tuple(reg.size for reg in circuit.cregs)


@pytest.mark.parametrize("circuit", [bell(), bell(5), *gate_tour(QASM_GATES, measure=True)[:5]])
def test_the_scan_reads_qiskits_own_dumps(circuit):
    sizes = declared_register_sizes(qasm2.dumps(circuit))
    assert (sizes.num_qubits, sizes.num_clbits) == (circuit.num_qubits, circuit.num_clbits)


def test_huge_and_absurd_sizes_cost_nothing_to_read():
    assert declared_register_sizes(HEADER + "qreg q[100000000];\n").num_qubits == 100_000_000
    absurd = declared_register_sizes(HEADER + "creg c[" + "9" * 5000 + "];\n")
    assert absurd.num_clbits >= 10**30  # over any limit, without a 5000-digit int()


def test_declarations_in_comments_and_strings_are_not_counted():
    text = HEADER + '// qreg a[10];\ninclude "qreg b[10];";\nqreg q[1];\n'
    assert declared_register_sizes(text) == RegisterSizes(qregs=(1,))


def test_a_string_the_parser_would_reject_hides_nothing():
    # Strings end at the line break for the parser too, so the declaration is seen.
    text = HEADER + 'include "no end\nqreg q[50];\n'
    assert declared_register_sizes(text).num_qubits == 50
