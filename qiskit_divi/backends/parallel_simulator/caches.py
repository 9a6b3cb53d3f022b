"""Process-wide caches: fake backends, their simulators, prepared circuits, parsed shapes.

The ``"auto"`` fake backends and their simulators live for the life of the process, and
so do the circuits prepared (parsed, and transpiled if needed) for the noiseless and
``"auto"`` simulators, keyed by their QASM text (up to :data:`PREPARED_PER_SIMULATOR`
per simulator). Simulators built from a user's backend or noise model are not cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from qiskit import QuantumCircuit, transpile
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator

from ..._qasm import FROM_QASM_STR, ShapeParser, load
from .internals import InitStage

PREPARED_PER_SIMULATOR = 4096
"""How many prepared circuits each simulator keeps (least recently used dropped)."""
MAX_AUTO_SIMULATORS = 8
"""How many fake backends (and their simulators) stay cached."""

_V = TypeVar("_V")


@dataclass
class Prepared:
    """A circuit ready to run, and how it was obtained.

    ``probe_qubits`` is set when the circuit was not transpiled and still needs the
    run-time proof that transpilation would not have made it a Clifford circuit;
    ``circuit`` then carries a ``SaveProbabilities`` on those qubits.
    """

    circuit: QuantumCircuit
    probe_qubits: tuple[int, ...] | None = None


@dataclass
class PreparationStats:
    """What a simulator's preparation has cost so far (for tests and benchmarks)."""

    transpile_calls: int = 0
    circuits_transpiled: int = 0


class SimulatorEntry:
    """A simulator plus what is learnt about it: prepared circuits and gate support."""

    def __init__(self, simulator: Any, *, noiseless: bool):
        self.simulator = simulator
        self.noiseless = noiseless
        self.stats = PreparationStats()
        self._prepared: OrderedDict[tuple[bool, int | None, str], Prepared] = OrderedDict()
        self._lock = threading.Lock()
        self._native: tuple[frozenset[str], int] | None = None
        self._init_stage = InitStage(simulator)

    def native_support(self) -> tuple[frozenset[str], int] | None:
        """(operation names, number of qubits) of a genuine Aer simulator's target, else None."""
        if self._native is None:
            if not isinstance(self.simulator, AerSimulator):
                return None
            target = self.simulator.target
            if not isinstance(target, Target):
                return None
            self._native = (frozenset(target.operation_names), target.num_qubits or 0)
        return self._native

    def init_stage_permutes(self, circuit: QuantumCircuit) -> bool:
        """Whether the ``init`` stage of ``transpile(circuit, self.simulator)`` relabels qubits."""
        return self._init_stage.permutes(circuit)

    def transpile(
        self, circuits: Sequence[QuantumCircuit], seed: int | None
    ) -> list[QuantumCircuit]:
        """``circuits`` transpiled for the simulator: serially (a process pool costs more in
        pickling than these transpilations), and seeded with ``seed`` when set, so that
        the stochastic layout passes give the same circuits, hence counts, on every run."""
        options: dict[str, Any] = {"num_processes": 1}
        if seed is not None:
            options["seed_transpiler"] = seed
        with self._lock:
            self.stats.transpile_calls += 1
            self.stats.circuits_transpiled += len(circuits)
        transpiled = transpile(list(circuits), self.simulator, **options)
        return [transpiled] if isinstance(transpiled, QuantumCircuit) else list(transpiled)

    def get(self, qasm: str, seed: int | None, *, skip: bool = True) -> Prepared | None:
        """The circuit prepared for ``qasm`` under this seed and transpile-skip setting."""
        key = (skip, seed, qasm)
        with self._lock:
            prepared = self._prepared.get(key)
            if prepared is not None:
                self._prepared.move_to_end(key)
            return prepared

    def put(self, qasm: str, seed: int | None, prepared: Prepared, *, skip: bool = True) -> None:
        key = (skip, seed, qasm)
        with self._lock:
            self._prepared[key] = prepared
            self._prepared.move_to_end(key)
            while len(self._prepared) > PREPARED_PER_SIMULATOR:
                self._prepared.popitem(last=False)

    def forget_prepared(self) -> None:
        with self._lock:
            self._prepared.clear()


_cache_lock = threading.RLock()
_auto_backends: OrderedDict[Hashable, Any] = OrderedDict()
_auto_simulators: OrderedDict[Hashable, SimulatorEntry] = OrderedDict()
_noiseless_simulators: OrderedDict[Hashable, SimulatorEntry] = OrderedDict()

shapes = ShapeParser(lambda qasm: load(qasm, dialect=FROM_QASM_STR), max_shapes=256)
"""Texts are parsed once per shape (see :mod:`qiskit_divi._qasm.shapes`): a circuit that
differs from an earlier one only in its angles is the earlier parse with its angles
bound, which equals its own parse (the shape parser proves it per shape)."""


def _lru_get(
    cache: OrderedDict[Hashable, _V], key: Hashable, build: Callable[[], _V], limit: int
) -> _V:
    with _cache_lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = build()
    with _cache_lock:
        value = cache.setdefault(key, value)
        cache.move_to_end(key)
        while len(cache) > limit:
            cache.popitem(last=False)
    return value


def auto_backend_instance(backend_class: type) -> Any:
    """One shared instance per fake-backend class (its calibration is loaded once)."""

    def build() -> Any:
        backend = backend_class()
        getattr(backend, "target", None)  # fake backends load their calibration lazily
        return backend

    return _lru_get(_auto_backends, backend_class, build, MAX_AUTO_SIMULATORS)


def noiseless_entry() -> SimulatorEntry:
    """The shared noiseless ``AerSimulator()``."""
    return _lru_get(
        _noiseless_simulators,
        "noiseless",
        lambda: SimulatorEntry(AerSimulator(noise_model=None), noiseless=True),
        MAX_AUTO_SIMULATORS,
    )


def auto_entry(backend_class: type) -> SimulatorEntry:
    """The shared ``AerSimulator.from_backend`` simulator of one fake-backend class."""
    return _lru_get(
        _auto_simulators,
        backend_class,
        lambda: SimulatorEntry(
            AerSimulator.from_backend(auto_backend_instance(backend_class)), noiseless=False
        ),
        MAX_AUTO_SIMULATORS,
    )


def clear() -> None:
    """Forget every cached backend, simulator, prepared circuit and parsed shape."""
    with _cache_lock:
        _auto_backends.clear()
        _auto_simulators.clear()
        _noiseless_simulators.clear()
    shapes.clear()


def forget_prepared_circuits() -> None:
    """Forget the prepared circuits but keep simulators and parsed shapes: the state a
    sweep's next iteration (same circuits, new angles) finds."""
    with _cache_lock:
        entries = [*_auto_simulators.values(), *_noiseless_simulators.values()]
    for entry in entries:
        entry.forget_prepared()
