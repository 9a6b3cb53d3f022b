"""QoroJob: status mapping, waiting with progress, cancel, failures, timeouts, caching."""

from __future__ import annotations

import logging

import pytest
from qiskit.providers import JobStatus as QiskitJobStatus
from qiskit.providers import JobTimeoutError
from sample_circuits import bell

from qiskit_divi import QoroError, QoroJob, QoroJobError, QoroJobTimeoutError
from qiskit_divi.api.histogram import encode_envelope
from qiskit_divi.api.job_errors import (
    QoroInsufficientCreditsError,
    QoroJobCancelledError,
    QoroJobEndedError,
    QoroJobFailedError,
    QoroJobTimedOutError,
)
from qiskit_divi.api.models import UNKNOWN_STATUS_MEANS, JobStatus, JobStatusReply, ResultRow
from qiskit_divi.job import STATUS_MAP, map_status

# --- status mapping (no HTTP) ---------------------------------------------------


@pytest.mark.parametrize(
    ("qoro", "qiskit"),
    [
        ("PENDING", QiskitJobStatus.QUEUED),
        ("SCHEDULED", QiskitJobStatus.QUEUED),
        ("RUNNING", QiskitJobStatus.RUNNING),
        ("PAUSED", QiskitJobStatus.RUNNING),
        ("COMPLETED", QiskitJobStatus.DONE),
        ("FAILED", QiskitJobStatus.ERROR),
        ("CANCELLED", QiskitJobStatus.CANCELLED),
        ("INSUFFICIENT_CREDITS", QiskitJobStatus.ERROR),
        ("TIMED_OUT", QiskitJobStatus.ERROR),
    ],
)
def test_status_map_is_explicit(qoro, qiskit):
    assert map_status(JobStatusReply(raw_status=qoro, status=JobStatus(qoro))) is qiskit
    assert len(STATUS_MAP) == len(JobStatus)


def test_an_unknown_status_maps_through_its_one_meaning():
    unknown = JobStatusReply(raw_status="VALIDATING", status=None)
    assert unknown.meaning is UNKNOWN_STATUS_MEANS and not unknown.is_final
    assert map_status(unknown) is STATUS_MAP[UNKNOWN_STATUS_MEANS] is QiskitJobStatus.RUNNING


class _ScriptedClient:
    """Answers ``job_status`` from a script (the last reply repeats; final ones carry
    ``reason`` and ``run_time``) and ``iter_results`` with ``rows``."""

    def __init__(self, raw_statuses, *, reason=None, run_time=None, rows=None):
        self.replies = []
        for s in raw_statuses:
            status = JobStatus(s) if s in JobStatus.__members__ else None
            final = status is not None and status.is_final
            self.replies.append(
                JobStatusReply(
                    raw_status=s,
                    status=status,
                    reason=reason if final else None,
                    run_time=run_time if final else None,
                )
            )
        self.rows = rows or {}
        self.polls = 0
        self.result_requests = 0

    def job_status(self, job_id, *, deadline=None):
        self.polls += 1
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def iter_results(self, job_id):
        self.result_requests += 1
        return iter([ResultRow(label, encode_envelope(c, 2)) for label, c in self.rows.items()])


class _Provider:
    def __init__(self, client):
        self.client = client


def test_unknown_status_is_logged_once_and_not_final(caplog):
    client = _ScriptedClient(["CALIBRATING", "CALIBRATING", "RUNNING", "COMPLETED"])
    job = QoroJob(None, "job-x", provider=_Provider(client))
    with caplog.at_level(logging.WARNING, logger="qiskit_divi"):
        assert job.status() is QiskitJobStatus.RUNNING
        assert job.status() is QiskitJobStatus.RUNNING
        assert not job.in_final_state()
        assert job.wait_for_final_state(wait=0.01) is QiskitJobStatus.DONE
    assert caplog.text.count("CALIBRATING") == 1
    polls = client.polls
    assert job.status() is QiskitJobStatus.DONE and client.polls == polls  # final status is cached


