"""``QoroPrimitiveJob``: the job of a :class:`SamplerV2` / :class:`EstimatorV2` call.

One primitive call usually is ONE Qoro job. The wire protocol has a single
``shots`` value and a single ``observables`` string per job, so a call whose
PUBs need different shots (or, for EXPECTATION jobs, circuits of different
widths) becomes one Qoro job per distinct value. The primitive job wraps them
all; its ``job_id()`` is the id of the first one, and every constituent id is
journaled so that :meth:`QoroProvider.retrieve_job` given *any* of them
rebuilds the whole call.

Status of a multi-job call: ERROR if any Qoro job failed (FAILED, INSUFFICIENT_CREDITS,
TIMED_OUT), else CANCELLED if any was cancelled, else DONE when all are done, else RUNNING
if any runs (or PAUSED, or reports an unknown status), else QUEUED (PENDING, SCHEDULED).
``result()`` raises the error of the first Qoro job that did not complete
(:mod:`qiskit_divi.api.job_errors`). The result's metadata hold ``run_times`` (the
``run_time`` the server reported for each Qoro job, in seconds, in ``job_ids`` order; None
where it reported none) and ``run_time`` (the sum of those reported; None when none was).

The journal payload (kind ``sampler`` / ``estimator``) is written under the first id,
a pointer to it under the others; :mod:`.payloads` describes both. The API token is
never journaled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from qiskit.primitives import BasePrimitiveJob, PrimitiveResult
from qiskit.providers import JobStatus

from ..api.errors import QoroError, QoroJobError
from ..api.job_errors import ensure_completed
from ..api.submission import JobSpec, discard_job, fetch_results, submit_job
from ..exceptions import JournalError
from ..job import QoroJob, QoroJobTimeoutError
from ..journal import JournalEntry, record_quietly
from .payloads import (
    PointerPayload,
    QoroJobRef,
    UnknownPayloadFormatError,
    primary_of,
)

if TYPE_CHECKING:
    from ..backend import QoroBackend
    from ..provider import QoroProvider

logger = logging.getLogger(__name__)

_FINAL = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED})

RawResults = Sequence[Mapping[str, Mapping[str, Any]]]
"""The decoded results of each Qoro job of a call, by circuit label, in job order."""


class CallPayload(Protocol):
    """What :class:`QoroPrimitiveJob` needs of a payload (:mod:`.payloads`)."""

    @property
    def jobs(self) -> tuple[QoroJobRef, ...]: ...

    def labels(self) -> list[list[str]]: ...

    def to_json(self) -> dict[str, Any]: ...


PayloadT = TypeVar("PayloadT", bound=CallPayload)


class ResultCodec(Protocol[PayloadT]):
    """Reads one primitive's journal payload and turns it, with the raw results of its Qoro
    jobs, into a ``PrimitiveResult``."""

    @property
    def kind(self) -> str:
        """The journal kind (``"sampler"`` / ``"estimator"``)."""
        ...

    def read(self, data: Mapping[str, Any]) -> PayloadT:
        """The payload of a journal entry (raises ``JournalError``)."""
        ...

    def decode(
        self, payload: PayloadT, raw: RawResults, circuit_metadata: Sequence[Any] | None
    ) -> PrimitiveResult:
        """The result; ``raw[k]`` holds the decoded results of job ``k`` by label."""
        ...


def combine_status(statuses: Sequence[JobStatus]) -> JobStatus:
    """The status of a call from its Qoro jobs' statuses (see the module docstring)."""
    for status in (JobStatus.ERROR, JobStatus.CANCELLED):
        if status in statuses:
            return status
    if all(s is JobStatus.DONE for s in statuses):
        return JobStatus.DONE
    if any(s in (JobStatus.RUNNING, JobStatus.DONE) for s in statuses):
        return JobStatus.RUNNING
    return JobStatus.QUEUED


