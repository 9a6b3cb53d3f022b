"""Transport, retry and error-mapping behaviour of QoroClient against a scripted server."""

import logging

import pytest

from qiskit_divi.api.client import QoroClient
from qiskit_divi.api.errors import (
    QoroAmbiguousRequestError,
    QoroAuthenticationError,
    QoroConflictError,
    QoroError,
    QoroNotFoundError,
    QoroProtocolError,
    QoroResultsNotReadyError,
)
from qiskit_divi.api.models import InitJobRequest, JobType

OK_SYSTEMS = (200, {}, [{"name": "qoro_maestro", "access_level": "PUBLIC"}])
INIT = InitJobRequest(JobType.SIMULATE, "qoro_maestro")


@pytest.mark.parametrize(
    "transient",
    [
        (502, {}, "bad gateway"),
        (503, {}, {"detail": "busy"}),
        (504, {}, "timeout"),
        (429, {"Retry-After": "0"}, {"detail": "slow down"}),
        "reset",
    ],
)
def test_get_is_retried_on_transient_failures(scripted, client, transient):
    scripted.on("GET", "qpusystem/", transient, transient, OK_SYSTEMS)
    assert [s.name for s in client.list_systems()] == ["qoro_maestro"]
    assert scripted.count("GET", "qpusystem/") == 3
    assert client.stats["retries"] == 2


def test_get_gives_up_after_max_attempts(scripted, client):
    scripted.on("GET", "job/j/status/", (502, {}, "bad gateway"))
    with pytest.raises(QoroError, match="502"):
        client.job_status("j")
    assert scripted.count("GET", "job/j/status/") == client.retry_policy.max_attempts


def test_retry_after_is_honoured(scripted, client, monkeypatch):
    sleeps = []
    monkeypatch.setattr("qiskit_divi.api.client.time.sleep", sleeps.append)
    scripted.on("GET", "qpusystem/", (429, {"Retry-After": "2"}, {}), OK_SYSTEMS)
    client.list_systems()
    assert sleeps == [2.0]


@pytest.mark.parametrize("ambiguous", [(502, {}, "bad gateway"), (504, {}, "timeout"), "reset"])
def test_creating_post_is_never_resent_after_an_ambiguous_failure(scripted, client, ambiguous):
    scripted.on("POST", "job/init/", ambiguous, (201, {}, {"job_id": "j1"}))
    with pytest.raises(QoroAmbiguousRequestError, match="not re-sent"):
        client.init_job(INIT)
    assert scripted.count("POST", "job/init/") == 1


@pytest.mark.parametrize(
    "refused", [(503, {}, {"detail": "down"}), (429, {"Retry-After": "0"}, {})]
)
def test_post_refused_outright_is_retried(scripted, client, refused):
    scripted.on("POST", "job/init/", refused, (201, {}, {"job_id": "j1"}))
    assert client.init_job(INIT) == "j1"
    assert scripted.count("POST", "job/init/") == 2


def test_post_to_an_unreachable_server_is_retried_then_fails(client):
    client.base_url = "http://127.0.0.1:9/api"  # discard port: connection refused, never sent
    with pytest.raises(QoroError, match="Could not reach"):
        client.init_job(INIT)
    assert client.stats["requests"] == client.retry_policy.max_attempts


def test_headers_follow_the_wire_contract(scripted, client, token):
    scripted.on("POST", "job/init/", (201, {}, {"job_id": "j1"}))
    scripted.on("GET", "", (200, {}, {}))
    client.init_job(INIT)
    client.ping()
    (_, _, post_headers, body), (_, path, get_headers, _) = scripted.seen
    assert post_headers["Authorization"] == f"Bearer {token}"
    assert post_headers["Content-Type"] == "application/json"
    assert b'"job_type": "SIMULATE"' in body
    assert path == "/api/" and "Content-Type" not in get_headers


