"""Emulator settings (fault settings live in :mod:`.faults`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .systems import DEFAULT_SYSTEMS, SystemSpec

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
"""2 MiB. The reference client packs ``add_circuits`` bodies to ~0.95 MiB but sends a
single over-budget circuit alone and does not count the ``observables`` string, so
the limit leaves headroom above its budget. Larger bodies get ``413``."""


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated service behaves.

    ``min_job_seconds``: a finalised job stays non-terminal at least this long.
    ``seed``: seeds the transpiler and ``seed_simulator`` of every Aer run
    (``None``: fresh randomness). ``max_shots``: larger ``shots`` get ``400``.
    ``max_body_bytes``: larger request bodies get ``413``. ``default_page_size``
    and ``max_page_size`` bound ``resultsV2``'s ``limit``. ``idempotency``: honour
    ``Idempotency-Key`` and advertise it (:mod:`.idempotency`); False behaves like
    a server without that support. Keys live ``idempotency_ttl_seconds``, at most
    ``idempotency_max_keys`` of them.
    """

    min_job_seconds: float = 0.1
    seed: int | None = None
    max_shots: int = 1_000_000
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    default_page_size: int = 100
    max_page_size: int = 1000
    systems: tuple[SystemSpec, ...] = DEFAULT_SYSTEMS
    idempotency: bool = True
    idempotency_ttl_seconds: float = 86_400.0
    idempotency_max_keys: int = 10_000

    def __post_init__(self) -> None:
        if (
            isinstance(self.min_job_seconds, bool)
            or not isinstance(self.min_job_seconds, (int, float))
            or not math.isfinite(self.min_job_seconds)
            or self.min_job_seconds < 0
        ):
            raise ValueError(
                f"min_job_seconds must be a non-negative number, got {self.min_job_seconds!r}."
            )
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0
        ):
            raise ValueError(f"seed must be a non-negative int or None, got {self.seed!r}.")
        if not isinstance(self.idempotency, bool):
            raise ValueError(f"idempotency must be a bool, got {self.idempotency!r}.")
        ttl = self.idempotency_ttl_seconds
        if (
            isinstance(ttl, bool)
            or not isinstance(ttl, (int, float))
            or not math.isfinite(ttl)
            or ttl <= 0
        ):
            raise ValueError(f"idempotency_ttl_seconds must be a positive number, got {ttl!r}.")
        for name in (
            "max_shots",
            "max_body_bytes",
            "default_page_size",
            "max_page_size",
            "idempotency_max_keys",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size must not exceed max_page_size.")
        object.__setattr__(self, "systems", tuple(self.systems))
        if not self.systems:
            raise ValueError("At least one system is required.")
