"""``Idempotency-Key`` support of the emulator (IETF ``draft-ietf-httpapi-idempotency-key-header``).

A state-changing request (POST, DELETE) that carries an ``Idempotency-Key``
header is executed once per (token, key): the first response is stored, and a
later request with the same key and the same method, path and body gets that
stored response back, with ``Idempotent-Replayed: true``, without acting again.
The same key with a different request is refused with ``422``. A repeat that
arrives while the first request is still being handled waits for it (up to
``wait_seconds``, then ``409``, as the draft prescribes for concurrent repeats).
A request whose handler crashed stores nothing, so a retry acts afresh.

Every response of the API carries ``Idempotency-Key-Support: 1`` so clients
know they may re-send an ambiguous request with its key. Keys expire after
``ttl_seconds`` (24 h by default) and at most ``max_keys`` are kept (the oldest
completed ones are evicted first).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..api.idempotency import KEY_HEADER, KEYED_METHODS, REPLAY_HEADER, SUPPORT_HEADER
from .http_api import ApiResponse

__all__ = [
    "KEYED_METHODS",
    "KEY_HEADER",
    "MAX_KEY_LENGTH",
    "REPLAY_HEADER",
    "SUPPORT_HEADER",
    "IdempotencyStore",
    "fingerprint",
    "normalise_key",
]

MAX_KEY_LENGTH = 255


def normalise_key(raw: str) -> str | None:
    """The key of a header value (bare, or a quoted structured-field string); None if invalid."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        return None
    return key


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What identifies "the same request" for one key."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass
class _Entry:
    fingerprint: str
    expires_at: float
    done: threading.Event = field(default_factory=threading.Event)
    response: ApiResponse | None = None


class IdempotencyStore:
    """Stored first responses by (owner, key); thread-safe."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 86_400.0,
        max_keys: int = 10_000,
        wait_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_keys = max_keys
        self._wait = wait_seconds
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.replays = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def run(
        self, owner: str, key: str, request_fingerprint: str, action: Callable[[], ApiResponse]
    ) -> ApiResponse:
        """``action()``'s response, or the stored one when ``key`` was seen before."""
        slot = (owner, key)
        with self._lock:
            now = self._clock()
            self._evict(now)
            entry = self._entries.get(slot)
            if entry is None:
                entry = _Entry(request_fingerprint, now + self._ttl)
                self._entries[slot] = entry
                mine = True
            else:
                mine = False
        if not mine:
            if entry.fingerprint != request_fingerprint:
                return ApiResponse(
                    422,
                    {"error": "This Idempotency-Key was already used for a different request."},
                )
            if not entry.done.wait(self._wait) or entry.response is None:
                return ApiResponse(
                    409,
                    {
                        "error": "A request with this Idempotency-Key is still being processed; "
                        "retry later."
                    },
                )
            with self._lock:
                self.replays += 1
            stored = entry.response
            return ApiResponse(
                stored.status, stored.body, {**stored.headers, REPLAY_HEADER: "true"}
            )
        try:
            response = action()
        except BaseException:
            with self._lock:
                if self._entries.get(slot) is entry:
                    del self._entries[slot]
            entry.done.set()  # waiters see no response and answer 409; a later retry acts afresh
            raise
        entry.response = ApiResponse(response.status, response.body, dict(response.headers))
        entry.done.set()
        return response

    def _evict(self, now: float) -> None:
        """Drop expired keys and, above ``max_keys``, the oldest completed ones (lock held)."""
        while self._entries:
            slot, entry = next(iter(self._entries.items()))
            expired = entry.expires_at <= now and entry.done.is_set()
            if not expired and len(self._entries) < self._max_keys:
                break
            if not entry.done.is_set():
                break  # never evict a request in flight
            del self._entries[slot]
