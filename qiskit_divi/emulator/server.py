"""HTTP layer of the emulator (stdlib ``ThreadingHTTPServer``) and :class:`EmulatorServer`.

Per request: route -> fault decision (latency, reset before, injected status)
-> body read (``413`` above ``max_body_bytes``) -> authentication, idempotency
key and handler -> optional reset after the handler acted -> JSON response.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..api.config import is_loopback_host
from ..api.idempotency import KEY_HEADER
from ..api.validation import int_in_range
from .accounts import Accounts, credit_amount
from .config import EmulatorConfig
from .faults import ENDPOINTS, FaultConfig, FaultDecision, FaultInjector
from .handlers import QoroApi
from .http_api import ApiRequest, ApiResponse, resolve
from .runner import make_runner
from .state import JobSnapshot, JobStore
from .systems import Engine, SystemCatalogue
from .worker import ProcessRunner, process_isolation_available

logger = logging.getLogger(__name__)

DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
"""Oversized bodies up to this size are read and discarded so the client sees the 413;
beyond it the connection is closed after the 413."""
IDLE_TIMEOUT_SECONDS = 60.0
"""An idle keep-alive connection is closed after this long."""


class _BodyError(Exception):
    def __init__(self, response: ApiResponse, close: bool):
        super().__init__(response.status)
        self.response = response
        self.close = close


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: EmulatorServer

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer, ipv6: bool):
        if ipv6:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); not needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("Error while handling a request from %s.", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "QoroAPIEmulator/0.1"
    timeout = IDLE_TIMEOUT_SECONDS
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _HTTPServer

    # --- plumbing -----------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        # Request lines and status codes only; headers (Authorization) are never logged.
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s - %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unsupported method) as JSON."""
        self.close_connection = True
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = "Error"
        self._send(ApiResponse(code, {"detail": message or reason}))

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # --- request flow -------------------------------------------------------------

    def _dispatch(self) -> None:
        emulator = self.server.emulator
        method = self.command.upper()
        url = urlsplit(self.path)
        route = resolve(url.path)
        emulator._count_request(route.endpoint)
        decision: FaultDecision = emulator._injector.decide(route.endpoint, method)
        if decision.latency:
            time.sleep(decision.latency)
        if decision.kind == "reset_before":
            logger.debug("Injected fault: reset before %s %s.", method, url.path)
            self._reset()
            return
        body: bytes | None = None
        body_error: ApiResponse | None = None
        try:
            body = self._read_body(emulator.config.max_body_bytes)
        except _BodyError as exc:
            if exc.close:
                self.close_connection = True
            body_error = exc.response
        if decision.status is not None:
            logger.debug("Injected fault: %d for %s %s.", decision.status, method, url.path)
            self._send(_injected_response(decision.status, emulator.faults.retry_after))
            return
        if body_error is not None:
            self._send(body_error)
            return
        assert body is not None
        request = ApiRequest(
            method=method,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            authorization=self.headers.get("Authorization"),
            content_type=self.headers.get("Content-Type"),
            body=body,
            host=self.headers.get("Host") or emulator._host_port,
            idempotency_key=self.headers.get(KEY_HEADER),
        )
        try:
            response = emulator._api.handle(route, request)
        except Exception:
            logger.exception("Unhandled error in %s %s.", method, url.path)
            response = ApiResponse(500, {"detail": "Internal server error."})
        if decision.kind == "reset_after":
            logger.debug(
                "Injected fault: reset after %s %s acted (%d).", method, url.path, response.status
            )
            self._reset()
            return
        self._send(response)

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            message = "Send a Content-Length; chunked request bodies are not supported."
            raise _BodyError(ApiResponse(411, {"detail": message}), True)
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError
        except ValueError:
            raise _BodyError(
                ApiResponse(400, {"detail": "Invalid Content-Length header."}), True
            ) from None
        if length > limit:
            drained = self._drain(length) if length <= DRAIN_LIMIT_BYTES else False
            raise _BodyError(
                ApiResponse(
                    413,
                    {"detail": f"Request body of {length} bytes exceeds the {limit}-byte limit."},
                ),
                not drained,
            )
        return self.rfile.read(length) if length else b""

    def _drain(self, length: int) -> bool:
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                return False
            remaining -= len(chunk)
        return True

    def _send(self, response: ApiResponse) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode("utf-8")
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.status != 204:
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if payload and self.command != "HEAD" and response.status != 204:
                self.wfile.write(payload)
        except (ConnectionError, OSError) as exc:
            logger.debug("Client went away before the response was written: %s", exc)
            self.close_connection = True

    def _reset(self) -> None:
        """Abort the connection with a TCP RST and write nothing."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


def _injected_response(status: int, retry_after: str) -> ApiResponse:
    if status == 429:
        return ApiResponse(
            429,
            {"detail": f"Request was throttled. Expected available in {retry_after} seconds."},
            {"Retry-After": retry_after},
        )
    return ApiResponse(
        status, {"detail": f"{HTTPStatus(status).phrase} (injected by the emulator)."}
    )


class EmulatorServer:
    """A local Qoro API on loopback, backed by qiskit-aer (and Maestro, see :attr:`engine`).

    ``tokens``: accepted bearer tokens (``None``: one fresh random token).
    ``port=0`` picks a free port. Non-loopback hosts need ``allow_remote=True``.
    Use as a context manager, or ``start()`` / ``stop()``.
    """

    def __init__(
        self,
        tokens: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        faults: FaultConfig | None = None,
        *,
        allow_remote: bool = False,
    ):
        if not allow_remote and not is_loopback_host(host):
            raise ValueError(
                f"Refusing to serve on non-loopback host {host!r}; "
                "pass allow_remote=True (CLI: --allow-remote)."
            )
        token_list = [secrets.token_urlsafe(24)] if tokens is None else list(tokens)
        if isinstance(tokens, str):
            raise TypeError("tokens must be a list of strings, not a string.")
        if not token_list:
            raise ValueError("At least one token is required (tokens=None generates one).")
        for token in token_list:
            if not isinstance(token, str) or not token or any(c.isspace() for c in token):
                raise ValueError("Tokens must be non-empty strings without whitespace.")
        port = int_in_range(port, "port", 0, 65535, error=ValueError)
        self.host = host
        self.config = config or EmulatorConfig()
        self.faults = faults or FaultConfig()
        self._tokens = token_list
        self._requested_port = port
        self._catalogue = SystemCatalogue(self.config.systems)
        self._injector = FaultInjector(self.faults)
        # The child process starts with the first job, not here: servers that run no job
        # (and QoroProvider.local() before its first job) stay cheap to start.
        self._process = (
            ProcessRunner(self.config.systems, self.config.seed)
            if self.config.isolate_jobs and process_isolation_available(self.config.systems)
            else None
        )
        credits = self.config.credits
        self._accounts = Accounts(None if credits is None else credit_amount(credits))
        self._store = JobStore(
            make_runner(self._catalogue, self.config.seed, self._process),
            min_job_seconds=self.config.min_job_seconds,
            queue_delay_seconds=self.faults.queue_delay_seconds,
            on_queue_delay=lambda: self._injector.count("slow_queue"),
            max_open_jobs_per_owner=self.config.max_open_jobs_per_token,
            max_jobs=self.config.max_jobs,
            retention_seconds=self.config.job_retention_seconds,
            on_stop=None if self._process is None else self._process.close,
            accounts=self._accounts,
            max_job_seconds=self.config.max_job_seconds,
            report_scheduled=self.config.report_scheduled,
        )
        self._api = QoroApi(self.config, self._catalogue, self._store, token_list)
        self._requests: Counter[str] = Counter()
        self._requests_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._state = "new"
        self._lifecycle_lock = threading.Lock()

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> EmulatorServer:
        """Bind and serve in a daemon thread; returns ``self``. Idempotent while running."""
        with self._lifecycle_lock:
            if self._state == "running":
                return self
            if self._state == "stopped":
                raise RuntimeError("An EmulatorServer cannot be restarted; create a new one.")
            ipv6 = ":" in self.host
            self._httpd = _HTTPServer((self.host.strip("[]"), self._requested_port), self, ipv6)
            self._store.start()
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"qoro-emulator-http-{self.port}",
                daemon=True,
            )
            self._thread.start()
            self._state = "running"
        logger.info("Qoro API emulator serving on %s; %s.", self.base_url, self.engine_summary)
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and stop the worker and its job process (a
        running job is abandoned). Idempotent."""
        with self._lifecycle_lock:
            if self._state != "running":
                self._state = "stopped"
                if self._process is not None:
                    self._process.close()
                return
            self._state = "stopped"
            httpd, thread = self._httpd, self._thread
        assert httpd is not None and thread is not None
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join(5.0)
        self._store.stop()
        logger.info("Qoro API emulator on port %d stopped.", httpd.server_port)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else f"{self.host} (not started)"
        return f"<EmulatorServer {where} {self._state}, {len(self._tokens)} token(s)>"

    # --- addresses ----------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("The emulator is not started; call start() first.")
        return self._httpd.server_port

    @property
    def _host_port(self) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>/api`` (no trailing slash)."""
        return f"http://{self._host_port}/api"

    @property
    def tokens(self) -> list[str]:
        return list(self._tokens)

    @property
    def running(self) -> bool:
        return self._state == "running"

    # --- introspection ------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """What simulates the noiseless systems (``qoro_maestro``): ``"aer"`` or
        ``"maestro"`` (``EmulatorConfig.engine``, ``"auto"`` resolved)."""
        return self.config.resolved_engine

    @property
    def engine_summary(self) -> str:
        """Which engine runs which system, e.g. ``"qoro_maestro (100 qubits) on maestro
        (statevector up to 26 qubits, matrix-product state above); fake_nairobi, fake_ion on
        aer"``."""
        on: dict[str, list[str]] = {}
        for spec in self.config.systems:
            width = f" ({spec.q_bits} qubits)" if spec.engine == "maestro" else ""
            on.setdefault(spec.engine, []).append(spec.name + width)
        parts = []
        for engine, names in on.items():
            part = f"{', '.join(names)} on {engine}"
            if engine == "maestro":
                from .._maestro import STATEVECTOR_MAX_QUBITS

                part += (
                    f" (statevector up to {STATEVECTOR_MAX_QUBITS} qubits, "
                    "matrix-product state above)"
                )
            parts.append(part)
        return "; ".join(parts)

    def _count_request(self, endpoint: str) -> None:
        with self._requests_lock:
            self._requests[endpoint] += 1

    @property
    def jobs(self) -> dict[str, JobSnapshot]:
        """Snapshot of the jobs currently held, by id, in creation order."""
        return self._store.snapshot()

    @property
    def job_count(self) -> int:
        """Jobs currently held (deleted jobs excluded; see ``stats["jobs_created"]``)."""
        return len(self._store)

    @property
    def stats(self) -> dict[str, Any]:
        """``requests`` (total), ``requests_by_endpoint``, ``jobs_created``, ``faults`` by
        kind, ``idempotent_replays`` (stored responses replayed for a repeated key),
        ``simulation_seconds`` (time the worker spent simulating jobs), ``job_processes_started``
        (child processes started to run jobs, see :mod:`.worker`; 0 when jobs run in-process),
        ``jobs_timed_out`` and ``jobs_refused_for_credits`` (ended TIMED_OUT and
        INSUFFICIENT_CREDITS), ``engine`` (:attr:`engine`)."""
        with self._requests_lock:
            by_endpoint = {name: self._requests.get(name, 0) for name in sorted(ENDPOINTS)}
        idempotency = self._api.idempotency
        return {
            "requests": sum(by_endpoint.values()),
            "requests_by_endpoint": by_endpoint,
            "jobs_created": self._store.jobs_created,
            "faults": self._injector.counts(),
            "idempotent_replays": idempotency.replays if idempotency is not None else 0,
            "simulation_seconds": self._store.simulation_seconds,
            "job_processes_started": 0 if self._process is None else self._process.starts,
            "jobs_timed_out": self._store.jobs_timed_out,
            "jobs_refused_for_credits": self._store.jobs_refused_for_credits,
            "engine": self.engine,
        }
