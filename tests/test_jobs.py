"""provider.jobs() / job() / backend(): this machine's journaled jobs at hand.

Every test journals into its own file (``journal`` fixture), so listings hold exactly the
jobs the test made. Results are checked against exact ``qiskit.quantum_info`` references:
the circuits are deterministic (counts are all shots on the one outcome of probability 1)
or EXPECTATION jobs (exact values, to 1e-9).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from ground_truth import outcome_probabilities, without_measurements
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from random_circuits import gate_tour

from qiskit_divi import (
    EstimatorV2,
    QoroBackendNotFoundError,
    QoroInputError,
    QoroJob,
    QoroProvider,
    SamplerV2,
)
from qiskit_divi.job_records import NOT_FOUND, JobRecord
from qiskit_divi.journal import JobJournal
from qiskit_divi.primitives import QoroPrimitiveJob

SHOTS = 300
OFF = {"progress": False}
DEAD_EMULATOR = "http://127.0.0.1:9/api"  # a loopback emulator that no longer runs
OTHER_SERVICE = "https://staging.qoro.invalid/api"


@pytest.fixture
def journal(tmp_path) -> JobJournal:
    return JobJournal(tmp_path / "jobs.sqlite3")


@pytest.fixture
def fresh(emulator_server, emulator_token, journal) -> Iterator[QoroProvider]:
    """A provider for the session emulator whose journal holds only this test's jobs."""
    with QoroProvider(token=emulator_token, url=emulator_server.base_url, journal=journal) as p:
        yield p


@pytest.fixture
def slow(slow_provider, journal) -> Iterator[QoroProvider]:
    """Like ``fresh``, on the emulator whose jobs stay open for a minute."""
    assert slow_provider.emulator is not None
    token = slow_provider.emulator.tokens[0]
    with QoroProvider(token=token, url=slow_provider.url, journal=journal) as p:
        yield p


def deterministic_circuit() -> QuantumCircuit:
    """X on qubits 0 and 2, then gate-tour circuits and their inverses: all shots on 0101."""
    tour = gate_tour(["cx", "ccx", "rzz", "u", "swap"], measure=False)
    circuit = QuantumCircuit(4, 4, name="deterministic")
    circuit.x([0, 2])
    for part in tour:
        qubits = list(range(part.num_qubits))
        circuit.compose(part, qubits, inplace=True)
        circuit.compose(part.inverse(), qubits, inplace=True)
    circuit.measure(range(4), range(4))
    return circuit


def exact_counts(circuit: QuantumCircuit, shots: int) -> dict[str, int]:
    """The counts a correct sampler returns for a deterministic circuit (as bitstrings)."""
    probabilities = outcome_probabilities(circuit)
    assert len(probabilities) == 1, "the reference circuit must be deterministic"
    (outcome, probability), *_ = probabilities.items()
    assert probability == pytest.approx(1.0, abs=1e-12)
    return {format(outcome, f"0{circuit.num_clbits}b"): shots}


@dataclass
class ThreeJobs:
    run: QoroJob
    sampler: QoroPrimitiveJob
    estimator: QoroPrimitiveJob
    counts: dict[str, int]
    evs: np.ndarray


def submit_three(provider: QoroProvider) -> ThreeJobs:
    """A backend.run, a SamplerV2 and an EstimatorV2 call, in this order, all finished and
    checked against the exact references."""
    backend = provider.backend("qoro_maestro")
    pm = generate_preset_pass_manager(optimization_level=0, backend=backend)
    circuit = deterministic_circuit()
    isa = pm.run(circuit)
    counts = exact_counts(circuit, SHOTS)

    run = backend.run(isa, shots=SHOTS, progress=False)
    assert run.result().get_counts() == counts

    sampler = SamplerV2(mode=backend, options=OFF).run([(isa, None, SHOTS), isa], shots=SHOTS)
    sampled = sampler.result()
    assert [pub.data.c.get_counts() for pub in sampled] == [counts, counts]

    state = without_measurements(gate_tour(["rzz"], measure=True)[0])
    observables = SparsePauliOp(["ZZI", "XIX", "IYY"], coeffs=[0.5, -1.25, 2.0])
    isa_state = pm.run(state)
    estimator = EstimatorV2(mode=backend, options=OFF).run(
        [(isa_state, observables.apply_layout(isa_state.layout))]
    )
    evs = np.asarray(estimator.result()[0].data.evs)
    reference = Statevector(state).expectation_value(observables).real
    assert evs == pytest.approx(reference, abs=1e-9)
    return ThreeJobs(run, sampler, estimator, counts, evs)


