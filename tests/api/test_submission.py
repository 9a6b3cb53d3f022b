"""Submitting a job over any transport, and waiting for it: the status poll schedule."""

from __future__ import annotations

from typing import Any

import pytest

from qiskit_divi.api import submission
from qiskit_divi.api.endpoints import Call
from qiskit_divi.api.errors import QoroAmbiguousRequestError, QoroInputError
from qiskit_divi.api.models import JobType, parse_job_status
from qiskit_divi.api.submission import JobSpec


class _StatusScript:
    """A client whose ``job_status`` answers PENDING ``pending`` times, then COMPLETED."""

    def __init__(self, pending: int):
        self.replies = ["PENDING"] * pending + ["COMPLETED"]
        self.polls = 0

    def job_status(self, job_id: str, *, deadline=None):
        reply = parse_job_status({"status": self.replies[self.polls]})
        self.polls += 1
        return reply


def test_polls_start_at_ten_milliseconds_and_grow_by_the_backoff_up_to_the_cap(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(submission.time, "sleep", sleeps.append)
    client = _StatusScript(pending=30)
    reply = submission.wait_for_final_status(client, "job", max_interval=0.5)
    assert reply.is_final and client.polls == 31 and len(sleeps) == 30
    assert sleeps[:3] == pytest.approx([0.01, 0.0125, 0.015625])
    assert all(
        b == pytest.approx(min(0.5, a * submission.POLL_BACKOFF))
        for a, b in zip(sleeps, sleeps[1:], strict=False)
    )
    assert sleeps[-1] == 0.5
    # a job finishing at 0.1 s is noticed within a quarter of that (the first poll after it)
    elapsed = [sum(sleeps[:k]) for k in range(len(sleeps) + 1)]
    assert min(t for t in elapsed if t >= 0.1) < 0.125


# --- submission over any transport -------------------------------------------------


class _Transport:
    """Answers ``job/init/`` with job ``j9``; an upload raises ``add_error`` unless it is
    None; records every call."""

    def __init__(self, add_error: Exception | None = None) -> None:
        self.add_error = add_error
        self.calls: list[Call[Any]] = []

    @property
    def sent(self) -> list[tuple[str, str]]:
        return [(call.method, call.endpoint) for call in self.calls]

    def call(self, call: Call[Any]) -> Any:
        self.calls.append(call)
        if call.endpoint == "job/init/":
            return "j9"
        if call.endpoint.endswith("add_circuits/") and self.add_error is not None:
            raise self.add_error
        return None


SPEC = JobSpec("qoro_maestro", JobType.SIMULATE, {"a": "qasm-a", "b": "qasm-b"}, shots=5)


def test_a_failed_upload_discards_the_job_and_raises_the_error_as_it_is():
    error = RuntimeError("the transport's own error")
    transport = _Transport(error)
    with pytest.raises(RuntimeError) as info:
        submission.submit_job(transport, SPEC)
    assert info.value is error and info.value.job_id == "j9"
    assert transport.sent[1:] == [
        ("POST", "job/j9/add_circuits/"),
        ("POST", "job/j9/cancel/"),
        ("DELETE", "job/j9"),
    ]


def test_an_ambiguous_upload_names_the_job_and_the_clean_up():
    transport = _Transport(QoroAmbiguousRequestError("POST failed (ReadTimeout)"))
    with pytest.raises(
        QoroAmbiguousRequestError, match="Uploading circuits to job j9 failed"
    ) as info:
        submission.submit_job(transport, SPEC)
    assert info.value.job_id == "j9" and "it was cancelled and deleted" in str(info.value)


def test_given_chunks_are_uploaded_as_they_are():
    transport = _Transport()
    chunks = [{"a": "packed-a"}, {"b": "packed-b"}]
    assert submission.submit_job(transport, SPEC, chunks=chunks) == "j9"
    uploads = [call.body for call in transport.calls[1:]]
    assert [body["circuits"] for body in uploads] == chunks
    assert [body["finalized"] for body in uploads] == ["false", "true"]


@pytest.mark.parametrize("shots", [0, -1, 2.5, True, "5", submission.MAX_SHOTS + 1])
def test_shots_are_checked_once_for_every_caller(shots):
    with pytest.raises(
        QoroInputError, match="Shots must be a positive integer of at most 1,000,000"
    ):
        submission.check_shots(shots)
    with pytest.raises(QoroInputError, match=f"Got {shots!r}"):
        JobSpec("qoro_maestro", JobType.SIMULATE, {"a": "q"}, shots=shots)
    assert submission.check_shots(submission.MAX_SHOTS) == submission.MAX_SHOTS
