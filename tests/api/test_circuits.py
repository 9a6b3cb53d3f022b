import base64
import gzip
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qiskit_divi.api.circuits import (
    chunk_packed_circuits,
    gzip_deterministic,
    pack_circuit,
    unpack_circuit,
)

QASM = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\n'
    "measure q -> c;\n"
)


def test_packing_is_deterministic_and_reversible():
    packed = pack_circuit(QASM)
    assert packed.startswith("H4sI")
    assert packed == pack_circuit(QASM)
    assert unpack_circuit(packed) == QASM


@given(st.text())
def test_round_trip_any_text(text):
    assert unpack_circuit(pack_circuit(text)) == text


def test_unpack_rejects_garbage():
    with pytest.raises(ValueError, match="base64 gzip"):
        unpack_circuit("bm90IGd6aXA=")


def _body_size(chunk, overhead=0):
    return len(json.dumps({"circuits": chunk})) + overhead


def test_chunks_respect_budget_and_order():
    packed = {f"circuit_{i}": pack_circuit(QASM + f"// {i}\n" * (i % 7)) for i in range(200)}
    chunks = chunk_packed_circuits(packed, max_bytes=2000, overhead_bytes=100)
    assert len(chunks) > 1
    assert [label for chunk in chunks for label in chunk] == list(packed)
    for chunk in chunks:
        assert _body_size(chunk) + 100 <= 2000 + len('{"circuits": }')


def test_oversized_single_circuit_travels_alone():
    packed = {"small": "a" * 10, "huge": "b" * 5000, "tail": "c" * 10}
    assert chunk_packed_circuits(packed, max_bytes=1000) == [
        {"small": "a" * 10},
        {"huge": "b" * 5000},
        {"tail": "c" * 10},
    ]


def test_empty_input_gives_no_chunks():
    assert chunk_packed_circuits({}) == []


def test_unicode_labels_are_measured_as_json():
    label = "é" * 50  # 50 chars, 300 bytes once JSON-escaped
    chunks = chunk_packed_circuits({label: "x", "b": "y"}, max_bytes=318)
    assert len(chunks) == 2


def test_packed_bytes_are_the_same_on_every_python():
    """Cassettes match request bodies: the gzip header must not depend on the Python version
    (``gzip.compress`` writes OS 255 up to 3.10, the platform's code from 3.11)."""
    packed = gzip_deterministic(b"hello world")
    assert packed.hex() == "1f8b0800000000000203cb48cdc9c95728cf2fca49010085114a0d0b000000"
    assert gzip.decompress(packed) == b"hello world"
    text = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0];\n' * 50
    assert unpack_circuit(pack_circuit(text)) == text
    assert base64.b64decode(pack_circuit(text))[:10] == bytes.fromhex("1f8b0800000000000203")
