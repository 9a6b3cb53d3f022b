"""The one retry policy of the wire client.

Idempotent requests (GET, DELETE) are retried on 429, 502, 503, 504 and
connection failures with capped exponential backoff and full jitter, honouring
``Retry-After``. A state-changing POST is retried only when the server cannot
have acted on it: the connection was never established, or the server refused
it outright (429, 503). Anything else is ambiguous and left to the caller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

IDEMPOTENT_METHODS = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})


@dataclass
class RetryPolicy:
    """How often and how long to retry; see the module docstring for *what*."""

    max_attempts: int = 6
    backoff_base: float = 0.2
    backoff_cap: float = 10.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    not_processed_statuses: frozenset[int] = frozenset({429, 503})
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def status_is_retriable(self, method: str, status: int) -> bool:
        if method.upper() in IDEMPOTENT_METHODS:
            return status in self.retry_statuses
        return status in self.not_processed_statuses

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