@pytest.fixture
def three(fresh) -> ThreeJobs:
    return submit_three(fresh)


def count_status_requests(provider: QoroProvider, monkeypatch) -> list[str]:
    """The job ids of every ``status/`` request ``provider`` makes from now on."""
    asked: list[str] = []
    real = provider.client.job_status

    def counting(job_id: str, **kwargs: Any) -> Any:
        asked.append(job_id)
        return real(job_id, **kwargs)

    monkeypatch.setattr(provider.client, "job_status", counting)
    return asked


# --- the listing --------------------------------------------------------------------


def test_the_listing_shows_all_three_newest_first_with_fresh_statuses(fresh, three, monkeypatch):
    asked = count_status_requests(fresh, monkeypatch)
    records = fresh.jobs()
    assert [r.job_id for r in records] == [
        three.estimator.job_id(),
        three.sampler.job_id(),
        three.run.job_id(),
    ]
    assert sorted(asked) == sorted(r.job_id for r in records)  # one status request each
    assert [r.kind for r in records] == ["estimator", "sampler", "backend-run"]
    assert all(r.status is JobStatus.DONE and r.qoro_status == "COMPLETED" for r in records)
    assert all(r.found and r.backend_name == "qoro_maestro" for r in records)
    assert all(r.base_url == fresh.url for r in records)
    created = [r.created for r in records]
    assert created == sorted(created, reverse=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert all(datetime.timedelta(0) <= now - c < datetime.timedelta(minutes=5) for c in created)
    estimator, sampler, run = records
    assert (run.shots, run.num_circuits, run.num_pubs) == (SHOTS, 1, None)
    assert (sampler.shots, sampler.num_circuits, sampler.num_pubs) == (SHOTS, None, 2)
    assert (estimator.shots, estimator.num_circuits, estimator.num_pubs) == (None, None, 1)
    assert isinstance(run.job, QoroJob) and isinstance(sampler.job, QoroPrimitiveJob)
    assert run.to_json()["status"] == "DONE"


def test_a_status_is_asked_at_listing_time(slow):
    backend = slow.backend("qoro_maestro")
    job = backend.run(deterministic_circuit(), shots=10, progress=False)
    (before,) = slow.jobs()
    assert before.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    assert before.qoro_status in ("PENDING", "SCHEDULED", "RUNNING")
    assert job.cancel()
    (after,) = slow.jobs()
    assert (after.status, after.qoro_status) == (JobStatus.CANCELLED, "CANCELLED")


def test_filters_by_kind_backend_and_status(slow):
    backend = slow.backend("qoro_maestro")
    open_job = backend.run(deterministic_circuit(), shots=10, progress=False)
    cancelled = SamplerV2(mode=backend, options=OFF).run([deterministic_circuit()], shots=10)
    assert cancelled.cancel()

    assert [r.job_id for r in slow.jobs(kind="sampler")] == [cancelled.job_id()]
    assert [r.job_id for r in slow.jobs(kind="backend-run")] == [open_job.job_id()]
    assert slow.jobs(kind="estimator") == []
    assert len(slow.jobs(backend="qoro_maestro")) == 2
    assert len(slow.jobs(backend=backend)) == 2
    assert slow.jobs(backend="fake_nairobi") == []
    assert [r.job_id for r in slow.jobs(status="cancelled")] == [cancelled.job_id()]
    assert [r.job_id for r in slow.jobs(status=JobStatus.CANCELLED)] == [cancelled.job_id()]
    open_status = open_job.status()
    assert [r.job_id for r in slow.jobs(status=open_status)] == [open_job.job_id()]
    assert slow.jobs(status="DONE") == []
    assert open_job.cancel()


def test_a_call_of_several_qoro_jobs_has_their_combined_status(slow, monkeypatch):
    backend = slow.backend("qoro_maestro")
    first, second = (backend.run(deterministic_circuit(), shots=5, progress=False) for _ in "ab")
    assert second.cancel()
    # Journal the two as one sampler call, as SamplerV2 does for a call of two Qoro jobs.
    jobs = [{"job_id": j.job_id(), "shots": 5} for j in (first, second)]
    slow.journal.record(
        first.job_id(),
        "sampler",
        "qoro_maestro",
        {"format": 1, "jobs": jobs, "pubs": []},
        base_url=slow.url,
    )
    pointer = {"format": 1, "primary": first.job_id()}
    slow.journal.record(second.job_id(), "sampler", "qoro_maestro", pointer, base_url=slow.url)
    asked = count_status_requests(slow, monkeypatch)
    (record,) = slow.jobs()
    assert asked == [first.job_id(), second.job_id()]
    assert record.job_ids == (first.job_id(), second.job_id())
    assert (record.status, record.qoro_status) == (JobStatus.CANCELLED, "CANCELLED")
    assert isinstance(record.job, QoroPrimitiveJob) and record.job.job_ids == list(record.job_ids)
    assert first.cancel()


def test_limit_bounds_the_listing_and_its_status_requests(fresh, three, monkeypatch):
    asked = count_status_requests(fresh, monkeypatch)
    records = fresh.jobs(limit=2)
    assert [r.job_id for r in records] == [three.estimator.job_id(), three.sampler.job_id()]
    assert len(asked) == 2
    asked.clear()
    assert [r.job_id for r in fresh.jobs(limit=1, kind="backend-run")] == [three.run.job_id()]
    assert asked == [three.run.job_id()]


def test_a_job_the_service_no_longer_knows_is_listed_as_such(fresh, three):
    fresh.journal.record(
        "gone-job-1",
        "backend-run",
        "qoro_maestro",
        {"shots": 5, "circuits": []},
        base_url=fresh.url,
    )
    gone, *others = fresh.jobs()
    assert (gone.job_id, gone.qoro_status, gone.status, gone.job) == (
        "gone-job-1",
        NOT_FOUND,
        None,
        None,
    )
    assert gone.found is False
    assert [r.job_id for r in others] == [
        three.estimator.job_id(),
        three.sampler.job_id(),
        three.run.job_id(),
    ]


def test_the_other_jobs_of_a_primitive_call_are_not_listed_twice(fresh, three):
    # A call of several Qoro jobs journals a pointer to its first job under each other one.
    primary = three.sampler.job_id()
    fresh.journal.record(
        "second-job-of-the-call",
        "sampler",
        "qoro_maestro",
        {"format": 1, "primary": primary},
        base_url=fresh.url,
    )
    assert [r.job_id for r in fresh.jobs()] == [
        three.estimator.job_id(),
        primary,
        three.run.job_id(),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit must be a positive integer"),
        ({"status": "FINISHED"}, "status='FINISHED' is not a Qiskit job status"),
        ({"status": 3}, "is not a Qiskit job status"),
        ({"kind": "run"}, "kind='run' is not a job kind: use 'backend-run'"),
    ],
)
def test_bad_arguments_fail_before_any_request(fresh, three, monkeypatch, kwargs, message):
    asked = count_status_requests(fresh, monkeypatch)
    with pytest.raises(QoroInputError, match=message):
        fresh.jobs(**kwargs)
    assert asked == []


