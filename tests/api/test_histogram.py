import base64

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qiskit_divi.api import histogram as histogram_module
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


@pytest.mark.parametrize(
    "value, encoded",
    [(5, b"\x05"), (128, b"\x80\x01"), (137, b"\x89\x01"), (16384, b"\x80\x80\x01")],
)
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


# --- the two decoders: numpy for large histograms, plain Python for small ones ---------


VECTORISE_FROM = histogram_module.VECTORISE_FROM


@st.composite
def large_histograms(draw):
    n_bits = draw(st.integers(13, 63))  # wider than the key table: decoded with numpy
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = int(rng.integers(VECTORISE_FROM, 600))
    outcomes: set[int] = set()
    while len(outcomes) < size:
        outcomes.update(int(v) for v in rng.integers(0, 2**n_bits, size=size, dtype=np.uint64))
    counts = rng.geometric(0.3, size=len(outcomes)) + rng.integers(0, 2, size=len(outcomes)) * 300
    pairs = zip(sorted(outcomes), counts, strict=True)
    return n_bits, {int_to_bitstr(o, n_bits): int(c) for o, c in pairs}


def _decode_both(payload: bytes, monkeypatch) -> list:
    """What each decoder makes of ``payload``: the counts, or the error type."""
    outcomes = []
    for threshold in (0, 10**9):  # everything vectorised, then nothing
        monkeypatch.setattr(histogram_module, "VECTORISE_FROM", threshold)
        try:
            outcomes.append(decode_histogram(payload))
        except HistogramDecodeError:
            outcomes.append(HistogramDecodeError)
    return outcomes


@settings(max_examples=60, deadline=None)
@given(large_histograms())
def test_large_histograms_round_trip(case):
    n_bits, counts = case
    assert len(counts) >= VECTORISE_FROM
    assert decode_envelope(encode_envelope(counts, n_bits)) == counts


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histograms() | large_histograms(), st.data())
def test_both_decoders_agree_on_corrupted_streams(monkeypatch, case, data):
    n_bits, counts = case
    payload = bytearray(encode_histogram(counts, n_bits))
    for _ in range(data.draw(st.integers(0, 3))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(payload) - 3, len(payload)))
    first, second = _decode_both(bytes(payload[:cut]), monkeypatch)
    assert first == second


def _qh1(n_bits: int, gaps: list[int], counts: list[int]) -> bytes:
    """A qh1 stream written field by field (``qoro-api.md`` 5.3.2), valid or not."""
    rle = rle_bool_encode([c == 1 for c in counts])
    extras = [c - 2 for c in counts if c != 1]
    fields = [len(gaps), sum(counts), len(gaps), *gaps]
    return (
        b"QH1"
        + bytes([n_bits])
        + b"".join(map(uleb128_encode, fields))
        + uleb128_encode(len(rle))
        + rle
        + uleb128_encode(len(extras))
        + b"".join(map(uleb128_encode, extras))
    )


def test_repeated_or_wrapped_outcomes_are_corrupt(monkeypatch):
    assert decode_histogram(_qh1(8, [5, 1], [1, 3])) == {"00000101": 1, "00000110": 3}
    repeated = _qh1(8, [5, 0], [1, 3])  # outcome 5 twice
    wrapped = _qh1(8, [2**62] * 4, [1, 1, 1, 1])  # the running sum wraps around 64 bits to 0
    for payload in (repeated, wrapped):
        assert _decode_both(payload, monkeypatch) == [HistogramDecodeError] * 2
        monkeypatch.setattr(histogram_module, "VECTORISE_FROM", 0)
        with pytest.raises(HistogramDecodeError, match="not distinct, increasing"):
            decode_histogram(payload)
