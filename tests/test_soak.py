"""Soak: many jobs through every entry point against an emulator that faults 20 % of requests.

Entry points: ``QoroBackend.run``, ``QoroService``, ``SamplerV2`` and ``EstimatorV2``.

Each workload runs twice on emulators with the same Aer seed: once clean, once with
``FaultConfig.mixed(0.2)`` (502/503/504, 429 + Retry-After, resets before and after
the server acted) plus latency and a slow queue. Every result of the faulted run
must equal the clean run's, and the faulted emulator must end with exactly one job
per submission (no duplicate) and none left behind (each job completed and read,
or deleted).

Why the comparison is sound: the emulator seeds the transpiler and ``seed_simulator``
of every Aer run with the same value, so a job's counts depend only on its own
circuits, in their order; every job's circuits are distinct (a deterministic circuit
encodes the job number), so a lost, swapped or duplicated result cannot compare equal.

Runs only when asked: ``QISKIT_DIVI_SOAK=1 pytest -q tests/test_soak.py`` (plain
``pytest -q`` skips this module; ``.ci/run`` sets the variable, so CI runs it). CI size:
``QISKIT_DIVI_SOAK_JOBS`` jobs in all (default 240), split over the entry points; set it
higher for a longer run. ``QISKIT_DIVI_SOAK_SEED`` replays another fault sequence.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp

import qiskit_divi.backend as backend_module
from qiskit_divi import EstimatorV2, QoroAmbiguousRequestError, QoroProvider, SamplerV2
from qiskit_divi.api.client import QoroClient
from qiskit_divi.api.retry import RetryPolicy
from qiskit_divi.api.submission import submit_job
from qiskit_divi.emulator import EmulatorConfig, EmulatorServer, FaultConfig

SOAK_ENV = "QISKIT_DIVI_SOAK"
"""Set to ``1`` to run this module."""

pytestmark = [
    pytest.mark.soak,
    pytest.mark.skipif(
        os.environ.get(SOAK_ENV) != "1",
        reason=f"the soak runs only when asked: {SOAK_ENV}=1 pytest tests/test_soak.py",
    ),
]

TOTAL_JOBS = int(os.environ.get("QISKIT_DIVI_SOAK_JOBS", "240"))
FAULT_RATE = 0.2
EMULATOR_SEED = 2026
FAULT_SEED = int(os.environ.get("QISKIT_DIVI_SOAK_SEED", "20260523"))
"""Seed of the fault sequence; printed with the figures so a failing run can be replayed."""
SHOTS = 256
CHUNK_BYTES = 1500
"""Upload budget per ``add_circuits`` call, small so that every job takes several chunks."""
TOKEN = "soak-token-3f9a0c51d2e84b67"
POLICY = dict(max_attempts=10, backoff_base=0.002, backoff_cap=0.02)
"""Fast backoff keeps the soak short; 10 attempts make 10 faults in a row (0.2**10) negligible."""


def soak_faults() -> FaultConfig:
    return FaultConfig.mixed(
        FAULT_RATE,
        seed=FAULT_SEED,
        retry_after="0",
        latency_seconds=0.003,
        latency_rate=0.05,
        queue_delay_seconds=0.01,
    )


# --- circuits ------------------------------------------------------------------------


def marker_circuit(job: int, width: int = 6) -> QuantumCircuit:
    """Measures the binary of ``job`` (deterministic): tells jobs apart."""
    qc = QuantumCircuit(width, width, name=f"marker_{job}")
    for bit in range(width):
        if job >> bit & 1:
            qc.x(bit)
    qc.measure(range(width), range(width))
    return qc


def random_circuit(job: int, index: int) -> QuantumCircuit:
    """A sampled (non-deterministic) 3-qubit circuit, different for every (job, index)."""
    qc = QuantumCircuit(3, 3, name=f"rand_{job}_{index}")
    qc.ry(0.37 * job + 0.11 * index + 0.2, 0)
    qc.h(1)
    qc.cx(0, 2)
    qc.rx(0.05 * (job + index), 2)
    qc.measure(range(3), range(3))
    return qc


def job_circuits(job: int) -> list[QuantumCircuit]:
    return [marker_circuit(job)] + [random_circuit(job, i) for i in range(7)]


def marker_bits(job: int, width: int = 6) -> str:
    return format(job % (1 << width), f"0{width}b")


# --- entry points --------------------------------------------------------------------


@dataclass
class Run:
    """One pass of the workload against one emulator."""

    server: EmulatorServer
    results: dict[tuple[str, int], Any] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    """Job ids that stay on the server (completed and read)."""
    deleted: set[str] = field(default_factory=set)
    clients: list[QoroClient] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    """The emulator's figures at the end of the run."""
    leftover: dict[str, Any] = field(default_factory=dict)
    """The jobs the emulator still holds at the end, by id."""


