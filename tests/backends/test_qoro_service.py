"""QoroService: the divi v0.6.1 checklist (divi-runner-api.md section 13), through the
emulator over real HTTP and, where the contract inspects call arguments, a mocked
``_make_request``."""

from __future__ import annotations

import json
import logging
from unittest import mock

import pytest
import requests
from sample_circuits import bell_qasm

import qiskit_divi.backends as divi_backends
from qiskit_divi.api.client import TIMEOUTS, QoroClient
from qiskit_divi.api.errors import QoroError, QoroJobError
from qiskit_divi.api.models import UNKNOWN_STATUS_MEANS
from qiskit_divi.api.submission import JobSpec, submit_job
from qiskit_divi.backends import (
    ExecutionResult,
    JobConfig,
    JobStatus,
    JobType,
    MaxRetriesReachedError,
    QoroService,
    QoroServiceJobError,
    QPUSystem,
    _qoro_service,
)

BELL = bell_qasm()


def x_circuit(n_qubits: int, flipped: list[int]) -> str:
    body = "".join(f"x q[{i}];\n" for i in flipped)
    measures = "".join(f"measure q[{i}] -> c[{i}];\n" for i in range(n_qubits))
    header = f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n_qubits}];\ncreg c[{n_qubits}];\n'
    return header + body + measures


@pytest.fixture
def service(emulator_server, emulator_token):
    return QoroService(
        emulator_token, polling_interval=0.02, max_retries=500, url=emulator_server.base_url
    )


def run(service: QoroService, circuits: dict[str, str], **kwargs) -> ExecutionResult:
    submitted = service.submit_circuits(circuits, **kwargs)
    assert (
        service.poll_job_status(submitted, loop_until_complete=True, verbose=False)
        is JobStatus.COMPLETED
    )
    return service.get_job_results(submitted)


# --- construction ------------------------------------------------------------------


def test_no_key_anywhere(monkeypatch, tmp_path):
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(_qoro_service, "dotenv_values", lambda *a, **k: {})
    with pytest.raises(ValueError, match="Qoro API key not provided nor found in a .env file"):
        QoroService()


def test_key_from_dotenv(monkeypatch, tmp_path, emulator_server):
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        _qoro_service, "dotenv_values", lambda *a, **k: {"QORO_API_KEY": "env_api_key"}
    )
    with mock.patch.object(QoroService, "fetch_qpu_systems"):
        service = QoroService(url=emulator_server.base_url)
    assert service.auth_token == "Bearer env_api_key"


def test_key_from_a_dotenv_file(monkeypatch, tmp_path, emulator_server, emulator_token):
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    (tmp_path / "project").mkdir()
    (tmp_path / ".env").write_text(f"QORO_API_KEY={emulator_token}\n")
    monkeypatch.chdir(tmp_path / "project")  # found from the working directory upwards
    service = QoroService(url=emulator_server.base_url)
    assert service.auth_token == f"Bearer {emulator_token}"
    assert service.test_connection().status_code == 200


def test_config_without_system(service, emulator_token, emulator_server):
    with pytest.raises(ValueError, match="JobConfig must have a qpu_system. It cannot be None."):
        QoroService(emulator_token, config=JobConfig(shots=10), url=emulator_server.base_url)


def test_config_without_shots_falls_back_to_1000(emulator_token, emulator_server):
    service = QoroService(
        emulator_token, config=JobConfig(qpu_system="qoro_maestro"), url=emulator_server.base_url
    )
    assert service.shots == 1000
    assert service.config.qpu_system.name == "qoro_maestro" and service.supports_expval


def test_properties_and_repr(service, emulator_token):
    assert service.is_async and service.supports_expval
    assert service.auth_token == f"Bearer {emulator_token}"
    assert emulator_token not in repr(service)
    forced = QoroService(
        emulator_token,
        config=JobConfig(shots=5, qpu_system="qoro_maestro", force_sampling=True),
        url=service.client.base_url,
    )
    assert not forced.supports_expval


def test_rejected_token_names_the_fix(emulator_server):
    with pytest.raises(requests.HTTPError, match="401") as info:
        QoroService("not-a-valid-token", url=emulator_server.base_url)
    assert "not-a-valid-token" not in str(info.value)


# --- requests ----------------------------------------------------------------------


def test_make_request_headers(service, emulator_server, emulator_token):
    with mock.patch.object(
        service.client._session, "request", wraps=service.client._session.request
    ) as spy:
        service._make_request("get", "qpusystem/", timeout=10)
        service._make_request(
            "post",
            "job/init/",
            json={
                "tag": "t",
                "job_type": "SIMULATE",
                "qpu_system_name": "qoro_maestro",
                "use_packing": False,
            },
            headers={"X-Custom": "1"},
            timeout=100,
        )
    (get_args, get_kwargs), (post_args, post_kwargs) = spy.call_args_list
    assert get_args == ("GET", f"{emulator_server.base_url}/qpusystem/")
    assert get_kwargs["headers"] == {"Authorization": f"Bearer {emulator_token}"}
    assert post_kwargs["headers"]["Content-Type"] == "application/json"
    assert post_kwargs["headers"]["X-Custom"] == "1" and post_kwargs["headers"]["Authorization"]


