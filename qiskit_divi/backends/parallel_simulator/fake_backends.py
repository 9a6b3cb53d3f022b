"""The fake IBM backends ``qiskit_backend="auto"`` chooses from, by qubit count (divi v0.6.1).

``qiskit_ibm_runtime`` is imported on first use only: it takes about a second to import.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

from qiskit import QuantumCircuit

FAKE_BACKEND_CLASS_NAMES: dict[int, tuple[str, ...]] = {
    5: ("FakeManilaV2", "FakeBelemV2", "FakeLimaV2", "FakeQuitoV2"),
    7: ("FakeOslo", "FakePerth", "FakeLagosV2", "FakeNairobiV2"),
    15: ("FakeMelbourneV2",),
    16: ("FakeGuadalupeV2",),
    20: ("FakeAlmadenV2", "FakeJohannesburgV2", "FakeSingaporeV2", "FakeBoeblingenV2"),
    27: ("FakeGeneva", "FakePeekskill", "FakeAuckland", "FakeCairoV2"),
}
"""Qubit-count buckets of the fake backends; the last class of a bucket is used."""

_table: dict[int, list[type]] | None = None
_lock = threading.Lock()


def fake_backends() -> dict[int, list[type]]:
    """``{max_qubits: [fake backend classes]}``, importing the fake provider once."""
    global _table
    with _lock:
        if _table is None:
            import qiskit_ibm_runtime.fake_provider as fake_provider

            _table = {
                size: [getattr(fake_provider, name) for name in names]
                for size, names in FAKE_BACKEND_CLASS_NAMES.items()
            }
        return _table


def find_best_fake_backend(circuit: QuantumCircuit) -> list[type] | None:
    """The classes of the smallest bucket that fits ``circuit``, or None above 27 qubits."""
    table = fake_backends()
    sizes = sorted(table)
    pos = bisect.bisect_left(sizes, circuit.num_qubits)
    return table[sizes[pos]] if pos < len(sizes) else None


def no_fake_backend_error(num_qubits: int) -> ValueError:
    return ValueError(
        f"No fake backend available for circuit with {num_qubits} qubits. "
        "Please provide an explicit backend or use a smaller circuit."
    )


def __getattr__(name: str) -> Any:
    """Serve divi's ``FAKE_BACKENDS`` lazily."""
    if name == "FAKE_BACKENDS":
        return fake_backends()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