Mode = Callable[[Run, list[int]], None]


def run_backend(run: Run, jobs: list[int]) -> None:
    """``QoroBackend.run`` -> ``QoroJob.result().get_counts()``; jobs are kept."""
    with _provider(run) as provider:
        backend = provider.get_backend("qoro_maestro")
        submitted = [(j, backend.run(job_circuits(j), shots=SHOTS)) for j in jobs]
        for j, qjob in submitted:
            counts = qjob.result(timeout=120).get_counts()
            assert counts[0] == {marker_bits(j): SHOTS}
            run.results[("backend", j)] = counts
            run.kept.add(qjob.job_id())


def run_service(run: Run, jobs: list[int]) -> None:
    """``QoroService.submit_circuits`` -> poll -> ``get_job_results`` -> ``delete_job``."""
    from qiskit_divi.backends import JobConfig
    from qiskit_divi.backends._qoro_service import QoroService

    client = QoroClient(TOKEN, run.server.base_url, retry_policy=RetryPolicy(**POLICY))
    run.clients.append(client)
    service = QoroService(
        client=client,
        config=JobConfig(shots=SHOTS, qpu_system="qoro_maestro"),
        polling_interval=0.01,
        max_retries=5000,
    )
    handles = []
    for j in jobs:
        circuits = {f"c{i}": qasm2.dumps(qc) for i, qc in enumerate(job_circuits(j))}
        if j % 4 == 3:  # every fourth job is an EXPECTATION job
            circuits = {f"e{i}": qasm2.dumps(random_circuit(j, i)) for i in range(4)}
            handles.append((j, service.submit_circuits(circuits, ham_ops="ZII;IZI;IIZ;XXI;ZZZ")))
        else:
            handles.append((j, service.submit_circuits(circuits)))
    for j, handle in handles:
        status = service.poll_job_status(handle, loop_until_complete=True, verbose=False)
        assert status.value == "COMPLETED"
        rows = service.get_job_results(handle).results
        result = {row["label"]: row["results"] for row in rows}
        if "c0" in result:
            assert result["c0"] == {marker_bits(j): SHOTS}
        run.results[("service", j)] = result
        service.delete_job(handle)
        run.deleted.add(handle.job_id)
    client.close()


def _provider(run: Run) -> QoroProvider:
    provider = QoroProvider(token=TOKEN, url=run.server.base_url)
    provider.client.retry_policy = RetryPolicy(**POLICY)
    run.clients.append(provider.client)
    return provider


THETA = Parameter("theta")


def sweep_circuit(job: int) -> QuantumCircuit:
    """A parametrised 3-qubit circuit (one PUB binds it several times)."""
    qc = QuantumCircuit(3, 3)
    qc.ry(THETA, 0)
    qc.cx(0, 1)
    qc.rx(0.1 * job, 2)
    qc.measure(range(3), range(3))
    return qc


def run_sampler(run: Run, jobs: list[int]) -> None:
    """``SamplerV2.run`` (a marker PUB, a random PUB, a 4-point sweep) -> counts per register."""
    with _provider(run) as provider:
        sampler = SamplerV2(mode=provider.get_backend("qoro_maestro"))
        submitted = []
        for j in jobs:
            pubs = [
                (marker_circuit(j),),
                (random_circuit(j, 0),),
                (sweep_circuit(j), [[0.3 * k + 0.01 * j] for k in range(4)]),
            ]
            submitted.append((j, sampler.run(pubs, shots=SHOTS)))
        for j, pjob in submitted:
            result = pjob.result(timeout=120)
            assert result[0].data.c.get_counts() == {marker_bits(j): SHOTS}
            run.results[("sampler", j)] = [
                {name: result[i].data[name].get_counts() for name in result[i].data}
                for i in range(len(result))
            ] + [result[2].data.c.get_counts(k) for k in range(4)]
            run.kept.update(pjob.job_ids)