def test_raise_with_details_text():
    response = requests.Response()
    response.status_code, response.reason = 400, "Bad Request"
    response._content = b'{"error": "Invalid input", "code": 123}'
    with pytest.raises(requests.HTTPError) as info:
        _qoro_service._raise_with_details(response)
    assert str(info.value) == '400 Bad Request: {"error": "Invalid input", "code": 123}'
    assert info.value.response is response
    response._content = b"plain text"
    with pytest.raises(requests.HTTPError, match="^400 Bad Request: plain text$"):
        _qoro_service._raise_with_details(response)


def test_requests_use_the_client_timeouts(emulator_server, emulator_token):
    client = QoroClient(emulator_token, emulator_server.base_url, timeouts={"status": 7})
    service = QoroService(client=client)
    submitted = service.submit_circuits({"c": BELL})
    with mock.patch.object(service, "_make_request", wraps=service._make_request) as spy:
        service.poll_job_status(submitted, verbose=False)
        service.cancel_job(submitted)
    assert spy.call_args_list == [
        mock.call("get", f"job/{submitted.job_id}/status/", timeout=7),
        mock.call("post", f"job/{submitted.job_id}/cancel/", timeout=TIMEOUTS["cancel"]),
    ]


def test_service_and_client_send_the_same_bodies(service, emulator_token, emulator_server):
    """One submission path: QoroService and submit_job put the same bytes on the wire."""
    circuits = {"x0": x_circuit(3, [0]), "bell": BELL}
    client = QoroClient(emulator_token, emulator_server.base_url)
    bodies = []
    for session in (service.client._session, client._session):
        with mock.patch.object(session, "request", wraps=session.request) as spy:
            if session is client._session:
                submit_job(client, JobSpec("qoro_maestro", JobType.SIMULATE, circuits, shots=1000))
            else:
                service.submit_circuits(circuits)
        bodies.append(
            [
                (c.args[0], c.args[1].rsplit("/api/", 1)[1].split("/")[-2], c.kwargs["data"])
                for c in spy.call_args_list
            ]
        )
    service_bodies, client_bodies = bodies
    assert [b[:2] for b in service_bodies] == [("POST", "init"), ("POST", "add_circuits")]
    assert service_bodies == client_bodies


def test_connection_and_systems(service):
    assert service.test_connection().status_code == 200
    names = {system.name for system in service.fetch_qpu_systems()}
    assert {"qoro_maestro", "fake_nairobi", "fake_ion"} <= names


# --- submission --------------------------------------------------------------------


def test_sampling_job_end_to_end(service, emulator_server):
    before = emulator_server.stats["jobs_created"]
    result = run(service, {"x0": x_circuit(3, [0]), "bell": BELL})
    assert emulator_server.stats["jobs_created"] == before + 1
    rows = {row["label"]: row["results"] for row in result.results}
    assert rows["x0"] == {"001": 1000}  # Qiskit order: qubit 0 rightmost
    assert set(rows["bell"]) <= {"00", "11"} and sum(rows["bell"].values()) == 1000
    assert not result.is_async() and result.job_id


def test_results_beyond_100_rows_are_not_lost(service):
    circuits = {f"c{i}": x_circuit(2, [b for b in range(2) if i >> b & 1]) for i in range(150)}
    result = run(service, circuits, override_config=JobConfig(shots=7, tag=None))
    assert [row["label"] for row in result.results] == list(circuits)
    assert all(row["results"] == {format(i % 4, "02b"): 7} for i, row in enumerate(result.results))


def test_expectation_job(service):
    result = run(service, {"x01": x_circuit(4, [0, 1])}, ham_ops="ZIII;IZII;IIZI;IIIZ")
    values = result.results[0]["results"]
    assert values == pytest.approx({"ZIII": -1.0, "IZII": -1.0, "IIZI": 1.0, "IIIZ": 1.0})


def test_chunked_upload(service, emulator_server, monkeypatch):
    monkeypatch.setattr(_qoro_service, "_MAX_PAYLOAD_SIZE_MB", 300 / 1024 / 1024)
    requests_before = emulator_server.stats["requests_by_endpoint"].get("add_circuits", 0)
    circuits = {f"c{i}": x_circuit(2, [i % 2]) for i in range(5)}
    chunks = QoroService._split_circuits(circuits)
    assert len(chunks) > 1 and all(len(json.dumps(chunk)) <= 300 for chunk in chunks)
    result = run(service, circuits)
    assert emulator_server.stats["requests_by_endpoint"]["add_circuits"] - requests_before == len(
        chunks
    )
    assert [row["label"] for row in result.results] == list(circuits)
    assert [row["results"] for row in result.results] == [
        {format(1 << (i % 2), "02b"): 1000} for i in range(5)
    ]


