"""The ``observables`` of an EXPECTATION upload: the plain v0.6.1 form and HEAD's ``@gzs``.

Both forms become dense ``;``-separated Pauli terms; the compressed one is bounded
before it is expanded, so a few bytes cannot make the emulator allocate a huge string.
"""

from __future__ import annotations

import base64
import re
import zlib
from typing import Any

from qiskit_divi.api.circuits import gunzip_bounded
from qiskit_divi.api.observables import split_ham_ops

_SPARSE_TERM = re.compile(r"([XYZ])(\d+)")


class _ObservablesTooLarge(ValueError):
    """An ``@gzs`` payload inflates past the limit."""


def _too_large(max_bytes: int) -> Exception:
    return _ObservablesTooLarge(
        f"@gzs payload inflates to more than {max_bytes:,} bytes, the limit. "
        "Send fewer terms per job."
    )


def _declared_qubits(head: str, max_qubits: int) -> int:
    """The ``<n>`` of ``@gzs<n>:``, checked against ``max_qubits``."""
    # A count too long for int() to be cheap is over any system's width anyway.
    n_qubits = int(head) if len(head) <= 18 else 10**18
    if n_qubits > max_qubits:
        raise ValueError(
            f"@gzs declares {n_qubits} qubits; the system has {max_qubits}. "
            "Send observables of the circuits' width."
        )
    return n_qubits


def _dense_term(item: str, n_qubits: int) -> str:
    """One sparse term (``I`` or ``X0Z3``...) as ``n_qubits`` dense Pauli letters."""
    dense = ["I"] * n_qubits
    if item != "I":
        pos = 0
        for match in _SPARSE_TERM.finditer(item):
            if match.start() != pos:
                break
            index = int(match.group(2))
            if index >= n_qubits or dense[index] != "I":
                raise ValueError(
                    f"sparse term {item!r} has a bad or repeated qubit index for {n_qubits} qubits"
                )
            dense[index] = match.group(1)
            pos = match.end()
        if pos != len(item) or not item:
            raise ValueError(f"malformed sparse term {item!r}")
    return "".join(dense)


def decode_gzs(value: str, *, max_qubits: int, max_bytes: int) -> str:
    """Expand HEAD's ``@gzs<n>:<base64 gzip of sparse terms>`` into a dense ``ham_ops``.

    ``n`` is checked against ``max_qubits`` and the dense size against ``max_bytes``
    before anything is expanded; the payload stops inflating at ``max_bytes``.
    """
    head, sep, blob = value[4:].partition(":")
    if not sep or not head.isascii() or not head.isdigit() or not head.strip("0"):
        raise ValueError("malformed @gzs header; expected '@gzs<n_qubits>:<payload>'")
    n_qubits = _declared_qubits(head, max_qubits)
    try:
        sparse = gunzip_bounded(base64.b64decode(blob, validate=True), max_bytes, _too_large)
        text = sparse.decode("utf-8")
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, _ObservablesTooLarge):
            raise
        raise ValueError(f"@gzs payload is not base64 gzip text ({exc})") from None
    items = text.split(";")
    dense_bytes = len(items) * (n_qubits + 1)
    if dense_bytes > max_bytes:
        raise ValueError(
            f"@gzs expands to {len(items)} terms of {n_qubits} qubits ({dense_bytes:,} bytes), "
            f"over the {max_bytes:,}-byte limit. Send fewer terms per job."
        )
    return ";".join(_dense_term(item, n_qubits) for item in items)


def parse_observables(value: Any, *, max_qubits: int, max_bytes: int) -> list[str]:
    """Dense terms of an ``observables`` string (plain v0.6.1 form or ``@gzs``), the
    ``@gzs`` form bounded as :func:`decode_gzs` says."""
    if not isinstance(value, str):
        raise ValueError("must be a string of ';'-separated Pauli terms")
    if value.startswith("@gzs"):
        value = decode_gzs(value, max_qubits=max_qubits, max_bytes=max_bytes)
    if "|" in value:
        raise ValueError(
            "observable groups ('|', with circuit_ham_map) are not supported by the emulator"
        )
    return split_ham_ops(value)