def run_estimator(run: Run, jobs: list[int]) -> None:
    """``EstimatorV2.run`` (EXPECTATION jobs: exact values) -> evs per PUB."""
    observables = [SparsePauliOp("IIZ"), SparsePauliOp.from_list([("XXI", 0.5), ("IZZ", -1.5)])]
    with _provider(run) as provider:
        estimator = EstimatorV2(mode=provider.get_backend("qoro_maestro"))
        submitted = []
        for j in jobs:
            template = sweep_circuit(j).remove_final_measurements(inplace=False)
            pubs = [
                (template, observables[0], [0.2 * j]),
                (template, [[o] for o in observables], [[0.1], [0.7 + 0.01 * j]]),
            ]
            submitted.append((j, estimator.run(pubs)))
        for j, pjob in submitted:
            result = pjob.result(timeout=120)
            evs = [np.asarray(pub.data.evs).tolist() for pub in result]
            # Independent check of the first PUB: <Z0> after ry(theta) on qubit 0 is cos(theta).
            assert evs[0] == pytest.approx(np.cos(0.2 * j))
            run.results[("estimator", j)] = evs
            run.kept.update(pjob.job_ids)


MODES: dict[str, Mode] = {
    "backend": run_backend,
    "service": run_service,
    "sampler": run_sampler,
    "estimator": run_estimator,
}