@pytest.fixture
def mocked(service):
    """The service with ``_make_request`` replaced: init answers job 'mock_job_id'."""
    response = mock.Mock(status_code=201)
    response.json.return_value = {"job_id": "mock_job_id"}
    added = mock.Mock(status_code=200)
    with mock.patch.object(
        service,
        "_make_request",
        side_effect=lambda method, endpoint, **kw: response if endpoint == "job/init/" else added,
    ) as fake:
        yield service, fake


def test_init_and_add_call_shapes(mocked):
    service, fake = mocked
    service.submit_circuits(
        {"circuit_0": BELL},
        job_type=JobType.EXECUTE,
        override_config=JobConfig(shots=77, tag="mine", use_circuit_packing=True),
    )
    init, add = fake.call_args_list
    assert init == mock.call(
        "post",
        "job/init/",
        json={
            "tag": "mine",
            "job_type": "EXECUTE",
            "qpu_system_name": "qoro_maestro",
            "use_packing": True,
        },
        timeout=100,
    )
    assert add.args == ("post", "job/mock_job_id/add_circuits/")
    body = add.kwargs["json"]
    assert body["finalized"] == "true" and body["mode"] == "append" and body["shots"] == 77
    assert "observables" not in body and add.kwargs["timeout"] == 100


def test_two_chunks_finalise_only_the_last(mocked, monkeypatch):
    service, fake = mocked
    monkeypatch.setattr(_qoro_service, "_MAX_PAYLOAD_SIZE_MB", 60 / 1024 / 1024)
    monkeypatch.setattr(_qoro_service, "is_valid_qasm", lambda qasm: True)
    monkeypatch.setattr(_qoro_service, "qasm_num_qubits", lambda qasm: 2)
    service.submit_circuits({"circuit_1": "mock_qasm", "circuit_2": "mock_qasm"})
    assert [c.kwargs["json"]["finalized"] for c in fake.call_args_list[1:]] == ["false", "true"]


def test_observables_sent_plain(mocked):
    service, fake = mocked
    service.submit_circuits({"c": x_circuit(2, [])}, ham_ops="XZ;ZI")
    init, add = fake.call_args_list
    assert init.kwargs["json"]["job_type"] == "EXPECTATION"
    assert add.kwargs["json"]["observables"] == "XZ;ZI" and "shots" not in add.kwargs["json"]


def test_system_override_by_name_and_object(mocked):
    service, fake = mocked
    service.submit_circuits({"c": BELL}, override_config=JobConfig(qpu_system="fake_ion"))
    service.submit_circuits(
        {"c": BELL}, override_config=JobConfig(qpu_system=QPUSystem(name="custom"))
    )
    names = [
        c.kwargs["json"]["qpu_system_name"] for c in fake.call_args_list if c.args[1] == "job/init/"
    ]
    assert names == ["fake_ion", "custom"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ham_ops": "XY;Z"}, "All Hamiltonian operators must have the same length."),
        ({"ham_ops": "XA"}, "Hamiltonian operators must contain only I, X, Y, Z characters."),
        (
            {"ham_ops": "ZZ", "job_type": JobType.SIMULATE},
            "only supported for EXPECTATION job type",
        ),
        (
            {"job_type": JobType.CIRCUIT_CUT, "extra": True},
            "Only one circuit allowed for circuit-cutting jobs.",
        ),
    ],
)
def test_invalid_requests_create_no_job(mocked, kwargs, message):
    service, fake = mocked
    circuits = {"a": BELL, "b": BELL} if kwargs.pop("extra", False) else {"a": BELL}
    with pytest.raises(ValueError, match=message):
        service.submit_circuits(circuits, **kwargs)
    assert fake.call_count == 0


def test_invalid_qasm_and_empty_dict(mocked):
    service, fake = mocked
    with pytest.raises(ValueError, match="Circuit 'circuit_1' is not a valid QASM") as info:
        service.submit_circuits(
            {"circuit_0": BELL, "circuit_1": "OPENQASM 2.0; qreg q[1]; nope q[0];"}
        )
    assert isinstance(info.value.__cause__, SyntaxError)
    with pytest.raises(ValueError, match="No circuits"):
        service.submit_circuits({})
    assert fake.call_count == 0


def test_qiskit_exports_are_accepted(mocked):
    from qiskit import QuantumCircuit, qasm2

    circuit = QuantumCircuit(2)
    circuit.p(1e-7, 0)
    circuit.cp(0.5, 0, 1)
    circuit.measure_all()
    service, fake = mocked
    service.submit_circuits({"exported": qasm2.dumps(circuit)})
    assert fake.call_count == 2