ENDED = {
    "FAILED": (QoroJobFailedError, QiskitJobStatus.ERROR, "then submit again"),
    "CANCELLED": (QoroJobCancelledError, QiskitJobStatus.CANCELLED, "submit it again"),
    "INSUFFICIENT_CREDITS": (QoroInsufficientCreditsError, QiskitJobStatus.ERROR, "buy credits"),
    "TIMED_OUT": (QoroJobTimedOutError, QiskitJobStatus.ERROR, "raise the deadline"),
}


@pytest.mark.parametrize("final", list(ENDED))
def test_result_raises_the_status_error_and_polling_stops_at_once(final):
    cls, qiskit_status, advice = ENDED[final]
    client = _ScriptedClient(
        ["PENDING", "SCHEDULED", "PAUSED", "RUNNING", final, "RUNNING"], reason="Server says."
    )
    job = QoroJob(None, "job-e", provider=_Provider(client))
    seen = []
    with pytest.raises(cls) as info:
        job.result(wait=0.01, callback=lambda job_id, status, j: seen.append(status))
    assert client.polls == 5 and client.result_requests == 0  # stopped at the final reply
    assert seen == [
        QiskitJobStatus.QUEUED,
        QiskitJobStatus.QUEUED,
        QiskitJobStatus.RUNNING,
        QiskitJobStatus.RUNNING,
        qiskit_status,
    ]
    error = info.value
    assert isinstance(error, QoroJobEndedError) and isinstance(error, QoroJobError)
    assert error.job_id == "job-e" and error.status is JobStatus(final)
    assert f"Job job-e ended {final}: Server says." in str(error) and advice in str(error)
    assert job.status() is qiskit_status and job.in_final_state() and job.qoro_status() == final
    with pytest.raises(cls):
        job.raw_results()
    assert client.polls == 5 and client.result_requests == 0  # the final reply is cached


@pytest.mark.parametrize(("run_time", "time_taken"), [(2.75, 2.75), (None, None)])
def test_run_time_is_the_results_time_taken(run_time, time_taken):
    client = _ScriptedClient(
        ["SCHEDULED", "COMPLETED"], run_time=run_time, rows={"c0": {"11": 5}, "c1": {"01": 5}}
    )
    job = QoroJob(None, "job-t", provider=_Provider(client), shots=5)
    assert job.run_time is None and job.final_reply is None  # not final yet
    result = job.result(wait=0.01)
    assert result.time_taken == time_taken and job.run_time == time_taken
    assert job.final_reply is not None and job.final_reply.run_time == run_time
    assert result.get_counts(0) == {"11": 5} and result.get_counts(1) == {"01": 5}
    assert client.polls == 2 and client.result_requests == 1


# --- through the emulator -------------------------------------------------------


def test_result_reports_progress_and_is_cached(provider, emulator_server, caplog):
    job = provider.get_backend("qoro_maestro").run(bell(), shots=100)
    seen = []
    with caplog.at_level(logging.INFO, logger="qiskit_divi.job"):
        result = job.result(callback=lambda job_id, status, j: seen.append((job_id, status, j)))
    assert seen and all(s[0] == job.job_id() and s[2] is job for s in seen)
    assert seen[-1][1] is QiskitJobStatus.DONE
    assert f"Qoro job {job.job_id()} is COMPLETED" in caplog.text
    requests_before = emulator_server.stats["requests"]
    assert job.result() is result and job.status() is QiskitJobStatus.DONE and job.done()
    assert emulator_server.stats["requests"] == requests_before  # nothing fetched twice


def test_progress_log_can_be_switched_off(provider, caplog):
    backend = provider.get_backend("qoro_maestro")
    with caplog.at_level(logging.INFO, logger="qiskit_divi.job"):
        backend.run(bell(), shots=10, progress=False).result()
        job = backend.run(bell(), shots=10)
        job.result(progress=False)
    assert "is COMPLETED" not in caplog.text