class QoroPrimitiveJob(BasePrimitiveJob[PrimitiveResult, JobStatus]):
    """A primitive call on Qoro: one or more Qoro jobs, one ``PrimitiveResult``.

    Built by ``SamplerV2.run`` / ``EstimatorV2.run`` (already submitted) or by
    :meth:`QoroProvider.retrieve_job`. ``status()`` reports, ``result()`` raises.
    """

    def __init__(
        self,
        provider: QoroProvider,
        codec: ResultCodec[Any],
        payload: CallPayload,
        *,
        backend: QoroBackend | None,
        backend_name: str,
        progress: bool = True,
        timeout: float | None = None,
        circuit_metadata: Sequence[Any] | None = None,
    ) -> None:
        jobs = payload.jobs
        super().__init__(jobs[0].job_id)
        self._provider = provider
        self._codec = codec
        self._payload = payload
        self._backend = backend
        self._backend_name = backend_name
        self._timeout = timeout
        self._circuit_metadata = list(circuit_metadata) if circuit_metadata is not None else None
        self._qoro_jobs = [
            QoroJob(
                backend,
                job.job_id,
                provider=provider,
                shots=job.shots,
                backend_name=backend_name,
                progress=progress,
                timeout=timeout,
            )
            for job in jobs
        ]
        self._lock = threading.Lock()
        self._result: PrimitiveResult | None = None

    def __repr__(self) -> str:
        extra = f", {len(self._qoro_jobs)} Qoro jobs" if len(self._qoro_jobs) > 1 else ""
        return (
            f"<QoroPrimitiveJob('{self.job_id()}', {self._codec.kind}, "
            f"backend='{self._backend_name}'{extra})>"
        )

    @property
    def kind(self) -> str:
        """``"sampler"`` or ``"estimator"``."""
        return self._codec.kind

    @property
    def payload(self) -> CallPayload:
        """What the call journaled: its Qoro jobs and the plan of each PUB (:mod:`.payloads`)."""
        return self._payload

    @property
    def job_ids(self) -> list[str]:
        """The Qoro job ids of this call, the first being ``job_id()``."""
        return [job.job_id() for job in self._qoro_jobs]

    @property
    def qoro_jobs(self) -> list[QoroJob]:
        """The underlying Qoro jobs (for their raw status, or waiting with a callback)."""
        return list(self._qoro_jobs)

    @property
    def backend_name(self) -> str:
        return self._backend_name

    def backend(self) -> QoroBackend | None:
        """The backend the call ran on (None when retrieved where it is not available)."""
        return self._backend

    # --- status -------------------------------------------------------------------

    def status(self) -> JobStatus:
        """The combined Qiskit status of the call's Qoro jobs (asked of the server unless final)."""
        return combine_status([job.status() for job in self._qoro_jobs])

    def done(self) -> bool:
        """Whether every Qoro job of the call completed successfully."""
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        """Whether the call is DONE, ERROR or CANCELLED (some jobs may still run after an error)."""
        return self.status() in _FINAL

    def cancel(self) -> bool:
        """Cancel every unfinished Qoro job of the call; True when at least one was cancelled."""
        cancelled = False
        for job in self._qoro_jobs:
            cancelled = job.cancel() or cancelled
        return cancelled

    # --- result -------------------------------------------------------------------

    def wait_for_final_state(self, timeout: float | None = None) -> JobStatus:
        """Wait until every Qoro job is final (``timeout`` seconds in all, else the option)."""
        self._wait(timeout, check=False)
        return self.status()

    def _wait(self, timeout: float | None, *, check: bool) -> None:
        """Wait for the Qoro jobs in turn; with ``check``, raise the error of the first one
        that did not complete as soon as it is final (not after the others finish)."""
        if timeout is None:
            timeout = self._timeout
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        for job in self._qoro_jobs:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise QoroJobTimeoutError(
                    f"Primitive job {self.job_id()} did not finish within {timeout:g} s "
                    f"(Qoro job {job.job_id()} still open). It is still running on the server: "
                    "wait again or cancel it."
                )
            job.wait_for_final_state(timeout=remaining)
            reply = job.final_reply
            if check and reply is not None:
                ensure_completed(reply, job.job_id())

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        """Wait for the call and return its :class:`~qiskit.primitives.PrimitiveResult`.

        Raises :class:`QoroJobTimeoutError` (a Qiskit ``JobTimeoutError``) after
        ``timeout`` seconds (default: the ``timeout`` option, else no limit) and
        the :class:`~qiskit_divi.api.job_errors.QoroJobEndedError` of the first Qoro job
        that did not complete (FAILED, CANCELLED, INSUFFICIENT_CREDITS, TIMED_OUT; a
        :class:`QoroJobError` naming that job, its status and the server's reason). The
        result is fetched once and cached; its metadata hold ``run_time`` and ``run_times``.
        """
        if self._result is not None:
            return self._result
        with self._lock:
            if self._result is None:  # another thread may have fetched it meanwhile
                self._result = self._fetch_result(timeout)
            return self._result

    def _fetch_result(self, timeout: float | None) -> PrimitiveResult:
        self._wait(timeout, check=True)
        client = self._provider.client
        labels = self._payload.labels()
        raw = [
            fetch_results(client, job.job_id(), labels[k], shots=job.shots)
            for k, job in enumerate(self._qoro_jobs)
        ]
        result = self._codec.decode(self._payload, raw, self._circuit_metadata)
        return with_run_times(result, [job.run_time for job in self._qoro_jobs])


