"""Issue 15 items 3-5: bounded memory per job, answers while a job runs, bounded job state."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest
from child_processes import emulator_job_processes
from qiskit.quantum_info import Pauli, Statevector

from qiskit_divi._qasm import load
from qiskit_divi.emulator import EmulatorConfig
from qiskit_divi.emulator.circuits import CircuitParser
from qiskit_divi.emulator.systems import expectation_job, job_memory_estimate


def _deep_qasm(n_qubits: int, layers: int, measure: bool = True) -> str:
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n_qubits}];"]
    lines.append(f"creg c[{n_qubits}];")
    for layer in range(layers):
        lines += [f"rx({0.1 + 0.01 * layer}) q[{i}];" for i in range(n_qubits)]
        lines += [f"cx q[{i}],q[{i + 1}];" for i in range(n_qubits - 1)]
    if measure:
        lines.append("measure q -> c;")
    return "\n".join(lines) + "\n"


# --- 3. bounded work per job ---------------------------------------------------------


def test_expectation_job_over_the_memory_budget_is_refused(make_server, client, qasm):
    budget = job_memory_estimate(
        expectation=True, num_qubits=10, num_clbits=0, n_circuits=1, shots=None, engine="aer"
    )
    srv = make_server(
        config=EmulatorConfig(max_job_memory_bytes=budget, min_job_seconds=0, engine="aer")
    )
    api = client(srv)
    fits = api.submit({"ok": qasm(10, "h q[0]", measure=False)}, observables="Z" * 10)
    assert api.wait(fits)[-1] == "COMPLETED"
    job = api.init("EXPECTATION")
    resp = api.add(job, {"wide": qasm(11, "h q[0]", measure=False)}, observables="Z" * 11)
    assert resp.status_code == 400
    message = resp.json()["error"]
    assert "memory budget" in message and "max_job_memory_bytes" in message
    assert "fewer qubits" in message


def test_sampling_job_over_the_budget_says_how_to_split(make_server, client, qasm):
    one = job_memory_estimate(
        expectation=False, num_qubits=4, num_clbits=4, n_circuits=1, shots=1000
    )
    srv = make_server(config=EmulatorConfig(max_job_memory_bytes=10 * one, min_job_seconds=0))
    api = client(srv)
    job = api.init()
    resp = api.add(job, {f"c{i}": qasm(4, "h q[0]") for i in range(40)}, shots=1000)
    assert resp.status_code == 400
    assert "split it into jobs of at most" in resp.json()["error"]
    assert api.status(job) == "PENDING"  # nothing was appended


def test_expectation_values_are_exact_across_batches():
    """Circuits are simulated in bounded batches; every value still matches quantum_info."""
    parser = CircuitParser()
    texts = [_deep_qasm(20, 1, measure=False).replace("0.1", str(0.1 + k)) for k in range(5)]
    circuits = [parser.parse(text) for text in texts]
    terms = ["X" * 20, "I" * 10 + "YZ" + "I" * 8]
    values = expectation_job(circuits, terms)
    for text, got in zip(texts, values, strict=True):
        state = Statevector(load(text).remove_final_measurements(inplace=False))
        for term in terms:
            want = state.expectation_value(Pauli(term[::-1])).real
            assert got[term] == pytest.approx(want, abs=1e-10)


def test_expectation_job_keeps_a_bounded_number_of_statevectors(monkeypatch):
    """The issue's 40 x 22-qubit job kept one statevector per circuit alive at once."""
    from qiskit_aer import AerSimulator

    alive: list[int] = []
    run = AerSimulator.run

    def counting_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        job = run(self, *args, **kwargs)
        alive.append(len(job.result().results))
        return job

    monkeypatch.setattr(AerSimulator, "run", counting_run)
    parser = CircuitParser()
    circuits = [parser.parse(_deep_qasm(20, 1, measure=False)) for _ in range(9)]
    values = expectation_job(circuits, ["Z" * 20])
    assert len(values) == 9
    assert sum(alive) == 9 and max(alive) <= 4  # 4 x 2**20 amplitudes: 64 MiB per batch


# --- 4. responsive while busy ---------------------------------------------------------


def _max_ping_latency_during(api: Any, job: str) -> float:
    worst = 0.0
    while True:
        started = time.perf_counter()
        assert api.get("").status_code == 200
        state = api.status(job)
        worst = max(worst, time.perf_counter() - started)
        if state in ("COMPLETED", "FAILED", "CANCELLED"):
            assert state == "COMPLETED"
            return worst


def test_pings_answer_while_a_job_simulates(make_server, client):
    """Aer holds the GIL while it runs: in the server's process, a 2 s run stalls every poll."""
    srv = make_server(config=EmulatorConfig(min_job_seconds=0))
    api = client(srv)
    api.wait(api.submit({"warm": _deep_qasm(2, 1)}))  # starts the job process
    job = api.submit({"deep": _deep_qasm(18, 30)}, shots=10)
    assert _max_ping_latency_during(api, job) < 0.5