def test_failed_job_raises_with_the_server_reason(provider):
    job_id = provider.client.send(
        "POST", "job/create_failed/", json_body={"tag": "test"}, timeout=10
    ).json()["job_id"]
    job = provider.retrieve_job(job_id)
    assert job.status() is QiskitJobStatus.ERROR
    with pytest.raises(
        QoroJobError, match="FAILED: Job created in FAILED state by the create_failed test helper"
    ) as info:
        job.result()
    assert info.value.job_id == job_id and job_id in str(info.value)
    assert job.cancel() is False


def test_cancel_running_job_then_result_raises(slow_provider):
    backend = slow_provider.get_backend("qoro_maestro")
    job = backend.run(bell(), shots=10)
    assert job.status() in (QiskitJobStatus.QUEUED, QiskitJobStatus.RUNNING)
    assert job.cancel() is True
    assert job.status() is QiskitJobStatus.CANCELLED and job.cancelled()
    with pytest.raises(QoroJobError, match="CANCELLED"):
        job.result()
    assert job.cancel() is False


def test_cancel_finished_job_returns_false(provider):
    job = provider.get_backend("qoro_maestro").run(bell(), shots=10)
    job.result()
    assert job.cancel() is False
    fresh = provider.retrieve_job(job.job_id())  # no cached status: the server answers 409
    assert fresh.cancel() is False


def test_timeout_raises_a_qiskit_job_timeout_error(slow_provider):
    backend = slow_provider.get_backend("qoro_maestro")
    job = backend.run(bell(), shots=10)
    try:
        with pytest.raises(QoroJobTimeoutError) as info:
            job.result(timeout=0.3)
        assert isinstance(info.value, JobTimeoutError) and isinstance(info.value, QoroError)
        assert job.job_id() in str(info.value)
        timed = backend.run(bell(), shots=10, timeout=0.2)  # the backend option
        with pytest.raises(JobTimeoutError):
            timed.result()
        assert timed.cancel() is True
    finally:
        job.cancel()


def test_submit_is_refused(provider):
    job = provider.get_backend("qoro_maestro").run(bell(), shots=10)
    with pytest.raises(QoroJobError, match="already submitted"):
        job.submit()
    job.result()


def test_raw_results_are_the_decoded_rows_by_label(provider):
    job = provider.get_backend("qoro_maestro").run([bell(), bell()], shots=40)
    raw = job.raw_results()
    assert sorted(raw) == job.labels and all(sum(counts.values()) == 40 for counts in raw.values())
    assert set(raw[job.labels[0]]) <= {"00", "11"}
    assert job.result().get_counts(0) == raw[job.labels[0]]
    raw[job.labels[0]].clear()  # a copy: the cached rows are not the caller's
    assert job.raw_results()[job.labels[0]]


def test_raw_results_of_a_failed_job_raise_like_result(provider):
    job_id = provider.client.send(
        "POST", "job/create_failed/", json_body={"tag": "test"}, timeout=10
    ).json()["job_id"]
    with pytest.raises(QoroJobError, match="FAILED: Job created in FAILED state"):
        provider.retrieve_job(job_id).raw_results()


# --- accounts and run times, end to end on the emulator ---------------------------------


def test_a_job_beyond_the_balance_raises_insufficient_credits():
    from qiskit_divi import QoroProvider
    from qiskit_divi.emulator import EmulatorConfig

    with QoroProvider.local(config=EmulatorConfig(credits=0, min_job_seconds=0.0)) as broke:
        job = broke.get_backend("qoro_maestro").run(bell(), shots=10)
        with pytest.raises(QoroInsufficientCreditsError) as info:
            job.result(timeout=30)
        assert info.value.job_id == job.job_id() and info.value.status.value in str(info.value)
        assert "buy credits" in str(info.value)
        assert job.status() is QiskitJobStatus.ERROR and job.qoro_status() == "INSUFFICIENT_CREDITS"
        assert job.run_time is None


def test_the_emulators_run_time_is_time_taken(provider):
    job = provider.get_backend("qoro_maestro").run(bell(), shots=10)
    result = job.result(timeout=30)
    assert isinstance(result.time_taken, float) and 0.0 <= result.time_taken < 30.0
    assert result.time_taken == job.run_time == job.final_reply.run_time
