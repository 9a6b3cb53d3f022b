"""Fault injection, observed from the client side."""

from __future__ import annotations

import time

import numpy as np
import pytest
import requests

from qiskit_divi.emulator import EmulatorConfig, FaultConfig

FAST = EmulatorConfig(min_job_seconds=0.02)


def _ping_outcomes(api, n):
    out = []
    for _ in range(n):
        try:
            out.append(api.get("").status_code)
        except requests.ConnectionError:
            out.append("reset")
    return out


def test_gateway_errors_only_where_configured(make_server, client):
    server = make_server(faults=FaultConfig(seed=1, error_rate=1.0, endpoints=frozenset({"ping"})))
    api = client(server)
    statuses = set()
    for _ in range(30):
        resp = api.get("")
        statuses.add(resp.status_code)
        assert resp.headers["Content-Type"] == "application/json" and "detail" in resp.json()
    assert statuses == {502, 503, 504}
    assert api.get("qpusystem/").status_code == 200
    faults = server.stats["faults"]
    assert faults["http_502"] + faults["http_503"] + faults["http_504"] == 30
    assert server.stats["requests_by_endpoint"]["ping"] == 30

    only_503 = make_server(faults=FaultConfig(error_rate=1.0, error_statuses=(503,)))
    assert client(only_503).get("").status_code == 503


def test_rate_limit_sends_retry_after(make_server, client):
    server = make_server(
        faults=FaultConfig(rate_limit_rate=1.0, retry_after="0.05", methods=frozenset({"GET"}))
    )
    api = client(server)
    resp = api.get("qpusystem/")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "0.05"
    assert (
        api.post(
            "job/init/", {"job_type": "SIMULATE", "qpu_system_name": "qoro_maestro"}
        ).status_code
        == 201
    )
    assert server.stats["faults"]["http_429"] == 1


def test_reset_before_the_handler_acts(make_server, client):
    server = make_server(
        faults=FaultConfig(reset_before_rate=1.0, endpoints=frozenset({"job_init"}))
    )
    api = client(server)
    with pytest.raises(requests.ConnectionError):
        api.init()
    assert server.job_count == 0 and server.stats["jobs_created"] == 0
    assert server.stats["faults"]["reset_before"] == 1
    assert api.get("").status_code == 200  # the client recovers on a new connection


def test_reset_after_the_handler_acted(make_server, client, qasm):
    server = make_server(
        config=FAST,
        faults=FaultConfig(reset_after_rate=1.0, endpoints=frozenset({"job_init", "cancel"})),
    )
    api = client(server)
    with pytest.raises(requests.ConnectionError):
        api.init()
    assert server.job_count == 1 and server.stats["jobs_created"] == 1  # it acted: an orphaned job
    (job_id,) = server.jobs
    assert api.add(job_id, {"a": qasm(1)}, finalized=False).status_code == 200
    with pytest.raises(requests.ConnectionError):
        api.post(f"job/{job_id}/cancel/")
    assert api.status(job_id) == "CANCELLED"
    assert server.stats["faults"]["reset_after"] == 2


def test_latency_is_added_to_matching_requests(make_server, client):
    server = make_server(faults=FaultConfig(latency_seconds=0.2, endpoints=frozenset({"ping"})))
    api = client(server)
    api.get("qpusystem/")  # warm the connection
    started = time.monotonic()
    assert api.get("").status_code == 200
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    assert api.get("qpusystem/").status_code == 200
    assert time.monotonic() - started < 0.2
    assert server.stats["faults"]["latency"] == 1


def test_slow_queue_delays_every_job(make_server, client, qasm):
    server = make_server(config=FAST, faults=FaultConfig(queue_delay_seconds=0.3))
    api = client(server)
    started = time.monotonic()
    job_id = api.submit({"a": qasm(1, "x q[0]")})
    time.sleep(0.15)
    assert api.status(job_id) == "PENDING"  # still queued
    assert api.counts(job_id) == {"a": {"1": 100}}
    assert time.monotonic() - started >= 0.3
    assert server.stats["faults"]["slow_queue"] == 1


def test_seeded_faults_are_deterministic(make_server, client):
    def run(seed):
        faults = FaultConfig(
            seed=seed,
            error_rate=0.2,
            rate_limit_rate=0.2,
            reset_before_rate=0.1,
            endpoints=frozenset({"ping"}),
        )
        return _ping_outcomes(client(make_server(faults=faults)), 40)

    first, second, other = run(42), run(42), run(43)
    assert first == second
    assert first != other
    assert {200, 429, "reset"} <= set(first)
    assert set(first) & {502, 503, 504}


def test_fault_config_is_validated():
    for bad, message in (
        ({"error_rate": 1.5}, "error_rate must be a number between 0 and 1, got 1.5"),
        ({"latency_rate": True}, "latency_rate must be a number between 0 and 1, got True"),
        ({"error_rate": 0.6, "reset_after_rate": 0.6}, "add up to 1.2"),
        ({"error_statuses": (500,)}, "error_statuses"),
        ({"retry_after": "soon"}, "retry_after"),
        ({"latency_seconds": -1}, "latency_seconds must be a non-negative number of seconds"),
        ({"queue_delay_seconds": float("nan")}, "queue_delay_seconds must be a non-negative"),
        ({"endpoints": frozenset({"nope"})}, "unknown names"),
        ({"methods": frozenset({"FETCH"})}, "unknown methods"),
    ):
        with pytest.raises(ValueError, match=f"FaultConfig.*{message}"):
            FaultConfig(**bad)
    with pytest.raises(ValueError, match="rate must be a number between 0 and 1, got 2"):
        FaultConfig.mixed(2)
    assert not FaultConfig().injects_request_faults
    assert type(FaultConfig(error_rate=np.float64(0.5)).error_rate) is float
