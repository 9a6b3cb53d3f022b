"""Every endpoint of the wire contract through QoroClient, replayed from cassettes.

Recorded against the local emulator (see README: "Tests and cassettes"); replay
opens no socket.
"""

import pytest

from qiskit_divi.api.errors import (
    QoroAuthenticationError,
    QoroConflictError,
    QoroNotFoundError,
    QoroResultsNotReadyError,
)
from qiskit_divi.api.job_errors import QoroInsufficientCreditsError, ensure_completed
from qiskit_divi.api.models import JobStatus, JobType, ParameterSet
from qiskit_divi.api.submission import (
    CircuitTemplate,
    JobSpec,
    fetch_results,
    submit_job,
    wait_for_final_status,
)


def _x_circuit(n_qubits: int, flipped: list[int]) -> str:
    lines = [
        "OPENQASM 2.0;",
        'include "qelib1.inc";',
        f"qreg q[{n_qubits}];",
        f"creg c[{n_qubits}];",
    ]
    lines += [f"x q[{i}];" for i in flipped]
    lines += [f"measure q[{i}] -> c[{i}];" for i in range(n_qubits)]
    return "\n".join(lines) + "\n"


def test_ping_and_systems(cassette):
    cassette.ping()
    systems = {s.name: s for s in cassette.list_systems()}
    assert systems["qoro_maestro"].supports_expval
    assert max(q.q_bits for q in systems["qoro_maestro"].qpus) >= 24
    kinds = {q.system_kind for s in systems.values() for q in s.qpus}
    assert {"superconducting", "trapped_ion"} <= kinds


def test_sampling_job_with_chunks_and_pages(cassette):
    # 130 deterministic circuits: more than one results page, several uploads.
    circuits = {f"c{i}": _x_circuit(3, [b for b in range(3) if i >> b & 1]) for i in range(130)}
    spec = JobSpec("qoro_maestro", JobType.SIMULATE, circuits, shots=64)
    job_id = submit_job(cassette, spec, max_bytes=4000)
    with pytest.raises(QoroResultsNotReadyError):
        cassette.results_page(job_id)
    assert wait_for_final_status(cassette, job_id, timeout=60).status is JobStatus.COMPLETED
    results = fetch_results(cassette, job_id, expected_labels=list(circuits))
    for i in range(130):
        assert results[f"c{i}"] == {format(i % 8, "03b"): 64}
    cassette.delete_job(job_id)
    with pytest.raises(QoroNotFoundError):
        cassette.job_status(job_id)


def test_expectation_job(cassette):
    spec = JobSpec(
        "qoro_maestro",
        JobType.EXPECTATION,
        {"x01": _x_circuit(4, [0, 1])},
        observables="ZIII;IZII;IIZI;IIIZ;ZZII",
    )
    job_id = submit_job(cassette, spec)
    wait_for_final_status(cassette, job_id, timeout=60)
    values = fetch_results(cassette, job_id)["x01"]
    assert values == pytest.approx(
        {"ZIII": -1.0, "IZII": -1.0, "IIZI": 1.0, "IIIZ": 1.0, "ZZII": 1.0}
    )


def test_cancel_then_conflict(cassette):
    circuits = {"a": _x_circuit(2, [1])}
    job_id = submit_job(cassette, JobSpec("qoro_maestro", JobType.SIMULATE, circuits, shots=10))
    reply = cassette.cancel_job(job_id)
    assert (reply.status, reply.job_id) == ("cancelled", job_id)
    assert cassette.job_status(job_id).status is JobStatus.CANCELLED
    with pytest.raises(QoroConflictError, match="Can only cancel"):
        cassette.cancel_job(job_id)
    cassette.delete_job(job_id)


def test_rejected_token(cassette):
    from qiskit_divi.api.client import QoroClient

    with (
        QoroClient("wrong-token-xyz", cassette.base_url) as stranger,
        pytest.raises(QoroAuthenticationError, match="QORO_API_KEY") as info,
    ):
        stranger.list_systems()
    assert info.value.status_code == 401
    assert "wrong-token-xyz" not in str(info.value)


def test_unknown_job(cassette):
    with pytest.raises(QoroNotFoundError, match="Check the job id"):
        cassette.job_status("00000000-0000-0000-0000-000000000000")
    with pytest.raises(QoroNotFoundError):
        cassette.cancel_job("00000000-0000-0000-0000-000000000000")


