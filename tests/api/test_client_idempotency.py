"""Idempotency keys, ambiguous requests and timeouts of QoroClient, against a scripted server."""

from __future__ import annotations

import time
import uuid

import pytest

from qiskit_divi.api.client import IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_SUPPORT_HEADER, QoroClient
from qiskit_divi.api.errors import (
    QoroAmbiguousRequestError,
    QoroConfigurationError,
    QoroConnectionError,
    QoroError,
)
from qiskit_divi.api.models import AddCircuitsRequest, InitJobRequest, JobType
from qiskit_divi.api.retry import RetryPolicy

SUPPORT = {IDEMPOTENCY_SUPPORT_HEADER: "1"}
SYSTEMS = [{"name": "qoro_maestro", "access_level": "PUBLIC"}]
INIT = InitJobRequest(JobType.SIMULATE, "qoro_maestro")
CHUNK = AddCircuitsRequest({"a": "H4sI"}, finalized=True, shots=10)


def _keys(scripted, method, path):
    return [
        h.get(IDEMPOTENCY_KEY_HEADER)
        for m, p, h, _ in scripted.seen
        if m == method and p == f"/api/{path}"
    ]


def _advertise(scripted, client, supported=True):
    scripted.on("GET", "qpusystem/", (200, SUPPORT if supported else {}, SYSTEMS))
    client.list_systems()
    assert client.idempotency_supported is (True if supported else None)


def test_state_changing_requests_carry_a_fresh_uuid4_key(scripted, client):
    scripted.on("POST", "job/init/", (201, {}, {"job_id": "j1"}))
    scripted.on("POST", "job/j1/cancel/", (200, {}, {"status": "cancelled"}))
    scripted.on("DELETE", "job/j1", (204, {}, ""))
    scripted.on("GET", "job/j1/status/", (200, {}, {"status": "PENDING"}))
    client.init_job(INIT)
    client.init_job(INIT)
    client.cancel_job("j1")
    client.delete_job("j1")
    client.job_status("j1")
    keys = (
        _keys(scripted, "POST", "job/init/")
        + _keys(scripted, "POST", "job/j1/cancel/")
        + _keys(scripted, "DELETE", "job/j1")
    )
    assert len(set(keys)) == 4
    assert all(uuid.UUID(k).version == 4 for k in keys)
    assert _keys(scripted, "GET", "job/j1/status/") == [None]


def test_a_refused_post_is_retried_with_the_same_key(scripted, client):
    scripted.on("POST", "job/init/", (503, {}, {"detail": "busy"}), (201, {}, {"job_id": "j1"}))
    assert client.init_job(INIT) == "j1"
    first, second = _keys(scripted, "POST", "job/init/")
    assert first == second


@pytest.mark.parametrize("ambiguous", ["reset", (502, {}, "bad gateway"), (504, {}, "timeout")])
def test_ambiguous_post_is_resent_with_the_same_key_when_supported(scripted, client, ambiguous):
    _advertise(scripted, client)
    scripted.on(
        "POST", "job/init/", ambiguous, (201, {"Idempotent-Replayed": "true"}, {"job_id": "j1"})
    )
    assert client.init_job(INIT) == "j1"
    first, second = _keys(scripted, "POST", "job/init/")
    assert first == second and first is not None
    assert client.stats["resent"] == 1 and client.stats["replayed"] == 1


def test_ambiguous_chunk_is_resent_with_the_same_key_when_supported(scripted, client):
    _advertise(scripted, client)
    scripted.on("POST", "job/j1/add_circuits/", "reset", (200, {}, {}))
    client.add_circuits("j1", CHUNK)
    keys = _keys(scripted, "POST", "job/j1/add_circuits/")
    assert len(keys) == 2 and keys[0] == keys[1]
    bodies = [b for m, p, _, b in scripted.seen if p.endswith("add_circuits/")]
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize("ambiguous", ["reset", (502, {}, "bad gateway")])
def test_ambiguous_post_is_not_resent_without_advertised_support(scripted, client, ambiguous):
    _advertise(scripted, client, supported=False)
    scripted.on("GET", "", (200, {}, {"status": "ok"}))  # the probe: no support header
    scripted.on("POST", "job/init/", ambiguous, (201, {}, {"job_id": "j1"}))
    with pytest.raises(QoroAmbiguousRequestError) as info:
        client.init_job(INIT)
    assert scripted.count("POST", "job/init/") == 1
    message = str(info.value)
    assert (
        "not re-sent" in message
        and "Idempotency-Key" in message
        and "job may have been created" in message
    )
    assert client.idempotency_supported is False
    scripted.on("POST", "job/j1/cancel/", ambiguous, (200, {}, {}))
    with pytest.raises(QoroAmbiguousRequestError, match="Check job j1") as info:
        client.cancel_job("j1")
    assert info.value.job_id == "j1" and scripted.count("POST", "job/j1/cancel/") == 1
    assert scripted.count("GET", "") == 1  # support is probed once, then remembered


