"""Result helpers of the divi v0.6.1 API, and its names for the qh1 histogram codec.

The codec itself lives once, in :mod:`qiskit_divi.api.histogram`; the private
functions below are the divi-named entry points to it, with the v0.6.1 semantics
and messages. Decoding errors are :class:`~qiskit_divi.api.histogram.HistogramDecodeError`,
a ``ValueError``.
"""

from __future__ import annotations

import base64
from typing import Any

from ..api.histogram import decode_histogram, int_to_bitstr, rle_bool_decode, uleb128_decode

_SUPPORTED_ENCODINGS = ("qh1", "qh2")


def convert_counts_to_probs(
    counts: dict[str, dict[str, int]], shots: int
) -> dict[str, dict[str, float]]:
    """``{tag: {bitstring: count}}`` to ``{tag: {bitstring: count / shots}}``.

    Divides by the given ``shots``, not by each histogram's own total.
    """
    return {
        tag: {bits: count / shots for bits, count in hist.items()} for tag, hist in counts.items()
    }


def reverse_dict_endianness(probs_dict: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Reverse every bitstring key of a two-level ``{tag: {bitstring: value}}`` dict.

    Turns Qiskit-ordered keys (qubit 0 rightmost) into qubit-0-first keys and back.
    """
    return {
        tag: {bits[::-1]: value for bits, value in hist.items()} for tag, hist in probs_dict.items()
    }


def _decode_qh1_b64(encoded: Any) -> Any:
    """Decode one result envelope ``{"encoding", "n_bits", "payload"}`` into counts.

    As in divi v0.6.1: a falsy input, or an envelope whose ``payload`` is missing
    or empty, is returned unchanged; an unknown ``encoding`` raises
    ``ValueError("Unsupported encoding: <name>")``. Unlike v0.6.1, ``"qh2"`` (the
    wide-register variant the service emits above 255 bits) is accepted too.
    """
    if not encoded:
        return encoded
    payload = encoded.get("payload")
    if not payload:
        return encoded
    encoding = encoded.get("encoding")
    if encoding not in _SUPPORTED_ENCODINGS:
        raise ValueError(f"Unsupported encoding: {encoding}")
    histogram = _decompress_histogram(base64.b64decode(payload))
    return {str(key): value for key, value in histogram.items()}


def _decompress_histogram(buf: bytes) -> dict[str, int]:
    """Decode raw qh1/qh2 bytes into ``{bitstring: count}``; ``b""`` gives ``{}``.

    Raises ``ValueError`` with ``"bad magic"``, ``"truncated varint"``,
    ``"corrupt stream: shot sum mismatch"`` or ``"corrupt stream: unique mismatch"``
    (and a few stricter consistency checks than v0.6.1 made).
    """
    return decode_histogram(buf)


def _uleb128_decode(data: bytes, pos: int = 0) -> tuple[int, int]:
    """Decode one ULEB128 varint at ``pos``: ``(value, next_pos)``; ``"truncated varint"``
    on a cut."""
    return uleb128_decode(data, pos)


def _rle_bool_decode(data: bytes, pos: int = 0) -> tuple[list[bool], int]:
    """Decode a run-length-encoded boolean list at ``pos``: ``(flags, next_pos)``."""
    return rle_bool_decode(data, pos)


def _int_to_bitstr(x: int, n_bits: int) -> str:
    """``x`` as a zero-padded binary string of width ``n_bits``, most significant bit first."""
    return int_to_bitstr(x, n_bits)
