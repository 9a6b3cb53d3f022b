"""What every benchmark script shares: the seeded workloads, timing, and the JSON lines.

Each script prints one JSON object per line and per figure, with at least
``benchmark``, ``workload``, ``seconds`` and, when the figure has a target, ``ratio``
(or another measured ``value``), ``target`` and ``met``. Pass ``--quick`` (or set
``QISKIT_DIVI_BENCH_QUICK=1``) for small sizes that only check the scripts run.
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SEED = 20260601
"""The seed every workload is generated from (so every run times the same circuits)."""


def quick_mode() -> bool:
    """``--quick`` on the command line or ``QISKIT_DIVI_BENCH_QUICK=1`` in the environment."""
    return "--quick" in sys.argv[1:] or os.environ.get("QISKIT_DIVI_BENCH_QUICK", "") not in (
        "",
        "0",
    )


# --- output ----------------------------------------------------------------------------


def emit(benchmark: str, workload: str, **fields: Any) -> dict[str, Any]:
    """Print one figure as a JSON line (floats rounded for reading) and return it."""
    record = {"benchmark": benchmark, "workload": workload}
    record.update({key: _rounded(value) for key, value in fields.items()})
    print(json.dumps(record), flush=True)
    return record


def figure(
    benchmark: str,
    workload: str,
    *,
    seconds: float,
    baseline_seconds: float,
    target: float,
    higher_is_better: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """Emit a figure compared with a baseline: ``ratio = seconds / baseline_seconds``
    (``baseline_seconds / seconds`` when ``higher_is_better``, i.e. a speed-up)."""
    ratio = baseline_seconds / seconds if higher_is_better else seconds / baseline_seconds
    met = ratio >= target if higher_is_better else ratio <= target
    return emit(
        benchmark,
        workload,
        seconds=seconds,
        baseline_seconds=baseline_seconds,
        ratio=ratio,
        target=target,
        met=met,
        **fields,
    )


def _rounded(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.4g}") if abs(value) < 1e4 else round(value, 1)
    return value


# --- timing ----------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall-clock seconds of one call, and its result.

    The result is returned (kept alive), so freeing it is not part of the time.
    """
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def cpu_timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of this process (all threads) for one call, and its result."""
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def interleaved(
    fns: dict[str, Callable[[], Any]],
    rounds: int,
    setups: dict[str, Callable[[], None]] | None = None,
) -> dict[str, list[float]]:
    """Time several functions in alternation, ``rounds`` times each (a noisy machine
    slows all of them alike); ``setups[name]`` runs, untimed, before each call of ``name``."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            if setups and name in setups:
                setups[name]()
            gc.collect()
            seconds, result = timed(fn)
            del result
            times[name].append(seconds)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- circuits --------------------------------------------------------------------------


def qaoa_maxcut_circuits(
    count: int, num_qubits: int = 12, layers: int = 2, seed: int = SEED
) -> list[Any]:
    """QAOA MaxCut circuits on one random graph (edge probability 0.5), random angles.

    The cost layer is written as ``cx, rz, cx`` per edge, as QAOA circuits arrive
    from divi's QASM export; the mixer is ``rx`` on every qubit.
    """
    from qiskit import QuantumCircuit

    rng = np.random.default_rng(seed)
    edges = [
        (i, j) for i in range(num_qubits) for j in range(i + 1, num_qubits) if rng.random() < 0.5
    ]
    circuits = []
    for k in range(count):
        gammas = rng.uniform(0, 2 * np.pi, layers)
        betas = rng.uniform(0, np.pi, layers)
        qc = QuantumCircuit(num_qubits, name=f"qaoa_{k}")
        qc.h(range(num_qubits))
        for gamma, beta in zip(gammas, betas, strict=True):
            for i, j in edges:
                qc.cx(i, j)
                qc.rz(float(gamma), j)
                qc.cx(i, j)
            for q in range(num_qubits):
                qc.rx(float(2 * beta), q)
        qc.measure_all()
        circuits.append(qc)
    return circuits


def hardware_efficient_circuits(
    count: int, num_qubits: int = 4, layers: int = 2, seed: int = SEED
) -> list[Any]:
    """Hardware-efficient ansatz circuits: per layer ``ry, rz`` on every qubit then a
    ``cx`` chain; random angles."""
    from qiskit import QuantumCircuit

    rng = np.random.default_rng(seed)
    circuits = []
    for k in range(count):
        angles = rng.uniform(0, 2 * np.pi, (layers, num_qubits, 2))
        qc = QuantumCircuit(num_qubits, name=f"hea_{k}")
        for layer in range(layers):
            for q in range(num_qubits):
                qc.ry(float(angles[layer, q, 0]), q)
                qc.rz(float(angles[layer, q, 1]), q)
            for q in range(num_qubits - 1):
                qc.cx(q, q + 1)
        qc.measure_all()
        circuits.append(qc)
    return circuits


def random_layered_circuits(
    count: int, num_qubits: int, depth: int = 10, seed: int = SEED
) -> list[Any]:
    """Random circuits of ``depth`` layers: a random ``rx``/``ry``/``rz`` on every
    qubit, then ``cx`` on a brickwork of neighbouring pairs (alternating offset)."""
    from qiskit import QuantumCircuit

    rng = np.random.default_rng(seed)
    circuits = []
    for k in range(count):
        qc = QuantumCircuit(num_qubits, name=f"random_{k}")
        for layer in range(depth):
            for q in range(num_qubits):
                gate = ("rx", "ry", "rz")[int(rng.integers(3))]
                getattr(qc, gate)(float(rng.uniform(0, 2 * np.pi)), q)
            for q in range(layer % 2, num_qubits - 1, 2):
                qc.cx(q, q + 1)
        qc.measure_all()
        circuits.append(qc)
    return circuits


def qasm_dict(circuits: list[Any]) -> dict[str, str]:
    """``{label: OpenQASM 2}`` as divi's ``submit_circuits`` takes them."""
    from qiskit import qasm2

    return {f"c{i}": qasm2.dumps(circuit) for i, circuit in enumerate(circuits)}


# --- histograms ------------------------------------------------------------------------


def sampled_counts(
    num_bits: int, shots: int, rng: np.random.Generator, concentration: float = 4.0
) -> dict[str, int]:
    """``shots`` samples from a skewed random distribution over ``2**num_bits`` outcomes
    (weights ``Exp(1) ** concentration``: a few heavy outcomes and a long tail of
    singletons, like a variational circuit's output), as a counts dict."""
    weights = rng.exponential(size=2**num_bits) ** concentration
    outcomes = rng.choice(2**num_bits, size=shots, p=weights / weights.sum())
    values, counts = np.unique(outcomes, return_counts=True)
    fmt = f"0{num_bits}b"
    return {format(int(v), fmt): int(c) for v, c in zip(values, counts, strict=True)}


# --- environment -----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Facts a reader needs to compare figures across machines."""
    import platform

    return {"cores": os.cpu_count(), "python": platform.python_version()}
