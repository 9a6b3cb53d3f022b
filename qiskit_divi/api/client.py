"""``QoroClient``: the only object that speaks HTTP to the Qoro API.

One typed method per endpoint of ``qoro-api.md`` (1-9), one ``requests.Session``,
one retry policy (:mod:`.retry`). The token lives in a :class:`Secret` and is
only ever revealed into the ``Authorization`` header.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from .config import Secret, resolve_base_url, resolve_token
from .errors import QoroAmbiguousRequestError, QoroApiError, QoroError, QoroProtocolError, api_error_for
from .models import (
    AddCircuitsRequest,
    CancelReply,
    InitJobRequest,
    JobStatusReply,
    QPUSystem,
    ResultRow,
    ResultsPage,
    parse_cancel_reply,
    parse_job_id,
    parse_job_status,
    parse_qpu_systems,
    parse_results_page,
)
from .retry import IDEMPOTENT_METHODS, RetryPolicy

logger = logging.getLogger(__name__)

RESULTS_PAGE_SIZE = 100

TIMEOUTS: dict[str, float] = {
    "ping": 10,
    "systems": 10,
    "init": 100,
    "add_circuits": 100,
    "status": 200,
    "results": 100,
    "cancel": 50,
    "delete": 50,
}
"""Per-endpoint read timeouts in seconds (``qoro-api.md`` section 8.2)."""


def _server_message(response: requests.Response) -> str:
    """The server's own explanation: ``error`` / ``detail`` of a JSON body, else the text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:500] if text else response.reason or "no details"
    if isinstance(body, Mapping):
        for key in ("error", "detail", "message"):
            if isinstance(body.get(key), str):
                return body[key]
    return json.dumps(body, ensure_ascii=False)[:500]


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether a transport failure happened before the request reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", None)
    return isinstance(inner, NewConnectionError) or isinstance(reason, NewConnectionError)


