"""The ``qh1``/``qh2`` histogram codec (``qoro-api.md`` section 5.3), both directions.

Keys are bitstrings in Qiskit order (the leftmost character is the highest
classical bit). The emulator encodes with this module, clients decode with it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from .errors import QoroProtocolError

MAGIC_QH1 = b"QH1"
MAGIC_QH2 = b"QH2"
QH1_MAX_BITS = 255


class HistogramDecodeError(QoroProtocolError, ValueError):
    """A histogram payload is corrupt or uses an unknown encoding."""


# --- primitives ------------------------------------------------------------------


def uleb128_encode(value: int) -> bytes:
    """Unsigned LEB128: 7 bits per byte, least significant group first."""
    if value < 0:
        raise ValueError(f"ULEB128 cannot encode a negative number ({value}).")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def uleb128_decode(data: bytes, pos: int = 0) -> tuple[int, int]:
    """Decode one ULEB128 varint at ``pos``; returns ``(value, next_pos)``."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise HistogramDecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def rle_bool_encode(flags: list[bool]) -> bytes:
    """Run-length encode booleans: ``ULEB(runs)``, first value byte, run lengths."""
    runs: list[int] = []
    for i, flag in enumerate(flags):
        if i and flag == flags[i - 1]:
            runs[-1] += 1
        else:
            runs.append(1)
    out = bytearray(uleb128_encode(len(runs)))
    if runs:
        out.append(1 if flags[0] else 0)
        for length in runs:
            out += uleb128_encode(length)
    return bytes(out)


def rle_bool_decode(data: bytes, pos: int = 0) -> tuple[list[bool], int]:
    """Decode booleans written by :func:`rle_bool_encode`; returns ``(flags, next_pos)``."""
    num_runs, pos = uleb128_decode(data, pos)
    if num_runs == 0:
        return [], pos
    if pos >= len(data):
        raise HistogramDecodeError("truncated varint")
    value = data[pos] != 0
    pos += 1
    flags: list[bool] = []
    for _ in range(num_runs):
        length, pos = uleb128_decode(data, pos)
        flags.extend([value] * length)
        value = not value
    return flags, pos


def int_to_bitstr(value: int, n_bits: int) -> str:
    """Zero-padded binary, most significant bit first."""
    return format(value, f"0{n_bits}b")


# --- histogram bytes -------------------------------------------------------------


def encode_histogram(counts: Mapping[str, int], n_bits: int) -> bytes:
    """Encode ``{bitstring: count}`` as qh1 (``n_bits`` <= 255) or qh2 bytes."""
    items = sorted((int(key.replace(" ", ""), 2), count) for key, count in counts.items() if count)
    for index, count in items:
        if count < 0:
            raise ValueError(f"Histogram counts must be non-negative, got {count}.")
        if index >> n_bits:
            raise ValueError(f"Outcome {index} does not fit in {n_bits} bits.")
    out = bytearray()
    if n_bits <= QH1_MAX_BITS:
        out += MAGIC_QH1
        out.append(n_bits)
    else:
        out += MAGIC_QH2
        out += uleb128_encode(n_bits)
    out += uleb128_encode(len(items))
    out += uleb128_encode(sum(count for _, count in items))
    out += uleb128_encode(len(items))
    previous = 0
    for index, _ in items:
        out += uleb128_encode(index - previous)
        previous = index
    rle = rle_bool_encode([count == 1 for _, count in items])
    out += uleb128_encode(len(rle))
    out += rle
    extras = [count - 2 for _, count in items if count != 1]
    out += uleb128_encode(len(extras))
    for extra in extras:
        out += uleb128_encode(extra)
    return bytes(out)


def decode_histogram(buf: bytes) -> dict[str, int]:
    """Decode qh1/qh2 bytes into ``{bitstring: count}``; ``b""`` gives ``{}``."""
    if not buf:
        return {}
    magic = bytes(buf[:3])
    if magic == MAGIC_QH1:
        if len(buf) < 4:
            raise HistogramDecodeError("truncated varint")
        n_bits, pos = buf[3], 4
    elif magic == MAGIC_QH2:
        n_bits, pos = uleb128_decode(buf, 3)
    else:
        raise HistogramDecodeError("bad magic")
    unique, pos = uleb128_decode(buf, pos)
    total_shots, pos = uleb128_decode(buf, pos)
    num_gaps, pos = uleb128_decode(buf, pos)
    indices = []
    index = 0
    for _ in range(num_gaps):
        gap, pos = uleb128_decode(buf, pos)
        index += gap
        indices.append(index)
    rle_len, pos = uleb128_decode(buf, pos)
    if rle_len:
        flags, rle_end = rle_bool_decode(buf, pos)
        if rle_end != pos + rle_len:
            raise HistogramDecodeError("corrupt stream: RLE length mismatch")
    else:
        flags = []  # rle_len = 0 encodes "no outcomes"
    pos += rle_len
    if len(flags) != num_gaps:
        raise HistogramDecodeError("corrupt stream: flag count mismatch")
    num_extras, pos = uleb128_decode(buf, pos)
    if num_extras != flags.count(False):
        raise HistogramDecodeError("corrupt stream: extras count mismatch")
    counts = []
    for is_one in flags:
        if is_one:
            counts.append(1)
        else:
            extra, pos = uleb128_decode(buf, pos)
            counts.append(extra + 2)
    if sum(counts) != total_shots:
        raise HistogramDecodeError("corrupt stream: shot sum mismatch")
    if len(counts) != unique:
        raise HistogramDecodeError("corrupt stream: unique mismatch")
    if indices and indices[-1] >> n_bits:
        raise HistogramDecodeError(f"corrupt stream: outcome {indices[-1]} does not fit in {n_bits} bits")
    fmt = f"0{n_bits}b"
    return {format(i, fmt): c for i, c in zip(indices, counts)}


# --- JSON envelope ---------------------------------------------------------------


def encode_envelope(counts: Mapping[str, int], n_bits: int) -> dict[str, Any]:
    """The ``{"encoding", "n_bits", "payload"}`` object the service returns per circuit."""
    payload = encode_histogram(counts, n_bits)
    encoding = "qh1" if n_bits <= QH1_MAX_BITS else "qh2"
    return {
        "encoding": encoding,
        "n_bits": n_bits,
        "payload": base64.b64encode(payload).decode("ascii"),
    }


def is_histogram_envelope(obj: Any) -> bool:
    """Whether a result payload is a histogram envelope (vs. an expectation-value dict)."""
    return isinstance(obj, Mapping) and "encoding" in obj and "payload" in obj


def decode_envelope(obj: Mapping[str, Any]) -> dict[str, int]:
    """Decode a histogram envelope; an empty payload is an empty histogram."""
    encoding = obj.get("encoding")
    payload = obj.get("payload")
    if not payload:
        return {}
    if encoding not in ("qh1", "qh2"):
        raise HistogramDecodeError(f"Unsupported encoding: {encoding}")
    if not isinstance(payload, str):
        raise HistogramDecodeError("corrupt stream: payload should be a base64 string")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HistogramDecodeError(f"corrupt stream: payload is not valid base64 ({exc})") from None
    counts = decode_histogram(raw)
    n_bits = obj.get("n_bits")
    if isinstance(n_bits, int) and counts and len(next(iter(counts))) != n_bits:
        raise HistogramDecodeError(
            f"corrupt stream: envelope says n_bits={n_bits}, payload has {len(next(iter(counts)))}"
        )
    return counts
