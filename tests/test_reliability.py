"""Reliability: bad input never creates a job; faults never duplicate or orphan one; waits
are bounded.

The bad-input table of the README ("Reliability") is tested here, one test per row,
through the layer where the input enters; each asserts that the emulator created no job.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import pytest
from qiskit import QuantumCircuit, qasm2
from qiskit.circuit import Parameter
from qiskit.providers import JobTimeoutError
from sample_circuits import bell

from qiskit_divi import (
    QoroAmbiguousRequestError,
    QoroAuthenticationError,
    QoroBackendNotFoundError,
    QoroError,
    QoroInputError,
    QoroJobTimeoutError,
    QoroNotFoundError,
    QoroProtocolError,
    QoroProvider,
)
from qiskit_divi.api.histogram import encode_envelope
from qiskit_divi.api.models import JobType, ResultRow
from qiskit_divi.api.retry import RetryPolicy
from qiskit_divi.api.submission import MAX_SHOTS, JobSpec, submit_job, wait_for_final_status
from qiskit_divi.emulator import EmulatorConfig, EmulatorServer, FaultConfig

FAST_POLICY = dict(max_attempts=8, backoff_base=0.002, backoff_cap=0.02)
TOKEN = "reliability-token-6c1d0e2f9b"


@contextlib.contextmanager
def no_job_created(server: EmulatorServer) -> Iterator[None]:
    before = server.stats["jobs_created"]
    yield
    assert server.stats["jobs_created"] == before, "a job was created for bad input"


@pytest.fixture
def local() -> Iterator[Callable[..., tuple[EmulatorServer, QoroProvider]]]:
    """``local(config=..., faults=...)``: a private emulator and a provider with a fast retry
    policy."""
    opened: list[tuple[EmulatorServer, QoroProvider]] = []

    def make(config: EmulatorConfig | None = None, faults: FaultConfig | None = None):
        server = EmulatorServer(
            tokens=[TOKEN],
            config=config or EmulatorConfig(min_job_seconds=0.0, seed=7, engine="aer"),
            faults=faults,
        )
        server.start()
        provider = QoroProvider(token=TOKEN, url=server.base_url)
        provider.client.retry_policy = RetryPolicy(**FAST_POLICY)
        opened.append((server, provider))
        return server, provider

    yield make
    for server, provider in opened:
        provider.close()
        server.stop()


# --- bad input through backend.run / the provider ------------------------------------


def test_circuit_wider_than_the_system(provider, emulator_server):
    with (
        no_job_created(emulator_server),
        pytest.raises(QoroInputError, match="uses 8 qubits but backend 'fake_nairobi' has only 7"),
    ):
        provider.get_backend("fake_nairobi").run(bell(8), shots=10)


def test_instruction_outside_the_target(provider, emulator_server):
    with (
        no_job_created(emulator_server),
        pytest.raises(QoroInputError, match=r"contains 'h'.*transpile\(circuit, backend\)"),
    ):
        provider.get_backend("fake_nairobi").run(bell(2), shots=10)


def test_unbound_parameters(provider, emulator_server):
    qc = QuantumCircuit(1, 1)
    qc.ry(Parameter("theta"), 0)
    qc.measure(0, 0)
    with (
        no_job_created(emulator_server),
        pytest.raises(QoroInputError, match="unbound parameters \\(theta\\)"),
    ):
        provider.get_backend("qoro_maestro").run(qc, shots=10)


@pytest.mark.parametrize("shots", [0, -5, 2.5, float("nan"), "100", True, MAX_SHOTS + 1])
def test_bad_shots_through_backend_run(provider, emulator_server, shots):
    with no_job_created(emulator_server), pytest.raises(QoroInputError, match="[Ss]hots must be"):
        provider.get_backend("qoro_maestro").run(bell(), shots=shots)


def test_the_shots_maximum_is_accepted(provider):
    counts = (
        provider.get_backend("qoro_maestro").run(bell(1), shots=MAX_SHOTS).result().get_counts()
    )
    assert sum(counts.values()) == MAX_SHOTS


def test_unknown_system_name(provider, emulator_server):
    with (
        no_job_created(emulator_server),
        pytest.raises(QoroBackendNotFoundError, match="No Qoro backend named 'nope'.*qoro_maestro"),
    ):
        provider.get_backend("nope")


def test_unknown_job_id(provider, emulator_server):
    job_id = str(uuid.uuid4())
    with (
        no_job_created(emulator_server),
        pytest.raises(QoroNotFoundError, match=f"No job with id '{job_id}'"),
    ):
        provider.retrieve_job(job_id)


def test_rejected_token_names_what_to_fix(emulator_server):
    with (
        QoroProvider(token="definitely-not-valid-123", url=emulator_server.base_url) as stranger,
        no_job_created(emulator_server),
        pytest.raises(QoroAuthenticationError) as info,
    ):
        stranger.backends()
    message = str(info.value)
    assert info.value.status_code == 401 and "QORO_API_KEY" in message and "token=" in message
    assert "definitely-not-valid-123" not in message


def test_empty_circuit_list(provider, emulator_server):
    with no_job_created(emulator_server), pytest.raises(QoroInputError, match="no circuits"):
        provider.get_backend("qoro_maestro").run([], shots=10)


# --- bad input through the primitives -------------------------------------------------


def test_observables_wider_than_the_circuit(provider, emulator_server):
    from qiskit.quantum_info import SparsePauliOp

    from qiskit_divi import EstimatorV2

    circuit = QuantumCircuit(2)
    circuit.h(0)
    estimator = EstimatorV2(mode=provider.get_backend("qoro_maestro"))
    with no_job_created(emulator_server), pytest.raises(ValueError, match="number of qubits"):
        estimator.run([(circuit, SparsePauliOp("ZZZ"))])


@pytest.mark.parametrize("shots", [0, -1, 2.5, MAX_SHOTS + 1])
def test_bad_shots_through_the_sampler(provider, emulator_server, shots):
    from qiskit_divi import SamplerV2

    sampler = SamplerV2(mode=provider.get_backend("qoro_maestro"))
    with no_job_created(emulator_server), pytest.raises(QoroInputError, match="[Ss]hots must be"):
        sampler.run([bell()], shots=shots)


def test_non_isa_circuit_through_the_sampler(provider, emulator_server):
    from qiskit_divi import SamplerV2

    sampler = SamplerV2(mode=provider.get_backend("fake_nairobi"))
    with no_job_created(emulator_server), pytest.raises(QoroInputError, match="not an ISA circuit"):
        sampler.run([bell()])


# --- malformed replies at the job layer ----------------------------------------------


def test_counts_that_do_not_add_up_to_the_shots_are_refused(provider, monkeypatch):
    job = provider.get_backend("qoro_maestro").run(bell(), shots=100)
    rows = [ResultRow("circuit_0", encode_envelope({"00": 50, "11": 49}, 2))]
    monkeypatch.setattr(provider.client, "iter_results", lambda job_id, **kw: iter(rows))
    with pytest.raises(
        QoroProtocolError, match="circuit 'circuit_0' .* add up to 99 shots, but 100 were requested"
    ):
        job.result(timeout=30)


# --- faults: nothing duplicated, nothing orphaned ------------------------------------


def test_lost_init_reply_is_resent_with_its_key_and_creates_one_job(local):
    server, provider = local(
        faults=FaultConfig(reset_after_rate=1.0, endpoints=frozenset({"job_init"}), seed=1)
    )
    backend = provider.get_backend("qoro_maestro")
    # Every init reply is lost: the client re-sends with the same key until it gives up.
    with pytest.raises(QoroAmbiguousRequestError, match="same Idempotency-Key"):
        backend.run(bell(), shots=10)
    assert server.stats["jobs_created"] == 1  # one job, however many attempts
    assert server.stats["idempotent_replays"] == FAST_POLICY["max_attempts"] - 1


def test_ambiguous_init_without_support_is_reported_not_resent(local):
    server, provider = local(
        config=EmulatorConfig(min_job_seconds=0.0, idempotency=False),
        faults=FaultConfig(reset_after_rate=1.0, endpoints=frozenset({"job_init"})),
    )
    with pytest.raises(QoroAmbiguousRequestError) as info:
        provider.get_backend("qoro_maestro").run(bell(), shots=10)
    assert "not re-sent" in str(info.value) and "job may have been created" in str(info.value)
    assert (
        server.stats["requests_by_endpoint"]["job_init"] == 1 and server.stats["jobs_created"] == 1
    )


def test_ambiguous_upload_without_support_discards_the_job(local):
    server, provider = local(
        config=EmulatorConfig(min_job_seconds=0.0, idempotency=False),
        faults=FaultConfig(reset_after_rate=1.0, endpoints=frozenset({"add_circuits"})),
    )
    with pytest.raises(QoroAmbiguousRequestError) as info:
        provider.get_backend("qoro_maestro").run(bell(), shots=10)
    job_id = info.value.job_id
    assert job_id and job_id in str(info.value) and "cancelled and deleted" in str(info.value)
    assert server.stats["requests_by_endpoint"]["add_circuits"] == 1  # never appended twice
    assert server.stats["jobs_created"] == 1 and server.jobs == {}


def test_half_uploaded_job_is_cancelled_and_deleted_under_faults(local):
    """A later chunk is refused outright after earlier ones landed (with faults on the way):
    the job is cancelled and deleted, and the error names it."""
    server, provider = local(faults=FaultConfig.mixed(0.3, seed=11, retry_after="0"))
    circuits = {f"c{i}": qasm2.dumps(bell(3)) for i in range(12)}
    circuits["c11"] = qasm2.dumps(bell(25))  # wider than the system: refused by the server
    spec = JobSpec("qoro_maestro", JobType.SIMULATE, circuits, shots=10)
    with pytest.raises(QoroError) as info:
        submit_job(provider.client, spec, max_bytes=700)
    job_id = getattr(info.value, "job_id", None)
    assert job_id and server.stats["jobs_created"] == 1 and server.jobs == {}
    assert server.stats["requests_by_endpoint"]["add_circuits"] >= 3


def test_chunks_resent_with_their_keys_are_appended_once(local):
    server, provider = local(
        faults=FaultConfig(reset_after_rate=0.5, seed=3, endpoints=frozenset({"add_circuits"}))
    )
    circuits = [bell(3) for _ in range(12)]
    spec = JobSpec(
        "qoro_maestro",
        JobType.SIMULATE,
        {f"c{i}": qasm2.dumps(c) for i, c in enumerate(circuits)},
        shots=10,
    )
    job_id = submit_job(provider.client, spec, max_bytes=700)
    assert server.stats["faults"]["reset_after"] > 0 and provider.client.stats["resent"] > 0
    assert server.jobs[job_id].n_circuits == 12 and server.stats["jobs_created"] == 1


# --- every wait is bounded -------------------------------------------------------------


def test_polling_survives_faults_on_status(local):
    server, provider = local(
        config=EmulatorConfig(min_job_seconds=0.4),
        faults=FaultConfig.mixed(0.6, seed=2, retry_after="0", endpoints=frozenset({"status"})),
    )
    flip = QuantumCircuit(2, 2)
    flip.x(1)
    flip.measure([0, 1], [0, 1])
    job = provider.get_backend("qoro_maestro").run(flip, shots=50)
    assert job.result(timeout=60).get_counts() == {"10": 50}
    faults = server.stats["faults"]
    assert (
        sum(
            faults[k]
            for k in ("reset_before", "reset_after", "http_502", "http_503", "http_504", "http_429")
        )
        > 0
    )


def test_polling_gives_up_when_status_keeps_failing(local):
    server, provider = local(
        faults=FaultConfig(error_rate=1.0, error_statuses=(503,), endpoints=frozenset({"status"}))
    )
    job = provider.get_backend("qoro_maestro").run(bell(1), shots=5)
    with pytest.raises(QoroError, match="503"):
        job.result()
    # Bounded: the client's retries times (1 + MAX_POLL_FAILURES) rounds, no more.
    assert server.stats["requests_by_endpoint"]["status"] == FAST_POLICY["max_attempts"] * 4


def test_timeout_says_the_job_keeps_running(slow_provider):
    job = slow_provider.get_backend("qoro_maestro").run(bell(), shots=10)
    try:
        with pytest.raises(QoroJobTimeoutError, match="still (be )?running on the server") as info:
            job.result(timeout=0.2)
        assert isinstance(info.value, JobTimeoutError) and job.job_id() in str(info.value)
    finally:
        job.cancel()


def test_timeout_is_honoured_while_status_fails(local):
    server, provider = local(
        faults=FaultConfig(reset_before_rate=1.0, endpoints=frozenset({"status"}))
    )
    provider.client.retry_policy = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
    job = provider.get_backend("qoro_maestro").run(bell(1), shots=5)
    with pytest.raises(QoroJobTimeoutError, match="may still be running"):
        wait_for_final_status(
            provider.client, job.job_id(), timeout=0.05, timeout_error=QoroJobTimeoutError
        )
