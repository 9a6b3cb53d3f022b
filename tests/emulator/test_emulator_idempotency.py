"""The emulator's ``Idempotency-Key`` support (IETF draft, Stripe-style)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests

from qiskit_divi.api.circuits import pack_circuit
from qiskit_divi.api.idempotency import SUPPORT_HEADER, advertises_support
from qiskit_divi.emulator import EmulatorConfig, FaultConfig
from qiskit_divi.emulator.cli import add_arguments, build_server
from qiskit_divi.emulator.handlers import ApiResponse
from qiskit_divi.emulator.idempotency import IdempotencyStore, normalise_key

INIT = {"tag": "t", "job_type": "SIMULATE", "qpu_system_name": "qoro_maestro", "use_packing": False}


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _chunk(qasm, labels, finalized="false"):
    return {
        "circuits": {label: pack_circuit(qasm(1, "x q[0]")) for label in labels},
        "mode": "append",
        "finalized": finalized,
        "shots": 10,
    }


def test_every_api_response_advertises_support(server, api, client):
    assert api.get("").headers["Idempotency-Key-Support"] == "1"
    assert api.get("job/nope/status/").headers["Idempotency-Key-Support"] == "1"  # 404
    assert client(server, token=None).get("").headers["Idempotency-Key-Support"] == "1"  # 401
    # the header the emulator sends is the one the client reads, and says yes to it
    assert advertises_support(api.get("").headers.get(SUPPORT_HEADER))


def test_a_repeated_key_replays_the_first_response_without_acting(server, api):
    created = server.stats["jobs_created"]
    headers = _key()
    first = api.post("job/init/", INIT, headers=headers)
    second = api.post("job/init/", INIT, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert (
        "Idempotent-Replayed" not in first.headers
        and second.headers["Idempotent-Replayed"] == "true"
    )
    assert server.stats["jobs_created"] == created + 1
    third = api.post("job/init/", INIT, headers=_key())  # a new key is a new request
    assert third.json()["job_id"] != first.json()["job_id"]
    # Quoted (structured-field) keys are the same key.
    quoted = {"Idempotency-Key": f'"{headers["Idempotency-Key"]}"'}
    assert api.post("job/init/", INIT, headers=quoted).json() == first.json()


def test_a_chunk_sent_twice_with_its_key_is_appended_once(server, api, qasm):
    job_id = api.init()
    headers = _key()
    body = _chunk(qasm, ["a", "b"])
    assert (
        api.post(f"job/{job_id}/add_circuits/", body, headers=headers).json()["total_circuits"] == 2
    )
    assert (
        api.post(f"job/{job_id}/add_circuits/", body, headers=headers).json()["total_circuits"] == 2
    )
    assert server.jobs[job_id].n_circuits == 2
    without_key = api.post(f"job/{job_id}/add_circuits/", body)  # the same labels again: refused
    assert without_key.status_code == 400 and "Duplicate" in without_key.json()["error"]


def test_error_answers_are_stored_and_delete_is_keyed_too(server, api):
    job_id = api.init()
    headers = _key()
    assert api.delete(f"job/{job_id}", headers=headers).status_code == 204
    again = api.delete(f"job/{job_id}", headers=headers)
    assert again.status_code == 204 and again.headers["Idempotent-Replayed"] == "true"
    assert api.delete(f"job/{job_id}", headers=_key()).status_code == 404
    bad = {**INIT, "qpu_system_name": "nowhere"}
    headers = _key()
    assert api.post("job/init/", bad, headers=headers).status_code == 400
    assert api.post("job/init/", bad, headers=headers).headers["Idempotent-Replayed"] == "true"


def test_a_key_reused_for_another_request_is_refused(server, api):
    headers = _key()
    assert api.post("job/init/", INIT, headers=headers).status_code == 201
    created = server.stats["jobs_created"]
    other = api.post("job/init/", {**INIT, "tag": "other"}, headers=headers)
    assert other.status_code == 422 and "different request" in other.json()["error"]
    assert server.stats["jobs_created"] == created


def test_keys_belong_to_one_token(server, api, other_api):
    headers = _key()
    mine = api.post("job/init/", INIT, headers=headers).json()["job_id"]
    theirs = other_api.post("job/init/", INIT, headers=headers).json()["job_id"]
    assert mine != theirs


def test_invalid_keys_are_refused(server, api):
    created = server.stats["jobs_created"]
    for bad in ("", "has space", "x" * 256, '""'):
        resp = api.post("job/init/", INIT, headers={"Idempotency-Key": bad})
        assert resp.status_code == 400 and "Idempotency-Key" in resp.json()["error"], bad
    assert server.stats["jobs_created"] == created


def test_reset_after_acting_then_retry_with_the_key_creates_one_job(make_server, client):
    server = make_server(
        faults=FaultConfig(reset_after_rate=1.0, endpoints=frozenset({"job_init"}))
    )
    api = client(server)
    headers = _key()
    with pytest.raises(requests.ConnectionError):
        api.post("job/init/", INIT, headers=headers)
    assert server.stats["jobs_created"] == 1 and server.stats["idempotent_replays"] == 0
    with pytest.raises(requests.ConnectionError):
        api.post("job/init/", INIT, headers=headers)  # reset again, but no second job
    assert server.stats["jobs_created"] == 1 and server.stats["idempotent_replays"] == 1
    with pytest.raises(requests.ConnectionError):
        api.post("job/init/", INIT, headers=_key())  # a fresh key acts
    assert server.stats["jobs_created"] == 2


def test_without_idempotency_nothing_is_advertised_or_deduplicated(make_server, client):
    server = make_server(config=EmulatorConfig(idempotency=False))
    api = client(server)
    headers = _key()
    first = api.post("job/init/", INIT, headers=headers)
    second = api.post("job/init/", INIT, headers=headers)
    assert "Idempotency-Key-Support" not in first.headers
    assert first.json() != second.json() and server.stats["jobs_created"] == 2


def test_a_concurrent_repeat_waits_for_the_first_answer():
    store = IdempotencyStore()
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_action():
        calls.append(1)
        started.set()
        release.wait(5)
        return ApiResponse(201, {"job_id": "j"})

    results = []
    first = threading.Thread(target=lambda: results.append(store.run("o", "k", "f", slow_action)))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: results.append(store.run("o", "k", "f", slow_action)))
    second.start()
    time.sleep(0.05)
    assert len(results) == 0  # the repeat is waiting
    release.set()
    first.join(5)
    second.join(5)
    assert len(calls) == 1 and [r.body for r in results] == [{"job_id": "j"}] * 2
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in results) == ["", "true"]


def test_a_crashed_request_stores_nothing():
    store = IdempotencyStore()

    def crash():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.run("o", "k", "f", crash)
    assert store.run("o", "k", "f", lambda: ApiResponse(201, {"job_id": "j"})).body == {
        "job_id": "j"
    }


def test_keys_expire_and_are_bounded():
    now = [0.0]
    store = IdempotencyStore(ttl_seconds=10, max_keys=3, clock=lambda: now[0])
    counter = iter(range(100))

    def act():
        return ApiResponse(201, {"n": next(counter)})

    assert store.run("o", "a", "f", act).body == {"n": 0}
    assert store.run("o", "a", "f", act).body == {"n": 0}
    now[0] = 11.0
    assert store.run("o", "a", "f", act).body == {"n": 1}  # expired: acts again
    for key in ("b", "c", "d"):
        store.run("o", key, "f", act)
    assert len(store) == 3
    assert store.run("o", "a", "f", act).body == {"n": 5}  # the oldest was evicted


def test_normalise_key():
    assert normalise_key(" abc ") == "abc"
    assert normalise_key('"abc"') == "abc"
    assert normalise_key("a b") is None and normalise_key("") is None


def _args(argv):
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--port", "0", *argv])


def test_cli_flags_for_idempotency_and_a_fault_mix():
    server, _ = build_server(_args(["--no-idempotency", "--fault-mix", "0.2", "--fault-seed", "7"]))
    assert server.config.idempotency is False
    faults = server.faults
    assert faults.seed == 7 and faults.request_fault_rate == pytest.approx(0.2)
    assert faults.error_rate == pytest.approx(0.08) and faults.reset_after_rate == pytest.approx(
        0.04
    )
    assert build_server(_args([]))[0].config.idempotency is True
    with pytest.raises(ValueError, match="fault-mix"):
        build_server(_args(["--fault-mix", "0.2", "--fault-error-rate", "0.1"]))


def test_a_mixed_fault_config_hits_every_kind_at_the_asked_rate(make_server, client):
    server = make_server(
        faults=FaultConfig.mixed(0.2, seed=5, retry_after="0", endpoints=frozenset({"ping"}))
    )
    api = client(server)
    outcomes = []
    for _ in range(500):
        try:
            outcomes.append(api.get("").status_code)
        except requests.ConnectionError:
            outcomes.append("reset")
    faults = server.stats["faults"]
    injected = sum(
        faults[k]
        for k in ("reset_before", "reset_after", "http_429", "http_502", "http_503", "http_504")
    )
    assert 70 <= injected <= 130  # 20 % of 500, seeded
    assert all(
        faults[k] > 0
        for k in ("reset_before", "reset_after", "http_429", "http_502", "http_503", "http_504")
    )
    assert outcomes.count("reset") == faults["reset_before"] + faults["reset_after"]
    assert outcomes.count(200) == 500 - injected
