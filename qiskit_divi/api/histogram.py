"""The ``qh1``/``qh2`` histogram codec (``qoro-api.md`` section 5.3), both directions.

Keys are bitstrings in Qiskit order (the leftmost character is the highest
classical bit). The emulator encodes with this module, clients decode with it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import numpy as np

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


def rle_bool_decode(data: bytes, pos: int = 0, limit: int | None = None) -> tuple[list[bool], int]:
    """Decode booleans written by :func:`rle_bool_encode`; returns ``(flags, next_pos)``.

    ``limit`` caps the number of flags, so a corrupt run length fails fast instead
    of exhausting memory.
    """
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
        if limit is not None and len(flags) + length > limit:
            raise HistogramDecodeError("corrupt stream: flag count mismatch")
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


def _read_varints(buf: bytes, pos: int, count: int) -> tuple[np.ndarray | None, int]:
    """Decode ``count`` consecutive ULEB128 varints at ``pos`` with numpy.

    Returns ``(None, pos)`` when a value may not fit in 63 bits (the caller then
    falls back to exact Python integers).
    """
    if count == 0:
        return np.zeros(0, dtype=np.uint64), pos
    data = np.frombuffer(buf, dtype=np.uint8, offset=pos)
    ends = np.flatnonzero(data < 0x80)
    if len(ends) < count:
        raise HistogramDecodeError("truncated varint")
    ends = ends[:count]
    starts = np.empty(count, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    if int((ends - starts).max()) >= 9:
        return None, pos
    used = data[: ends[-1] + 1].astype(np.uint64) & np.uint64(0x7F)
    group = np.repeat(np.arange(count), ends - starts + 1)
    shift = (np.arange(len(used)) - starts[group]).astype(np.uint64) * np.uint64(7)
    values = np.add.reduceat(used << shift, starts)
    return values, pos + int(ends[-1]) + 1


def _bitstrings(indices: np.ndarray, n_bits: int) -> list[str]:
    """Outcome integers (< 2**63) to MSB-first bitstrings, vectorised."""
    if n_bits == 0:
        return [""] * len(indices)
    bits = np.unpackbits(indices.astype(">u8").view(np.uint8).reshape(-1, 8), axis=1)[:, 64 - n_bits :]
    text = np.empty((len(indices), n_bits + 1), dtype=np.uint8)
    text[:, :n_bits] = bits + ord("0")
    text[:, n_bits] = ord(" ")
    return text.tobytes().decode("ascii").split()


def decode_histogram(buf: bytes) -> dict[str, int]:
    """Decode qh1/qh2 bytes into ``{bitstring: count}``; ``b""`` gives ``{}``."""
    if not buf:
        return {}
    buf = bytes(buf)
    magic = buf[:3]
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
    gaps, after_gaps = (None, pos) if n_bits > 63 else _read_varints(buf, pos, num_gaps)
    if gaps is None:
        return _decode_exact(buf, pos, n_bits, unique, total_shots, num_gaps)
    pos = after_gaps
    rle_len, pos = uleb128_decode(buf, pos)
    rle_end = pos + rle_len
    if rle_len:
        num_runs, pos = uleb128_decode(buf, pos)
    else:
        num_runs = 0  # rle_len = 0 encodes "no outcomes"
    if num_runs:
        if pos >= len(buf):
            raise HistogramDecodeError("truncated varint")
        first = buf[pos] != 0
        runs, pos = _read_varints(buf, pos + 1, num_runs)
        if runs is None:
            raise HistogramDecodeError("corrupt stream: RLE run too long")
        if int(runs.max()) > num_gaps or int(runs.sum()) != num_gaps:
            raise HistogramDecodeError("corrupt stream: flag count mismatch")
        values = np.zeros(num_runs, dtype=bool)
        values[0 if first else 1 :: 2] = True
        is_one = np.repeat(values, runs.astype(np.int64))
    else:
        is_one = np.zeros(0, dtype=bool)
    if rle_len and pos != rle_end:
        raise HistogramDecodeError("corrupt stream: RLE length mismatch")
    pos = rle_end
    if len(is_one) != num_gaps:
        raise HistogramDecodeError("corrupt stream: flag count mismatch")
    num_extras, pos = uleb128_decode(buf, pos)
    n_false = int(num_gaps - np.count_nonzero(is_one))
    if num_extras != n_false:
        raise HistogramDecodeError("corrupt stream: extras count mismatch")
    extras, pos = _read_varints(buf, pos, num_extras)
    if extras is None:
        raise HistogramDecodeError("corrupt stream: count too large")
    counts = np.ones(num_gaps, dtype=np.uint64)
    counts[~is_one] = extras + np.uint64(2)
    if int(counts.sum()) != total_shots:
        raise HistogramDecodeError("corrupt stream: shot sum mismatch")
    if num_gaps != unique:
        raise HistogramDecodeError("corrupt stream: unique mismatch")
    indices = np.cumsum(gaps, dtype=np.uint64)
    if num_gaps and (int(indices[-1]) >> n_bits or int(gaps.sum()) != int(indices[-1])):
        raise HistogramDecodeError(f"corrupt stream: an outcome does not fit in {n_bits} bits")
    return dict(zip(_bitstrings(indices, n_bits), counts.tolist()))


def _decode_exact(buf: bytes, pos: int, n_bits: int, unique: int, total_shots: int, num_gaps: int) -> dict[str, int]:
    """Pure-Python decoding with exact integers, for registers wider than 63 bits."""
    indices = []
    index = 0
    for _ in range(num_gaps):
        gap, pos = uleb128_decode(buf, pos)
        index += gap
        indices.append(index)
    rle_len, pos = uleb128_decode(buf, pos)
    if rle_len:
        flags, rle_end = rle_bool_decode(buf, pos, limit=num_gaps)
        if rle_end != pos + rle_len:
            raise HistogramDecodeError("corrupt stream: RLE length mismatch")
    else:
        flags = []
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
