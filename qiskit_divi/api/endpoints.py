"""Every endpoint of the Qoro API the client uses, once (``qoro-api.md`` sections 3 and 4).

A :class:`Call` says what one request is (method, path, body, which timeout applies,
which 2xx statuses the contract allows) and how its reply is read. A transport sends
it: :class:`~qiskit_divi.api.client.QoroClient`, or the divi-compatible ``QoroService``,
which routes the same calls through its own ``_make_request``. Nothing outside this
package spells a wire path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qs, urlparse

import requests

from .errors import QoroProtocolError
from .models import (
    AddCircuitsRequest,
    AddTemplateRequest,
    CancelReply,
    CreditBalance,
    CreditTransactionsPage,
    InitJobRequest,
    JobStatusReply,
    QPUSystem,
    ResultRow,
    ResultsPage,
    SimulatorCluster,
    check_job_id,
    parse_cancel_reply,
    parse_credit_balance,
    parse_credit_transactions,
    parse_job_id,
    parse_job_status,
    parse_qpu_systems,
    parse_results_page,
    parse_simulator_clusters,
)

T = TypeVar("T")

RESULTS_PAGE_SIZE = 100
"""Rows asked for per ``resultsV2`` page (the reference client's page size)."""

TIMEOUTS: dict[str, float] = {
    "ping": 10,
    "systems": 10,
    "clusters": 10,
    "credits": 10,
    "init": 100,
    "add_circuits": 100,
    "status": 200,
    "results": 100,
    "cancel": 50,
    "delete": 50,
}
"""Per-endpoint timeouts in seconds (``qoro-api.md`` section 8.2), keyed by
:attr:`Call.timeout`; override per client with ``QoroClient(timeouts={...})``. Each
bounds one attempt in wall-clock time (headers and body), not one socket read."""

_MiB = 1 << 20

MAX_RESPONSE_BYTES: dict[str, int] = {
    "ping": 1 * _MiB,
    "systems": 16 * _MiB,
    "clusters": 16 * _MiB,
    "credits": 1 * _MiB,
    "init": 1 * _MiB,
    "add_circuits": 1 * _MiB,
    "status": 1 * _MiB,
    "results": 512 * _MiB,
    "cancel": 1 * _MiB,
    "delete": 1 * _MiB,
}
"""Largest reply body (after content decoding) the client reads per endpoint, keyed
like :data:`TIMEOUTS`; a larger one is a :class:`QoroProtocolError`. The small
replies are a few hundred bytes; a ``resultsV2`` page holds up to
:data:`RESULTS_PAGE_SIZE` histograms of up to a million shots each. Override per
client with ``QoroClient(max_response_bytes={...})``."""

INIT_ENDPOINT = "job/init/"
"""The endpoint that creates a job (it names no job; its lost reply cannot be looked up)."""


def json_of(response: requests.Response, what: str) -> Any:
    """The JSON body of ``response``; :class:`QoroProtocolError` naming ``what`` otherwise."""
    try:
        return response.json()
    except ValueError:
        raise QoroProtocolError(
            f"Malformed server reply: {what} returned non-JSON content ({response.text[:80]!r})."
        ) from None


def _no_body(response: requests.Response) -> None:
    return None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request of the Qoro API and how to read its reply."""

    method: str
    """Upper-case HTTP method."""
    endpoint: str
    """Path below the API root, with the query string when there is one."""
    timeout: str
    """Key of :data:`TIMEOUTS`."""
    read: Callable[[requests.Response], T]
    """Turns the 2xx response into the typed reply."""
    body: Any = None
    """JSON request body, or None."""
    job_id: str | None = None
    """The job a state-changing call affects (named when its fate is unknown)."""
    ok_statuses: frozenset[int] | None = None
    """The 2xx statuses the contract allows (None: any); others are a protocol error."""


class Transport(Protocol):
    """Anything that sends a :class:`Call` and returns its reply."""

    def call(self, call: Call[T]) -> T: ...


def ping() -> Call[None]:
    """``GET /api/``: check the URL and the token."""
    return Call("GET", "", "ping", _no_body)


def list_systems() -> Call[list[QPUSystem]]:
    """``GET qpusystem/``: the systems this token can target."""
    return Call(
        "GET", "qpusystem/", "systems", lambda r: parse_qpu_systems(json_of(r, "qpusystem/"))
    )


CREDIT_PAGE_SIZE_MAX = 100
"""Largest ``page_size`` of ``credits/transactions/`` (``qoro-api.md`` 3.11)."""


def list_clusters() -> Call[list[SimulatorCluster]]:
    """``GET simulatorcluster/``: the simulator clusters this token can target.

    A server without the endpoint answers 404: callers treat that as no clusters.
    """
    return Call(
        "GET",
        "simulatorcluster/",
        "clusters",
        lambda r: parse_simulator_clusters(json_of(r, "simulatorcluster/")),
    )


def credit_balance() -> Call[CreditBalance]:
    """``GET credits/``: the token's credit balance."""
    return Call(
        "GET", "credits/", "credits", lambda r: parse_credit_balance(json_of(r, "credits/"))
    )


def credit_transactions(page: int = 1, page_size: int = 20) -> Call[CreditTransactionsPage]:
    """``GET credits/transactions/?page=&page_size=``: one page of the credit history."""
    return Call(
        "GET",
        f"credits/transactions/?page={int(page)}&page_size={int(page_size)}",
        "credits",
        lambda r: parse_credit_transactions(json_of(r, "credits/transactions/")),
    )


def init_job(request: InitJobRequest) -> Call[str]:
    """``POST job/init/``: create an empty job; the reply is its id."""
    return Call(
        "POST",
        INIT_ENDPOINT,
        "init",
        lambda r: parse_job_id(json_of(r, INIT_ENDPOINT)),
        body=request.to_json(),
        ok_statuses=frozenset({200, 201}),
    )


def add_circuits(job_id: str, request: AddCircuitsRequest | AddTemplateRequest) -> Call[None]:
    """``POST job/<id>/add_circuits/``: upload one chunk of packed circuits, or of a
    template's parameter sets (exactly 200)."""
    job_id = check_job_id(job_id)
    return Call(
        "POST",
        f"job/{job_id}/add_circuits/",
        "add_circuits",
        _no_body,
        body=request.to_json(),
        job_id=job_id,
        ok_statuses=frozenset({200}),
    )


def job_status(job_id: str) -> Call[JobStatusReply]:
    """``GET job/<id>/status/``."""
    job_id = check_job_id(job_id)
    return Call(
        "GET",
        f"job/{job_id}/status/",
        "status",
        lambda r: parse_job_status(json_of(r, "status/")),
    )


def results_page(
    job_id: str, *, limit: int = RESULTS_PAGE_SIZE, offset: int = 0
) -> Call[ResultsPage]:
    """``GET job/<id>/resultsV2/?limit=&offset=``: one page of result rows."""
    job_id = check_job_id(job_id)
    return Call(
        "GET",
        f"job/{job_id}/resultsV2/?limit={limit}&offset={offset}",
        "results",
        lambda r: parse_results_page(json_of(r, "resultsV2")),
    )


def cancel_job(job_id: str) -> Call[CancelReply]:
    """``POST job/<id>/cancel/``; a finished job answers 409."""
    job_id = check_job_id(job_id)
    return Call(
        "POST",
        f"job/{job_id}/cancel/",
        "cancel",
        lambda r: parse_cancel_reply(json_of(r, "cancel/"), job_id),
        job_id=job_id,
    )


def delete_job(job_id: str) -> Call[None]:
    """``DELETE job/<id>`` (no trailing slash)."""
    job_id = check_job_id(job_id)
    return Call("DELETE", f"job/{job_id}", "delete", _no_body)


def iter_results(
    transport: Transport, job_id: str, *, limit: int = RESULTS_PAGE_SIZE
) -> Iterator[ResultRow]:
    """Every result row of a job, page by page, following ``next`` until it is null.

    The offset advances by the rows actually received (robust to a server that
    caps ``limit``); the total is checked against ``count``.
    """
    offset = 0
    seen = 0
    count: int | None = None
    while True:
        page = transport.call(results_page(job_id, limit=limit, offset=offset))
        count = page.count if page.count is not None else count
        yield from page.rows
        seen += len(page.rows)
        if page.next is None or not page.rows:
            break
        received_to = offset + len(page.rows)
        offset = max(_next_offset(page.next, received_to), received_to)
    if count is not None and seen != count:
        raise QoroProtocolError(
            f"Malformed server reply: job {job_id} reported {count} results but {seen} arrived."
        )


def is_job_endpoint(endpoint: str) -> bool:
    """Whether ``endpoint`` addresses one job (``job/<id>/...`` or ``job/<id>``)."""
    parts = endpoint.split("?", 1)[0].split("/")
    return len(parts) >= 2 and parts[0] == "job" and parts[1] not in _NOT_JOB_IDS and parts[1] != ""


_NOT_JOB_IDS = frozenset({"init", "create_failed"})
"""``job/<word>/`` endpoints that name no job."""


def _next_offset(next_url: str, fallback: int) -> int:
    """The ``offset`` of a ``next`` URL, or ``fallback`` when it has none we can read."""
    try:
        values = parse_qs(urlparse(next_url).query).get("offset")
        return int(values[0]) if values else fallback
    except (ValueError, IndexError):
        return fallback