def split_jobs(total: int, modes: list[str]) -> dict[str, list[int]]:
    """Job numbers per mode: ``total`` in all, numbered so every job is unique."""
    per_mode = math.ceil(total / len(modes))
    return {mode: list(range(k * per_mode, (k + 1) * per_mode)) for k, mode in enumerate(modes)}


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Upload every job in several ``add_circuits`` chunks (the faults then hit mid-upload)."""
    monkeypatch.setattr(
        backend_module, "submit_job", functools.partial(submit_job, max_bytes=CHUNK_BYTES)
    )
    from qiskit_divi.backends import _qoro_service

    monkeypatch.setattr(_qoro_service, "_MAX_PAYLOAD_SIZE_MB", CHUNK_BYTES / (1024 * 1024))
    yield


def run_workload(
    config: EmulatorConfig, faults: FaultConfig | None, plan: dict[str, list[int]]
) -> Run:
    with EmulatorServer(tokens=[TOKEN], config=config, faults=faults) as server:
        run = Run(server)
        for mode, jobs in plan.items():
            MODES[mode](run, jobs)
        run.stats = server.stats
        run.leftover = server.jobs
    return run


def test_soak_nothing_lost_nothing_duplicated(
    small_chunks: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = EmulatorConfig(min_job_seconds=0.0, seed=EMULATOR_SEED)
    plan = split_jobs(TOTAL_JOBS, list(MODES))
    submitted = sum(len(jobs) for jobs in plan.values())
    assert submitted >= 200 or "QISKIT_DIVI_SOAK_JOBS" in os.environ

    started = time.monotonic()
    clean = run_workload(config, None, plan)
    clean_seconds = time.monotonic() - started
    started = time.monotonic()
    faulted = run_workload(config, soak_faults(), plan)
    faulted_seconds = time.monotonic() - started

    # Every result arrived and equals the clean run's.
    assert (
        set(faulted.results)
        == set(clean.results)
        == {(m, j) for m, jobs in plan.items() for j in jobs}
    )
    lost = [key for key in clean.results if faulted.results.get(key) != clean.results[key]]
    assert lost == []

    # No duplicate: exactly the jobs of the clean run. No orphan: what is left was completed
    # and read.
    stats = faulted.stats
    assert (
        stats["jobs_created"]
        == clean.stats["jobs_created"]
        == len(faulted.kept) + len(faulted.deleted)
    )
    leftover = faulted.leftover
    assert set(leftover) == faulted.kept
    assert all(job.status == "COMPLETED" and job.finalized for job in leftover.values())

    faults = stats["faults"]
    request_faults = sum(
        faults[k]
        for k in ("reset_before", "reset_after", "http_429", "http_502", "http_503", "http_504")
    )
    assert request_faults >= 0.1 * stats["requests"]  # the faults really happened (~20 %)
    assert faults["reset_after"] > 0 and stats["idempotent_replays"] > 0
    client_stats = {
        k: sum(c.stats[k] for c in faulted.clients)
        for k in ("requests", "retries", "resent", "replayed")
    }
    with capsys.disabled():
        print(
            f"\nsoak: {submitted} jobs ({', '.join(f'{m} {len(j)}' for m, j in plan.items())}), "
            f"{100 * FAULT_RATE:.0f} % of requests faulted (QISKIT_DIVI_SOAK_SEED={FAULT_SEED})\n"
            f"  requests sent: {client_stats['requests']} (clean run: {clean.stats['requests']}), "
            f"retries: {client_stats['retries']}, "
            f"re-sent with the same Idempotency-Key: {client_stats['resent']}, "
            f"replayed by the server: {stats['idempotent_replays']}\n"
            f"  faults injected: {request_faults} of {stats['requests']} requests "
            f"({', '.join(f'{k} {v}' for k, v in faults.items() if v)})\n"
            f"  Qoro jobs created: {stats['jobs_created']} "
            f"(clean run: {clean.stats['jobs_created']}), "
            f"kept (completed and read): {len(faulted.kept)}, "
            f"deleted after reading: {len(faulted.deleted)}, left over otherwise: 0, "
            f"results lost: {len(lost)}\n"
            f"  time: clean {clean_seconds:.1f} s, faulted {faulted_seconds:.1f} s"
        )


def test_soak_without_idempotency_support_fails_loudly_never_silently(small_chunks: None) -> None:
    """A server that does not honour Idempotency-Key (the real service, as far as anyone knows):
    ambiguous POSTs are never re-sent. Every job either returns the clean run's result or
    raises ``QoroAmbiguousRequestError``; each extra job on the server is one that an error
    reported (a lost ``job/init/`` reply); half-uploaded jobs are deleted."""
    jobs = list(range(1000, 1000 + max(20, TOTAL_JOBS // 6)))
    config = EmulatorConfig(min_job_seconds=0.0, seed=EMULATOR_SEED, idempotency=False)
    clean = run_workload(config, None, {"backend": jobs})
    with (
        EmulatorServer(tokens=[TOKEN], config=config, faults=soak_faults()) as server,
        QoroProvider(token=TOKEN, url=server.base_url) as provider,
    ):
        provider.client.retry_policy = RetryPolicy(**POLICY)
        backend = provider.get_backend("qoro_maestro")
        ok: dict[int, Any] = {}
        lost_init = 0
        discarded = 0
        for j in jobs:
            try:
                qjob = backend.run(job_circuits(j), shots=SHOTS)
            except QoroAmbiguousRequestError as exc:
                if exc.job_id is None:
                    assert "job may have been created" in str(exc)
                    lost_init += 1
                else:
                    assert exc.job_id in str(exc) and exc.job_id not in server.jobs
                    discarded += 1
                continue
            ok[j] = (qjob.job_id(), qjob.result(timeout=120).get_counts())
        assert provider.client.stats["resent"] == 0
        leftover = server.jobs
        kept = {job_id for job_id, _ in ok.values()}
        assert kept <= set(leftover)
        # Extra jobs come only from job/init/ replies that were lost, each one reported by
        # an error; they are empty and never ran. Half-uploaded jobs were deleted.
        orphans = [job for job_id, job in leftover.items() if job_id not in kept]
        assert len(orphans) <= lost_init
        assert all(job.n_circuits == 0 and not job.finalized for job in orphans)
        assert server.stats["jobs_created"] == len(ok) + discarded + len(orphans)
        assert lost_init + discarded > 0  # the faults did hit state-changing requests
    for j, (_, counts) in ok.items():
        assert counts == clean.results[("backend", j)]
    assert len(ok) >= len(jobs) // 2