def test_cancel_of_a_running_job_is_prompt_and_drops_its_outcome(make_server, client):
    srv = make_server(config=EmulatorConfig(min_job_seconds=0))
    api = client(srv)
    job = api.submit({"deep": _deep_qasm(18, 400)}, shots=10)
    deadline = time.monotonic() + 10
    while api.status(job) != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    started = time.perf_counter()
    assert api.post(f"job/{job}/cancel/").status_code == 200
    assert api.status(job) == "CANCELLED"
    assert time.perf_counter() - started < 0.5
    # The worker is free again at once: a small job completes without waiting for the deep one.
    small = api.submit({"s": _deep_qasm(2, 1)})
    assert api.wait(small, timeout=8)[-1] == "COMPLETED"
    assert api.status(job) == "CANCELLED"
    assert srv.stats["job_processes_started"] == 2


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads child processes from /proc")
@pytest.mark.parametrize("while_starting", [True, False])
def test_stop_ends_the_job_process(make_server, client, while_starting):
    """Also while the child still starts and the task is being sent (the send is not cut)."""
    before = emulator_job_processes()
    srv = make_server(config=EmulatorConfig(min_job_seconds=0))
    api = client(srv)
    job = api.submit({"deep": _deep_qasm(18, 400)}, shots=10)
    if not while_starting:
        time.sleep(1.5)  # the child has imported Qiskit and is simulating
    assert api.status(job) == "RUNNING"
    # The worker reports RUNNING just before it starts the child: wait for the child to
    # exist (it then still imports Qiskit for a second or more, i.e. it is starting).
    deadline = time.monotonic() + 5.0
    while not emulator_job_processes() - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(emulator_job_processes() - before) == 1
    started = time.perf_counter()
    srv.stop()
    assert time.perf_counter() - started < 3.0
    assert emulator_job_processes() - before == set()
    assert srv.stats["job_processes_started"] == 1


# --- 5. bounded state -----------------------------------------------------------------


def test_open_jobs_per_token_are_limited_with_429(make_server, client):
    srv = make_server(config=EmulatorConfig(max_open_jobs_per_token=3))
    api = client(srv)
    jobs = [api.init() for _ in range(3)]
    resp = api.post("job/init/", {"job_type": "SIMULATE", "qpu_system_name": "qoro_maestro"})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"
    assert "max_open_jobs_per_token" in resp.json()["detail"]
    assert api.post(f"job/{jobs[0]}/cancel/").status_code == 200  # no longer open: room again
    assert api.init()


def test_429_is_not_stored_for_an_idempotency_key(make_server, client):
    srv = make_server(config=EmulatorConfig(max_open_jobs_per_token=1))
    api = client(srv)
    first = api.init()
    body = {"job_type": "SIMULATE", "qpu_system_name": "qoro_maestro"}
    key = {"Idempotency-Key": "k-1"}
    assert api.post("job/init/", body, headers=key).status_code == 429
    api.delete(f"job/{first}")
    assert api.post("job/init/", body, headers=key).status_code == 201


def test_finished_jobs_are_evicted_after_the_retention_time(make_server, client, qasm):
    srv = make_server(config=EmulatorConfig(min_job_seconds=0, job_retention_seconds=0.2))
    api = client(srv)
    done = api.submit({"a": qasm(1, "x q[0]")})
    assert api.wait(done)[-1] == "COMPLETED"
    time.sleep(0.3)
    api.init()
    assert api.get(f"job/{done}/status/").status_code == 404


def test_max_jobs_evicts_the_longest_finished_then_answers_429(make_server, client):
    srv = make_server(config=EmulatorConfig(max_jobs=3, min_job_seconds=0))
    api = client(srv)
    failed = [api.post("job/create_failed/", {}).json()["job_id"] for _ in range(2)]
    api.init()
    api.init()  # evicts the first failed job
    assert api.get(f"job/{failed[0]}/status/").status_code == 404
    assert api.status(failed[1]) == "FAILED"
    api.init()  # evicts the second
    resp = api.post("job/init/", {"job_type": "SIMULATE", "qpu_system_name": "qoro_maestro"})
    assert resp.status_code == 429 and "max_jobs" in resp.json()["detail"]
    assert srv.job_count == 3


def test_memory_estimate_grows_with_width_not_expectation_circuit_count():
    one = job_memory_estimate(
        expectation=True, num_qubits=22, num_clbits=0, n_circuits=1, shots=None
    )
    forty = job_memory_estimate(
        expectation=True, num_qubits=22, num_clbits=0, n_circuits=40, shots=None
    )
    assert one == forty < 1024**3
    assert np.isclose(one / (16 << 22), 7, rtol=0.1)
