"""Hostile replies the client must survive (issue 15, items 7 to 11), all on loopback:
slow drips, Retry-After past the deadline, oversized bodies and histograms, job ids
that would change a URL, redirects, and TLS verification switched off by a falsy value."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from qiskit_divi.api.client import QoroClient
from qiskit_divi.api.errors import (
    QoroConfigurationError,
    QoroConnectionError,
    QoroDeadlineError,
    QoroError,
    QoroInputError,
    QoroProtocolError,
)
from qiskit_divi.api.histogram import (
    MAGIC_QH2,
    MAX_HISTOGRAM_BITS,
    HistogramDecodeError,
    decode_envelope,
    encode_envelope,
    uleb128_encode,
)
from qiskit_divi.api.models import AddCircuitsRequest, InitJobRequest, JobType
from qiskit_divi.api.retry import RetryPolicy
from qiskit_divi.api.submission import wait_for_final_status

from .conftest import TOKEN, ScriptedServer

INIT = InitJobRequest(JobType.SIMULATE, "qoro_maestro")
ONE_ATTEMPT = RetryPolicy(max_attempts=1)
DRIP_SECONDS = 0.2
DRIP_BYTES = 15  # 3 s of dripping: far longer than any bound the tests set


# --- a raw-socket server ----------------------------------------------------------


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    return data


class RawServer:
    """Runs ``handler(conn)`` on every connection accepted on 127.0.0.1."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api"
        self.connections = 0

        def serve() -> None:
            while True:
                try:
                    conn, _ = self.listener.accept()
                except OSError:
                    return
                self.connections += 1
                threading.Thread(target=self._run, args=(handler, conn), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()

    @staticmethod
    def _run(handler: Callable[[socket.socket], None], conn: socket.socket) -> None:
        try:
            _read_request(conn)
            handler(conn)
        except OSError:
            pass
        finally:
            conn.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.listener.close()


def drip_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % DRIP_BYTES)
    for _ in range(DRIP_BYTES):
        time.sleep(DRIP_SECONDS)
        conn.sendall(b" ")


