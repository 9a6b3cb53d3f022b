"""Circuit packing (gzip + base64) and greedy chunking of ``add_circuits`` uploads.

``qoro-api.md`` sections 5.1 and 5.2. The gzip container is written here with a fixed
header (``mtime`` 0, OS "Unix") so that the same circuits produce the same request bytes on
every Python and platform (cassettes match bodies): ``gzip.compress`` writes OS 255 up to
Python 3.10 and the platform's code from 3.11 on.
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
import zlib
from collections.abc import Callable, Mapping

MAX_PAYLOAD_MB = 0.95
"""Budget per ``add_circuits`` request body in MiB, as the reference client sets it."""
MAX_PAYLOAD_BYTES = int(MAX_PAYLOAD_MB * 1024 * 1024)
"""The same budget in bytes."""


_GZIP_HEADER = bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 2, 3])
"""RFC 1952 member header: deflate, no flags, mtime 0, maximum compression, OS Unix."""


def gzip_deterministic(data: bytes) -> bytes:
    """``data`` as one gzip member at level 9 with :data:`_GZIP_HEADER` (same bytes everywhere)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    return _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def pack_circuit(qasm: str) -> str:
    """base64(gzip(UTF-8 QASM)), the same bytes on every Python and platform."""
    return base64.b64encode(gzip_deterministic(qasm.encode("utf-8"))).decode("ascii")


def unpack_circuit(
    value: str,
    *,
    max_bytes: int | None = None,
    too_large: Callable[[int], Exception] | None = None,
) -> str:
    """Inverse of :func:`pack_circuit`; raises ``ValueError`` on bad input.

    With ``max_bytes``, the inflate streams and stops as soon as the text would exceed
    ``max_bytes`` bytes, raising ``too_large(max_bytes)`` (by default a ``ValueError``
    naming the limit): a small compressed value cannot cost more memory than the limit.
    """
    try:
        data = base64.b64decode(value, validate=True)
        raw = (
            gzip.decompress(data)
            if max_bytes is None
            else gunzip_bounded(data, max_bytes, lambda _: _TooLarge())
        )
        return raw.decode("utf-8")
    except _TooLarge:
        assert max_bytes is not None
        if too_large is None:
            raise ValueError(
                f"the circuit inflates to more than {max_bytes:,} bytes, the limit"
            ) from None
        raise too_large(max_bytes) from None
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"not a base64 gzip UTF-8 circuit: {exc}") from None


class _TooLarge(Exception):
    """The inflated data would exceed the limit."""


def gunzip_bounded(data: bytes, max_bytes: int, too_large: Callable[[int], Exception]) -> bytes:
    """``gzip.decompress(data)`` (concatenated members, zero padding after them), streamed:
    raises ``too_large(max_bytes)`` before the output exceeds ``max_bytes`` bytes.

    Invalid data raises ``zlib.error`` or ``EOFError``.
    """
    out = bytearray()
    while data:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip container, CRC checked
        pending = data
        while not inflate.eof:
            # One byte over the room left is enough to know the limit is crossed.
            chunk = inflate.decompress(pending, max_bytes - len(out) + 1)
            out += chunk
            if len(out) > max_bytes:
                raise too_large(max_bytes)
            pending = inflate.unconsumed_tail
            if not chunk and not pending:
                raise EOFError("compressed data ended before the end-of-stream marker")
        data = inflate.unused_data.lstrip(b"\0")
    return bytes(out)


def chunk_packed_circuits(
    packed: Mapping[str, str],
    *,
    max_bytes: int = MAX_PAYLOAD_BYTES,
    overhead_bytes: int = 0,
) -> list[dict[str, str]]:
    """Split already packed circuits into chunks whose JSON stays under ``max_bytes``.

    Unlike the reference estimate, sizes are measured as JSON-encoded bytes and
    ``overhead_bytes`` (the rest of the request body, e.g. a long observables
    string) is reserved in every chunk. A single circuit larger than the budget
    still travels alone. Insertion order is kept.
    """
    chunks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    size = 2 + overhead_bytes
    for label, value in packed.items():
        item = len(json.dumps(label)) + len(value) + 6  # value quotes, ": " and ", "
        if current and size + item > max_bytes:
            chunks.append(current)
            current, size = {}, 2 + overhead_bytes
        current[label] = value
        size += item
    if current:
        chunks.append(current)
    return chunks
