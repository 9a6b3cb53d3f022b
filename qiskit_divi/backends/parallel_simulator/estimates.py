"""Run-time estimates of circuits on a backend (divi's ``estimate_run_time_*``)."""

from __future__ import annotations

import heapq
import os
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from qiskit import transpile
from qiskit.converters import circuit_to_dag
from qiskit.dagcircuit import DAGOpNode
from qiskit.providers import Backend
from qiskit.transpiler.exceptions import TranspilerError

from ..._qasm import FROM_QASM_STR, load
from .caches import auto_backend_instance
from .fake_backends import find_best_fake_backend, no_fake_backend_error

PARALLEL_ESTIMATE_THRESHOLD = 64
"""From this many circuits, :func:`estimate_batch` hands them to ``qiskit.utils.parallel_map``
(worker processes when Qiskit's parallel settings allow; smaller batches are estimated
in this process, reusing the cached fake backends)."""


class MissingCircuitsError(TypeError, ValueError):
    """Neither circuits nor precomputed durations were given (a TypeError in divi v0.6.1,
    a ValueError later)."""


def estimate_single_circuit(
    circuit: str, qiskit_backend: Backend | Literal["auto"], **transpilation_kwargs: Any
) -> float:
    """Estimated execution time, in seconds, of one OpenQASM 2 circuit on a backend.

    The circuit is transpiled for the backend (``"auto"``: the fake backend for
    its width) and the backend's instruction durations are summed along the
    DAG path with the most nodes. Instructions without a known duration are
    skipped with a warning (barriers silently).
    """
    qiskit_circuit = load(circuit, dialect=FROM_QASM_STR)
    if isinstance(qiskit_backend, str) and qiskit_backend == "auto":
        classes = find_best_fake_backend(qiskit_circuit)
        if not classes:
            raise no_fake_backend_error(qiskit_circuit.num_qubits)
        backend = auto_backend_instance(classes[-1])
    else:
        backend = qiskit_backend
    transpiled = transpile(qiskit_circuit, backend, **transpilation_kwargs)
    durations = backend.target.durations()
    dag = circuit_to_dag(transpiled)
    total = 0.0
    for node in dag.longest_path():
        if not isinstance(node, DAGOpNode) or not node.num_qubits:
            continue
        try:
            qubits = tuple(dag.find_bit(q).index for q in node.qargs)
            total += durations.get(node.name, qubits, unit="s")
        except TranspilerError:
            if node.name != "barrier":
                warnings.warn(f"Instruction duration not found: {node.name}", stacklevel=3)
    return total


def estimate_auto(circuit: str, **transpilation_kwargs: Any) -> float:
    """:func:`estimate_single_circuit` on ``"auto"`` (a picklable task for worker processes)."""
    return estimate_single_circuit(circuit, "auto", **transpilation_kwargs)


def estimate_batch(
    circuits: Sequence[str] | None = None,
    precomputed_durations: Sequence[float] | None = None,
    n_qpus: int = 5,
    **transpilation_kwargs: Any,
) -> float:
    """Estimated time, in seconds, to run a batch of circuits on ``n_qpus`` QPUs.

    Durations are ``precomputed_durations`` if given, else estimated per circuit
    with ``qiskit_backend="auto"``. They are scheduled longest first on the
    least loaded QPU (LPT) and the makespan is returned; with at least as many
    QPUs as circuits, the longest duration (0.0 for none).

    Raises:
        TypeError: neither ``circuits`` nor ``precomputed_durations`` given (the
            exception is also a ``ValueError``).
        IndexError: ``n_qpus <= 0`` with durations to schedule.
    """
    if precomputed_durations is not None:
        durations = list(precomputed_durations)
    elif circuits is None:
        raise MissingCircuitsError("Provide either circuits or precomputed_durations.")
    else:
        durations = _estimate_all(list(circuits), transpilation_kwargs)
    durations.sort(reverse=True)
    if n_qpus >= len(durations):
        return float(durations[0]) if durations else 0.0
    finish_times = [0.0] * n_qpus
    for duration in durations:
        heapq.heappush(finish_times, heapq.heappop(finish_times) + duration)
    return max(finish_times)


def _estimate_all(circuits: list[str], transpilation_kwargs: dict[str, Any]) -> list[float]:
    if len(circuits) >= PARALLEL_ESTIMATE_THRESHOLD and (os.cpu_count() or 1) > 1:
        from qiskit.utils import parallel_map

        return list(parallel_map(estimate_auto, circuits, task_kwargs=transpilation_kwargs))
    return [estimate_auto(circuit, **transpilation_kwargs) for circuit in circuits]
