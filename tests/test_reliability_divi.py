"""Reliability through the divi-compatible ``QoroService``: bad input creates no job, a
rejected token says what to fix, and the token never leaks through the service."""

from __future__ import annotations

import contextlib
import logging
import traceback
import uuid
from collections.abc import Iterator

import pytest
import requests
from sample_circuits import bell_qasm as bell

from qiskit_divi.api.submission import MAX_SHOTS
from qiskit_divi.backends import (
    ExecutionResult,
    JobConfig,
    JobStatus,
    MaxRetriesReachedError,
    QoroService,
)
from qiskit_divi.emulator import EmulatorServer

BAD_QASM = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nfrobnicate q[0];\n'
    "measure q -> c;\n"
)
WRONG = "tok-WRONG-00112233445566778899"


@contextlib.contextmanager
def no_job_created(server: EmulatorServer) -> Iterator[None]:
    before = server.stats["jobs_created"]
    yield
    assert server.stats["jobs_created"] == before, "a job was created for bad input"


@pytest.fixture
def service(emulator_server, emulator_token):
    return QoroService(
        emulator_token, polling_interval=0.01, max_retries=1000, url=emulator_server.base_url
    )


@pytest.mark.parametrize(
    ("circuits", "kwargs", "message"),
    [
        ({"a": BAD_QASM}, {}, "Circuit 'a' is not a valid QASM"),
        ({"a": "not qasm at all"}, {}, "Circuit 'a' is not a valid QASM"),
        ({}, {}, "No circuits to submit"),
        ({"a": bell(2)}, {"ham_ops": "ZZ;Z"}, "same length"),
        ({"a": bell(2)}, {"ham_ops": "ZA;XX"}, "only I, X, Y, Z"),
        ({"a": bell(2)}, {"ham_ops": "ZZZ"}, "act on 3 qubits but circuit 'a' has 2"),
        ({"a": bell(25)}, {}, "uses 25 qubits but system 'qoro_maestro' has 24"),
    ],
    ids=[
        "invalid-qasm",
        "not-qasm",
        "empty-dict",
        "ham-ops-lengths",
        "ham-ops-letters",
        "ham-ops-wider",
        "too-wide",
    ],
)
def test_bad_input(service, emulator_server, circuits, kwargs, message):
    with no_job_created(emulator_server), pytest.raises(ValueError, match=message):
        service.submit_circuits(circuits, **kwargs)


@pytest.mark.parametrize("shots", [0, -3, 2.5, MAX_SHOTS + 1])
def test_bad_shots(service, emulator_server, shots):
    with no_job_created(emulator_server), pytest.raises(ValueError, match="[Ss]hots must be"):
        service.submit_circuits({"a": bell()}, override_config=JobConfig(shots=shots))


def test_too_wide_for_a_named_system(service, emulator_server):
    with (
        no_job_created(emulator_server),
        pytest.raises(ValueError, match="uses 8 qubits but system 'fake_nairobi' has 7"),
    ):
        service.submit_circuits(
            {"a": bell(8)}, override_config=JobConfig(qpu_system="fake_nairobi")
        )


def test_unknown_system(service, emulator_server):
    with no_job_created(emulator_server), pytest.raises(ValueError, match="'nope' not found"):
        service.submit_circuits({"a": bell()}, override_config=JobConfig(qpu_system="nope"))


def test_unknown_job_id(service, emulator_server):
    with no_job_created(emulator_server), pytest.raises(requests.HTTPError, match="404"):
        service.poll_job_status(ExecutionResult(job_id=str(uuid.uuid4())))


def test_rejected_token_names_what_to_fix(emulator_server, caplog):
    caplog.set_level(logging.DEBUG)
    with no_job_created(emulator_server), pytest.raises(requests.HTTPError) as info:
        QoroService(WRONG, url=emulator_server.base_url)
    message = str(info.value)
    assert "401" in message and "QORO_API_KEY" in message and "auth_token" in message
    for text in (
        message,
        repr(info.value),
        "".join(traceback.format_exception(info.value)),
        caplog.text,
    ):
        assert WRONG not in text


def test_service_hides_its_token(service, emulator_token, caplog):
    caplog.set_level(logging.DEBUG)
    handle = service.submit_circuits({"a": bell()})
    service.poll_job_status(handle, loop_until_complete=True, verbose=True)
    service.get_job_results(handle)
    service.delete_job(handle)
    assert emulator_token not in repr(service) and emulator_token not in str(service)
    assert emulator_token not in caplog.text


# --- malformed replies and bounded polling ---------------------------------------------------


def _reply(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    return response


@pytest.mark.parametrize(
    ("endpoint", "body", "message"),
    [
        ("job/init/", b"<html>oops</html>", "job/init/ returned non-JSON"),
        ("job/init/", b'{"id": "x"}', "no 'job_id' field"),
        (
            "resultsV2",
            b'{"count": 1, "next": null, "results": [{"results": {}}]}',
            "results row 0 has no 'label' field",
        ),
        ("resultsV2", b'{"count": 1, "next": null}', "no 'results' field"),
        (
            "resultsV2",
            b'{"count": 1, "next": null, "results": [{"label": "a", "results": '
            b'{"encoding": "qh1", "n_bits": 1, "payload": "WFla"}}]}',
            "bad magic",
        ),
    ],
)
def test_malformed_replies_are_protocol_errors(service, monkeypatch, endpoint, body, message):
    from qiskit_divi import QoroProtocolError

    handle = service.submit_circuits({"a": bell()})
    service.poll_job_status(handle, loop_until_complete=True, verbose=False)
    real = service.client.send

    def send(method, path, **kwargs):
        return (
            _reply(201 if endpoint == "job/init/" else 200, body)
            if endpoint in path
            else real(method, path, **kwargs)
        )

    monkeypatch.setattr(service.client, "send", send)
    with pytest.raises(QoroProtocolError, match=message):
        if endpoint == "job/init/":
            service.submit_circuits({"a": bell()})
        else:
            service.get_job_results(handle)


def test_polling_is_bounded_and_says_the_job_keeps_running(slow_provider):
    service = QoroService(client=slow_provider.client, polling_interval=0.01, max_retries=3)
    handle = service.submit_circuits({"a": bell()})
    try:
        with pytest.raises(
            MaxRetriesReachedError,
            match="3 retries attempted for job .* keeps running on the server",
        ):
            service.poll_job_status(handle, loop_until_complete=True, verbose=False)
        assert service.poll_job_status(handle) in (JobStatus.PENDING, JobStatus.RUNNING)
    finally:
        service.cancel_job(handle)
        service.delete_job(handle)
