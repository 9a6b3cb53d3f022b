"""Ping and status latency of the emulator while it simulates a heavy job.

qiskit-aer holds the GIL while it runs, so a job simulated in the server's process
stalls every other request for as long as Aer runs; with ``isolate_jobs`` (the
default) jobs run in a child process and the HTTP threads keep answering. For each
mode, one EXPECTATION job of 4 circuits x 22 qubits (``--quick``: 2 x 18) runs while
a second client polls ``GET /api/`` and the job's status back to back; the figures
are the poll latencies (p50, p99, max) while the job runs and the job's wall time.

    python benchmarks/bench_emulator_latency.py [--quick]
"""

from __future__ import annotations

import statistics
import time

import requests
from _common import emit, machine, quick_mode

from qiskit_divi.api.circuits import pack_circuit
from qiskit_divi.emulator import EmulatorConfig, EmulatorServer

BENCHMARK = "emulator_latency"
TOKEN = "bench-token"


def _qasm(n_qubits: int, angle: float) -> str:
    gates = [f"h q[{i}];" for i in range(n_qubits)]
    gates += [f"cx q[{i}],q[{i + 1}];" for i in range(n_qubits - 1)]
    gates.append(f"rz({angle}) q[0];")
    return "\n".join(["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n_qubits}];", *gates])


def _terms(n_qubits: int) -> str:
    return ";".join(["Z" * n_qubits, "X" * n_qubits, "XY" + "I" * (n_qubits - 2)])


def measure(isolate: bool, n_qubits: int, n_circuits: int) -> dict[str, float]:
    """Poll latencies (seconds) while one heavy job runs, and the job's wall time."""
    config = EmulatorConfig(min_job_seconds=0.0, isolate_jobs=isolate)
    with EmulatorServer(tokens=[TOKEN], config=config) as server, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        base = server.base_url

        def post(path: str, body: dict[str, object]) -> dict[str, object]:
            resp = session.post(f"{base}/{path}", json=body, timeout=600)
            resp.raise_for_status()
            return resp.json()  # type: ignore[no-any-return]

        def run_job(n: int, q: int) -> str:
            job = post("job/init/", {"job_type": "EXPECTATION", "qpu_system_name": "qoro_maestro"})[
                "job_id"
            ]
            circuits = {f"c{k}": pack_circuit(_qasm(q, 0.1 * k)) for k in range(n)}
            body = {"circuits": circuits, "observables": _terms(q), "finalized": "true"}
            post(f"job/{job}/add_circuits/", body)
            return str(job)

        def status(job: str) -> str:
            resp = session.get(f"{base}/job/{job}/status/", timeout=600)
            return str(resp.json()["status"])

        warm = run_job(1, 2)  # starts the job process and Aer before the timing
        while status(warm) not in ("COMPLETED", "FAILED"):
            time.sleep(0.01)
        job = run_job(n_circuits, n_qubits)
        started = time.perf_counter()
        latencies: list[float] = []
        while True:
            t0 = time.perf_counter()
            session.get(f"{base}/", timeout=600)
            state = status(job)
            latencies.append((time.perf_counter() - t0) / 2)
            if state in ("COMPLETED", "FAILED"):
                break
        job_seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max": latencies[-1],
        "job_seconds": job_seconds,
        "polls": len(latencies),
    }


def main() -> None:
    n_qubits, n_circuits = (18, 2) if quick_mode() else (22, 4)
    workload = f"EXPECTATION {n_circuits} x {n_qubits} qubits"
    for isolate in (False, True):
        figures = measure(isolate, n_qubits, n_circuits)
        emit(
            BENCHMARK,
            workload,
            mode="job process" if isolate else "in-process thread",
            seconds=figures["job_seconds"],
            ping_p50_ms=figures["p50"] * 1e3,
            ping_p99_ms=figures["p99"] * 1e3,
            ping_max_ms=figures["max"] * 1e3,
            polls=figures["polls"],
            **machine(),
        )


if __name__ == "__main__":
    main()