class QoroClient:
    """HTTP client of the Qoro REST API.

    Args:
        token: API key; else ``QORO_API_KEY`` from the environment or a ``.env`` file.
        base_url: API root including ``/api``; else ``QORO_API_URL``, else production.
        retry_policy: how transient failures are retried.
        session: a ``requests.Session`` to use (one is created otherwise).
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        base_url: str | None = None,
        *,
        retry_policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self._token = token if isinstance(token, Secret) else resolve_token(token)
        self.base_url = resolve_base_url(base_url)
        self.retry_policy = retry_policy or RetryPolicy()
        self._session = session or requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=16)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self.stats = {"requests": 0, "retries": 0}

    def __repr__(self) -> str:
        return f"QoroClient(base_url={self.base_url!r})"

    @property
    def authorization_header(self) -> str:
        """The ``Authorization`` header value (``Bearer <token>``). Do not log it."""
        return "Bearer " + self._token.reveal()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> QoroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport -----------------------------------------------------------------

    def url_for(self, endpoint: str) -> str:
        return f"{self.base_url}/{endpoint}"

    def send(
        self,
        method: str,
        endpoint: str,
        *,
        timeout: float,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        job_id: str | None = None,
        raise_errors: bool = True,
    ) -> requests.Response:
        """Send one request with the retry policy; return the raw 2xx response.

        HTTP errors become :class:`QoroApiError` subclasses (or, with
        ``raise_errors=False``, the final error response is returned as is); a
        POST whose fate is unknown raises :class:`QoroAmbiguousRequestError` and
        is never re-sent.
        """
        method = method.upper()
        all_headers = {"Authorization": self.authorization_header}
        if method in ("POST", "PUT", "PATCH"):
            all_headers["Content-Type"] = "application/json"
        if headers:
            all_headers.update(headers)
        data = None if json_body is None else json.dumps(json_body).encode("utf-8")
        idempotent = method in IDEMPOTENT_METHODS
        policy = self.retry_policy
        attempt = 0
        while True:
            attempt += 1
            self.stats["requests"] += 1
            started = time.monotonic()
            try:
                response = self._session.request(
                    method,
                    self.url_for(endpoint),
                    data=data,
                    params=params,
                    headers=all_headers,
                    timeout=(10, timeout),
                )
            except requests.RequestException as exc:
                retriable = idempotent or _never_sent(exc)
                logger.debug("%s /%s failed (attempt %d): %s", method, endpoint, attempt, type(exc).__name__)
                if retriable and attempt < policy.max_attempts:
                    self._sleep_before_retry(attempt, None, method, endpoint, type(exc).__name__)
                    continue
                if not retriable:
                    raise QoroAmbiguousRequestError(
                        f"{method} /{endpoint} failed with {type(exc).__name__} after the request "
                        "may have reached the server; it was not re-sent to avoid acting twice."
                        + (f" Check job {job_id}." if job_id else ""),
                        job_id=job_id,
                    ) from exc
                raise QoroError(
                    f"Could not reach the Qoro API at {self.base_url} ({type(exc).__name__}) "
                    f"after {attempt} attempts. Check the URL and your network connection."
                ) from exc
            logger.debug(
                "%s /%s -> %d in %.3fs (attempt %d)",
                method, endpoint, response.status_code, time.monotonic() - started, attempt,
            )
            if response.status_code < 400:
                return response
            status = response.status_code
            if policy.status_is_retriable(method, status) and attempt < policy.max_attempts:
                self._sleep_before_retry(attempt, response.headers.get("Retry-After"), method, endpoint, str(status))
                continue
            if not idempotent and status in policy.retry_statuses and status not in policy.not_processed_statuses:
                raise QoroAmbiguousRequestError(
                    f"{method} /{endpoint} answered {status}: the server may or may not have acted; "
                    "it was not re-sent to avoid acting twice." + (f" Check job {job_id}." if job_id else ""),
                    job_id=job_id,
                )
            if not raise_errors:
                return response
            raise api_error_for(status, _server_message(response), method=method, endpoint=endpoint)

    def _sleep_before_retry(
        self, attempt: int, retry_after: str | None, method: str, endpoint: str, why: str
    ) -> None:
        delay = self.retry_policy.delay(attempt, retry_after)
        self.stats["retries"] += 1
        logger.info("Retrying %s /%s after %s in %.2fs (retry %d)", method, endpoint, why, delay, attempt)
        time.sleep(delay)

    @staticmethod
    def _json(response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise QoroProtocolError(
                f"Malformed server reply: {what} returned non-JSON content "
                f"({response.text[:80]!r})."
            ) from None

    # --- endpoints -----------------------------------------------------------------

    def ping(self) -> None:
        """``GET /api/``: check the URL and the token (raises on failure)."""
        self.send("GET", "", timeout=TIMEOUTS["ping"])

    def list_systems(self) -> list[QPUSystem]:
        """``GET qpusystem/``: the systems this token can target."""
        response = self.send("GET", "qpusystem/", timeout=TIMEOUTS["systems"])
        return parse_qpu_systems(self._json(response, "qpusystem/"))

    def init_job(self, request: InitJobRequest) -> str:
        """``POST job/init/``: create an empty job; returns its id."""
        response = self.send("POST", "job/init/", json_body=request.to_json(), timeout=TIMEOUTS["init"])
        if response.status_code not in (200, 201):
            raise QoroProtocolError(f"job/init/ answered {response.status_code}, expected 200 or 201.")
        return parse_job_id(self._json(response, "job/init/"))

    def add_circuits(self, job_id: str, request: AddCircuitsRequest) -> None:
        """``POST job/<id>/add_circuits/``: upload one chunk of packed circuits."""
        self.send(
            "POST",
            f"job/{job_id}/add_circuits/",
            json_body=request.to_json(),
            timeout=TIMEOUTS["add_circuits"],
            job_id=job_id,
        )

    def job_status(self, job_id: str) -> JobStatusReply:
        """``GET job/<id>/status/``."""
        response = self.send("GET", f"job/{job_id}/status/", timeout=TIMEOUTS["status"])
        return parse_job_status(self._json(response, "status/"))

    def results_page(self, job_id: str, *, limit: int = RESULTS_PAGE_SIZE, offset: int = 0) -> ResultsPage:
        """``GET job/<id>/resultsV2/?limit=&offset=``: one page of result rows."""
        response = self.send(
            "GET",
            f"job/{job_id}/resultsV2/?limit={limit}&offset={offset}",
            timeout=TIMEOUTS["results"],
        )
        return parse_results_page(self._json(response, "resultsV2"))

    def iter_results(self, job_id: str, *, limit: int = RESULTS_PAGE_SIZE) -> Iterator[ResultRow]:
        """Every result row of a job, page by page, following ``next`` until it is null.

        The offset advances by the rows actually received (robust to a server that
        caps ``limit``); the total is checked against ``count``.
        """
        offset = 0
        seen = 0
        count: int | None = None
        while True:
            page = self.results_page(job_id, limit=limit, offset=offset)
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

    def cancel_job(self, job_id: str) -> CancelReply:
        """``POST job/<id>/cancel/``; 409 (already finished) raises ``QoroConflictError``."""
        response = self.send("POST", f"job/{job_id}/cancel/", timeout=TIMEOUTS["cancel"], job_id=job_id)
        return parse_cancel_reply(self._json(response, "cancel/"), job_id)

    def delete_job(self, job_id: str) -> None:
        """``DELETE job/<id>`` (no trailing slash)."""
        self.send("DELETE", f"job/{job_id}", timeout=TIMEOUTS["delete"])


def _next_offset(next_url: str, fallback: int) -> int:
    """The ``offset`` of a ``next`` URL, or ``fallback`` when it has none we can read."""
    try:
        values = parse_qs(urlparse(next_url).query).get("offset")
        return int(values[0]) if values else fallback
    except (ValueError, IndexError):
        return fallback


__all__ = ["QoroClient", "QoroApiError", "TIMEOUTS"]
