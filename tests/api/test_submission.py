"""Waiting for a job: the status poll schedule."""

from __future__ import annotations

import pytest

from qiskit_divi.api import submission
from qiskit_divi.api.models import parse_job_status


class _StatusScript:
    """A client whose ``job_status`` answers PENDING ``pending`` times, then COMPLETED."""

    def __init__(self, pending: int):
        self.replies = ["PENDING"] * pending + ["COMPLETED"]
        self.polls = 0

    def job_status(self, job_id: str):
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
        for a, b in zip(sleeps, sleeps[1:])
    )
    assert sleeps[-1] == 0.5
    # a job finishing at 0.1 s is noticed within a quarter of that (the first poll after it)
    elapsed = [sum(sleeps[:k]) for k in range(len(sleeps) + 1)]
    assert min(t for t in elapsed if t >= 0.1) < 0.125
