"""The ``qh1``/``qh2`` histogram codec (``qoro-api.md`` section 5.3), both directions.

Keys are bitstrings in Qiskit order (the leftmost character is the highest
classical bit). The emulator encodes with this module, clients decode with it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import QoroProtocolError

MAGIC_QH1 = b"QH1"
MAGIC_QH2 = b"QH2"
QH1_MAX_BITS = 255

MAX_HISTOGRAM_BITS = 4096
"""Widest register a histogram may declare. A key costs ``n_bits`` bytes, so without
a bound a 17-byte ``qh2`` payload could ask for a gigabyte-long key. 4096 is several
times the widest quantum computer or simulator register a job is run on (about a
thousand qubits); a wider ``n_bits`` is a :class:`HistogramDecodeError`."""

MAX_HISTOGRAM_KEY_BYTES = 1 << 28
"""Largest ``outcomes x n_bits`` (the bytes of all the keys) one histogram may decode
to: 256 MiB holds a million distinct 256-bit outcomes, beyond a million-shot job."""


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
    try:
        byte = data[pos]
        if byte < 0x80:  # the common one-byte case
            return byte, pos + 1
        result = 0
        shift = 0
        while byte & 0x80:
            result |= (byte & 0x7F) << shift
            shift += 7
            pos += 1
            byte = data[pos]
        return result | byte << shift, pos + 1
    except IndexError:
        raise HistogramDecodeError("truncated varint") from None


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


def encode_histogram(counts: Mapping[str, int] | Mapping[int, int], n_bits: int) -> bytes:
    """Encode ``{bitstring: count}`` (or ``{outcome as int: count}``) as qh1
    (``n_bits`` <= 255) or qh2 bytes."""
    items = sorted(
        (key if isinstance(key, int) else int(key.replace(" ", ""), 2), count)
        for key, count in counts.items()
        if count
    )
    previous = -1
    for index, count in items:
        if count < 0:
            raise ValueError(f"Histogram counts must be non-negative, got {count}.")
        if index >> n_bits or index < 0:
            raise ValueError(f"Outcome {index} does not fit in {n_bits} bits.")
        if index == previous:
            raise ValueError(f"Outcome {index} appears twice.")
        previous = index
    out = bytearray()
    if n_bits <= QH1_MAX_BITS:
        out += MAGIC_QH1
        out.append(n_bits)
    else:
        out += MAGIC_QH2
        out += uleb128_encode(n_bits)
    indices = [index for index, _ in items]
    out += uleb128_encode(len(items))
    out += uleb128_encode(sum(count for _, count in items))
    out += uleb128_encode(len(items))
    out += _encode_varints([b - a for a, b in itertools.pairwise([0, *indices])])
    rle = rle_bool_encode([count == 1 for _, count in items])
    out += uleb128_encode(len(rle))
    out += rle
    extras = [count - 2 for _, count in items if count != 1]
    out += uleb128_encode(len(extras))
    out += _encode_varints(extras)
    return bytes(out)


def _encode_varints(values: list[int]) -> bytes:
    """Consecutive ULEB128 varints of non-negative integers (one byte each when all are < 128)."""
    if not values or max(values) < 0x80:
        return bytes(values)
    return b"".join(uleb128_encode(value) for value in values)


def _read_varints(data: np.ndarray, pos: int, count: int) -> tuple[np.ndarray | None, int]:
    """Decode ``count`` consecutive ULEB128 varints of ``data`` (uint8) at ``pos`` with numpy.

    Returns ``(None, pos)`` when a value may not fit in 63 bits (the caller then
    falls back to exact Python integers).
    """
    if count == 0:
        return np.zeros(0, dtype=np.uint64), pos
    rest = data[pos:]
    head = rest[:count]
    if len(head) == count and int(head.max()) < 0x80:  # every value fits in one byte
        return head.astype(np.uint64), pos + count
    # Only the first 9 * count bytes can hold the values (longer ones are refused below).
    window = rest[: 9 * count]
    ends = np.flatnonzero(window < 0x80)
    if len(ends) < count and len(window) < len(rest):
        ends = np.flatnonzero(rest < 0x80)
    if len(ends) < count:
        raise HistogramDecodeError("truncated varint")
    ends = ends[:count]
    starts = np.empty(count, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    longest = int(lengths.max())
    if longest > 9:
        return None, pos
    values = (rest[starts] & 0x7F).astype(np.uint64)
    for k in range(1, longest):  # the k-th byte of the values that have one
        which = np.flatnonzero(lengths > k)
        values[which] |= (rest[starts[which] + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
    return values, pos + int(ends[-1]) + 1


_BYTE_CHARS = (
    np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1) + np.uint8(ord("0"))
).view(np.uint64)[:, 0]
"""Entry ``b``: the 8 ASCII characters ``'0'``/``'1'`` of byte ``b`` (most significant
first), as one 8-byte word, so that a key is assembled from whole words."""


def _bitstrings(indices: np.ndarray, n_bits: int) -> list[str]:
    """Outcome integers (< 2**n_bits, n_bits <= 63) to MSB-first bitstrings, vectorised.

    The characters of every key are written into one ASCII buffer (keys separated by
    spaces) from a table of the 256 byte values, then split into strings in one call.
    """
    count = len(indices)
    if n_bits == 0:
        return [""] * count
    if count == 0:
        return []
    n_bytes = (n_bits + 7) // 8
    little_endian = indices.astype("<u8", copy=False).view(np.uint8).reshape(count, 8)
    chars = _BYTE_CHARS[little_endian[:, n_bytes - 1 :: -1]].view(np.uint8)  # (count, 8 * n_bytes)
    text = np.empty((count, n_bits + 1), dtype=np.uint8)
    text[:, :n_bits] = chars[:, 8 * n_bytes - n_bits :]
    text[:, n_bits] = ord(" ")
    return str(text.reshape(-1)[:-1].data, "ascii").split(" ")


_LARGE_DICT = 4096


def _counts_dict(keys: list[str], counts: list[int]) -> dict[str, int]:
    """``dict(zip(keys, counts))``, built faster when large.

    CPython stores no hashes in a dict whose keys have only ever been strings, so
    every resize re-reads each key object; above a few thousand entries that is most
    of the cost. A dict that once held a non-string key keeps the hashes in its own
    table: seed it with ``None``, fill it, drop ``None`` (same contents, same order).
    """
    if len(keys) < _LARGE_DICT:
        return dict(zip(keys, counts, strict=True))
    result: dict[Any, int] = {None: 0}
    result.update(zip(keys, counts, strict=True))
    del result[None]
    return result


VECTORISE_FROM = 128
"""Histograms with at least this many outcomes (four times as many for registers of
at most 12 bits, whose keys come from a table) are decoded with numpy; smaller ones
in plain Python, which is faster there (numpy's fixed cost per call dominates)."""


def decode_histogram(buf: bytes) -> dict[str, int]:
    """Decode qh1/qh2 bytes into ``{bitstring: count}``; ``b""`` gives ``{}``."""
    if not buf:
        return {}
    if type(buf) is not bytes:
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
    if n_bits > 63 and (n_bits > MAX_HISTOGRAM_BITS or num_gaps * n_bits > MAX_HISTOGRAM_KEY_BYTES):
        raise _too_wide(n_bits, num_gaps)
    if n_bits <= 63 and num_gaps >= (
        VECTORISE_FROM if n_bits > _KEY_TABLE_MAX_BITS else 4 * VECTORISE_FROM
    ):
        counts = _decode_vectorised(buf, pos, n_bits, unique, total_shots, num_gaps)
        if counts is not None:
            return counts
    return _decode_python(buf, pos, n_bits, unique, total_shots, num_gaps)


def _too_wide(n_bits: int, outcomes: int) -> HistogramDecodeError:
    return HistogramDecodeError(
        f"corrupt stream: {outcomes:,} outcomes of n_bits={n_bits:,} exceed the decoder's "
        f"limits (n_bits <= MAX_HISTOGRAM_BITS = {MAX_HISTOGRAM_BITS}, outcomes x n_bits <= "
        f"MAX_HISTOGRAM_KEY_BYTES = {MAX_HISTOGRAM_KEY_BYTES:,})"
    )


def _decode_vectorised(
    buf: bytes, pos: int, n_bits: int, unique: int, total_shots: int, num_gaps: int
) -> dict[str, int] | None:
    """Fields 6 to 10 decoded with numpy (``n_bits`` <= 63); None if a gap needs more
    than 63 bits."""
    data = np.frombuffer(buf, dtype=np.uint8)
    gaps, pos = _read_varints(data, pos, num_gaps)
    if gaps is None:
        return None
    is_one, pos = _read_flags_vectorised(buf, data, pos, num_gaps)
    num_extras, pos = uleb128_decode(buf, pos)
    n_false = int(num_gaps - np.count_nonzero(is_one))
    if num_extras != n_false:
        raise HistogramDecodeError("corrupt stream: extras count mismatch")
    extras, pos = _read_varints(data, pos, num_extras)
    if extras is None:
        raise HistogramDecodeError("corrupt stream: count too large")
    counts = np.ones(num_gaps, dtype=np.uint64)
    counts[~is_one] = extras + np.uint64(2)
    if int(counts.sum()) != total_shots:
        raise HistogramDecodeError("corrupt stream: shot sum mismatch")
    if num_gaps != unique:
        raise HistogramDecodeError("corrupt stream: unique mismatch")
    indices = np.cumsum(gaps, dtype=np.uint64)
    # Gaps after the first are >= 1 in a valid stream, so indices strictly increase;
    # a decrease also reveals a uint64 wrap-around of the running sum.
    if num_gaps and (int(indices[-1]) >> n_bits or not bool(np.all(indices[1:] > indices[:-1]))):
        raise HistogramDecodeError(_OUT_OF_ORDER.format(n_bits=n_bits))
    return _counts_dict(_bitstrings(indices, n_bits), counts.tolist())


def _read_flags_vectorised(
    buf: bytes, data: np.ndarray, pos: int, num_gaps: int
) -> tuple[np.ndarray, int]:
    """Field 8 (the run-length encoded "count is 1" flags) as a bool array, and the
    position after it."""
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
        runs, pos = _read_varints(data, pos + 1, num_runs)
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
    if len(is_one) != num_gaps:
        raise HistogramDecodeError("corrupt stream: flag count mismatch")
    return is_one, rle_end


_OUT_OF_ORDER = "corrupt stream: outcomes are not distinct, increasing and within {n_bits} bits"


def _read_uints(buf: bytes, pos: int, count: int) -> tuple[list[int], int]:
    """``count`` consecutive ULEB128 varints at ``pos`` as exact ints (one C-level slice
    when they are all one byte long)."""
    head = buf[pos : pos + count]
    if len(head) == count and (not count or max(head) < 0x80):
        return list(head), pos + count
    values: list[int] = []
    append = values.append
    try:
        for _ in range(count):
            byte = buf[pos]
            if byte < 0x80:
                append(byte)
                pos += 1
                continue
            high = buf[pos + 1]
            if high < 0x80:  # two bytes: the usual size of a count
                append((byte & 0x7F) | high << 7)
                pos += 2
                continue
            value, pos = uleb128_decode(buf, pos)
            append(value)
    except IndexError:
        raise HistogramDecodeError("truncated varint") from None
    return values, pos


_KEY_TABLE_MAX_BITS = 12


@functools.cache
def _key_table(n_bits: int) -> tuple[str, ...]:
    """Every ``n_bits``-wide bitstring, indexed by its value (``n_bits`` <= 12)."""
    fmt = f"0{n_bits}b"
    return tuple(format(i, fmt) for i in range(1 << n_bits))


def _decode_python(
    buf: bytes, pos: int, n_bits: int, unique: int, total_shots: int, num_gaps: int
) -> dict[str, int]:
    """Fields 6 to 10 decoded in plain Python with exact integers (any width), with the
    same checks as :func:`_decode_vectorised`. Built for histograms of a few outcomes."""
    gaps, pos = _read_uints(buf, pos, num_gaps)  # bounded: every gap takes a byte
    runs, first, ones, pos = _read_runs(buf, pos, num_gaps)
    num_extras, pos = uleb128_decode(buf, pos)
    if num_extras != num_gaps - ones:
        raise HistogramDecodeError("corrupt stream: extras count mismatch")
    extras, pos = _read_uints(buf, pos, num_extras)
    above_one = list(map(_PLUS_TWO, extras))
    counts = _interleave_counts(runs, first, above_one) if ones else above_one
    if ones + sum(above_one) != total_shots:
        raise HistogramDecodeError("corrupt stream: shot sum mismatch")
    if num_gaps != unique:
        raise HistogramDecodeError("corrupt stream: unique mismatch")
    indices = list(itertools.accumulate(gaps))
    if indices and (indices[-1] >> n_bits or 0 in gaps[1:]):
        raise HistogramDecodeError(_OUT_OF_ORDER.format(n_bits=n_bits))
    if n_bits <= _KEY_TABLE_MAX_BITS:
        table = _key_table(n_bits)
        return {table[index]: count for index, count in zip(indices, counts, strict=True)}
    fmt = f"0{n_bits}b"
    return {format(index, fmt): count for index, count in zip(indices, counts, strict=True)}


def _read_runs(buf: bytes, pos: int, num_gaps: int) -> tuple[list[int], bool, int, int]:
    """Field 8 in plain Python: the flag run lengths, the first flag, how many outcomes
    have count 1, and the position after the field."""
    runs: list[int] = []
    first = False
    try:
        rle_len, pos = uleb128_decode(buf, pos)
        rle_end = pos + rle_len
        if rle_len:
            num_runs, pos = uleb128_decode(buf, pos)
            if num_runs:
                first = buf[pos] != 0
                runs, pos = _read_uints(buf, pos + 1, num_runs)
            if pos != rle_end and sum(runs) == num_gaps:
                raise HistogramDecodeError("corrupt stream: RLE length mismatch")
    except IndexError:
        raise HistogramDecodeError("truncated varint") from None
    ones = sum(runs[0 if first else 1 :: 2])
    if ones + sum(runs[1 if first else 0 :: 2]) != num_gaps:
        raise HistogramDecodeError("corrupt stream: flag count mismatch")
    return runs, first, ones, rle_end


def _interleave_counts(runs: list[int], first: bool, above_one: list[int]) -> list[int]:
    """The counts in outcome order: runs alternate between counts of 1 and counts taken
    in order from ``above_one``."""
    counts: list[int] = []
    used = 0
    is_one = first
    for length in runs:
        if is_one:
            counts += [1] * length
        else:
            counts += above_one[used : used + length]
            used += length
        is_one = not is_one
    return counts


_PLUS_TWO = (2).__add__


# --- JSON envelope ---------------------------------------------------------------


def encode_envelope(counts: Mapping[str, int] | Mapping[int, int], n_bits: int) -> dict[str, Any]:
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
    return (
        (type(obj) is dict or isinstance(obj, Mapping)) and "encoding" in obj and "payload" in obj
    )


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