def drip_headers(conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * DRIP_BYTES:
        conn.sendall(bytes([byte]))
        time.sleep(DRIP_SECONDS)


# --- item 7: a deadline is a deadline ---------------------------------------------


@pytest.mark.parametrize("drip", [drip_body, drip_headers], ids=["body", "headers"])
def test_a_dripping_server_cannot_outlast_the_per_request_bound(raw_server, drip):
    server = raw_server(drip)
    client = QoroClient(TOKEN, server.base_url, timeouts={"ping": 0.5}, retry_policy=ONE_ATTEMPT)
    started = time.monotonic()
    with pytest.raises(QoroConnectionError, match=r"within 0\.5 s"):
        client.ping()
    assert time.monotonic() - started < 1.5


def test_the_callers_deadline_bounds_every_attempt_and_retry(raw_server):
    server = raw_server(drip_body)
    policy = RetryPolicy(max_attempts=6, backoff_base=0.01, backoff_cap=0.02)
    client = QoroClient(TOKEN, server.base_url, retry_policy=policy)  # 10 s per attempt
    started = time.monotonic()
    with pytest.raises(QoroConnectionError):
        client.ping(deadline=started + 0.6)
    assert time.monotonic() - started < 1.5


def test_retry_after_beyond_the_deadline_gives_up_at_once(scripted):
    scripted.on("GET", "job/j1/status/", (503, {"Retry-After": "8"}, {"detail": "busy"}))
    client = QoroClient(TOKEN, scripted.base_url)
    started = time.monotonic()
    with pytest.raises(QoroError, match=r"did not finish within 1 s.*8 s from now"):
        wait_for_final_status(client, "j1", timeout=1)
    assert time.monotonic() - started < 1.0
    assert scripted.count("GET", "job/j1/status/") == 1


def test_a_deadline_error_names_the_server_reply(scripted):
    scripted.on("GET", "job/j1/status/", (429, {"Retry-After": "30"}, {"detail": "slow down"}))
    client = QoroClient(TOKEN, scripted.base_url)
    with pytest.raises(QoroDeadlineError, match=r"429: slow down.*past the caller's deadline"):
        client.job_status("j1", deadline=time.monotonic() + 5)


def test_a_passed_deadline_sends_nothing(scripted):
    client = QoroClient(TOKEN, scripted.base_url)
    with pytest.raises(QoroDeadlineError, match="deadline has passed"):
        client.job_status("j1", deadline=time.monotonic() - 1)
    assert scripted.seen == []


# --- item 8: size caps -------------------------------------------------------------


def test_an_oversized_status_body_is_refused_naming_the_limit(scripted):
    scripted.on("GET", "job/j1/status/", (200, {}, {"status": "A" * (2 << 20)}))
    client = QoroClient(TOKEN, scripted.base_url)
    with pytest.raises(QoroProtocolError, match=r"over the 1,048,576-byte limit"):
        client.job_status("j1")
    roomy = QoroClient(TOKEN, scripted.base_url, max_response_bytes={"status": 4 << 20})
    assert roomy.job_status("j1").raw_status.startswith("AAA")


def test_a_body_without_length_is_cut_at_the_limit(raw_server):
    def endless_chunks(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        for _ in range(64):  # 4 MiB, never terminated
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    server = raw_server(endless_chunks)
    client = QoroClient(TOKEN, server.base_url, max_response_bytes={"status": 100_000})
    with pytest.raises(QoroProtocolError, match=r"more than 100,000 bytes"):
        client.job_status("j1")


@pytest.mark.parametrize("name", ["status", "nope"])
def test_response_limits_are_validated(name):
    with pytest.raises(QoroConfigurationError):
        QoroClient(TOKEN, "http://127.0.0.1:9/api", max_response_bytes={name: 0})


def _one_outcome(n_bits: int) -> dict:
    """A valid qh2 envelope of one outcome (all zeros) counted once: 16 bytes for any width."""
    raw = MAGIC_QH2 + uleb128_encode(n_bits) + bytes([1, 1, 1, 0, 3, 1, 1, 1, 0])
    return {"encoding": "qh2", "n_bits": n_bits, "payload": base64.b64encode(raw).decode()}


def test_a_tiny_histogram_cannot_declare_a_gigabyte_key():
    started = time.monotonic()
    with pytest.raises(HistogramDecodeError, match="MAX_HISTOGRAM_BITS = 4096"):
        decode_envelope(_one_outcome(10**9))
    assert time.monotonic() - started < 0.1


def test_the_histogram_width_bound_is_inclusive():
    assert decode_envelope(_one_outcome(MAX_HISTOGRAM_BITS)) == {"0" * MAX_HISTOGRAM_BITS: 1}
    wide = encode_envelope({"1" * MAX_HISTOGRAM_BITS: 3}, MAX_HISTOGRAM_BITS)
    assert decode_envelope(wide) == {"1" * MAX_HISTOGRAM_BITS: 3}
    with pytest.raises(HistogramDecodeError):
        decode_envelope(_one_outcome(MAX_HISTOGRAM_BITS + 1))


# --- item 9: job ids ---------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["../../evilid/x", "x#", "x?y=1", "a b", "", "-x", "%2e%2e"])
def test_a_server_chosen_job_id_that_would_change_the_url_is_refused(scripted, job_id):
    scripted.on("POST", "job/init/", (201, {}, {"job_id": job_id}))
    client = QoroClient(TOKEN, scripted.base_url)
    with pytest.raises(QoroProtocolError, match="not a valid job id"):
        job = client.init_job(INIT)
        client.add_circuits(job, AddCircuitsRequest({"c": "x"}, finalized=True, shots=1))
    assert [(m, p) for m, p, _, _ in scripted.seen] == [("POST", "/api/job/init/")]


@pytest.mark.parametrize("job_id", ["x#", "../x", "x/y", "x y", None, 1.5])
def test_a_user_given_job_id_is_checked_before_any_request(scripted, job_id):
    client = QoroClient(TOKEN, scripted.base_url)
    for call in (client.job_status, client.cancel_job, client.delete_job):
        with pytest.raises(QoroInputError, match="Invalid job id"):
            call(job_id)
    assert scripted.seen == []


def test_uuid_and_integer_job_ids_are_accepted(scripted):
    uuid_id = "0b3c5a8e-1f2d-4c6b-9a7e-3d2f1e0c9b8a"
    scripted.on("POST", "job/init/", (201, {}, {"job_id": 42}))
    scripted.on("GET", f"job/{uuid_id}/status/", (200, {}, {"status": "RUNNING"}))
    client = QoroClient(TOKEN, scripted.base_url)
    assert client.init_job(INIT) == "42"
    assert client.job_status(uuid_id).raw_status == "RUNNING"


# --- item 10: redirects --------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("POST", "job/init/"), ("GET", "qpusystem/")])
def test_a_redirect_is_never_followed(method, path):
    elsewhere = ScriptedServer()
    origin = ScriptedServer()
    try:
        elsewhere.on(method, path, (201, {}, {"job_id": "attacker"}))
        target = f"{elsewhere.base_url}/{path}?secret=1"
        origin.on(method, path, (307, {"Location": target}, ""))
        client = QoroClient(TOKEN, origin.base_url)
        with pytest.raises(QoroProtocolError, match="redirected") as caught:
            client.init_job(INIT) if method == "POST" else client.list_systems()
        assert f"to {elsewhere.base_url}/{path}." in str(caught.value)
        assert TOKEN not in str(caught.value) and "secret" not in str(caught.value)
        assert elsewhere.seen == []
        assert origin.count(method, path) == 1
    finally:
        elsewhere.close()
        origin.close()


# --- item 11: TLS verification -------------------------------------------------------


def _session(verify: object) -> requests.Session:
    session = requests.Session()
    session.verify = verify  # type: ignore[assignment]
    return session


@pytest.mark.parametrize("verify", [False, 0, "", None, [], "/no/such/ca-bundle.pem"])
def test_tls_verification_cannot_be_switched_off_off_loopback(verify):
    with pytest.raises(QoroConfigurationError, match="verify"):
        QoroClient(TOKEN, "https://api.example.invalid/api", session=_session(verify))


@pytest.mark.parametrize("verify", [0, "", None])
def test_only_false_switches_verification_off_on_loopback(verify):
    QoroClient(TOKEN, "https://127.0.0.1:9/api", session=_session(False))
    with pytest.raises(QoroConfigurationError):
        QoroClient(TOKEN, "https://127.0.0.1:9/api", session=_session(verify))


def test_verification_on_or_a_ca_bundle_is_accepted(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    for verify in (True, str(bundle), bundle):
        QoroClient(TOKEN, "https://api.example.invalid/api", session=_session(verify))


def test_json_payloads_are_unchanged(scripted):
    """The streamed read hands the same bytes to the reply parsers."""
    body = {"status": "COMPLETED", "reason": "ünïcode ✓"}
    scripted.on("GET", "job/j1/status/", (200, {}, body))
    reply = QoroClient(TOKEN, scripted.base_url).job_status("j1")
    assert (reply.raw_status, reply.reason) == ("COMPLETED", body["reason"])
