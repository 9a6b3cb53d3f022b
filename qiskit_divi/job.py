"""``QoroJob``: a Qoro job seen as a Qiskit ``JobV1``.

``status()`` reports, ``result()`` raises. Status mapping (explicit):

==============  ===============================  ===========================================
Qoro status     ``qiskit.providers.JobStatus``   note
==============  ===============================  ===========================================
PENDING         QUEUED
SCHEDULED       QUEUED                           assigned to a scheduler, not yet running
RUNNING         RUNNING
PAUSED          RUNNING                          started and resumes by itself
COMPLETED       DONE
FAILED          ERROR                            ``result()`` raises ``QoroJobFailedError``
CANCELLED       CANCELLED                        ``result()`` raises ``QoroJobCancelledError``
INSUFFICIENT_   ERROR                            ``result()`` raises
CREDITS                                          ``QoroInsufficientCreditsError``
TIMED_OUT       ERROR                            ``result()`` raises ``QoroJobTimedOutError``
(unknown)       RUNNING                          logged once; never treated as final (it means
                                                 ``api.models.UNKNOWN_STATUS_MEANS``)
==============  ===============================  ===========================================

Every unsuccessful final status raises its own
:class:`~qiskit_divi.api.job_errors.QoroJobEndedError` (a :class:`QoroJobError`) from
``result()``, naming the job and the status and saying what to do. ``run_time`` of the
final ``status/`` reply (seconds) is :attr:`QoroJob.run_time` and ``Result.time_taken``
(None when the server reports none).

Waiting polls ``status/`` with exponential backoff (from 0.01 s, x1.25 per poll, up
to ``wait`` seconds, 2 s by default). Progress is reported to an optional
``callback(job_id, status, job)`` after every poll, as ``JobV1.wait_for_final_state``
does, on a live display on stderr once the wait has lasted a second
(:mod:`qiskit_divi.progress`: job id, system, status, elapsed time), and as one INFO log
line per status change on the ``qiskit_divi.job`` logger; pass ``progress=False`` (or
the backend option) to silence both, or set ``QISKIT_DIVI_PROGRESS=0`` for no display.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus as QiskitJobStatus
from qiskit.providers import JobV1
from qiskit.result import Result
from qiskit.result.models import ExperimentResult, ExperimentResultData

from ._circuits import counts_to_hex, label_only_header, label_sort_key
from ._version import __version__
from .api.errors import QoroConflictError, QoroJobError
from .api.job_errors import ensure_completed
from .api.models import JobStatus, JobStatusReply, warn_unknown_status
from .api.submission import fetch_results, wait_for_final_status
from .exceptions import QoroJobTimeoutError
from .progress import job_display

if TYPE_CHECKING:
    from .backend import QoroBackend
    from .provider import QoroProvider

logger = logging.getLogger(__name__)

STATUS_MAP: dict[JobStatus, QiskitJobStatus] = {
    JobStatus.PENDING: QiskitJobStatus.QUEUED,
    JobStatus.SCHEDULED: QiskitJobStatus.QUEUED,
    JobStatus.RUNNING: QiskitJobStatus.RUNNING,
    JobStatus.PAUSED: QiskitJobStatus.RUNNING,
    JobStatus.COMPLETED: QiskitJobStatus.DONE,
    JobStatus.FAILED: QiskitJobStatus.ERROR,
    JobStatus.CANCELLED: QiskitJobStatus.CANCELLED,
    JobStatus.INSUFFICIENT_CREDITS: QiskitJobStatus.ERROR,
    JobStatus.TIMED_OUT: QiskitJobStatus.ERROR,
}

DEFAULT_MAX_POLL_INTERVAL = 2.0

Callback = Callable[[str, QiskitJobStatus, "QoroJob"], None]


def map_status(reply: JobStatusReply) -> QiskitJobStatus:
    """The Qiskit status of a ``status/`` reply (see the module table)."""
    return STATUS_MAP[reply.meaning]


class QoroJob(JobV1):
    """A job on a Qoro system.

    Built by :meth:`QoroBackend.run` (already submitted) or
    :meth:`QoroProvider.retrieve_job`. ``circuits`` holds one experiment header
    per circuit, in submission order (label, name, register layout); ``None``
    means the layout is unknown and results are reported per Qoro label.
    """

    def __init__(
        self,
        backend: QoroBackend | None,
        job_id: str,
        *,
        provider: QoroProvider,
        circuits: Sequence[Mapping[str, Any]] | None = None,
        shots: int | None = None,
        backend_name: str | None = None,
        progress: bool = True,
        timeout: float | None = None,
    ) -> None:
        super().__init__(backend, job_id)
        self._provider = provider
        self._circuits = [dict(c) for c in circuits] if circuits is not None else None
        self._shots = shots
        self._backend_name = backend_name or (backend.name if backend is not None else None)
        self._progress = progress
        self._timeout = timeout
        self._lock = threading.Lock()
        self._final_reply: JobStatusReply | None = None
        self._last_reported: str | None = None
        self._warned_unknown: set[str] = set()
        self._raw_results: dict[str, dict[str, Any]] | None = None
        self._result: Result | None = None

    # --- introspection ------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<QoroJob('{self.job_id()}', backend='{self._backend_name or 'unknown'}')>"

    @property
    def backend_name(self) -> str | None:
        """Name of the system the job ran on (None when retrieved without a journal entry)."""
        return self._backend_name

    @property
    def shots(self) -> int | None:
        """Shots per circuit, when known."""
        return self._shots

    @property
    def circuit_names(self) -> list[str] | None:
        """Names of the submitted circuits in order, when known."""
        return [c["name"] for c in self._circuits] if self._circuits is not None else None

    @property
    def labels(self) -> list[str] | None:
        """Qoro labels of the submitted circuits in order, when known."""
        return [c["label"] for c in self._circuits] if self._circuits is not None else None

    @property
    def final_reply(self) -> JobStatusReply | None:
        """The final ``status/`` reply, once a poll has seen one (None before)."""
        return self._final_reply

    @property
    def run_time(self) -> float | None:
        """Seconds the server reports the job ran (``run_time`` of its final ``status/``
        reply); None until the job is final, or when the server reports none."""
        return self._final_reply.run_time if self._final_reply is not None else None

    def submit(self) -> None:
        """Jobs are submitted by ``QoroBackend.run``; calling this raises."""
        raise QoroJobError(
            f"Job {self.job_id()} was already submitted by backend.run().", job_id=self.job_id()
        )

    # --- status -------------------------------------------------------------------

    def _note(
        self, reply: JobStatusReply, elapsed: float | None = None, *, warn: bool = True
    ) -> QiskitJobStatus:
        """Record a status reply: cache final ones, log changes and unknown values (not with
        ``warn=False``: wait_for_final_status warns, into the same set)."""
        if warn:
            warn_unknown_status(self.job_id(), reply, self._warned_unknown)
        if reply.is_final:
            self._final_reply = reply
        if reply.raw_status != self._last_reported:
            self._last_reported = reply.raw_status
            if self._progress:
                suffix = f" after {elapsed:.1f} s" if elapsed is not None else ""
                logger.info("Qoro job %s is %s%s", self.job_id(), reply.raw_status, suffix)
        return map_status(reply)

    def _poll(self) -> JobStatusReply:
        if self._final_reply is not None:
            return self._final_reply
        reply = self._provider.client.job_status(self.job_id())
        self._note(reply)
        return reply

    def status(self) -> QiskitJobStatus:
        """The job's status, asked of the server unless it is already final."""
        return map_status(self._poll())

    def qoro_status(self) -> str:
        """The raw status string the server last sent (e.g. ``"PENDING"``)."""
        return self._poll().raw_status

    # --- cancel -------------------------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the job. True when the server cancelled it, False when it had already finished."""
        if self._final_reply is not None:
            return False
        try:
            self._provider.client.cancel_job(self.job_id())
        except QoroConflictError as exc:
            logger.info("Job %s was not cancelled: %s", self.job_id(), exc.server_message)
            return False
        logger.info("Cancelled Qoro job %s", self.job_id())
        return True

    # --- waiting and results ------------------------------------------------------

    def wait_for_final_state(
        self,
        timeout: float | None = None,
        wait: float | None = None,
        callback: Callback | None = None,
        *,
        progress: bool | None = None,
    ) -> QiskitJobStatus:
        """Poll with backoff until the job is final; returns its Qiskit status.

        Args:
            timeout: seconds to wait at most (None: forever, or the backend's
                ``timeout`` option); then :class:`QoroJobTimeoutError` is raised.
            wait: longest interval between polls, in seconds (default 2).
            callback: ``callback(job_id, status, job)`` after every poll.
            progress: show a live display on stderr while the job is not final
                (:mod:`qiskit_divi.progress`) and log one INFO line per status change
                (default: the backend's ``progress`` option, normally True).
        """
        if self._final_reply is not None:
            return map_status(self._final_reply)
        if timeout is None:
            timeout = self._timeout
        if progress is not None:
            self._progress = bool(progress)

        display = job_display(self.job_id(), self._backend_name, enabled=self._progress)

        def on_poll(job_id: str, reply: JobStatusReply, elapsed: float) -> None:
            status = self._note(reply, elapsed, warn=False)
            if reply.is_final:
                display.close(reply.raw_status)  # shown only if the wait was long enough
            else:
                display.update(reply.raw_status)
            if callback is not None:
                callback(job_id, status, self)

        try:
            reply = wait_for_final_status(
                self._provider.client,
                self.job_id(),
                timeout=timeout,
                max_interval=DEFAULT_MAX_POLL_INTERVAL if wait is None else max(float(wait), 0.01),
                callback=on_poll,
                timeout_error=QoroJobTimeoutError,
                warned_unknown=self._warned_unknown,  # one warning per value, status() included
            )
        except BaseException as exc:  # a timeout, a lost server, Ctrl-C: the display ends too
            display.stopped(exc, "wait timed out" if isinstance(exc, QoroJobTimeoutError) else None)
            raise
        display.close()
        self._final_reply = reply
        return map_status(reply)

    def result(
        self,
        timeout: float | None = None,
        callback: Callback | None = None,
        wait: float | None = None,
        *,
        progress: bool | None = None,
    ) -> Result:
        """Wait for the job and return its :class:`~qiskit.result.Result`.

        Counts come back exactly as qiskit-aer reports them for the same
        circuits (registers space-separated, unmeasured clbits ``0``). The
        result is fetched once and cached; ``time_taken`` is :attr:`run_time`. Raises the
        :class:`~qiskit_divi.api.job_errors.QoroJobEndedError` of the final status
        (``QoroJobFailedError``, ``QoroJobCancelledError``,
        ``QoroInsufficientCreditsError``, ``QoroJobTimedOutError``: all
        :class:`QoroJobError`, with the job id, the status and the server's reason) when
        the job did not complete, and :class:`QoroJobTimeoutError` (a Qiskit
        ``JobTimeoutError``) after ``timeout``.
        """
        cached = self._result
        if cached is not None:
            return cached
        with self._lock:
            cached = self._cached_result()  # another thread may have built it meanwhile
            if cached is not None:
                return cached
            raw = self._fetch_raw(timeout=timeout, wait=wait, callback=callback, progress=progress)
            result = self._build_result(raw)
            self._result = result
            return result

    def _cached_result(self) -> Result | None:
        return self._result

    def raw_results(self, timeout: float | None = None) -> dict[str, dict[str, Any]]:
        """Wait for the job and return its decoded results per Qoro circuit label.

        Counts (``{bitstring: n}``) for sampling jobs, ``{pauli_term: value}`` for
        EXPECTATION jobs: what the server returned, for any job, also one whose
        journal entry is gone (which :meth:`result` cannot turn into a Qiskit
        result when it holds expectation values). Raises as :meth:`result` does.
        """
        with self._lock:
            return {
                label: dict(values) for label, values in self._fetch_raw(timeout=timeout).items()
            }

    def _fetch_raw(self, **wait_options: Any) -> dict[str, dict[str, Any]]:
        """The decoded results per label, fetched once (call with the lock held)."""
        self.wait_for_final_state(**wait_options)
        assert self._final_reply is not None
        ensure_completed(self._final_reply, self.job_id())
        if self._raw_results is None:
            self._raw_results = fetch_results(
                self._provider.client, self.job_id(), self.labels, shots=self._shots
            )
        return self._raw_results

    def _not_counts_message(self, label: str) -> str:
        what = (
            f"Job {self.job_id()} holds expectation values, not counts, for circuit '{label}': "
            "it is an EXPECTATION job (submitted by EstimatorV2 or QoroService), which a Qiskit "
            "Result cannot hold."
        )
        if self._circuits is None:
            how = (
                " It was retrieved without a journal entry (submitted from another machine, or "
                "the entry was deleted), so it cannot be rebuilt as an EstimatorV2 job; with the "
                "journal of the submitting process (QISKIT_DIVI_JOURNAL) provider.retrieve_job() "
                "rebuilds it."
            )
        else:
            how = ""
        return f"{what}{how} Read the values per Pauli term with job.raw_results()."

    def _build_result(self, raw: Mapping[str, Mapping[str, Any]]) -> Result:
        if self._circuits is not None:
            headers = self._circuits
        else:
            headers = [
                label_only_header(label, raw[label]) for label in sorted(raw, key=label_sort_key)
            ]
        experiments = []
        for header in headers:
            label = header["label"]
            counts = raw[label]
            if counts and not all(
                isinstance(v, int) and not isinstance(v, bool) for v in counts.values()
            ):
                raise QoroJobError(self._not_counts_message(label), job_id=self.job_id())
            shots = self._shots if self._shots is not None else sum(counts.values())
            experiments.append(
                ExperimentResult(
                    shots=shots,
                    success=True,
                    data=ExperimentResultData(
                        counts=counts_to_hex(counts, header["memory_slots"], label)
                    ),
                    header=dict(header),
                    status="DONE",
                )
            )
        return Result(
            backend_name=self._backend_name or "unknown",
            backend_version=__version__,
            job_id=self.job_id(),
            success=True,
            results=experiments,
            date=datetime.datetime.now(datetime.timezone.utc).isoformat(),
            status="COMPLETED",
            header={"backend_name": self._backend_name or "unknown"},
            time_taken=self.run_time,
        )
