"""Seeded fault injection for the emulator.

Every request that matches the configured endpoints and methods draws from one
``random.Random(seed)``, in arrival order, so a given seed and request sequence
always produce the same faults. At most one of these request faults hits a
request:

``reset_before``
    The connection is reset (TCP RST) after the request was read and before
    the handler does anything: nothing happened on the server.
``http_502`` / ``http_503`` / ``http_504``
    A gateway-style JSON error is returned instead of calling the handler.
``http_429``
    ``429 Too Many Requests`` with a ``Retry-After`` header; nothing happened.
``reset_after``
    The handler runs (a job may be created, circuits appended, a job
    cancelled...), then the connection is reset without writing the response.

Independently, ``latency`` delays a matching request before it is processed,
and ``slow_queue`` makes every finalised job wait ``queue_delay_seconds``
before it starts running (job-level; not restricted by endpoint).

``Retry-After`` is defined by HTTP as integer seconds (or a date). The
emulator sends ``retry_after`` verbatim and accepts any non-negative number,
so tests can ask for ``"0.05"``. Clients that parse the header strictly
(urllib3's ``Retry`` raises ``InvalidHeader`` on ``"0.05"``) need an integer
value such as ``"1"`` or ``"0"``.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field

from ..api.validation import fraction, non_negative_seconds

ENDPOINTS = frozenset(
    {
        "ping",
        "qpusystem",
        "simulatorcluster",
        "credits",
        "credit_transactions",
        "job_init",
        "create_failed",
        "add_circuits",
        "status",
        "results",
        "cancel",
        "delete",
        "unknown",
    }
)
"""Names usable in :attr:`FaultConfig.endpoints` (``unknown`` = paths that 404)."""

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

GATEWAY_STATUSES = (502, 503, 504)

FAULT_KINDS = (
    "reset_before",
    "http_502",
    "http_503",
    "http_504",
    "http_429",
    "reset_after",
    "latency",
    "slow_queue",
)
"""Keys of ``server.stats["faults"]``."""


MIX_SHARES = {
    "error_rate": 0.4,
    "rate_limit_rate": 0.2,
    "reset_before_rate": 0.2,
    "reset_after_rate": 0.2,
}
"""How :meth:`FaultConfig.mixed` splits its rate over the request-fault kinds."""


@dataclass(frozen=True)
class FaultConfig:
    """What to break, how often, and where. The default breaks nothing.

    Rates are fractions of matching requests (0..1); the four request-fault
    rates together must not exceed 1. ``endpoints`` / ``methods`` restrict
    request faults and latency to those endpoint names (see :data:`ENDPOINTS`)
    and HTTP methods; ``None`` means all.
    """

    seed: int | None = None
    error_rate: float = 0.0
    """Fraction answered with a status drawn from ``error_statuses``."""
    error_statuses: tuple[int, ...] = GATEWAY_STATUSES
    rate_limit_rate: float = 0.0
    """Fraction answered ``429`` with ``Retry-After: <retry_after>``."""
    retry_after: str = "0.05"
    reset_before_rate: float = 0.0
    reset_after_rate: float = 0.0
    latency_seconds: float = 0.0
    latency_rate: float = 1.0
    """Fraction of matching requests delayed by ``latency_seconds``."""
    queue_delay_seconds: float = 0.0
    """Extra seconds every finalised job waits in the queue before it runs."""
    endpoints: frozenset[str] | None = None
    methods: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in (
            "error_rate",
            "rate_limit_rate",
            "reset_before_rate",
            "reset_after_rate",
            "latency_rate",
        ):
            rate = fraction(getattr(self, name), f"FaultConfig.{name}", error=ValueError)
            object.__setattr__(self, name, rate)
        total = (
            self.error_rate + self.rate_limit_rate + self.reset_before_rate + self.reset_after_rate
        )
        if total > 1.0 + 1e-12:
            raise ValueError(
                "FaultConfig request-fault rates (error, rate_limit, reset_before, reset_after) "
                f"add up to {total:g}; their sum must not exceed 1."
            )
        statuses = tuple(self.error_statuses)
        if not statuses or any(s not in GATEWAY_STATUSES for s in statuses):
            raise ValueError(
                f"FaultConfig.error_statuses must be a non-empty subset of {GATEWAY_STATUSES}."
            )
        object.__setattr__(self, "error_statuses", statuses)
        try:
            retry_after = float(self.retry_after)
        except (TypeError, ValueError):
            retry_after = -1.0
        if not math.isfinite(retry_after) or retry_after < 0:
            raise ValueError(
                "FaultConfig.retry_after must be a non-negative number string such as '1', "
                f"got {self.retry_after!r}."
            )
        object.__setattr__(self, "retry_after", str(self.retry_after).strip())
        for name in ("latency_seconds", "queue_delay_seconds"):
            seconds = non_negative_seconds(
                getattr(self, name), f"FaultConfig.{name}", error=ValueError
            )
            object.__setattr__(self, name, seconds)
        if self.endpoints is not None:
            endpoints = frozenset(self.endpoints)
            unknown = endpoints - ENDPOINTS
            if unknown:
                raise ValueError(
                    f"FaultConfig.endpoints has unknown names {sorted(unknown)}; "
                    f"known: {sorted(ENDPOINTS)}."
                )
            object.__setattr__(self, "endpoints", endpoints)
        if self.methods is not None:
            methods = frozenset(m.upper() for m in self.methods)
            unknown = methods - METHODS
            if unknown:
                raise ValueError(
                    f"FaultConfig.methods has unknown methods {sorted(unknown)}; "
                    f"known: {sorted(METHODS)}."
                )
            object.__setattr__(self, "methods", methods)

    @classmethod
    def mixed(cls, rate: float, **kwargs: object) -> FaultConfig:
        """A fraction ``rate`` of requests faulted, spread over every request-fault kind.

        Of the faulted requests, 40 % get a 502/503/504, 20 % a 429, 20 % a
        reset before the handler acts and 20 % a reset after it acted. Other
        settings (``seed``, ``latency_seconds``, ``endpoints``...) pass through.
        """
        fraction(rate, "FaultConfig.mixed's rate", error=ValueError)
        return cls(
            error_rate=rate * MIX_SHARES["error_rate"],
            rate_limit_rate=rate * MIX_SHARES["rate_limit_rate"],
            reset_before_rate=rate * MIX_SHARES["reset_before_rate"],
            reset_after_rate=rate * MIX_SHARES["reset_after_rate"],
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def request_fault_rate(self) -> float:
        """Fraction of matching requests that get a request fault (latency aside)."""
        return (
            self.error_rate + self.rate_limit_rate + self.reset_before_rate + self.reset_after_rate
        )

    @property
    def injects_request_faults(self) -> bool:
        return bool(
            self.error_rate
            or self.rate_limit_rate
            or self.reset_before_rate
            or self.reset_after_rate
            or (self.latency_seconds and self.latency_rate)
        )

    def matches(self, endpoint: str, method: str) -> bool:
        """Whether request faults may hit ``method`` on ``endpoint``."""
        if self.endpoints is not None and endpoint not in self.endpoints:
            return False
        return self.methods is None or method.upper() in self.methods


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request."""

    kind: str | None = None
    """One of ``reset_before``, ``http_5xx``, ``http_429``, ``reset_after`` or None."""
    latency: float = 0.0

    @property
    def status(self) -> int | None:
        if self.kind and self.kind.startswith("http_"):
            return int(self.kind[5:])
        return None


