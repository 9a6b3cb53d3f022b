"""Result helpers and the divi-named qh1 decoders (divi-runner-api.md section 9)."""

from __future__ import annotations

import base64
from unittest import mock

import pytest

from qiskit_divi.api.histogram import encode_envelope, encode_histogram
from qiskit_divi.backends import (
    _results_processing,
    convert_counts_to_probs,
    reverse_dict_endianness,
)
from qiskit_divi.backends._results_processing import (
    _decode_qh1_b64,
    _decompress_histogram,
    _int_to_bitstr,
    _rle_bool_decode,
    _uleb128_decode,
)

# {"001": 1, "101": 3, "111": 1}: indices 1, 5, 7 (gaps 1, 4, 2), flags T, F, T, one extra (3 - 2).
THREE_BIT_STREAM = b"QH1\x03\x03\x05\x03\x01\x04\x02\x05\x03\x01\x01\x01\x01\x01\x01"


# --- _decode_qh1_b64 ---------------------------------------------------------------------


def test_decode_returns_empty_inputs_unchanged():
    assert _decode_qh1_b64(None) is None
    assert _decode_qh1_b64({}) == {}
    envelope = {"encoding": "qh1", "payload": ""}
    assert _decode_qh1_b64(envelope) == {"encoding": "qh1", "payload": ""}
    no_payload = {"encoding": "qh1", "n_bits": 2}
    assert _decode_qh1_b64(no_payload) is no_payload


def test_decode_rejects_unknown_encoding():
    with pytest.raises(ValueError, match="Unsupported encoding: invalid"):
        _decode_qh1_b64({"encoding": "invalid", "payload": "dGVzdA=="})


def test_decode_hands_the_base64_bytes_to_the_module_decompressor():
    with mock.patch.object(
        _results_processing, "_decompress_histogram", return_value={"01": 100}
    ) as patched:
        result = _decode_qh1_b64({"encoding": "qh1", "payload": "dGVzdA=="})
    patched.assert_called_once_with(b"test")
    assert result == {"01": 100}


def test_decode_worked_example_of_the_wire_contract():
    envelope = {"encoding": "qh1", "n_bits": 3, "payload": "UUgxAwSJAQQAAwIBBgQBAQEBAQIDgAE="}
    assert _decode_qh1_b64(envelope) == {"000": 1, "011": 5, "101": 1, "110": 130}


def test_decode_accepts_qh2_envelopes():
    counts = {"1" + "0" * 299: 4, "0" * 299 + "1": 1}
    envelope = encode_envelope(counts, 300)
    assert envelope["encoding"] == "qh2"
    assert _decode_qh1_b64(envelope) == counts


# --- _decompress_histogram ---------------------------------------------------------------


def test_decompress_empty_buffer():
    assert _decompress_histogram(b"") == {}


def test_decompress_bad_magic():
    with pytest.raises(ValueError, match="bad magic"):
        _decompress_histogram(b"INVALID_MAGIC")


def test_decompress_three_bit_stream():
    assert _decompress_histogram(THREE_BIT_STREAM) == {"001": 1, "101": 3, "111": 1}


def test_decompress_shot_sum_mismatch():
    corrupted = THREE_BIT_STREAM[:5] + b"\x0a" + THREE_BIT_STREAM[6:]  # total_shots 10 instead of 5
    with pytest.raises(ValueError, match="corrupt stream: shot sum mismatch"):
        _decompress_histogram(corrupted)


def test_decompress_unique_mismatch():
    corrupted = THREE_BIT_STREAM[:4] + b"\x02" + THREE_BIT_STREAM[5:]  # unique 2 instead of 3
    with pytest.raises(ValueError, match="corrupt stream: unique mismatch"):
        _decompress_histogram(corrupted)


def test_decompress_round_trips_the_encoder():
    counts = {"0000": 7, "0110": 1, "1001": 2, "1111": 300}
    assert _decompress_histogram(encode_histogram(counts, 4)) == counts
    payload = base64.b64encode(encode_histogram(counts, 4)).decode()
    assert _decode_qh1_b64({"encoding": "qh1", "n_bits": 4, "payload": payload}) == counts


# --- primitives ----------------------------------------------------------------------------


def test_uleb128_decode():
    assert _uleb128_decode(b"\x05") == (5, 1)
    assert _uleb128_decode(b"\x80\x01") == (128, 2)
    assert _uleb128_decode(b"\x00\x05", 1) == (5, 2)
    assert _uleb128_decode(b"\x80\x80\x01") == (16384, 3)


@pytest.mark.parametrize("data", [b"\x80", b"\x80\x80", b""])
def test_uleb128_decode_truncated(data):
    with pytest.raises(ValueError, match="truncated varint"):
        _uleb128_decode(data)


def test_rle_bool_decode():
    assert _rle_bool_decode(b"\x00") == ([], 1)
    assert _rle_bool_decode(b"\xff\x00", 1) == ([], 2)
    # two runs, first value true: [T, T] then [F]
    assert _rle_bool_decode(b"\x02\x01\x02\x01") == ([True, True, False], 4)


def test_int_to_bitstr():
    assert _int_to_bitstr(5, 4) == "0101"
    assert _int_to_bitstr(0, 3) == "000"
    assert _int_to_bitstr(6, 3) == "110"


# --- public helpers ------------------------------------------------------------------------


def test_convert_counts_to_probs_divides_by_the_given_shots():
    counts = {"tag0": {"00": 30, "11": 70}, "tag1": {"1": 5}}
    assert convert_counts_to_probs(counts, shots=100) == {
        "tag0": {"00": 0.3, "11": 0.7},
        "tag1": {"1": 0.05},
    }
    assert convert_counts_to_probs({}, shots=10) == {}


def test_reverse_dict_endianness():
    probs = {"a": {"100": 0.5, "011": 0.25, "010": 0.25}, "b": {"10": 1.0}}
    assert reverse_dict_endianness(probs) == {
        "a": {"001": 0.5, "110": 0.25, "010": 0.25},
        "b": {"01": 1.0},
    }
    assert reverse_dict_endianness({}) == {}
    assert probs["a"]["100"] == 0.5  # input untouched