def test_too_wide_and_mismatched_observables(service, emulator_server):
    before = emulator_server.stats["jobs_created"]
    with pytest.raises(ValueError, match="has 7"):
        service.submit_circuits(
            {"wide": x_circuit(8, [])}, override_config=JobConfig(qpu_system="fake_nairobi")
        )
    with pytest.raises(ValueError, match="act on 3 qubits"):
        service.submit_circuits({"c": x_circuit(2, [])}, ham_ops="ZZZ")
    assert emulator_server.stats["jobs_created"] == before


def test_failed_upload_discards_the_job(service, emulator_server):
    real = service._make_request

    def failing(method, endpoint, **kwargs):
        if endpoint.endswith("add_circuits/"):
            raise requests.HTTPError("500 Internal Server Error: boom")
        return real(method, endpoint, **kwargs)

    held = emulator_server.job_count
    with (
        mock.patch.object(service, "_make_request", side_effect=failing),
        pytest.raises(requests.HTTPError, match="boom"),
    ):
        service.submit_circuits({"c": BELL})
    assert emulator_server.job_count == held


# --- job management ----------------------------------------------------------------


def test_missing_job_id():
    sync = ExecutionResult(results=[])
    for method in ("delete_job", "cancel_job", "get_job_results", "poll_job_status"):
        with pytest.raises(ValueError, match="ExecutionResult must have a job_id"):
            getattr(QoroService, method)(mock.Mock(), sync)


def test_results_before_completion_and_cancel_delete(slow_service):
    submitted = slow_service.submit_circuits({"c": BELL})
    with pytest.raises(
        requests.HTTPError,
        match="400 Bad Request: Job results not available, likely job is still running",
    ):
        slow_service.get_job_results(submitted)
    status = slow_service.poll_job_status(submitted, verbose=False)
    assert status in (JobStatus.PENDING, JobStatus.RUNNING)
    reply = slow_service.cancel_job(submitted).json()
    assert (
        reply["status"] == "cancelled"
        and reply["job_id"] == submitted.job_id
        and "circuits_cancelled" in reply
    )
    with pytest.raises(requests.HTTPError, match="409"):
        slow_service.cancel_job(submitted)
    assert slow_service.delete_job(submitted).status_code == 204
    with pytest.raises(requests.HTTPError, match="404"):
        slow_service.poll_job_status(submitted, verbose=False)


def test_cancel_after_completion_conflicts(service):
    finished = run(service, {"c": BELL})
    with pytest.raises(requests.HTTPError, match="409"):
        service.cancel_job(finished)


@pytest.fixture
def slow_service(slow_provider):
    return QoroService(client=slow_provider.client, polling_interval=0.01, max_retries=3)


def test_max_retries_and_progress(slow_service):
    submitted = slow_service.submit_circuits({"c": BELL})
    seen = []
    with pytest.raises(
        MaxRetriesReachedError,
        match=f"Maximum retries reached: 3 retries attempted for job {submitted.job_id}",
    ):
        slow_service.poll_job_status(
            submitted, loop_until_complete=True, progress_callback=lambda n, s: seen.append((n, s))
        )
    assert [n for n, _ in seen] == [1, 2, 3] and {s for _, s in seen} <= {"PENDING", "RUNNING"}
    slow_service.cancel_job(submitted)


def _status_replies(*statuses: str):
    """A ``_make_request`` stand-in answering status requests in turn (the last repeats)."""
    replies = list(statuses)

    def answer(method, endpoint, **kwargs):
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(
            {"status": replies.pop(0) if len(replies) > 1 else replies[0]}
        ).encode()
        return response

    return answer


def test_an_unknown_status_means_running_and_is_not_final(service, caplog):
    job = ExecutionResult(results=None, job_id="job-unknown")
    seen = []
    with (
        mock.patch.object(
            service,
            "_make_request",
            side_effect=_status_replies("VALIDATING", "VALIDATING", "COMPLETED"),
        ) as fake,
        caplog.at_level(logging.WARNING, logger="qiskit_divi"),
    ):
        assert service.poll_job_status(job, verbose=False) is JobStatus.RUNNING
        status = service.poll_job_status(
            job, loop_until_complete=True, progress_callback=lambda n, s: seen.append(s)
        )
    assert status is JobStatus.COMPLETED and seen == ["RUNNING"] and fake.call_count == 3
    assert JobStatus.RUNNING is UNKNOWN_STATUS_MEANS
    assert "'VALIDATING'" in caplog.text and "treating it as RUNNING" in caplog.text


def test_on_complete_receives_the_final_response(service):
    submitted = service.submit_circuits({"c": BELL})
    completed = []
    status = service.poll_job_status(
        submitted, loop_until_complete=True, on_complete=completed.append, verbose=False
    )
    assert status is JobStatus.COMPLETED
    assert len(completed) == 1 and completed[0].json()["status"] == "COMPLETED"


