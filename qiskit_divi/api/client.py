"""``QoroClient``: the only object that speaks HTTP to the Qoro API.

One typed method per endpoint of ``qoro-api.md`` (1-9), one ``requests.Session``,
one retry policy (:mod:`.retry`). The token lives in a :class:`Secret` and is
only ever revealed into the ``Authorization`` header.

Idempotency keys
----------------
Every state-changing request (POST, PUT, PATCH, DELETE) carries a fresh uuid4
``Idempotency-Key`` header (IETF ``draft-ietf-httpapi-idempotency-key-header``,
as Stripe uses it); the key is the same on every attempt of one call. A server
that honours the header answers a repeated key with the stored first response
instead of acting again, and says so by sending ``Idempotency-Key-Support: 1``
on its responses (the bundled emulator does; whether the Qoro service does is
unknown, ``qoro-api.md`` section 11).

When the fate of a POST is unknown (the connection dropped after the request
was sent, a read timeout, a 502 or 504), the client re-sends it with the SAME
key only if the server has advertised support on some earlier response of this
client (a single ``GET /api/`` asks when nothing has been seen yet). Otherwise
it raises :class:`QoroAmbiguousRequestError` naming the job concerned, and
never re-sends: against a server without support (the real service, as far as
anyone knows) nothing can be done twice. The Qoro API has no endpoint to list
jobs, so a lost ``job/init/`` reply cannot be looked up afterwards.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from .config import PRODUCTION_URL, URL_ENV, Secret, resolve_base_url, resolve_token
from .errors import (
    QoroAmbiguousRequestError,
    QoroApiError,
    QoroConfigurationError,
    QoroConnectionError,
    QoroError,
    QoroProtocolError,
    api_error_for,
)
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
"""Per-endpoint read timeouts in seconds (``qoro-api.md`` section 8.2); override per
client with ``QoroClient(timeouts={...})``."""

CONNECT_TIMEOUT = 10.0
"""Seconds to establish a connection (``QoroClient(connect_timeout=...)``)."""

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
"""Request header carrying the client-generated key of a state-changing request."""
IDEMPOTENCY_SUPPORT_HEADER = "Idempotency-Key-Support"
"""Response header by which a server says it honours ``Idempotency-Key`` (value ``1``)."""
IDEMPOTENT_REPLAY_HEADER = "Idempotent-Replayed"
"""Response header (``true``) of a stored response replayed for a repeated key."""
KEYED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that carry an ``Idempotency-Key``."""


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
        timeouts: per-endpoint read timeouts in seconds overriding :data:`TIMEOUTS`
            (keys ``ping``, ``systems``, ``init``, ``add_circuits``, ``status``,
            ``results``, ``cancel``, ``delete``).
        connect_timeout: seconds to establish a connection.
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        base_url: str | None = None,
        *,
        retry_policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        timeouts: Mapping[str, float] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self._token = token if isinstance(token, Secret) else resolve_token(token)
        self.base_url = resolve_base_url(base_url)
        self.retry_policy = retry_policy or RetryPolicy()
        self.timeouts = _check_timeouts(timeouts)
        self.connect_timeout = _positive_seconds(connect_timeout, "connect_timeout")
        self._session = session or requests.Session()
        if self._session.verify is False and not _is_loopback_url(self.base_url):
            # A CA bundle path is fine; switching verification off is only allowed on loopback.
            raise QoroConfigurationError(
                f"TLS certificate verification cannot be turned off for {self.base_url}: "
                "it would expose the API token. Use a session with verify=True or a CA bundle path."
            )
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=16)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self.idempotency_supported: bool | None = None
        """Whether the server honours ``Idempotency-Key`` (None: not known yet)."""
        self.stats = {"requests": 0, "retries": 0, "resent": 0, "replayed": 0}
        """``requests`` sent, ``retries`` (any re-send), ``resent`` (ambiguous
        requests re-sent with their idempotency key), ``replayed`` (stored
        responses the server replayed for a repeated key)."""

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
        ``raise_errors=False``, the final error response is returned as is).
        Transport failures that persist raise :class:`QoroConnectionError`. A
        state-changing request whose fate is unknown is re-sent only with its
        idempotency key to a server that honours it (module docstring);
        otherwise it raises :class:`QoroAmbiguousRequestError` naming ``job_id``.
        A DELETE answered 404 after an earlier attempt may have acted counts as
        done (the response, a 404, is returned).
        """
        method = method.upper()
        all_headers = {"Authorization": self.authorization_header}
        if method in ("POST", "PUT", "PATCH"):
            all_headers["Content-Type"] = "application/json"
        if headers:
            all_headers.update(headers)
        key: str | None = None
        if method in KEYED_METHODS:
            key = all_headers.setdefault(IDEMPOTENCY_KEY_HEADER, str(uuid.uuid4()))
        data = None if json_body is None else json.dumps(json_body).encode("utf-8")
        idempotent = method in IDEMPOTENT_METHODS
        policy = self.retry_policy
        attempt = 0
        maybe_acted = False  # an earlier attempt may have reached the server and acted
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
                    timeout=(self.connect_timeout, timeout),
                )
            except requests.RequestException as exc:
                why = type(exc).__name__
                never_sent = _never_sent(exc)
                maybe_acted = maybe_acted or not never_sent
                logger.debug("%s /%s failed (attempt %d): %s", method, endpoint, attempt, why)
                if not (idempotent or never_sent or self._can_resend(key)):
                    raise self._ambiguous(method, endpoint, why, job_id, key, attempt) from exc
                if attempt < policy.max_attempts:
                    self._sleep_before_retry(
                        attempt,
                        None,
                        method,
                        endpoint,
                        why,
                        resend=not idempotent and not never_sent,
                    )
                    continue
                if maybe_acted and not idempotent:
                    raise self._ambiguous(method, endpoint, why, job_id, key, attempt) from exc
                raise QoroConnectionError(
                    f"Could not reach the Qoro API at {self.base_url} ({why}) "
                    f"after {attempt} attempts. Check the URL and your network connection."
                ) from exc
            logger.debug(
                "%s /%s -> %d in %.3fs (attempt %d)",
                method,
                endpoint,
                response.status_code,
                time.monotonic() - started,
                attempt,
            )
            self._note_support(response)
            status = response.status_code
            if status < 400:
                if response.headers.get(IDEMPOTENT_REPLAY_HEADER, "").strip().lower() == "true":
                    self.stats["replayed"] += 1
                    logger.info(
                        "%s /%s: the server replayed the stored response of an earlier attempt.",
                        method,
                        endpoint,
                    )
                return response
            if method == "DELETE" and status == 404 and maybe_acted:
                logger.info(
                    "DELETE /%s answered 404 after an earlier attempt may have acted: already deleted.",
                    endpoint,
                )
                return response
            if policy.status_is_retriable(method, status):
                if attempt < policy.max_attempts:
                    self._sleep_before_retry(
                        attempt, response.headers.get("Retry-After"), method, endpoint, str(status)
                    )
                    continue
            elif not idempotent and status in policy.retry_statuses:
                # A gateway error on a state-changing request: the server may have acted.
                maybe_acted = True
                if attempt < policy.max_attempts and self._can_resend(key):
                    self._sleep_before_retry(
                        attempt,
                        response.headers.get("Retry-After"),
                        method,
                        endpoint,
                        str(status),
                        resend=True,
                    )
                    continue
                raise self._ambiguous(method, endpoint, str(status), job_id, key, attempt)
            if maybe_acted and not idempotent and status in policy.retry_statuses:
                raise self._ambiguous(method, endpoint, str(status), job_id, key, attempt)
            if not raise_errors:
                return response
            raise api_error_for(
                status,
                _server_message(response),
                method=method,
                endpoint=endpoint,
                hint=self.not_found_hint(endpoint) if status == 404 else None,
            )

    def not_found_hint(self, endpoint: str) -> str | None:
        """What to do about a 404 on ``endpoint``: None for a job's own endpoints (the job
        id is the suspect), else a pointer to the URL, which then lacks the API root."""
        if _is_job_endpoint(endpoint):
            return None
        root = "" if self.base_url.endswith("/api") else f" (try {self.base_url}/api)"
        return (
            f"The server at {self.base_url} has no such endpoint: check the API URL{root}, given as "
            f"url=... or {URL_ENV}. It must be the API root including /api, e.g. {PRODUCTION_URL}."
        )

    # --- idempotency ---------------------------------------------------------------

    def _note_support(self, response: requests.Response) -> None:
        """Learn from any response whether the server honours ``Idempotency-Key``."""
        if response.headers.get(IDEMPOTENCY_SUPPORT_HEADER, "").strip().lower() in (
            "1",
            "true",
            "?1",
        ):
            if self.idempotency_supported is not True:
                logger.debug("The Qoro API at %s honours Idempotency-Key.", self.base_url)
            self.idempotency_supported = True

    def _can_resend(self, key: str | None) -> bool:
        """Whether an ambiguous request with ``key`` may be re-sent (see the module docstring)."""
        if key is None:
            return False
        if self.idempotency_supported is None:
            self._probe_idempotency_support()
        return self.idempotency_supported is True

    def _probe_idempotency_support(self) -> None:
        """One ``GET /api/`` to learn whether the server advertises idempotency support."""
        try:
            self.send("GET", "", timeout=self.timeouts["ping"], raise_errors=False)
        except QoroError as exc:
            logger.debug("Could not ask %s about Idempotency-Key support: %s", self.base_url, exc)
            return
        if self.idempotency_supported is None:
            self.idempotency_supported = False

    def _ambiguous(
        self,
        method: str,
        endpoint: str,
        why: str,
        job_id: str | None,
        key: str | None,
        attempts: int,
    ) -> QoroAmbiguousRequestError:
        if self.idempotency_supported:
            how = (
                f"It was re-sent {attempts - 1} time(s) with the same Idempotency-Key ({key}) and "
                "no attempt got an answer."
            )
        else:
            how = (
                "It was not re-sent to avoid acting twice: the server does not advertise "
                "Idempotency-Key support."
            )
        if job_id:
            where = f" Check job {job_id}: it may be in an unknown state (cancel and delete it if unsure)."
        elif endpoint == "job/init/":
            where = (
                " A job may have been created; its id is unknown because the reply was lost, "
                "and the API has no way to list jobs."
            )
        else:
            where = ""
        return QoroAmbiguousRequestError(
            f"{method} /{endpoint} failed ({why}) after the request may have reached the server. {how}{where}",
            job_id=job_id,
        )

    def _sleep_before_retry(
        self,
        attempt: int,
        retry_after: str | None,
        method: str,
        endpoint: str,
        why: str,
        *,
        resend: bool = False,
    ) -> None:
        delay = self.retry_policy.delay(attempt, retry_after)
        self.stats["retries"] += 1
        if resend:
            self.stats["resent"] += 1
        logger.info(
            "Retrying %s /%s after %s in %.2fs (retry %d%s)",
            method,
            endpoint,
            why,
            delay,
            attempt,
            ", same Idempotency-Key" if resend else "",
        )
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
        self.send("GET", "", timeout=self.timeouts["ping"])

    def list_systems(self) -> list[QPUSystem]:
        """``GET qpusystem/``: the systems this token can target."""
        response = self.send("GET", "qpusystem/", timeout=self.timeouts["systems"])
        return parse_qpu_systems(self._json(response, "qpusystem/"))

    def init_job(self, request: InitJobRequest) -> str:
        """``POST job/init/``: create an empty job; returns its id."""
        response = self.send(
            "POST", "job/init/", json_body=request.to_json(), timeout=self.timeouts["init"]
        )
        if response.status_code not in (200, 201):
            raise QoroProtocolError(
                f"job/init/ answered {response.status_code}, expected 200 or 201."
            )
        return parse_job_id(self._json(response, "job/init/"))

    def add_circuits(self, job_id: str, request: AddCircuitsRequest) -> None:
        """``POST job/<id>/add_circuits/``: upload one chunk of packed circuits."""
        self.send(
            "POST",
            f"job/{job_id}/add_circuits/",
            json_body=request.to_json(),
            timeout=self.timeouts["add_circuits"],
            job_id=job_id,
        )

    def job_status(self, job_id: str) -> JobStatusReply:
        """``GET job/<id>/status/``."""
        response = self.send("GET", f"job/{job_id}/status/", timeout=self.timeouts["status"])
        return parse_job_status(self._json(response, "status/"))

    def results_page(
        self, job_id: str, *, limit: int = RESULTS_PAGE_SIZE, offset: int = 0
    ) -> ResultsPage:
        """``GET job/<id>/resultsV2/?limit=&offset=``: one page of result rows."""
        response = self.send(
            "GET",
            f"job/{job_id}/resultsV2/?limit={limit}&offset={offset}",
            timeout=self.timeouts["results"],
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
        response = self.send(
            "POST", f"job/{job_id}/cancel/", timeout=self.timeouts["cancel"], job_id=job_id
        )
        return parse_cancel_reply(self._json(response, "cancel/"), job_id)

    def delete_job(self, job_id: str) -> None:
        """``DELETE job/<id>`` (no trailing slash)."""
        self.send("DELETE", f"job/{job_id}", timeout=self.timeouts["delete"])


_NOT_JOB_IDS = frozenset({"init", "create_failed"})
"""``job/<word>/`` endpoints that name no job."""


def _is_job_endpoint(endpoint: str) -> bool:
    """Whether ``endpoint`` addresses one job (``job/<id>/...`` or ``job/<id>``)."""
    parts = endpoint.split("?", 1)[0].split("/")
    return len(parts) >= 2 and parts[0] == "job" and parts[1] not in _NOT_JOB_IDS and parts[1] != ""


def _is_loopback_url(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _positive_seconds(value: Any, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not value > 0
        or value == float("inf")
    ):
        raise QoroConfigurationError(f"{name} must be a positive number of seconds, got {value!r}.")
    return float(value)


def _check_timeouts(timeouts: Mapping[str, float] | None) -> dict[str, float]:
    """:data:`TIMEOUTS` with the given overrides, validated."""
    merged = dict(TIMEOUTS)
    for name, value in (timeouts or {}).items():
        if name not in TIMEOUTS:
            raise QoroConfigurationError(
                f"Unknown timeout {name!r}; known: {', '.join(sorted(TIMEOUTS))}."
            )
        merged[name] = _positive_seconds(value, f"timeouts[{name!r}]")
    return merged


def _next_offset(next_url: str, fallback: int) -> int:
    """The ``offset`` of a ``next`` URL, or ``fallback`` when it has none we can read."""
    try:
        values = parse_qs(urlparse(next_url).query).get("offset")
        return int(values[0]) if values else fallback
    except (ValueError, IndexError):
        return fallback


__all__ = [
    "QoroClient",
    "QoroApiError",
    "TIMEOUTS",
    "IDEMPOTENCY_KEY_HEADER",
    "IDEMPOTENCY_SUPPORT_HEADER",
]