NO_FAULT = FaultDecision()


@dataclass
class FaultInjector:
    """Draws :class:`FaultDecision` s from a seeded RNG and counts what it injects."""

    config: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(FAULT_KINDS, 0)

    def decide(self, endpoint: str, method: str) -> FaultDecision:
        """Decide the fate of one request (thread-safe, deterministic per seed)."""
        cfg = self.config
        if not cfg.injects_request_faults or not cfg.matches(endpoint, method):
            return NO_FAULT
        with self._lock:
            # Always three draws per matching request, so one kind of fault
            # never shifts the random sequence of another.
            roll, status_pick, latency_roll = (
                self._rng.random(),
                self._rng.random(),
                self._rng.random(),
            )
            kind: str | None = None
            threshold = 0.0
            for name, rate in (
                ("reset_before", cfg.reset_before_rate),
                ("http_5xx", cfg.error_rate),
                ("http_429", cfg.rate_limit_rate),
                ("reset_after", cfg.reset_after_rate),
            ):
                threshold += rate
                if rate and roll < threshold:
                    kind = name
                    break
            if kind == "http_5xx":
                statuses = cfg.error_statuses
                kind = f"http_{statuses[min(int(status_pick * len(statuses)), len(statuses) - 1)]}"
            latency = (
                cfg.latency_seconds
                if cfg.latency_seconds and latency_roll < cfg.latency_rate
                else 0.0
            )
            if kind:
                self._counts[kind] += 1
            if latency:
                self._counts["latency"] += 1
        return FaultDecision(kind=kind, latency=latency)

    def count(self, kind: str) -> None:
        """Count a fault injected elsewhere (``slow_queue``)."""
        with self._lock:
            self._counts[kind] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