def test_service_and_backend_share_jobs(service, provider):
    submitted = service.submit_circuits(
        {"x1": x_circuit(2, [1])}, override_config=JobConfig(shots=50, tag=None)
    )
    job = provider.retrieve_job(submitted.job_id)
    assert job.result(timeout=30).get_counts(0) == {"10": 50}


def test_backend_jobs_read_through_the_service(service, provider):
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2, 2)
    circuit.x(0)
    circuit.measure([0, 1], [0, 1])
    job = provider.get_backend("qoro_maestro").run([circuit, circuit], shots=40)
    job.result(timeout=30)
    rows = service.get_job_results(ExecutionResult(results=None, job_id=job.job_id())).results
    assert [row["results"] for row in rows] == [{"01": 40}, {"01": 40}]


def test_service_shares_the_provider_client(provider):
    shared = QoroService(client=provider.client)
    assert shared.client is provider.client
    assert (
        shared.auth_token.startswith("Bearer ") and shared.config.qpu_system.name == "qoro_maestro"
    )


# --- messages that point the right way -------------------------------------------------


def test_results_of_a_failed_job_say_it_failed_and_why(service):
    job_id = service.client.send(
        "POST", "job/create_failed/", json_body={"tag": "test"}, timeout=10
    ).json()["job_id"]
    failed = ExecutionResult(results=None, job_id=job_id)
    with pytest.raises(requests.HTTPError) as info:
        service.get_job_results(failed)
    message = str(info.value)
    assert message.startswith(
        f"400 Bad Request: Job results not available: job {job_id} FAILED: "
        "Job created in FAILED state by the create_failed test helper."
    )
    assert "submit it again" in message and "still running" not in message
    assert isinstance(info.value, QoroServiceJobError) and isinstance(info.value, QoroJobError)
    assert info.value.job_id == job_id
    assert isinstance(info.value.__cause__, requests.HTTPError)  # the server's own 400, chained


def test_results_of_a_cancelled_job_say_it_was_cancelled(slow_service):
    submitted = slow_service.submit_circuits({"c": BELL})
    slow_service.cancel_job(submitted)
    with pytest.raises(
        QoroJobError, match=f"Job results not available: job {submitted.job_id} was CANCELLED"
    ):
        slow_service.get_job_results(submitted)
    slow_service.delete_job(submitted)


def test_results_not_ready_keep_divi_message_when_the_status_is_unknown(service):
    bad = requests.Response()
    bad.status_code, bad.reason, bad._content = 400, "Bad Request", b'{"error": "x"}'

    def answer(method, endpoint, **kwargs):
        _qoro_service._raise_with_details(bad)

    with (
        mock.patch.object(service, "_make_request", side_effect=answer),
        pytest.raises(
            requests.HTTPError,
            match="^400 Bad Request: Job results not available, likely job is still running. Wait",
        ),
    ):
        service.get_job_results(ExecutionResult(results=None, job_id="j"))


def test_an_unknown_system_lists_the_available_ones(service, emulator_token, emulator_server):
    expected = "Available systems: fake_ion, fake_nairobi, qoro_maestro."
    with pytest.raises(
        ValueError, match="QPUSystem with name 'maestro' not found in cache."
    ) as info:
        QoroService(
            emulator_token, config=JobConfig(qpu_system="maestro"), url=emulator_server.base_url
        )
    assert expected in str(info.value) and isinstance(info.value, QoroError)
    before = emulator_server.stats["jobs_created"]
    with pytest.raises(ValueError, match=expected):
        service.submit_circuits({"c": BELL}, override_config=JobConfig(qpu_system="ibm_kyiv"))
    assert emulator_server.stats["jobs_created"] == before


def test_a_url_without_the_api_root_says_to_check_the_url(emulator_token, emulator_server):
    root = emulator_server.base_url.removesuffix("/api")
    with pytest.raises(
        requests.HTTPError, match=r"^404 Not Found: .*check the API URL \(try .*/api\)"
    ) as info:
        QoroService(emulator_token, url=root)
    assert "QORO_API_URL" in str(info.value) and "job id" not in str(info.value)


# --- divi 0.15.1: clusters and shot_groups (a scripted server reads the exact bodies) ------

CLUSTER_SYSTEMS = [
    {
        "name": "qoro_maestro",
        "qpus": [{"nickname": "m", "q_bits": 4, "status": "active", "system_kind": "simulator"}],
    }
]


@pytest.fixture
def scripted_service():
    from api.conftest import TOKEN, ScriptedServer

    server = ScriptedServer()
    server.on("GET", "qpusystem/", (200, {}, CLUSTER_SYSTEMS))
    server.on("GET", "simulatorcluster/", (200, {}, [{"name": "qoro_maestro"}, {"name": "farm"}]))
    server.on("POST", "job/init/", (201, {}, {"job_id": "j-1"}))
    server.on("POST", "job/j-1/add_circuits/", (200, {}, {}))
    saved = list(divi_backends.get_available_simulator_clusters())
    divi_backends.update_simulator_clusters_cache([])
    yield server, lambda **kw: QoroService(TOKEN, url=server.base_url, **kw)
    divi_backends.update_simulator_clusters_cache(saved)
    server.close()


