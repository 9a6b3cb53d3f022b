"""Emulator settings (fault settings live in :mod:`.faults`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..api.validation import (
    boolean,
    non_negative_int,
    non_negative_seconds,
    positive_int,
    positive_seconds,
)
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
        # Canonical types (a numpy integer becomes an int) so the frozen values compare and
        # serialise as plain Python numbers.
        canonical: dict[str, object] = {
            "min_job_seconds": non_negative_seconds(
                self.min_job_seconds, "min_job_seconds", error=ValueError
            ),
            "seed": None
            if self.seed is None
            else non_negative_int(self.seed, "seed (None: fresh randomness)", error=ValueError),
            "idempotency": boolean(self.idempotency, "idempotency", error=ValueError),
            "idempotency_ttl_seconds": positive_seconds(
                self.idempotency_ttl_seconds, "idempotency_ttl_seconds", error=ValueError
            ),
        }
        for name in (
            "max_shots",
            "max_body_bytes",
            "default_page_size",
            "max_page_size",
            "idempotency_max_keys",
        ):
            canonical[name] = positive_int(getattr(self, name), name, error=ValueError)
        for name, value in canonical.items():
            object.__setattr__(self, name, value)
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"default_page_size ({self.default_page_size}) must not exceed max_page_size "
                f"({self.max_page_size})."
            )
        object.__setattr__(self, "systems", tuple(self.systems))
        if not self.systems:
            raise ValueError("At least one system is required (the default is DEFAULT_SYSTEMS).")
