"""One error per unsuccessful final status (qoro-api.md 4.2), and divi 0.15.1's names for
them in qiskit_divi.backends."""

from __future__ import annotations

import pytest

import qiskit_divi
from qiskit_divi import backends, exceptions
from qiskit_divi.api.errors import QoroError, QoroJobError
from qiskit_divi.api.job_errors import (
    QoroInsufficientCreditsError,
    QoroJobCancelledError,
    QoroJobEndedError,
    QoroJobFailedError,
    QoroJobTimedOutError,
    ensure_completed,
    job_ended_error,
)
from qiskit_divi.api.models import JobStatus, JobStatusReply

ENDED = {
    JobStatus.FAILED: (QoroJobFailedError, "fix what the server's reason names"),
    JobStatus.CANCELLED: (QoroJobCancelledError, "submit it again"),
    JobStatus.INSUFFICIENT_CREDITS: (QoroInsufficientCreditsError, "buy credits"),
    JobStatus.TIMED_OUT: (QoroJobTimedOutError, "raise the deadline"),
}


def reply(status: JobStatus, reason: str | None = None) -> JobStatusReply:
    return JobStatusReply(raw_status=status.value, status=status, reason=reason)


def test_every_unsuccessful_final_status_has_its_own_error():
    assert set(ENDED) == {s for s in JobStatus if s.is_unsuccessful}
    assert len({cls for cls, _ in ENDED.values()}) == len(ENDED)


@pytest.mark.parametrize("status", list(ENDED), ids=lambda s: s.value)
def test_ensure_completed_raises_the_status_error_naming_job_status_and_fix(status):
    cls, advice = ENDED[status]
    with pytest.raises(cls) as info:
        ensure_completed(reply(status, "the server's words."), "job-7")
    error = info.value
    assert type(error) is cls and isinstance(error, QoroJobEndedError)
    assert isinstance(error, QoroJobError) and isinstance(error, QoroError)
    assert error.job_id == "job-7" and error.status is status
    assert error.reason == "the server's words."
    message = str(error)
    assert message.startswith(f"Job job-7 ended {status.value}: the server's words. ")
    assert advice in message and ".." not in message


@pytest.mark.parametrize("status", list(ENDED), ids=lambda s: s.value)
def test_without_a_reason_the_message_still_says_what_to_do(status):
    cls, advice = ENDED[status]
    error = job_ended_error("j", reply(status))
    assert type(error) is cls and error.reason is None
    assert str(error).startswith(f"Job j ended {status.value}. ") and advice in str(error)


def test_completed_passes_and_an_unfinished_job_is_not_an_ended_one():
    ensure_completed(reply(JobStatus.COMPLETED), "j")
    for status in (JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.PAUSED):
        with pytest.raises(QoroJobError, match=f"Job j is {status.value}, not finished") as info:
            ensure_completed(reply(status), "j")
        assert not isinstance(info.value, QoroJobEndedError) and info.value.job_id == "j"
    unknown = JobStatusReply(raw_status="VALIDATING", status=None)
    with pytest.raises(QoroJobError, match="is VALIDATING, not finished") as info:
        ensure_completed(unknown, "j")
    assert not isinstance(info.value, QoroJobEndedError)


def test_job_ended_error_refuses_a_status_with_results_or_none():
    for bad in (reply(JobStatus.COMPLETED), JobStatusReply(raw_status="X", status=None)):
        with pytest.raises(ValueError, match="not an unsuccessful final status"):
            job_ended_error("j", bad)


def test_divi_0151_names_are_the_same_classes():
    assert backends.QoroJobError is QoroJobEndedError
    assert backends.JobFailedError is QoroJobFailedError
    assert backends.JobCancelledError is QoroJobCancelledError
    assert backends.InsufficientCreditsError is QoroInsufficientCreditsError
    assert backends.JobTimedOutError is QoroJobTimedOutError
    for name in ("QoroJobEndedError", "QoroJobFailedError", "QoroInsufficientCreditsError"):
        assert getattr(qiskit_divi, name) is getattr(exceptions, name)
        assert name in qiskit_divi.__all__ and name in exceptions.__all__
    # divi's base is the narrow "ended without results"; the package's QoroJobError still
    # catches everything job-related
    assert issubclass(backends.QoroJobError, qiskit_divi.QoroJobError)
    assert backends.JobStatus.INSUFFICIENT_CREDITS.is_final