def _sent(server, path: str) -> list[dict]:
    return [json.loads(body) for m, p, _, body in server.seen if p == f"/api/{path}"]


def _paths(server) -> list[str]:
    return [f"{m} {p}" for m, p, _, _ in server.seen]


def test_the_v061_constructor_makes_the_v061_requests(scripted_service):
    server, make = scripted_service
    service = make()
    assert _paths(server) == ["GET /api/qpusystem/"]  # no simulatorcluster/ unless needed
    service.submit_circuits({"c": BELL})
    assert _sent(server, "job/init/") == [
        {"tag": "default", "job_type": "SIMULATE", "qpu_system_name": "qoro_maestro",
         "use_packing": False}
    ]  # fmt: skip


def test_a_config_naming_a_cluster_targets_it(scripted_service):
    server, make = scripted_service
    service = make(config=JobConfig(shots=7, simulator_cluster="farm"))
    assert server.count("GET", "simulatorcluster/") == 1  # fetched to resolve the name
    assert service.config.simulator_cluster == divi_backends.SimulatorCluster("farm")
    assert service.supports_expval and "simulator_cluster='farm'" in repr(service)
    service.submit_circuits({"c": BELL})
    maestro = JobConfig(simulator_cluster="qoro_maestro")
    service.submit_circuits({"c": BELL}, override_config=maestro)
    assert server.count("GET", "simulatorcluster/") == 1  # the cache answers now
    first, second = _sent(server, "job/init/")
    assert first == {"tag": "default", "job_type": "SIMULATE", "simulator_cluster": "farm",
                     "use_packing": False}  # fmt: skip
    assert second["simulator_cluster"] == "qoro_maestro" and "qpu_system_name" not in second
    assert _sent(server, "job/j-1/add_circuits/")[0]["shots"] == 7
    with pytest.raises(ValueError, match="SimulatorCluster with name 'nope' not found"):
        service.submit_circuits({"c": BELL}, override_config=JobConfig(simulator_cluster="nope"))
    assert len(_sent(server, "job/init/")) == 2


def test_fetch_simulator_clusters_fills_the_cache_and_404_means_none(scripted_service):
    server, make = scripted_service
    service = make()
    assert [c.name for c in service.fetch_simulator_clusters()] == ["qoro_maestro", "farm"]
    assert [c.name for c in divi_backends.get_available_simulator_clusters()] == [
        "qoro_maestro",
        "farm",
    ]
    server.on("GET", "simulatorcluster/", (404, {}, {"detail": "Not found."}))
    assert service.fetch_simulator_clusters() == []
    assert divi_backends.get_available_simulator_clusters() == []
    with pytest.raises(ValueError, match="names the simulator cluster 'farm' but .* lists no"):
        make(config=JobConfig(simulator_cluster="farm"))
    server.on("GET", "simulatorcluster/", (401, {}, {"detail": "no"}))
    with pytest.raises(requests.HTTPError, match="401"):
        service.fetch_simulator_clusters()


def test_shot_groups_ride_on_every_chunk_reindexed(scripted_service, monkeypatch):
    server, make = scripted_service
    service = make()
    circuits = {f"c{i}": x_circuit(3, [i % 3]) for i in range(9)}
    groups = [[0, 2, 100], [2, 7, 5], [7, 9, 1]]
    monkeypatch.setattr(_qoro_service, "_MAX_PAYLOAD_SIZE_MB", 700 / (1024 * 1024))
    service.submit_circuits(circuits, shot_groups=groups)
    uploads = _sent(server, "job/j-1/add_circuits/")
    assert len(uploads) > 1 and all("shots" not in u for u in uploads)
    # Chunk-local groups, shifted back by the chunk's offset, tile exactly the job's groups.
    rebuilt, offset = [], 0
    for upload in uploads:
        local = upload["shot_groups"]
        assert local[0][0] == 0 and local[-1][1] == len(upload["circuits"])
        rebuilt += [[a + offset, b + offset, n] for a, b, n in local]
        offset += len(upload["circuits"])
    merged: list[list[int]] = []
    for a, b, n in rebuilt:
        if merged and merged[-1][1] == a and merged[-1][2] == n:
            merged[-1][1] = b
        else:
            merged.append([a, b, n])
    assert merged == groups and offset == 9


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        ([[0, 1, 10]], "cover circuits 0..0 but the job has 2"),
        ([[0, 1, 10], [2, 3, 10]], "must start at 1"),
        ([[0, 2, 0]], "Shots must be a positive integer"),
        ([[0, 2]], r"\(start, end, shots\)"),
        ("0,2,10", r"a list of \(start, end, shots\) triples"),
        ([5, 6], r"each group is \(start, end, shots\)"),
    ],
)
def test_bad_shot_groups_fail_before_a_job_exists(scripted_service, groups, match):
    server, make = scripted_service
    service = make()
    with pytest.raises(ValueError, match=match):
        service.submit_circuits({"a": BELL, "b": BELL}, shot_groups=groups)
    assert _sent(server, "job/init/") == []


