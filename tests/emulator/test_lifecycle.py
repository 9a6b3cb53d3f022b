"""The emulator's lifecycle with today's statuses (qoro-api.md 4.2, 4.3): SCHEDULED,
``run_time``, TIMED_OUT (``max_job_seconds``, ``api_meta.max_execution_time``, 5.8)."""

from __future__ import annotations

import os
import time

import pytest
from child_processes import emulator_job_processes

from qiskit_divi.emulator import EmulatorConfig

DEEP_LAYERS = 200
"""An 18-qubit circuit of 200 rx + cx layers simulates for about 6 s here (100 layers:
2.3 s): far past the 0.2 s and 1 s limits below."""


def _deep_qasm(n_qubits: int, layers: int) -> str:
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n_qubits}];"]
    lines.append(f"creg c[{n_qubits}];")
    for layer in range(layers):
        lines += [f"rx({0.1 + 0.01 * layer}) q[{i}];" for i in range(n_qubits)]
        lines += [f"cx q[{i}],q[{i + 1}];" for i in range(n_qubits - 1)]
    lines.append("measure q -> c;")
    return "\n".join(lines) + "\n"


def _replies(api, job_id: str, timeout: float = 20.0) -> list[dict]:
    """Every distinct ``status/`` reply until the job is final (polled every 10 ms)."""
    replies: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = api.get(f"job/{job_id}/status/").json()
        if not replies or replies[-1] != reply:
            replies.append(reply)
        if reply["status"] in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"):
            return replies
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} not final after {timeout} s: {replies}")


# --- SCHEDULED and run_time ------------------------------------------------------------


def test_finalised_jobs_pass_through_scheduled_and_report_run_time(make_server, client, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0.45))  # 0.15 s per phase
    api = client(server)
    job = api.submit({"a": qasm(2, "x q[0]")})
    started = time.monotonic()
    replies = _replies(api, job)
    wall = time.monotonic() - started
    assert [r["status"] for r in replies] == ["PENDING", "SCHEDULED", "RUNNING", "COMPLETED"]
    assert all("run_time" not in r for r in replies[:-1])
    run_time = replies[-1]["run_time"]
    assert isinstance(run_time, float) and 0 < run_time < wall
    assert server.jobs[job].run_time == pytest.approx(run_time, abs=1e-6)
    assert api.counts(job) == {"a": {"01": 100}}


def test_without_report_scheduled_jobs_go_from_pending_to_running(make_server, client, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0.3, report_scheduled=False))
    api = client(server)
    statuses = [r["status"] for r in _replies(api, api.submit({"a": qasm(1)}))]
    assert "SCHEDULED" not in statuses
    assert statuses[-2:] == ["RUNNING", "COMPLETED"]


def test_short_jobs_stay_fast(make_server, client, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0))
    api = client(server)
    api.wait(api.submit({"warm": qasm(1)}))  # starts the job process
    started = time.monotonic()
    assert api.wait(api.submit({"a": qasm(1)}), interval=0.005)[-1] == "COMPLETED"
    assert time.monotonic() - started < 0.5


def test_cancel_while_scheduled(make_server, client, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0.6))
    api = client(server)
    job = api.submit({"a": qasm(1)})
    while api.status(job) == "PENDING":
        time.sleep(0.01)
    assert api.status(job) == "SCHEDULED"
    resp = api.post(f"job/{job}/cancel/")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert api.status(job) == "CANCELLED"
    assert api.post(f"job/{job}/cancel/").status_code == 409


# --- TIMED_OUT ---------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads child processes from /proc")
def test_a_job_past_max_job_seconds_is_stopped_and_ends_timed_out(make_server, client, qasm):
    before = emulator_job_processes()
    server = make_server(
        config=EmulatorConfig(min_job_seconds=0, max_job_seconds=0.2, credits="10")
    )
    api = client(server)
    small = api.submit({"a": qasm(1, "x q[0]")})  # starts the child: not counted
    replies = _replies(api, small)
    assert replies[-1]["status"] == "COMPLETED" and replies[-1]["run_time"] < 0.2

    deep = api.submit({"deep": _deep_qasm(18, DEEP_LAYERS)}, shots=10)
    started = time.monotonic()
    final = _replies(api, deep)[-1]
    assert final["status"] == "TIMED_OUT"
    # Stopped, not run to its end: the hand-over to the child and 0.2 s of simulation take
    # well under 3 s even on a loaded machine, the whole job about 6 s.
    assert time.monotonic() - started < 3.0
    assert "0.2 s" in final["reason"] and "run_time" not in final
    results = api.get(f"job/{deep}/resultsV2/")
    assert results.status_code == 400 and "TIMED_OUT" in results.json()["error"]
    assert api.post(f"job/{deep}/cancel/").status_code == 409
    assert server.stats["jobs_timed_out"] == 1
    assert len(emulator_job_processes() - before) == 0  # the child was killed, not left running
    # Only the completed job was charged (0.01 + 0.01 per 1000 shots of 100, rounded up).
    assert server.jobs[deep].status == "TIMED_OUT"
    assert api.get("credits/").json()["balance"] == "9.98"
    assert server.stats["job_processes_started"] == 1  # the next job starts a fresh one


