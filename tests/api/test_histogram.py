import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qiskit_divi.api.histogram import (
    HistogramDecodeError,
    decode_envelope,
    decode_histogram,
    encode_envelope,
    encode_histogram,
    int_to_bitstr,
    rle_bool_decode,
    rle_bool_encode,
    uleb128_decode,
    uleb128_encode,
)

WORKED_COUNTS = {"000": 1, "011": 5, "101": 1, "110": 130}
WORKED_PAYLOAD = "UUgxAwSJAQQAAwIBBgQBAQEBAQIDgAE="


def test_worked_example_from_the_wire_contract():
    envelope = encode_envelope(WORKED_COUNTS, 3)
    assert envelope == {"encoding": "qh1", "n_bits": 3, "payload": WORKED_PAYLOAD}
    assert decode_envelope(envelope) == WORKED_COUNTS


@pytest.mark.parametrize("value, encoded", [(5, b"\x05"), (128, b"\x80\x01"), (137, b"\x89\x01"), (16384, b"\x80\x80\x01")])
def test_uleb128_known_values(value, encoded):
    assert uleb128_encode(value) == encoded
    assert uleb128_decode(b"\xff" + encoded, 1) == (value, 1 + len(encoded))


def test_truncated_varint():
    with pytest.raises(HistogramDecodeError, match="truncated varint"):
        uleb128_decode(b"\x80")


def test_rle_zero_runs_and_alternation():
    assert rle_bool_decode(b"\x00") == ([], 1)
    flags = [True, True, False, True, False, False]
    assert rle_bool_decode(rle_bool_encode(flags)) == (flags, len(rle_bool_encode(flags)))


def test_int_to_bitstr_pads():
    assert int_to_bitstr(5, 4) == "0101"


@st.composite
def histograms(draw):
    n_bits = draw(st.integers(1, 300))
    outcomes = draw(st.sets(st.integers(0, 2**n_bits - 1), min_size=0, max_size=40))
    return n_bits, {int_to_bitstr(o, n_bits): draw(st.integers(1, 20000)) for o in outcomes}


@settings(max_examples=200, deadline=None)
@given(histograms())
def test_round_trip(case):
    n_bits, counts = case
    envelope = encode_envelope(counts, n_bits)
    assert envelope["encoding"] == ("qh1" if n_bits <= 255 else "qh2")
    assert decode_envelope(envelope) == counts


def test_empty_payload_is_an_empty_histogram():
    assert decode_envelope({"encoding": "qh1", "n_bits": 3, "payload": ""}) == {}
    assert decode_histogram(b"") == {}


def test_zero_outcome_stream_round_trips():
    assert decode_histogram(encode_histogram({}, 4)) == {}


def test_unknown_encoding():
    with pytest.raises(HistogramDecodeError, match="Unsupported encoding: qh9"):
        decode_envelope({"encoding": "qh9", "n_bits": 3, "payload": WORKED_PAYLOAD})


def _corrupt(index: int, value: int) -> bytes:
    raw = bytearray(base64.b64decode(WORKED_PAYLOAD))
    raw[index] = value
    return bytes(raw)


def test_corruptions_are_reported():
    with pytest.raises(HistogramDecodeError, match="bad magic"):
        decode_histogram(_corrupt(0, ord("X")))
    with pytest.raises(HistogramDecodeError, match="shot sum mismatch"):
        decode_histogram(_corrupt(5, 0x8A))  # total_shots 138 instead of 137
    with pytest.raises(HistogramDecodeError, match="unique mismatch"):
        decode_histogram(_corrupt(4, 5))
    with pytest.raises(HistogramDecodeError, match="truncated varint"):
        decode_histogram(base64.b64decode(WORKED_PAYLOAD)[:-2])


def test_envelope_width_must_match_payload():
    envelope = encode_envelope(WORKED_COUNTS, 3) | {"n_bits": 5}
    with pytest.raises(HistogramDecodeError, match="n_bits=5"):
        decode_envelope(envelope)


def test_invalid_base64():
    with pytest.raises(HistogramDecodeError, match="base64"):
        decode_envelope({"encoding": "qh1", "n_bits": 3, "payload": "not base64!!"})
