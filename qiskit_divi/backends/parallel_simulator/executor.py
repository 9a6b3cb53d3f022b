"""Running a batch in one Aer call, or as sub-batches, locally or on an executor's workers.

A sub-batch starting at ``offset`` runs with its seed moved by ``offset`` times Aer's
seed stride, so every circuit draws what it would have drawn in the whole batch: the
counts do not depend on how the batch is split or where the parts run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qiskit import QuantumCircuit

from ...api.errors import QoroError
from ...progress import Display
from .internals import all_counts, executor_workers, experiment_seed, sub_batch_seed
from .transpile_skip import probe_passed

logger = logging.getLogger(__name__)


class ParallelSimulatorExecutorError(QoroError, RuntimeError):
    """A sub-batch failed on the executor; no partial results are returned."""


@dataclass
class BatchOutcome:
    """What a (sub-)batch run returns: small and picklable, whatever ran it.

    ``suspect_seeds`` maps each probed circuit whose probe looked like a stabilizer
    state to the seed Aer gave it, so that it can be rerun transpiled.
    """

    counts: list[dict[str, int]]
    suspect_seeds: dict[int, int]
    metadata: Any


def run_batch(
    simulator: Any,
    circuits: list[QuantumCircuit],
    shots: int,
    options: dict[str, Any],
    probed: Sequence[int],
) -> BatchOutcome:
    """Run ``circuits`` in one Aer call; ``probed`` lists the indices carrying a probe."""
    result = simulator.run(circuits, shots=shots, **options).result()
    suspects = {i: experiment_seed(result, i) for i in probed if not probe_passed(result, i)}
    return BatchOutcome(all_counts(result, len(circuits)), suspects, result.metadata)


@dataclass(frozen=True)
class SubBatches:
    """How a batch is split: ``size`` circuits per part, run on ``executor`` if any."""

    executor: Any | None
    size: int | None
    seed_stride: int


def run_sub_batches(
    simulator: Any,
    circuits: list[QuantumCircuit],
    shots: int,
    options: dict[str, Any],
    probed: list[int],
    split: SubBatches,
    display: Display | None = None,
) -> BatchOutcome:
    """Split the batch, run the parts (on the executor if any) and join them in order;
    ``display`` counts the parts done (as they finish, in any order)."""
    size = split.size
    if size is None:
        size = -(-len(circuits) // executor_workers(split.executor))
    starts = range(0, len(circuits), size)
    calls = []
    for start in starts:
        part_options = dict(options)
        if "seed_simulator" in options:
            part_options["seed_simulator"] = sub_batch_seed(
                options["seed_simulator"], start, split.seed_stride
            )
        part_probed = [i - start for i in probed if start <= i < start + size]
        calls.append((simulator, circuits[start : start + size], shots, part_options, part_probed))
    logger.debug(
        "Running %d circuits as %d sub-batches of at most %d", len(circuits), len(calls), size
    )
    if display is not None:
        display.set_total(len(calls), "sub-batches")
    if split.executor is None:
        parts = []
        for call in calls:
            parts.append(run_batch(*call))
            if display is not None:
                display.advance()
    else:
        futures = [split.executor.submit(run_batch, *call) for call in calls]
        if display is not None:
            _count_when_done(futures, display)
        parts = gather(futures, list(starts), size)
        if display is not None:  # done callbacks may still be on their way
            display.update(done=len(calls))
    counts: list[dict[str, int]] = []
    suspect_seeds: dict[int, int] = {}
    for start, part in zip(starts, parts, strict=True):
        counts.extend(part.counts)
        suspect_seeds.update({start + i: seed for i, seed in part.suspect_seeds.items()})
    metadata = {
        "parallel_experiments": max(part.metadata.get("parallel_experiments", 1) for part in parts),
        "omp_nested": any(part.metadata.get("omp_nested", False) for part in parts),
    }
    return BatchOutcome(counts, suspect_seeds, metadata)


def _count_when_done(futures: list[Any], display: Display) -> None:
    """Advance ``display`` once as each future finishes (Dask and concurrent.futures call
    done callbacks from their own threads; the display is thread-safe). Some Dask versions
    call a future's callback more than once, so each future counts only the first time."""
    finished: set[int] = set()
    lock = threading.Lock()

    def count(index: int) -> None:
        with lock:
            if index in finished:
                return
            finished.add(index)
        display.advance()

    for index, future in enumerate(futures):
        add_done_callback = getattr(future, "add_done_callback", None)
        if callable(add_done_callback):
            add_done_callback(lambda _future, index=index: count(index))


def gather(futures: list[Any], starts: list[int], size: int) -> list[BatchOutcome]:
    """Every sub-batch's outcome, in order; the first failure cancels the rest and raises."""
    parts = []
    for index, future in enumerate(futures):
        try:
            parts.append(future.result())
        except BaseException as exc:
            for pending in futures[index + 1 :]:
                pending.cancel()
            first = starts[index]
            raise ParallelSimulatorExecutorError(
                f"Sub-batch {index + 1} of {len(futures)} (circuits {first} to "
                f"{first + size - 1}) failed on the executor: {type(exc).__name__}: {exc}. "
                "No results were returned; check the workers (logs, memory) and submit the "
                "circuits again."
            ) from exc
    return parts