def test_max_execution_time_of_the_job_sets_its_deadline(make_server, client):
    server = make_server(config=EmulatorConfig(min_job_seconds=0))
    api = client(server)
    resp = api.post(
        "job/init/",
        {
            "job_type": "EXECUTE",
            "qpu_system_name": "qoro_maestro",
            "execution_configuration": {"api_meta": {"max_execution_time": 1}},
        },
    )
    assert resp.status_code == 201, resp.text
    job = resp.json()["job_id"]
    # 20 qubits: many seconds of simulation even on a fast machine, against a 1 s limit.
    assert api.add(job, {"deep": _deep_qasm(20, DEEP_LAYERS)}, shots=10).status_code == 200
    started = time.monotonic()
    final = _replies(api, job)[-1]
    assert final["status"] == "TIMED_OUT" and "1 s" in final["reason"]
    assert time.monotonic() - started < 5.0  # the child's start (1-3 s) + 1 s of simulation


def test_in_process_jobs_are_judged_when_they_return(make_server, client):
    # A limit no simulation stays under, so the outcome does not depend on the machine's speed.
    server = make_server(
        config=EmulatorConfig(min_job_seconds=0, isolate_jobs=False, max_job_seconds=1e-6)
    )
    api = client(server)
    job = api.submit({"small": _deep_qasm(4, 2)}, shots=10)
    assert _replies(api, job)[-1]["status"] == "TIMED_OUT"
    assert server.stats["jobs_timed_out"] == 1


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"api_meta": {"max_time": 5}}, "Unknown api_meta key: 'max_time'"),
        ({"api_meta": {"max_execution_time": "10"}}, "max_execution_time"),
        ({"api_meta": {"max_execution_time": 1.5}}, "max_execution_time"),
        ({"api_meta": {"max_execution_time": 0}}, "max_execution_time"),
        ({"api_meta": {"max_execution_time": True}}, "max_execution_time"),
        ({"api_meta": {"layout_method": 3}}, "layout_method"),
        ({"api_meta": []}, "api_meta"),
        ({"bond_dimension": 0}, "bond_dimension"),
        ({"noise_scaling_factor": 2}, "noise_scaling_factor"),
        ({"simulation_type": 9}, "simulation_type"),
        ({"noisy_device": 1}, "noisy_device"),
        ([], "execution_configuration"),
    ],
)
def test_bad_execution_configurations_are_400_before_a_job_exists(server, api, config, needle):
    created = server.stats["jobs_created"]
    resp = api.post(
        "job/init/",
        {
            "job_type": "EXECUTE",
            "qpu_system_name": "qoro_maestro",
            "execution_configuration": config,
        },
    )
    assert resp.status_code == 400
    assert needle in resp.json()["error"]
    assert server.stats["jobs_created"] == created


def test_a_full_execution_configuration_is_accepted(api):
    config = {
        "bond_dimension": 16,
        "truncation_threshold": 1e-8,
        "simulator_type": 1,
        "simulation_type": 0,
        "noisy_device": "ibm_fake_fez",
        "noise_realizations": 2,
        "noise_scaling_factor": 0.5,
        "api_meta": {
            "optimization_level": 1,
            "resilience_level": 0,
            "max_execution_time": 60,
            "transpilation_seed": 7,
            "layout_method": "sabre",
            "routing_method": "sabre",
            "approximation_degree": 0.99,
        },
    }
    body = {"job_type": "EXECUTE", "qpu_system_name": "qoro_maestro"}
    assert api.post("job/init/", {**body, "execution_configuration": config}).status_code == 201
