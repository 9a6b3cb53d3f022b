"""Fixtures for the emulator tests: real HTTP with plain ``requests`` to 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import requests

from qiskit_divi.api.circuits import pack_circuit
from qiskit_divi.api.histogram import decode_envelope
from qiskit_divi.api.models import JobStatus
from qiskit_divi.emulator import EmulatorConfig, EmulatorServer

TOKEN = "alice-test-token-0123456789"
OTHER_TOKEN = "bob-test-token-9876543210"
TERMINAL = {status.value for status in JobStatus if status.is_final}


def make_qasm(
    n_qubits: int, body: str = "", *, cregs: Mapping[str, int] | None = None, measure: bool = True
) -> str:
    """OpenQASM 2.0: ``qreg q[n]``, the classical registers (default ``c[n]``), ``body``,
    then ``measure q -> c`` when ``measure`` and the default register is used."""
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n_qubits}];"]
    registers = dict(cregs) if cregs is not None else {"c": n_qubits}
    lines += [f"creg {name}[{size}];" for name, size in registers.items()]
    lines += [stmt.strip() + ";" for stmt in body.split(";") if stmt.strip()]
    if measure and cregs is None:
        lines.append("measure q -> c;")
    return "\n".join(lines) + "\n"


class Api:
    """A thin ``requests`` wrapper speaking the wire protocol, for assertions."""

    def __init__(self, base_url: str, token: str | None):
        self.base_url = base_url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=30, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        if body is None and "data" not in kw:
            # Like the reference client: Content-Type JSON even without a body.
            kw.setdefault("headers", {})["Content-Type"] = "application/json"
            return self.session.post(self.url(path), timeout=30, **kw)
        return self.session.post(self.url(path), json=body, timeout=30, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.url(path), timeout=30, **kw)

    def init(
        self, job_type: str = "SIMULATE", system: str = "qoro_maestro", tag: str = "test"
    ) -> str:
        resp = self.post(
            "job/init/",
            {"tag": tag, "job_type": job_type, "qpu_system_name": system, "use_packing": False},
        )
        assert resp.status_code == 201, resp.text
        return resp.json()["job_id"]

    def add(
        self,
        job_id: str,
        circuits: Mapping[str, str],
        *,
        finalized: bool = True,
        shots: int | None = None,
        observables: str | None = None,
    ) -> requests.Response:
        body: dict[str, Any] = {
            "circuits": {label: pack_circuit(q) for label, q in circuits.items()},
            "mode": "append",
            "finalized": "true" if finalized else "false",
        }
        if observables is not None:
            body["observables"] = observables
        else:
            body["shots"] = shots if shots is not None else 100
        return self.post(f"job/{job_id}/add_circuits/", body)

    def submit(
        self,
        circuits: Mapping[str, str],
        *,
        shots: int | None = 100,
        observables: str | None = None,
        job_type: str | None = None,
        system: str = "qoro_maestro",
    ) -> str:
        job_type = job_type or ("EXPECTATION" if observables is not None else "SIMULATE")
        job_id = self.init(job_type, system)
        resp = self.add(job_id, circuits, shots=shots, observables=observables)
        assert resp.status_code == 200, resp.text
        return job_id

    def status(self, job_id: str) -> str:
        resp = self.get(f"job/{job_id}/status/")
        assert resp.status_code == 200, resp.text
        return resp.json()["status"]

    def wait(self, job_id: str, timeout: float = 30.0, interval: float = 0.01) -> list[str]:
        """Poll until terminal; the distinct statuses seen, in order."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(job_id)
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in TERMINAL:
                return seen
            time.sleep(interval)
        raise AssertionError(f"job {job_id} not terminal after {timeout}s: {seen}")

    def rows(self, job_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """All result rows, paging with limit/offset until ``next`` is null."""
        rows: list[dict[str, Any]] = []
        while True:
            resp = self.get(f"job/{job_id}/resultsV2/?limit={limit}&offset={len(rows)}")
            assert resp.status_code == 200, resp.text
            page = resp.json()
            rows += page["results"]
            if page["next"] is None:
                return rows

    def counts(self, job_id: str) -> dict[str, dict[str, int]]:
        assert self.wait(job_id)[-1] == "COMPLETED"
        return {row["label"]: decode_envelope(row["results"]) for row in self.rows(job_id)}

    def values(self, job_id: str) -> dict[str, dict[str, float]]:
        assert self.wait(job_id)[-1] == "COMPLETED"
        return {row["label"]: row["results"] for row in self.rows(job_id)}


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(min_job_seconds=0.05, seed=1234, engine="aer")
    with EmulatorServer(tokens=[TOKEN, OTHER_TOKEN], config=config) as srv:
        yield srv


@pytest.fixture
def api(server: EmulatorServer) -> Iterator[Api]:
    client = Api(server.base_url, TOKEN)
    yield client
    client.session.close()


@pytest.fixture
def other_api(server: EmulatorServer) -> Iterator[Api]:
    client = Api(server.base_url, OTHER_TOKEN)
    yield client
    client.session.close()


@pytest.fixture
def token() -> str:
    """The session server's main token (``other_api`` uses a second one)."""
    return TOKEN


@pytest.fixture
def other_token() -> str:
    return OTHER_TOKEN


@pytest.fixture
def client() -> Iterator[Callable[..., Api]]:
    """``client(server, token=TOKEN)``: an :class:`Api` for any server and token (None: no
    header)."""
    made: list[Api] = []

    def make(srv: EmulatorServer, token: str | None = TOKEN) -> Api:
        made.append(Api(srv.base_url, token))
        return made[-1]

    yield make
    for api in made:
        api.session.close()


@pytest.fixture
def qasm() -> Callable[..., str]:
    """The QASM builder :func:`make_qasm`."""
    return make_qasm


@pytest.fixture
def make_server() -> Iterator[Callable[..., EmulatorServer]]:
    """Start extra servers (own config / faults); all stopped at teardown."""
    started: list[EmulatorServer] = []

    def start(**kwargs: Any) -> EmulatorServer:
        kwargs.setdefault("tokens", [TOKEN])
        srv = EmulatorServer(**kwargs).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