def test_shot_groups_are_refused_with_ham_ops(scripted_service):
    server, make = scripted_service
    service = make()
    with pytest.raises(ValueError, match="shot_groups is incompatible with ham_ops"):
        service.submit_circuits({"a": BELL}, ham_ops="ZZ", shot_groups=[[0, 1, 10]])
    assert _sent(server, "job/init/") == []


# --- every job status (issue 16): polling stops, each unsuccessful end raises its own error,
# --- run_time reaches ExecutionResult (scripted server: real HTTP, replies chosen per test)

ENDED_ERRORS = {
    "FAILED": (divi_backends.JobFailedError, "submit it again"),
    "CANCELLED": (divi_backends.JobCancelledError, "submit the circuits again"),
    "INSUFFICIENT_CREDITS": (divi_backends.InsufficientCreditsError, "buy credits"),
    "TIMED_OUT": (divi_backends.JobTimedOutError, "raise the deadline"),
}


@pytest.fixture
def status_service():
    """(server, service): a QoroService on a scripted server that knows job ``j-9``."""
    from api.conftest import TOKEN, ScriptedServer

    server = ScriptedServer()
    server.on("GET", "qpusystem/", (200, {}, [{"name": "qoro_maestro", "supports_expval": True}]))
    saved = list(divi_backends.get_available_qpu_systems())
    try:
        yield server, QoroService(TOKEN, url=server.base_url, polling_interval=0.0)
    finally:
        divi_backends.update_qpu_systems_cache(saved)
        server.close()


def _status(status: str, **extra) -> tuple[int, dict, dict]:
    return (200, {}, {"status": status, **extra})


J9 = ExecutionResult(job_id="j-9")


@pytest.mark.parametrize("final", list(ENDED_ERRORS))
def test_polling_stops_at_once_on_every_final_status(status_service, final):
    """Regression: an INSUFFICIENT_CREDITS (or TIMED_OUT) job was polled until max_retries."""
    server, service = status_service
    server.on(
        "GET",
        "job/j-9/status/",
        _status("SCHEDULED"),
        _status("PAUSED"),
        _status(final),
        _status("RUNNING"),
    )
    seen, completed = [], []
    status = service.poll_job_status(
        J9,
        loop_until_complete=True,
        on_complete=completed.append,
        progress_callback=lambda n, s: seen.append((n, s)),
    )
    assert status is JobStatus(final) and status.is_final
    assert server.count("GET", "job/j-9/status/") == 3  # not max_retries (5000)
    assert seen == [(1, "SCHEDULED"), (2, "PAUSED")]
    assert len(completed) == 1 and completed[0].json()["status"] == final


@pytest.mark.parametrize("final", list(ENDED_ERRORS))
def test_results_of_an_ended_job_raise_its_status_error(status_service, final):
    server, service = status_service
    server.on("GET", "job/j-9/resultsV2/", (400, {}, {"error": "Job results not available"}))
    server.on("GET", "job/j-9/status/", _status(final, reason="Server says."))
    cls, advice = ENDED_ERRORS[final]
    with pytest.raises(cls) as info:
        service.get_job_results(J9)
    error = info.value
    # divi 0.15.1's class, and everything a v0.6.1 program catches
    assert isinstance(error, QoroServiceJobError) and isinstance(error, requests.HTTPError)
    assert isinstance(error, QoroJobError) and isinstance(error, divi_backends.QoroJobError)
    assert error.job_id == "j-9" and error.status is JobStatus(final)
    assert error.reason == "Server says."
    message = str(error)
    assert message.startswith("400 Bad Request: Job results not available: job j-9 ")
    assert final in message and advice in message and "still running" not in message
    assert isinstance(error.__cause__, requests.HTTPError)
    assert server.count("GET", "job/j-9/status/") == 1


def test_results_carry_the_run_time_of_the_status_reply(status_service):
    server, service = status_service
    page = {"count": 1, "next": None, "results": [{"label": "c", "results": {"00": 3}}]}
    server.on("GET", "job/j-9/resultsV2/", (200, {}, page))
    server.on("GET", "job/j-9/status/", _status("COMPLETED", run_time=4.5))
    fetched = service.get_job_results(J9)
    assert fetched.results == [{"label": "c", "results": {"00": 3}}] and fetched.job_id == "j-9"
    assert fetched.run_time == 4.5 and isinstance(fetched.run_time, float)
    assert J9.run_time == 0.0  # frozen: the handle is unchanged
    # one status request after the last page, as divi 0.15.1 makes
    assert [p.split("?")[0] for _, p, _, _ in server.seen[-2:]] == [
        "/api/job/j-9/resultsV2/",
        "/api/job/j-9/status/",
    ]