def test_unknown_support_is_probed_before_deciding(scripted, client):
    scripted.on("GET", "", (200, SUPPORT, {"status": "ok"}))
    scripted.on("POST", "job/init/", "reset", (201, {}, {"job_id": "j1"}))
    assert client.idempotency_supported is None
    assert client.init_job(INIT) == "j1"
    assert client.idempotency_supported is True
    assert [m for m, *_ in scripted.seen] == ["POST", "GET", "POST"]


def test_resending_gives_up_with_an_error_naming_the_job(scripted, client):
    _advertise(scripted, client)
    scripted.on("POST", "job/j7/add_circuits/", "reset")
    with pytest.raises(QoroAmbiguousRequestError, match="Check job j7") as info:
        client.add_circuits("j7", CHUNK)
    assert "same Idempotency-Key" in str(info.value) and info.value.job_id == "j7"
    keys = _keys(scripted, "POST", "job/j7/add_circuits/")
    assert len(keys) == client.retry_policy.max_attempts and len(set(keys)) == 1


def test_delete_answered_404_after_an_ambiguous_attempt_counts_as_done(scripted, client):
    scripted.on("DELETE", "job/j1", "reset", (404, {}, {"detail": "Job not found."}))
    client.delete_job("j1")  # the first attempt deleted it; the retry finds it gone
    assert scripted.count("DELETE", "job/j1") == 2
    scripted.on("DELETE", "job/j2", (404, {}, {"detail": "Job not found."}))
    with pytest.raises(QoroError, match="404"):
        client.delete_job("j2")


def test_a_post_never_sent_is_retried_then_reports_the_connection(token):
    policy = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.002)
    with (
        QoroClient(token, "http://127.0.0.1:9/api", retry_policy=policy) as unreachable,
        pytest.raises(QoroConnectionError, match="Could not reach") as info,
    ):
        unreachable.init_job(INIT)
    assert info.value.retriable and unreachable.stats["requests"] == 3


def _slow(seconds, reply):
    def answer():
        time.sleep(seconds)
        return reply

    return answer


def test_read_timeouts_are_user_settable(scripted, token):
    scripted.httpd.handle_error = lambda request, address: (
        None
    )  # the late replies hit closed sockets
    policy = RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_cap=0.002)
    with QoroClient(
        token, scripted.base_url, retry_policy=policy, timeouts={"status": 0.2, "init": 0.2}
    ) as fast:
        assert fast.timeouts["status"] == 0.2 and fast.timeouts["results"] == 100
        scripted.on(
            "GET",
            "job/j/status/",
            _slow(0.5, (200, {}, {"status": "PENDING"})),
            (200, {}, {"status": "RUNNING"}),
        )
        started = time.monotonic()
        assert (
            fast.job_status("j").raw_status == "RUNNING"
        )  # the GET timed out once, then was retried
        assert time.monotonic() - started < 0.5
        scripted.on("GET", "", (200, {}, {}))
        scripted.on("POST", "job/init/", _slow(0.5, (201, {}, {"job_id": "late"})))
        with pytest.raises(QoroAmbiguousRequestError, match="ReadTimeout"):
            fast.init_job(INIT)
        assert scripted.count("POST", "job/init/") == 1


@pytest.mark.parametrize(
    "bad", [{"init": 0}, {"init": -1}, {"nope": 1}, {"status": float("inf")}, {"status": True}]
)
def test_invalid_timeouts_are_refused(token, bad):
    with pytest.raises(QoroConfigurationError):
        QoroClient(token, "http://127.0.0.1:9/api", timeouts=bad)