# --- local emulators kept apart ---------------------------------------------------------


def _journal_foreign_jobs(journal: JobJournal) -> None:
    journal.record("dead-emulator-job", "backend-run", "qoro_maestro", {}, base_url=DEAD_EMULATOR)
    journal.record("staging-job", "sampler", "qoro_maestro", {"pubs": []}, base_url=OTHER_SERVICE)


def test_jobs_of_other_urls_are_listed_only_when_asked_and_without_a_status(fresh, three):
    _journal_foreign_jobs(fresh.journal)
    assert [r.job_id for r in fresh.jobs()] == [
        three.estimator.job_id(),
        three.sampler.job_id(),
        three.run.job_id(),
    ]
    everything = fresh.jobs(all_urls=True)  # a loopback provider may show every job
    assert [r.job_id for r in everything][:2] == ["staging-job", "dead-emulator-job"]
    for record in everything[:2]:
        assert (record.status, record.qoro_status, record.found, record.job) == (
            None,
            None,
            None,
            None,
        )
    assert len(everything) == 5


def test_loopback_emulator_jobs_are_never_shown_against_a_real_service(journal, monkeypatch):
    _journal_foreign_jobs(journal)
    journal.record(
        "older-local-job", "estimator", "qoro_maestro", {}, base_url="http://localhost:8/api"
    )
    with QoroProvider(
        token="not-sent", url="https://app.qoro.invalid/api", journal=journal
    ) as real:

        def no_network(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the listing asked a service it must not ask")

        monkeypatch.setattr(real.client, "job_status", no_network)
        monkeypatch.setattr(real.client, "list_systems", no_network)
        assert real.jobs() == []
        assert [r.job_id for r in real.jobs(all_urls=True)] == ["staging-job"]


# --- re-attaching: job() and backend() ------------------------------------------------------


def test_job_reattaches_each_kind_with_the_same_result(
    fresh, emulator_server, emulator_token, three
):
    # A second provider sharing only the journal: what another process sees.
    with QoroProvider(
        token=emulator_token, url=emulator_server.base_url, journal=fresh.journal
    ) as other:
        run = other.job(three.run.job_id())
        assert isinstance(run, QoroJob)
        assert run.result().get_counts() == three.counts == three.run.result().get_counts()
        assert run.circuit_names == three.run.circuit_names

        sampler = other.job(three.sampler.job_id())
        assert isinstance(sampler, QoroPrimitiveJob) and sampler.kind == "sampler"
        assert [pub.data.c.get_counts() for pub in sampler.result()] == [three.counts] * 2

        estimator = other.job(three.estimator.job_id())
        assert isinstance(estimator, QoroPrimitiveJob) and estimator.kind == "estimator"
        assert np.array_equal(estimator.result()[0].data.evs, three.evs)

        # retrieve_job is the same path; the records carry the same job objects.
        assert isinstance(other.retrieve_job(three.sampler.job_id()), QoroPrimitiveJob)
        listed = {r.job_id: r.job for r in other.jobs()}
        assert np.array_equal(listed[three.estimator.job_id()].result()[0].data.evs, three.evs)


def test_backend_is_get_backend(fresh):
    assert fresh.backend("qoro_maestro") is fresh.get_backend("qoro_maestro")
    assert fresh.backend("qoro_maestro", kind="system") is fresh.get_backend("qoro_maestro")
    with pytest.raises(QoroBackendNotFoundError, match="No Qoro backend named 'nope'"):
        fresh.backend("nope")


def test_records_are_typed_and_json_ready(fresh, three):
    (record,) = fresh.jobs(limit=1)
    assert isinstance(record, JobRecord)
    data = record.to_json()
    assert data["job_id"] == three.estimator.job_id()
    assert data["created"] == record.created.isoformat()
    assert data["job_ids"] == [three.estimator.job_id()]
