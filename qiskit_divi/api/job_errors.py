"""One error per unsuccessful final job status (``qoro-api.md`` 4.2).

Each is a :class:`~qiskit_divi.api.errors.QoroJobError` carrying ``job_id`` and
``status`` (a :class:`~qiskit_divi.api.models.JobStatus`) and saying what to do. They
are the classes divi 0.15.1 names (``JobFailedError``, ``JobCancelledError``,
``InsufficientCreditsError``, ``JobTimedOutError``): ``qiskit_divi.backends`` exports
these same classes under those names, and :class:`QoroJobEndedError` as divi's
``QoroJobError`` (their common base).
"""

from __future__ import annotations

from .errors import QoroJobError
from .models import JobStatus, JobStatusReply


class QoroJobEndedError(QoroJobError):
    """A job reached a final status other than COMPLETED; it has no results."""

    status: JobStatus = JobStatus.FAILED
    advice = "It has no results"

    def __init__(self, job_id: str, reason: str | None = None, message: str | None = None):
        detail = f": {reason.rstrip('.')}" if reason else ""
        super().__init__(
            message or f"Job {job_id} ended {self.status.value}{detail}. {self.advice}.",
            job_id=job_id,
        )
        self.reason = reason


class QoroJobFailedError(QoroJobEndedError):
    """The job ended FAILED."""

    status = JobStatus.FAILED
    advice = "It has no results: fix what the server's reason names, then submit again"


class QoroJobCancelledError(QoroJobEndedError):
    """The job ended CANCELLED (by a cancel request or by the service)."""

    status = JobStatus.CANCELLED
    advice = "It has no results: submit it again if it was not meant to be cancelled"


class QoroInsufficientCreditsError(QoroJobEndedError):
    """The job could not run: the billing account lacks credits."""

    status = JobStatus.INSUFFICIENT_CREDITS
    advice = (
        "The billing account lacks the credits to run it, so it did not run: buy credits "
        "(provider.credits() shows the balance), then submit it again"
    )


class QoroJobTimedOutError(QoroJobEndedError):
    """The job exceeded its server-side execution deadline."""

    status = JobStatus.TIMED_OUT
    advice = (
        "It exceeded its server-side execution deadline and was stopped: raise the deadline "
        "(max_execution_time of the execution configuration) or split the work into smaller "
        "jobs, then submit again"
    )


_ERROR_BY_STATUS: dict[JobStatus, type[QoroJobEndedError]] = {
    cls.status: cls
    for cls in (
        QoroJobFailedError,
        QoroJobCancelledError,
        QoroInsufficientCreditsError,
        QoroJobTimedOutError,
    )
}


def job_ended_error(job_id: str, reply: JobStatusReply) -> QoroJobEndedError:
    """The error of a job whose final ``status/`` reply is not COMPLETED."""
    if reply.status is None or reply.status not in _ERROR_BY_STATUS:
        raise ValueError(f"Status {reply.raw_status} is not an unsuccessful final status.")
    return _ERROR_BY_STATUS[reply.status](job_id, reply.reason)


def ensure_completed(reply: JobStatusReply, job_id: str) -> None:
    """Raise the :class:`QoroJobEndedError` of ``reply`` unless the job COMPLETED.

    A status that is not final (or unknown) raises a plain :class:`QoroJobError`: the
    caller asked for results too early.
    """
    if reply.status is JobStatus.COMPLETED:
        return
    if reply.status is not None and reply.status.is_unsuccessful:
        raise job_ended_error(job_id, reply)
    raise QoroJobError(
        f"Job {job_id} is {reply.raw_status}, not finished: it has no results yet. Wait for it "
        "(job.wait_for_final_state()) before asking for results.",
        job_id=job_id,
    )
