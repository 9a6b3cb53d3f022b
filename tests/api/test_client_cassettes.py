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
from qiskit_divi.api.models import JobStatus, JobType
from qiskit_divi.api.submission import JobSpec, fetch_results, submit_job, wait_for_final_status


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