def test_error_statuses_map_to_the_tree_and_hide_the_token(scripted, client, token):
    scripted.on("GET", "qpusystem/", (401, {}, {"detail": "Invalid token."}))
    scripted.on(
        "POST", "job/j/cancel/", (409, {}, {"error": "Can only cancel a PENDING or RUNNING job"})
    )
    scripted.on("GET", "job/j/resultsV2/", (400, {}, {"error": "not ready"}))
    with pytest.raises(QoroAuthenticationError) as auth:
        client.list_systems()
    assert auth.value.status_code == 401 and "Invalid token." in str(auth.value)
    assert "QORO_API_KEY" in str(auth.value) and token not in str(auth.value)
    with pytest.raises(QoroConflictError, match="Can only cancel") as conflict:
        client.cancel_job("j")
    assert conflict.value.server_message == "Can only cancel a PENDING or RUNNING job"
    with pytest.raises(QoroResultsNotReadyError, match="not finished"):
        client.results_page("j")


def test_non_json_reply_is_a_protocol_error(scripted, client):
    scripted.on("GET", "qpusystem/", (200, {}, "<html>oops</html>"))
    with pytest.raises(QoroProtocolError, match="non-JSON"):
        client.list_systems()


def test_pages_are_followed_until_next_is_null(scripted, client):
    base = f"{scripted.base_url}/job/j/resultsV2/"
    scripted.on(
        "GET",
        "job/j/resultsV2/",
        (
            200,
            {},
            {
                "count": 3,
                "next": f"{base}?limit=2&offset=2",
                "results": [{"label": "a", "results": None}, {"label": "b", "results": None}],
            },
        ),
        (200, {}, {"count": 3, "next": None, "results": [{"label": "c", "results": None}]}),
    )
    assert [row.label for row in client.iter_results("j", limit=2)] == ["a", "b", "c"]
    assert [p for m, p, _, _ in scripted.seen] == [
        "/api/job/j/resultsV2/?limit=2&offset=0",
        "/api/job/j/resultsV2/?limit=2&offset=2",
    ]


def test_missing_rows_are_detected(scripted, client):
    scripted.on(
        "GET",
        "job/j/resultsV2/",
        (200, {}, {"count": 5, "next": None, "results": [{"label": "a", "results": None}]}),
    )
    with pytest.raises(QoroProtocolError, match="reported 5 results but 1 arrived"):
        list(client.iter_results("j"))


def test_token_never_logged_or_shown(scripted, client, caplog, token):
    caplog.set_level(logging.DEBUG)
    scripted.on("GET", "qpusystem/", (502, {}, "x"), OK_SYSTEMS)
    client.list_systems()
    assert caplog.records, "expected debug logging of the requests"
    assert token not in caplog.text
    assert token not in repr(client)


def test_a_url_without_the_api_root_says_to_check_the_url(emulator_server, emulator_token):
    root = emulator_server.base_url.removesuffix("/api")
    with QoroClient(emulator_token, root) as wrong:
        for call in (wrong.list_systems, wrong.ping, lambda: wrong.init_job(INIT)):
            with pytest.raises(QoroNotFoundError) as info:
                call()
            message = str(info.value)
            assert (
                f"check the API URL (try {root}/api), given as url=... or QORO_API_URL" in message
            ), message
            assert "job id" not in message and emulator_token not in message
    with QoroClient(
        emulator_token, emulator_server.base_url
    ) as right:  # the job's own endpoints: the id
        with pytest.raises(
            QoroNotFoundError, match="Check the job id; deleted jobs cannot be retrieved."
        ) as info:
            right.job_status("no-such-job")
        assert "URL" not in str(info.value)


@pytest.mark.parametrize(("endpoint", "names_a_job"), [
    ("", False), ("qpusystem/", False), ("job/init/", False), ("job/create_failed/", False),
    ("job/abc/status/", True), ("job/abc/resultsV2/?limit=100&offset=0", True), ("job/abc", True),
])  # fmt: skip
def test_only_a_job_endpoint_blames_the_job_id(client, endpoint, names_a_job):
    hint = client.not_found_hint(endpoint)
    assert (hint is None) is names_a_job
    if hint is not None:  # the scripted server's URL has the API root: no "try .../api"
        assert hint.startswith(
            f"The server at {client.base_url} has no such endpoint: check the API URL, given"
        )
