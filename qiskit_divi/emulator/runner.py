"""The worker's job runner: a job's circuits as worker tasks, their rows in submission order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qiskit_divi.api.models import JobType

from .state import Job, Runner
from .systems import SystemCatalogue, shot_batches
from .worker import ProcessRunner, Task, execute


def make_runner(
    catalogue: SystemCatalogue, seed: int | None, process: ProcessRunner | None = None
) -> Runner:
    """The worker's job runner: one result payload per circuit, in submission order; in
    ``process`` when given (:mod:`.worker`), else in the calling thread.

    A sampling job whose circuits take different shots (``shot_groups``) runs as one task
    per shots value, each circuit sampled with its own shots, each task with its own seed range
    when the emulator is seeded (tasks must not share a random stream); a job of one shots
    value (the usual case) stays one batched task.
    """

    def run_task(task: Task, abandoned: Callable[[], bool]) -> list[Any]:
        if process is not None:
            return process.run(task, abandoned)
        return execute(catalogue, seed, task)

    def run(job: Job, abandoned: Callable[[], bool]) -> list[Any]:
        assert job.system is not None
        circuits = list(job.circuits)
        observables = None if job.observables is None else list(job.observables)
        batches = (
            shot_batches(job.circuit_shots)
            if job.job_type is not JobType.EXPECTATION and job.circuit_shots
            else [(job.shots, list(range(len(circuits))))]
        )
        if len(batches) == 1:
            shots = batches[0][0]
            return run_task(Task(job.job_type, job.system, circuits, shots, observables), abandoned)
        rows: list[Any] = [None] * len(circuits)
        for k, (shots, positions) in enumerate(batches):
            chosen = [circuits[i] for i in positions]
            task = Task(job.job_type, job.system, chosen, shots, None, k * len(circuits))
            for position, row in zip(positions, run_task(task, abandoned), strict=True):
                rows[position] = row
        return rows

    return run
