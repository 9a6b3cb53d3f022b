"""The ``Idempotency-Key`` header protocol (IETF ``draft-ietf-httpapi-idempotency-key-header``),
named once for the client and the bundled emulator."""

from __future__ import annotations

KEY_HEADER = "Idempotency-Key"
"""Request header carrying the client-generated key of a state-changing request."""

SUPPORT_HEADER = "Idempotency-Key-Support"
"""Response header by which a server says it honours ``Idempotency-Key`` (value ``1``)."""

REPLAY_HEADER = "Idempotent-Replayed"
"""Response header (``true``) of a stored response replayed for a repeated key."""

KEYED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that carry an ``Idempotency-Key``."""

_TRUE_VALUES = frozenset({"1", "true", "?1"})  # "?1" is the structured-field boolean


def advertises_support(value: str | None) -> bool:
    """Whether an ``Idempotency-Key-Support`` header value says yes."""
    return (value or "").strip().lower() in _TRUE_VALUES


def is_replay(value: str | None) -> bool:
    """Whether an ``Idempotent-Replayed`` header value marks a replayed response."""
    return (value or "").strip().lower() == "true"
