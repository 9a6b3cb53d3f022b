"""Job store and the background worker that runs finalised jobs.

Lifecycle (``qoro-api.md`` section 4.3)::

    init -> PENDING (open) -> finalised: PENDING (queued) -> SCHEDULED -> RUNNING
         -> COMPLETED | FAILED | TIMED_OUT
    finalised, over the credit balance -> INSUFFICIENT_CREDITS (never runs)
    any non-final state -- cancel --> CANCELLED

The worker simulates one job at a time. Reported statuses follow the clock, lazily
(switched when the job is next looked at, so short jobs never hold the worker back):
with ``a = min_job_seconds`` and the worker having taken the job, it reads PENDING for
the first ``a/3`` after finalisation, SCHEDULED for the next ``a/3`` (at least ``a/3``
from when the worker took it), then RUNNING, and its outcome no earlier than ``a`` after
finalisation. PAUSED is never reported. ``report_scheduled=False`` skips SCHEDULED (RUNNING
as soon as the worker takes the job), for clients that know only the v0.6.1 statuses.

Credits (:mod:`.accounts`): finalising reserves the job's cost; a job over the balance
ends INSUFFICIENT_CREDITS at once; a job is charged when it is reported COMPLETED.
Deadlines: a job whose simulation runs longer than its limit (``max_job_seconds``, or its
own ``max_execution_time``) ends TIMED_OUT; the runner stops it (:class:`RunControl`).

State is bounded: at most ``max_open_jobs_per_owner`` open (not finalised) jobs per
token and ``max_jobs`` jobs in all; terminal jobs are evicted ``retention_seconds``
after they ended (the oldest first when ``max_jobs`` is reached). Over a limit,
:meth:`JobStore.create` raises :class:`StoreFull`.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qiskit_divi.api.models import JobStatus, JobType

from .accounts import Accounts, job_cost
from .circuits import JobCircuit

logger = logging.getLogger(__name__)

SAMPLING_TYPES = frozenset({JobType.SIMULATE, JobType.EXECUTE, JobType.CIRCUIT_CUT})


def owner_hash(token: str) -> str:
    """A stable, non-reversible owner id for a token (never store or print the token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


@dataclass
class Job:
    """One job, as the server keeps it. Mutated only under the store's lock."""

    id: str
    owner: str
    tag: str
    job_type: JobType
    system: str | None
    created_at: float
    status: JobStatus = JobStatus.PENDING
    finalized: bool = False
    finalized_at: float | None = None
    labels: list[str] = field(default_factory=list)
    circuits: list[JobCircuit] = field(default_factory=list, repr=False)
    shots: int | None = None
    """The job's shots when its chunks send ``shots`` (None with ``shot_groups``)."""
    circuit_shots: list[int] = field(default_factory=list, repr=False)
    """Each circuit's shots (sampling jobs), from ``shots`` or ``shot_groups``."""
    observables: list[str] | None = None
    results: list[dict[str, Any]] | None = field(default=None, repr=False)
    reason: str | None = None
    # Outcome computed by the worker, reported once ``terminal_at`` has passed.
    outcome: JobStatus | None = None
    terminal_at: float | None = None
    ended_at: float | None = None
    """When the job became terminal (its retention starts then)."""
    max_qubits: int = 0
    max_clbits: int = 0
    """Widest circuit so far (for the memory estimate of ``add_circuits``)."""
    cluster: str | None = None
    """The simulator cluster the job was sent to (it runs on ``system``), if any."""
    max_execution_time: float | None = None
    """The job's own deadline in seconds (``api_meta.max_execution_time``), if any."""
    picked_at: float | None = None
    """When the worker took the job (None while it waits in the queue)."""
    run_time: float | None = None
    """Seconds the job simulated (reported by ``status/`` once COMPLETED)."""

    @property
    def is_open(self) -> bool:
        """Not finalised and not terminal: it still takes circuits."""
        return not self.finalized and self.status is JobStatus.PENDING

    @property
    def n_circuits(self) -> int:
        return len(self.labels)

    @property
    def total_shots(self) -> int:
        """Shots over all circuits (what sampling jobs are charged for)."""
        if self.circuit_shots:  # per circuit, from ``shots`` or ``shot_groups``
            return sum(self.circuit_shots)
        return (self.shots or 0) * self.n_circuits


@dataclass(frozen=True)
class JobSnapshot:
    """A read-only view of a job for tests and logs (the owner is a token hash)."""

    id: str
    status: str
    tag: str
    job_type: str
    system: str | None
    n_circuits: int
    finalized: bool
    owner: str
    reason: str | None = None
    cluster: str | None = None
    run_time: float | None = None


Runner = Callable[[Job, Callable[[], bool]], list[dict[str, Any]]]
"""Computes the result rows' payloads of a job, in submission order; may raise. The second
argument (a :class:`RunControl`) tells whether the job was cancelled or deleted meanwhile
(the runner may then stop early by raising :class:`JobAbandoned`)."""

RETRY_AFTER_SECONDS = 1
"""``Retry-After`` of the 429 answered when a job limit is reached."""


class JobAbandoned(Exception):
    """The job was cancelled or deleted while it ran; its outcome is dropped."""


class JobTimedOut(JobAbandoned):
    """The job simulated past its deadline: the runner stopped it as for an abandoned job,
    and the job ends TIMED_OUT."""


class RunControl:
    """The second argument of a :data:`Runner`: call it to learn whether the job was
    abandoned. A runner that can stop a job midway also calls :meth:`start` when the
    simulation itself begins (after any process start-up) and :meth:`check` while it waits,
    which raises :class:`JobTimedOut` past ``limit`` seconds."""

    def __init__(
        self,
        abandoned: Callable[[], bool],
        limit: float | None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self._abandoned = abandoned
        self.limit = limit
        self._clock = clock
        self._called_at = clock()
        self._started_at: float | None = None

    def __call__(self) -> bool:
        return self._abandoned()

    def start(self) -> None:
        """The simulation begins now (the first call counts)."""
        if self._started_at is None:
            self._started_at = self._clock()

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`start` (since the runner was called, if never started)."""
        since = self._started_at if self._started_at is not None else self._called_at
        return self._clock() - since

    @property
    def expired(self) -> bool:
        return self.limit is not None and self.elapsed > self.limit

    def check(self) -> None:
        """Raise :class:`JobTimedOut` once the job has simulated longer than ``limit``."""
        if self.expired:
            raise JobTimedOut


class StoreFull(Exception):
    """A job limit is reached; ``str(exc)`` says which and what to do."""

    retry_after = RETRY_AFTER_SECONDS


class JobStore:
    """Thread-safe jobs by id, plus a worker thread running finalised jobs."""

    def __init__(
        self,
        runner: Runner,
        *,
        min_job_seconds: float,
        queue_delay_seconds: float = 0.0,
        on_queue_delay: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_open_jobs_per_owner: int = 1000,
        max_jobs: int = 10_000,
        retention_seconds: float = 86_400.0,
        on_stop: Callable[[], None] | None = None,
        accounts: Accounts | None = None,
        max_job_seconds: float | None = None,
        report_scheduled: bool = True,
    ):
        self._runner = runner
        self.accounts = accounts if accounts is not None else Accounts(None)
        self._max_job_seconds = max_job_seconds
        self._report_scheduled = report_scheduled
        self.jobs_timed_out = 0
        self.jobs_refused_for_credits = 0
        self._max_open = max_open_jobs_per_owner
        self._max_jobs = max_jobs
        self._retention = retention_seconds
        self._on_stop = on_stop
        self._open_by_owner: dict[str, int] = {}
        self._next_sweep = 0.0
        self._min_job_seconds = min_job_seconds
        self._queue_delay = queue_delay_seconds
        self._on_queue_delay = on_queue_delay
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._queue: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.jobs_created = 0
        self.simulation_seconds = 0.0
        """Time the worker has spent in the runner (simulating), summed over jobs."""

    # --- worker -------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=self._work, name="qoro-emulator-worker", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
            thread = self._thread
        if self._on_stop is not None:
            self._on_stop()  # abandons a running job, so the join below is short
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._wake:
                job = self._next_job()
                if job is None:
                    return
                job.picked_at = self._clock()
                self._refresh(job)
                limit = self._deadline(job)
                logger.debug(
                    "Job %s running (%d circuits on %s).", job.id, job.n_circuits, job.system
                )
            started = time.perf_counter()
            control = RunControl(functools.partial(self._abandoned, job), limit)
            run_time: float | None = None
            try:
                rows = self._runner(job, control)
                run_time = control.elapsed
                # A runner that cannot stop midway (in-process) is judged when it returns.
                control.check()
                outcome, reason = JobStatus.COMPLETED, None
            except JobTimedOut:
                rows, outcome = None, JobStatus.TIMED_OUT
                reason = (
                    f"The job simulated for more than its {limit:g} s execution limit "
                    "(EmulatorConfig.max_job_seconds, --max-job-seconds, or the job's "
                    "api_meta.max_execution_time) and was stopped."
                )
            except JobAbandoned:
                with self._wake:
                    self.simulation_seconds += time.perf_counter() - started
                continue
            except Exception as exc:  # any simulation error fails the job, not the worker
                logger.info(
                    "Job %s failed: %s", job.id, exc, exc_info=logger.isEnabledFor(logging.DEBUG)
                )
                rows, outcome = None, JobStatus.FAILED
                reason = f"{type(exc).__name__}: {exc}"[:1000]
            with self._wake:
                self.simulation_seconds += time.perf_counter() - started
                if self._jobs.get(job.id) is not job or job.status.is_final:
                    continue  # deleted or cancelled meanwhile: drop the outcome
                if outcome is JobStatus.TIMED_OUT:
                    self.jobs_timed_out += 1
                job.results = rows
                job.reason = reason
                job.outcome = outcome
                job.run_time = run_time if outcome is JobStatus.COMPLETED else None
                job.terminal_at = max(
                    self._clock(),
                    (job.finalized_at or 0.0) + self._min_job_seconds,
                    self._phases(job)[1],
                )
                self._refresh(job)
                logger.info("Job %s %s.", job.id, outcome.value.lower())

    def _deadline(self, job: Job) -> float | None:
        """The job's execution limit: the smaller of the server's and the job's own."""
        limits = [x for x in (self._max_job_seconds, job.max_execution_time) if x is not None]
        return min(limits) if limits else None

    def _phases(self, job: Job) -> tuple[float, float]:
        """When a taken job is first reported SCHEDULED, and then RUNNING."""
        assert job.picked_at is not None
        third = self._min_job_seconds / 3 if self._report_scheduled else 0.0
        scheduled = max(job.picked_at, (job.finalized_at or 0.0) + third)
        return scheduled, scheduled + third

    def _abandoned(self, job: Job) -> bool:
        # Read without the lock: a stale answer only delays the abandoning by one poll.
        return self._stopping or (self._jobs.get(job.id) is not job or job.status.is_final)

    def _next_job(self) -> Job | None:
        """Block (lock held) until a queued job is due; None when stopping."""
        while not self._stopping:
            if not self._queue:
                self._wake.wait()
                continue
            ready_at, _, job_id = self._queue[0]
            delay = ready_at - self._clock()
            if delay > 0:
                self._wake.wait(delay)
                continue
            heapq.heappop(self._queue)
            job = self._jobs.get(job_id)
            if (
                job is not None
                and job.status is JobStatus.PENDING
                and job.finalized
                and job.picked_at is None
            ):
                return job
        return None

    # --- jobs ---------------------------------------------------------------------

    def create(
        self,
        *,
        owner: str,
        tag: str,
        job_type: JobType,
        system: str | None,
        failed_reason: str | None = None,
        cluster: str | None = None,
        max_execution_time: float | None = None,
    ) -> Job:
        job = Job(
            id=str(uuid.uuid4()),
            owner=owner,
            tag=tag,
            job_type=job_type,
            system=system,
            created_at=self._clock(),
            cluster=cluster,
            max_execution_time=max_execution_time,
        )
        if failed_reason is not None:
            job.status, job.reason, job.finalized = JobStatus.FAILED, failed_reason, True
            job.ended_at = job.created_at
        with self._lock:
            if failed_reason is None and self._open_by_owner.get(owner, 0) >= self._max_open:
                raise StoreFull(
                    f"This token has {self._max_open} open (not finalised) jobs, the emulator's "
                    "limit (EmulatorConfig.max_open_jobs_per_token, --max-open-jobs); finalise, "
                    "cancel or delete some before creating more."
                )
            self._make_room(job.created_at)
            self._jobs[job.id] = job
            if job.is_open:
                self._open_by_owner[owner] = self._open_by_owner.get(owner, 0) + 1
            self.jobs_created += 1
        logger.info("Job %s created (%s on %s, tag %r).", job.id, job_type.value, system, tag)
        return job

    def _make_room(self, now: float) -> None:
        """Evict terminal jobs past their retention (swept at most once a second) and, at
        ``max_jobs``, the longest-ended ones; :class:`StoreFull` if none can go (lock held)."""
        if now < self._next_sweep and len(self._jobs) < self._max_jobs:
            return
        self._next_sweep = now + min(1.0, self._retention)
        ended: list[tuple[float, str]] = []
        for job in list(self._jobs.values()):
            self._refresh(job)
            if job.ended_at is None:
                continue
            if now - job.ended_at >= self._retention:
                del self._jobs[job.id]
            else:
                ended.append((job.ended_at, job.id))
        excess = len(self._jobs) - self._max_jobs + 1
        if excess > 0:
            for _, job_id in heapq.nsmallest(excess, ended):
                del self._jobs[job_id]
        # (Evicted jobs are terminal: their reservations were charged or released.)
        if len(self._jobs) >= self._max_jobs:
            raise StoreFull(
                f"The emulator holds {self._max_jobs} unfinished jobs, its limit "
                "(EmulatorConfig.max_jobs, --max-jobs); retry once some have finished, or "
                "cancel or delete jobs."
            )

    def _close(self, job: Job) -> None:
        """Count ``job`` as no longer open (lock held; call before changing it)."""
        if job.is_open:
            left = self._open_by_owner.get(job.owner, 1) - 1
            if left > 0:
                self._open_by_owner[job.owner] = left
            else:
                self._open_by_owner.pop(job.owner, None)

    def get(self, job_id: str) -> Job | None:
        """The job with its status brought up to date, or None."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._refresh(job)
            return job

    def _refresh(self, job: Job) -> None:
        """Bring the reported status up to the clock (lock held); see the module docstring."""
        if job.status.is_final or job.picked_at is None:
            return
        now = self._clock()
        if job.outcome is not None and job.terminal_at is not None and now >= job.terminal_at:
            job.status = job.outcome
            job.ended_at = job.terminal_at
            if job.outcome is JobStatus.COMPLETED:
                self.accounts.charge(job.owner, job.id)
            else:
                self.accounts.release(job.owner, job.id)
            return
        scheduled, running = self._phases(job)
        if now >= running:
            job.status = JobStatus.RUNNING
        elif now >= scheduled:
            job.status = JobStatus.SCHEDULED

    def finalize(self, job: Job) -> None:
        """Mark a job finalised and queue it (re-entrant: callers may hold :attr:`lock`)."""
        with self._wake:
            now = self._clock()
            self._close(job)
            job.finalized = True
            job.finalized_at = now
            cost = job_cost(
                expectation=job.job_type is JobType.EXPECTATION,
                n_circuits=job.n_circuits,
                total_shots=job.total_shots,
                n_terms=len(job.observables or ()),
            )
            available = self.accounts.reserve(job.owner, job.id, cost)
            if available is not None:
                job.status, job.ended_at = JobStatus.INSUFFICIENT_CREDITS, now
                # A fact, like a server's reason; what to do is the client's to say.
                job.reason = (
                    f"The job costs {cost} credits; the account has {available} available "
                    "(emulator: --credits, EmulatorConfig.credits)."
                )
                self.jobs_refused_for_credits += 1
                logger.info("Job %s: insufficient credits (%s > %s).", job.id, cost, available)
                return
            delay = self._queue_delay
            if delay and self._on_queue_delay is not None:
                self._on_queue_delay()
            heapq.heappush(self._queue, (now + delay, next(self._seq), job.id))
            self._wake.notify_all()

    def cancel(self, job: Job) -> bool:
        """Cancel a PENDING or RUNNING job; False if it is already terminal."""
        with self._lock:
            self._refresh(job)
            if job.status.is_final:
                return False
            self._close(job)
            job.status = JobStatus.CANCELLED
            job.ended_at = self._clock()
            job.results = None
            self.accounts.release(job.owner, job.id)
            logger.info("Job %s cancelled.", job.id)
            return True

    def delete(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is not None:
                self._close(job)
                self.accounts.release(job.owner, job.id)
        if job is not None:
            logger.info("Job %s deleted.", job_id)
        return job is not None

    @property
    def lock(self) -> threading.RLock:
        """Hold it to read or change several fields of a job consistently."""
        return self._lock

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def snapshot(self) -> dict[str, JobSnapshot]:
        with self._lock:
            out = {}
            for job in self._jobs.values():
                self._refresh(job)
                out[job.id] = JobSnapshot(
                    id=job.id,
                    status=job.status.value,
                    tag=job.tag,
                    job_type=job.job_type.value,
                    system=job.system,
                    n_circuits=job.n_circuits,
                    finalized=job.finalized,
                    owner=job.owner,
                    reason=job.reason,
                    cluster=job.cluster,
                    run_time=job.run_time,
                )
            return out
