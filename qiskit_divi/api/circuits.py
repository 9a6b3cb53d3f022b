"""Circuit packing (gzip + base64) and greedy chunking of ``add_circuits`` uploads.

``qoro-api.md`` sections 5.1 and 5.2. Gzip uses ``mtime=0`` so that the same
circuits always produce the same request bytes (cassettes can match bodies).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping

MAX_PAYLOAD_MB = 0.95
"""Budget per ``add_circuits`` request body in MiB, as the reference client sets it."""
MAX_PAYLOAD_BYTES = int(MAX_PAYLOAD_MB * 1024 * 1024)
"""The same budget in bytes."""


def pack_circuit(qasm: str) -> str:
    """base64(gzip(UTF-8 QASM)) with a fixed gzip header (deterministic)."""
    return base64.b64encode(gzip.compress(qasm.encode("utf-8"), mtime=0)).decode("ascii")


def unpack_circuit(value: str) -> str:
    """Inverse of :func:`pack_circuit`; raises ``ValueError`` on bad input."""
    try:
        return gzip.decompress(base64.b64decode(value, validate=True)).decode("utf-8")
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"not a base64 gzip UTF-8 circuit: {exc}") from None


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