def with_run_times(result: PrimitiveResult, run_times: Sequence[float | None]) -> PrimitiveResult:
    """``result`` with ``run_times`` (per Qoro job) and ``run_time`` (the sum of those
    reported, None when none was) in its metadata."""
    reported = [t for t in run_times if t is not None]
    metadata = {
        **result.metadata,
        "run_time": sum(reported) if reported else None,
        "run_times": list(run_times),
    }
    return PrimitiveResult(list(result), metadata=metadata)


# --- submission and journaling -------------------------------------------------------


def submit_call(provider: QoroProvider, specs: Sequence[JobSpec]) -> list[str]:
    """Submit the Qoro jobs of one call; if one fails, discard those already created."""
    job_ids: list[str] = []
    try:
        for spec in specs:
            job_ids.append(submit_job(provider.client, spec))
    except BaseException:
        for job_id in job_ids:
            discard_job(provider.client, job_id)
        if job_ids:
            logger.warning(
                "Discarded Qoro job(s) %s of a primitive call whose submission failed.",
                ", ".join(job_ids),
            )
        raise
    return job_ids


def journal_call(
    provider: QoroProvider, kind: str, backend_name: str, payload: CallPayload
) -> None:
    """Journal a call: the payload under the first id, a pointer to it under the others."""
    primary, *others = [job.job_id for job in payload.jobs]
    record_quietly(
        provider.journal, primary, kind, backend_name, payload.to_json(), base_url=provider.url
    )
    pointer = PointerPayload(primary).to_json()
    for job_id in others:
        record_quietly(provider.journal, job_id, kind, backend_name, pointer, base_url=provider.url)


def rebuild_job(
    provider: QoroProvider, entry: JournalEntry, codec: ResultCodec[Any]
) -> QoroPrimitiveJob:
    """The primitive job of a journal entry (any Qoro job of the call), for ``retrieve_job``."""
    entry = _primary_entry(provider, entry, codec.kind)
    try:
        payload = codec.read(entry.payload)
    except UnknownPayloadFormatError as exc:
        raise QoroJobError(
            f"Job {entry.job_id} was journaled in format {exc.found!r}; this version of "
            f"qiskit_divi reads {exc.formats}. Retrieve it with the qiskit_divi "
            "version that submitted it.",
            job_id=entry.job_id,
        ) from None
    except JournalError as exc:
        raise QoroJobError(
            f"The journal entry of job {entry.job_id} cannot be read: {exc}", job_id=entry.job_id
        ) from exc
    backend: QoroBackend | None
    try:
        backend = provider.get_backend(entry.backend_name)
    except QoroError:
        logger.info(
            "Backend %r of retrieved job %s is not available at %s.",
            entry.backend_name,
            entry.job_id,
            provider.url,
        )
        backend = None
    return QoroPrimitiveJob(
        provider, codec, payload, backend=backend, backend_name=entry.backend_name
    )


def _primary_entry(provider: QoroProvider, entry: JournalEntry, kind: str) -> JournalEntry:
    """``entry`` itself, or the entry of the call's first job when ``entry`` points there."""
    primary_id = primary_of(entry.payload)
    if primary_id is None:
        return entry
    primary = provider.journal.lookup(str(primary_id))
    if primary is None or "jobs" not in primary.payload:
        raise QoroJobError(
            f"Job {entry.job_id} is one of the Qoro jobs of a {kind} call whose first job is "
            f"{primary_id}, and the local job journal ({provider.journal.path}) has no entry "
            f"for {primary_id} (it was deleted, or written to another journal), so the call "
            "cannot be rebuilt. Set QISKIT_DIVI_JOURNAL to the journal file (or a copy) of the "
            "process that submitted it. The raw results of each Qoro job stay readable: "
            f"QoroJob(None, {entry.job_id!r}, provider=provider).raw_results().",
            job_id=entry.job_id,
        )
    return primary
