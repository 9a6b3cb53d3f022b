"""Qoro systems (``QPU``, ``QPUSystem``) and the process-wide systems cache (divi v0.6.1),
and simulator clusters (``SimulatorCluster``) with their cache (divi 0.15.1).

``QPU``, ``QPUSystem`` and ``parse_qpu_systems`` are the wire layer's own objects
(:mod:`qiskit_divi.api.models`), re-exported here so that one definition serves
the provider, the client and this divi-compatible API. The parser is the tolerant
one: unknown fields are ignored, a missing ``access_level`` defaults to
``"PUBLIC"``, and a ``supports_expval`` sent by the server is honoured (divi v0.6.1
crashed with ``TypeError``/``KeyError`` on such replies). The cluster cache is filled
by ``QoroService.fetch_simulator_clusters()``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Generic, TypeVar

from ..api.errors import QoroInputError
from ..api.models import (
    EXPVAL_SYSTEM_NAMES,
    QPU,
    QPUSystem,
    SimulatorCluster,
    parse_qpu_systems,
    parse_simulator_clusters,
)

__all__ = [
    "QPU",
    "QPUSystem",
    "SimulatorCluster",
    "get_available_qpu_systems",
    "get_available_simulator_clusters",
    "get_qpu_system",
    "get_simulator_cluster",
    "parse_qpu_systems",
    "parse_simulator_clusters",
    "update_qpu_systems_cache",
    "update_simulator_clusters_cache",
]

T = TypeVar("T", QPUSystem, SimulatorCluster)


class NamedCache(Generic[T]):
    """A process-wide set of targets by name, replaced whole by each fetch (divi's
    module-level caches); thread-safe."""

    def __init__(self, kind: str, label: str, plural: str, config_field: str, fetch: str) -> None:
        self._lock = threading.RLock()
        self._items: dict[str, T] = {}
        # The words of divi's messages: class name, cache name, what "available" lists.
        self._kind, self._label, self._plural = kind, label, plural
        self._config_field = config_field  # the JobConfig field that names one
        self._fetch = fetch  # the QoroService method that fills it

    def replace(self, items: Iterable[T]) -> None:
        """Replace the content with ``items``, keyed by name."""
        with self._lock:
            self._items = {item.name: item for item in items}

    def get(self, name: str) -> T:
        """The cached target called ``name``.

        Raises:
            ValueError: the cache is empty, or has no target of that name (a
                :class:`~qiskit_divi.api.errors.QoroInputError` listing the cached ones).
        """
        with self._lock:
            if not self._items:
                raise ValueError(
                    f"{self._label} cache is empty. Call `QoroService.{self._fetch}()` "
                    "to populate it."
                )
            try:
                return self._items[name]
            except KeyError:
                available = ", ".join(sorted(self._items))
                raise QoroInputError(
                    f"{self._kind} with name '{name}' not found in cache. Available "
                    f"{self._plural}: {available}. Use one of these names "
                    f"(JobConfig({self._config_field}=...)); "
                    f"if it was added since, call QoroService.{self._fetch}() first."
                ) from None

    def values(self) -> list[T]:
        """A snapshot list of the cached targets."""
        with self._lock:
            return list(self._items.values())


QPU_SYSTEMS: NamedCache[QPUSystem] = NamedCache(
    "QPUSystem", "QPU systems", "systems", "qpu_system", "fetch_qpu_systems"
)
SIMULATOR_CLUSTERS: NamedCache[SimulatorCluster] = NamedCache(
    "SimulatorCluster",
    "Simulator clusters",
    "clusters",
    "simulator_cluster",
    "fetch_simulator_clusters",
)


def update_qpu_systems_cache(systems: list[QPUSystem]) -> None:
    """Replace the systems cache's content with ``systems``, keyed by name.

    ``"qoro_maestro"`` is stored with ``supports_expval=True`` whatever the input
    says (the reference client's rule); other systems are stored unchanged.
    """
    QPU_SYSTEMS.replace(
        replace(system, supports_expval=True)
        if system.name in EXPVAL_SYSTEM_NAMES and not system.supports_expval
        else system
        for system in systems
    )


def get_qpu_system(name: str) -> QPUSystem:
    """The cached system called ``name`` (``ValueError`` when absent, listing the cached ones)."""
    return QPU_SYSTEMS.get(name)


def get_available_qpu_systems() -> list[QPUSystem]:
    """A snapshot list of the cached systems."""
    return QPU_SYSTEMS.values()


def update_simulator_clusters_cache(clusters: list[SimulatorCluster]) -> None:
    """Replace the cluster cache's content with ``clusters``, keyed by name."""
    SIMULATOR_CLUSTERS.replace(clusters)


def get_simulator_cluster(name: str) -> SimulatorCluster:
    """The cached cluster called ``name`` (``ValueError`` when absent, listing the cached ones)."""
    return SIMULATOR_CLUSTERS.get(name)


def get_available_simulator_clusters() -> list[SimulatorCluster]:
    """A snapshot list of the cached simulator clusters."""
    return SIMULATOR_CLUSTERS.values()
