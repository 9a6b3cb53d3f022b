"""Qoro systems (``QPU``, ``QPUSystem``) and the process-wide systems cache (divi v0.6.1).

``QPU``, ``QPUSystem`` and ``parse_qpu_systems`` are the wire layer's own objects
(:mod:`qiskit_divi.api.models`), re-exported here so that one definition serves
the provider, the client and this divi-compatible API. The parser is the tolerant
one: unknown fields are ignored, a missing ``access_level`` defaults to
``"PUBLIC"``, and a ``supports_expval`` sent by the server is honoured (divi v0.6.1
crashed with ``TypeError``/``KeyError`` on such replies).
"""

from __future__ import annotations

import threading
from dataclasses import replace

from ..api.errors import QoroInputError
from ..api.models import EXPVAL_SYSTEM_NAMES, QPU, QPUSystem, parse_qpu_systems

__all__ = [
    "QPU",
    "QPUSystem",
    "get_available_qpu_systems",
    "get_qpu_system",
    "parse_qpu_systems",
    "update_qpu_systems_cache",
]

_cache_lock = threading.RLock()
_qpu_systems_cache: dict[str, QPUSystem] = {}


def update_qpu_systems_cache(systems: list[QPUSystem]) -> None:
    """Replace the cache's content with ``systems``, keyed by name.

    ``"qoro_maestro"`` is stored with ``supports_expval=True`` whatever the input
    says (the reference client's rule); other systems are stored unchanged.
    """
    with _cache_lock:
        _qpu_systems_cache.clear()
        for system in systems:
            if system.name in EXPVAL_SYSTEM_NAMES and not system.supports_expval:
                system = replace(system, supports_expval=True)
            _qpu_systems_cache[system.name] = system


def get_qpu_system(name: str) -> QPUSystem:
    """The cached system called ``name``.

    Raises:
        ValueError: the cache is empty, or has no system of that name (a
            :class:`~qiskit_divi.api.errors.QoroInputError` listing the cached ones).
    """
    with _cache_lock:
        if not _qpu_systems_cache:
            raise ValueError(
                "QPU systems cache is empty. Call `QoroService.fetch_qpu_systems()` to populate it."
            )
        try:
            return _qpu_systems_cache[name]
        except KeyError:
            available = ", ".join(sorted(_qpu_systems_cache))
            raise QoroInputError(
                f"QPUSystem with name '{name}' not found in cache. Available systems: {available}. "
                "Use one of these names (e.g. JobConfig(qpu_system=...)); if the system was added "
                "since, call QoroService.fetch_qpu_systems() first."
            ) from None


def get_available_qpu_systems() -> list[QPUSystem]:
    """A snapshot list of the cached systems."""
    with _cache_lock:
        return list(_qpu_systems_cache.values())