def test_a_lost_run_time_does_not_lose_the_results(status_service, caplog):
    server, service = status_service
    page = {"count": 1, "next": None, "results": [{"label": "c", "results": {"1": 2}}]}
    server.on("GET", "job/j-9/resultsV2/", (200, {}, page))
    server.on("GET", "job/j-9/status/", _status("COMPLETED"))
    assert service.get_job_results(J9).run_time == 0.0  # none reported
    server.on("GET", "job/j-9/status/", (404, {}, {"detail": "Not found."}))
    with caplog.at_level(logging.WARNING, logger="qiskit_divi"):
        fetched = service.get_job_results(J9)
    assert fetched.results == [{"label": "c", "results": {"1": 2}}] and fetched.run_time == 0.0
    assert "run time of job j-9 could not be read" in caplog.text


def test_execution_result_run_time_follows_divi_0151():
    assert ExecutionResult().run_time == 0.0
    done = ExecutionResult(job_id="j").with_results([{"label": "a", "results": {}}], run_time=2.0)
    assert done.run_time == 2.0 and done.job_id == "j" and not done.is_async()
    assert done.with_results([]).run_time == 0.0  # as divi 0.15.1: the default resets it


def test_an_unknown_status_warns_once_across_one_shot_polls(status_service, caplog):
    server, service = status_service
    server.on("GET", "job/j-9/status/", _status("VALIDATING"))
    with caplog.at_level(logging.WARNING, logger="qiskit_divi"):
        for _ in range(3):  # the caller's own polling loop
            assert service.poll_job_status(J9, verbose=False) is JobStatus.RUNNING
    assert server.count("GET", "job/j-9/status/") == 3
    assert caplog.text.count("'VALIDATING'") == 1


def test_a_cluster_service_on_the_emulator_agrees_with_exact_physics(
    emulator_token, emulator_server
):
    """EXPECTATION on the emulator's cluster equals ``Statevector.expectation_value`` (exact
    up to float rounding); a ``shot_groups`` job gives each circuit its group's shots, and
    basis states exactly their one outcome."""
    from qiskit import qasm2
    from qiskit.quantum_info import SparsePauliOp, Statevector
    from random_circuits import gate_tour

    service = QoroService(
        emulator_token,
        config=JobConfig(simulator_cluster="qoro_maestro"),
        polling_interval=0.02,
        max_retries=500,
        url=emulator_server.base_url,
    )
    (circuit,) = gate_tour(["cx"], measure=False)
    terms = ["ZXY", "XXI", "IYZ"]  # qoro order: letter i acts on qubit i
    result = run(service, {"tour": qasm2.dumps(circuit)}, ham_ops=";".join(terms))
    state = Statevector(circuit)
    exact = {t: state.expectation_value(SparsePauliOp(t[::-1])).real for t in terms}
    assert result.results[0]["results"] == pytest.approx(exact, abs=1e-9)

    circuits = {f"c{i}": x_circuit(3, [i]) for i in range(3)}
    groups = [[0, 1, 7], [1, 3, 40]]
    result = run(service, circuits, shot_groups=groups)
    counts = {row["label"]: row["results"] for row in result.results}
    shots = {"c0": 7, "c1": 40, "c2": 40}
    for label, qasm in circuits.items():
        basis = qasm2.loads(qasm).remove_final_measurements(inplace=False)
        (outcome,) = Statevector(basis).probabilities_dict()  # one outcome, probability 1
        assert counts[label] == {outcome: shots[label]}


def test_a_job_beyond_the_balance_stops_polling_and_raises_on_results():
    """End to end on the emulator: an account with no credits."""
    from qiskit_divi import QoroProvider
    from qiskit_divi.emulator import EmulatorConfig

    with QoroProvider.local(config=EmulatorConfig(credits=0, min_job_seconds=0.0)) as broke:
        service = QoroService(client=broke.client, polling_interval=0.01, max_retries=500)
        submitted = service.submit_circuits({"c": BELL})
        polls = []
        status = service.poll_job_status(
            submitted, loop_until_complete=True, progress_callback=lambda n, s: polls.append(n)
        )
        assert status is JobStatus.INSUFFICIENT_CREDITS and len(polls) < 100
        with pytest.raises(divi_backends.InsufficientCreditsError, match="buy credits") as info:
            service.get_job_results(submitted)
        assert isinstance(info.value, requests.HTTPError) and info.value.job_id == submitted.job_id


def test_results_of_a_completed_job_carry_the_emulators_run_time(service):
    fetched = run(service, {"c": BELL})
    assert isinstance(fetched.run_time, float) and 0.0 <= fetched.run_time < 30.0