# --- today's protocol (qoro-api.md 3.3, 3.5, 3.6, 3.11, 4.2, 5.6) ----------------------


def test_clusters_and_credits(cassette):
    (cluster,) = cassette.list_clusters()
    assert (cluster.name, cluster.access_level, cluster.minimum_tier) == (
        "qoro_maestro",
        "PUBLIC",
        "FREE",
    )
    balance = cassette.credit_balance()
    page = cassette.credit_transactions(page=1, page_size=100)
    assert page.count == len(page.transactions) >= 1
    # newest first: the first row's balance is the balance now; the amounts add up to it
    assert page.transactions[0].balance_after == balance.balance
    assert sum(t.amount for t in page.transactions) == balance.balance
    assert page.transactions[-1].transaction_type == "PURCHASE"


def test_cluster_job_with_shot_groups(cassette):
    # Basis states: each circuit has one outcome, so the counts are exact.
    circuits = {f"s{i}": _x_circuit(3, [b for b in range(3) if i >> b & 1]) for i in range(8)}
    groups = ((0, 3, 10), (3, 4, 25), (4, 8, 7))
    spec = JobSpec("qoro_maestro", JobType.EXECUTE, circuits, shot_groups=groups, cluster=True)
    job_id = submit_job(cassette, spec, max_bytes=600)  # several uploads, groups re-indexed
    final = wait_for_final_status(cassette, job_id, timeout=60)
    assert final.status is JobStatus.COMPLETED
    assert final.run_time is not None and final.run_time >= 0
    results = fetch_results(cassette, job_id, expected_labels=list(circuits))
    shots = [10, 10, 10, 25, 7, 7, 7, 7]
    for i in range(8):
        assert results[f"s{i}"] == {format(i, "03b"): shots[i]}


def _rx_template() -> str:
    return (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
        "rx(t0000) q[0];\nrx(2*(t0001)) q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];\n"
    )


def test_template_job(cassette):
    # rx(pi) flips a qubit, rx(0) does not: each binding has one exact outcome.
    pi = 3.141592653589793
    sets = tuple(ParameterSet(f"b{a}{b}", (pi * a, pi / 2 * b)) for a in (0, 1) for b in (0, 1))
    template = CircuitTemplate(_rx_template(), ("t0000", "t0001"), sets)
    spec = JobSpec("qoro_maestro", JobType.SIMULATE, {}, shots=20, templates=(template,))
    job_id = submit_job(cassette, spec)
    assert wait_for_final_status(cassette, job_id, timeout=60).status is JobStatus.COMPLETED
    results = fetch_results(cassette, job_id, expected_labels=spec.labels())
    assert results == {f"b{a}{b}": {f"{b}{a}": 20} for a in (0, 1) for b in (0, 1)}


def test_expectation_template_job(cassette):
    pi = 3.141592653589793
    sets = (ParameterSet("flip0", (pi, 0.0)), ParameterSet("flip1", (0.0, pi / 2)))
    template = CircuitTemplate(_rx_template(), ("t0000", "t0001"), sets)
    spec = JobSpec(
        "qoro_maestro", JobType.EXPECTATION, {}, observables="ZI;IZ", templates=(template,)
    )
    job_id = submit_job(cassette, spec)
    wait_for_final_status(cassette, job_id, timeout=60)
    results = fetch_results(cassette, job_id, expected_labels=spec.labels())
    # Wire terms are big-endian: "ZI" is Z on qubit 0.
    assert results["flip0"] == pytest.approx({"ZI": -1.0, "IZ": 1.0}, abs=1e-12)
    assert results["flip1"] == pytest.approx({"ZI": 1.0, "IZ": -1.0}, abs=1e-12)


def test_insufficient_credits_job(cassette):
    # 40 circuits x 1,000,000 shots cost far more than the recording account holds.
    circuits = {f"big{i}": _x_circuit(1, []) for i in range(40)}
    job_id = submit_job(
        cassette, JobSpec("qoro_maestro", JobType.SIMULATE, circuits, shots=1_000_000)
    )
    final = wait_for_final_status(cassette, job_id, timeout=60)
    assert final.status is JobStatus.INSUFFICIENT_CREDITS
    with pytest.raises(QoroInsufficientCreditsError, match=f"Job {job_id} ended"):
        ensure_completed(final, job_id)
    cassette.delete_job(job_id)
