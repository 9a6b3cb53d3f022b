"""A scripted HTTP server for exercising the client's transport and retry logic."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import vcr

from qiskit_divi.api.client import QoroClient
from qiskit_divi.api.retry import RetryPolicy

TOKEN = "scripted-secret-token-123456"

Reply = tuple[int, dict, object] | str  # (status, headers, body) or "reset"


class ScriptedServer:
    """Answers each request with the next scripted reply for its path (last one repeats)."""

    def __init__(self) -> None:
        self.script: dict[str, list[Reply | Callable[[], Reply]]] = {}
        self.seen: list[tuple[str, str, dict, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen.append((self.command, self.path, dict(self.headers), body))
                replies = server.script.get(f"{self.command} {self.path.split('?')[0]}") or [
                    (404, {}, {"detail": "Not found."})
                ]
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if callable(reply):
                    reply = reply()
                if reply == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                status, headers, payload = reply
                data = (
                    payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.script[f"{method} /api/{path}"] = list(replies)

    def count(self, method: str, path: str) -> int:
        return sum(
            1 for m, p, _, _ in self.seen if m == method and p.split("?")[0] == f"/api/{path}"
        )

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def token():
    return TOKEN


@pytest.fixture
def client(scripted):
    policy = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_cap=0.01)
    with QoroClient(TOKEN, scripted.base_url, retry_policy=policy) as c:
        yield c


# --- cassettes ---------------------------------------------------------------------

CASSETTE_DIR = Path(__file__).resolve().parents[2] / "cassettes"
RECORDING = os.environ.get("QISKIT_DIVI_RECORD") == "1"
REPLAY_URL = "http://qoro.replay.invalid/api"
REPLAY_TOKEN = "replay-token-not-a-secret"
RECORDING_CREDITS = "50.00"
"""The recording account's balance: enough for every cassette job but the one that must
end INSUFFICIENT_CREDITS."""


def _recorder() -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode="all" if RECORDING else "none",
        match_on=["method", "path", "query", "body"],
        filter_headers=["authorization"],
        decode_compressed_response=True,
    )


@pytest.fixture(scope="module")
def recording_target():
    """(url, token) the cassette tests talk to.

    Replay (the default, and CI): a placeholder URL that never resolves; vcrpy
    answers from the cassette. Recording (``QISKIT_DIVI_RECORD=1``): the real
    service when ``QORO_API_KEY`` and ``QORO_API_URL`` are set, else a fresh local
    emulator with a fixed seed.
    """
    if not RECORDING:
        yield REPLAY_URL, REPLAY_TOKEN
        return
    if os.environ.get("QORO_API_KEY") and os.environ.get("QORO_API_URL"):
        yield os.environ["QORO_API_URL"], os.environ["QORO_API_KEY"]
        return
    from qiskit_divi.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(
        tokens=[REPLAY_TOKEN],
        config=EmulatorConfig(min_job_seconds=0.1, seed=1234, credits=RECORDING_CREDITS),
    ) as server:
        yield server.base_url, REPLAY_TOKEN


@pytest.fixture
def no_sockets(monkeypatch):
    """Replay must never open a connection: any attempt fails the test."""
    if RECORDING:
        return

    def refuse(self, address):
        raise AssertionError(f"a cassette test tried to open a socket to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def cassette(request, recording_target, no_sockets):
    """A QoroClient whose traffic is recorded to / replayed from ``cassettes/<test name>.yaml``."""
    url, token = recording_target
    name = f"{request.node.name}.yaml"
    if not RECORDING and not (CASSETTE_DIR / name).exists():
        pytest.fail(
            f"cassette {name} is missing: record it with "
            f"QISKIT_DIVI_RECORD=1 pytest {request.node.nodeid}"
        )
    policy = RetryPolicy(max_attempts=2, backoff_base=0.001)
    with (
        _recorder().use_cassette(name, allow_playback_repeats=False),
        QoroClient(token, url, retry_policy=policy) as qoro,
    ):
        yield qoro
