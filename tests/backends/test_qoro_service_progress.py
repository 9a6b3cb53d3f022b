"""QoroService.poll_job_status(..., verbose=True): the shared progress display while it
loops (divi drew a Rich spinner); none with verbose=False, a progress_callback, or when
it does not loop."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import requests
from progress_capture import Stream, capture, statuses
from sample_circuits import bell_qasm

from qiskit_divi.backends import ExecutionResult, JobStatus, MaxRetriesReachedError, QoroService


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> Stream:
    return capture(monkeypatch, tty=True)


@pytest.fixture
def slow_service(slow_provider):
    return QoroService(client=slow_provider.client, polling_interval=0.01, max_retries=3)


def _status_replies(*statuses: str):
    """A ``_make_request`` stand-in answering status requests in turn."""
    replies = list(statuses)

    def answer(method, endpoint, **kwargs):
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps({"status": replies.pop(0)}).encode()
        return response

    return answer


def test_verbose_polling_shows_the_job_until_it_is_final(tty, emulator_server, emulator_token):
    service = QoroService(
        emulator_token, polling_interval=0.01, max_retries=50, url=emulator_server.base_url
    )
    job = ExecutionResult(results=None, job_id="job-progress")
    replies = ("PENDING", "PENDING", "RUNNING", "COMPLETED")
    with mock.patch.object(service, "_make_request", side_effect=_status_replies(*replies)):
        status = service.poll_job_status(job, loop_until_complete=True)
    assert status is JobStatus.COMPLETED
    shown = statuses(tty.frames(), "Qoro job job-progress on qoro_maestro")
    assert shown[:3] == ["PENDING", "PENDING", "RUNNING"]  # one redraw per poll
    assert shown[3:] and set(shown[3:]) == {"COMPLETED"}
    assert emulator_token not in tty.getvalue() and tty.getvalue().endswith("\n")
    # One poll, or any hook of the caller's: no display.
    polls: list[str] = []
    for kwargs in (
        {},
        {"loop_until_complete": True, "verbose": False},
        {"loop_until_complete": True, "progress_callback": lambda n, s: polls.append(s)},
    ):
        answers = _status_replies("RUNNING", "COMPLETED")
        with mock.patch.object(service, "_make_request", side_effect=answers):
            service.poll_job_status(job, **kwargs)
    assert polls == ["RUNNING"]
    assert statuses(tty.frames(), "Qoro job job-progress on qoro_maestro") == shown


def test_running_out_of_retries_closes_the_display_and_says_so(tty, slow_service):
    submitted = slow_service.submit_circuits({"c": bell_qasm()})
    try:
        with pytest.raises(MaxRetriesReachedError):
            slow_service.poll_job_status(submitted, loop_until_complete=True)
    finally:
        slow_service.cancel_job(submitted)
    shown = statuses(tty.frames(), f"Qoro job {submitted.job_id} on qoro_maestro")
    assert len(shown) >= 3  # one redraw per poll (3 polls), then the closing state
    assert shown[-1] in ("PENDING, max_retries reached", "RUNNING, max_retries reached")
