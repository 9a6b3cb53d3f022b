"""``QoroClient``: the only object that speaks HTTP to the Qoro API.

One typed method per endpoint of ``qoro-api.md`` (1-9), each sending the
:class:`~.endpoints.Call` that :mod:`.endpoints` defines, over one
``requests.Session``, with one retry policy (:meth:`.retry.RetryPolicy.decide`).
The token lives in a :class:`Secret` and is only ever revealed into the
``Authorization`` header.

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

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from . import endpoints
from .config import (
    PRODUCTION_URL,
    URL_ENV,
    Secret,
    is_loopback_url,
    resolve_base_url,
    resolve_token,
)
from .endpoints import (
    INIT_ENDPOINT,
    MAX_RESPONSE_BYTES,
    RESULTS_PAGE_SIZE,
    TIMEOUTS,
    Call,
    is_job_endpoint,
)
from .errors import (
    QoroAmbiguousRequestError,
    QoroApiError,
    QoroConfigurationError,
    QoroConnectionError,
    QoroDeadlineError,
    QoroError,
    QoroNotFoundError,
    QoroProtocolError,
    api_error_for,
)
from .idempotency import (
    KEY_HEADER,
    KEYED_METHODS,
    REPLAY_HEADER,
    SUPPORT_HEADER,
    advertises_support,
    is_replay,
)
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
)
from .redaction import redact_exception
from .retry import Action, Decision, Failure, RetryPolicy
from .validation import positive_seconds

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT = 10.0
"""Seconds to establish a connection (``QoroClient(connect_timeout=...)``)."""

# The header names under the names this module has always exported.
IDEMPOTENCY_KEY_HEADER = KEY_HEADER
IDEMPOTENCY_SUPPORT_HEADER = SUPPORT_HEADER
IDEMPOTENT_REPLAY_HEADER = REPLAY_HEADER


def _server_message(response: requests.Response) -> str:
    """The server's own explanation: ``error`` / ``detail`` of a JSON body, else the text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:500] if text else response.reason or "no details"
    if isinstance(body, Mapping):
        for key in ("error", "detail", "message"):
            value = body.get(key)
            if isinstance(value, str):
                return value
    return json.dumps(body, ensure_ascii=False)[:500]


def _failure_of(exc: requests.RequestException) -> Failure:
    """Whether a transport failure happened before the request reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure.NOT_SENT
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", None)
    if isinstance(inner, NewConnectionError) or isinstance(reason, NewConnectionError):
        return Failure.NOT_SENT
    return Failure.NO_REPLY


class _WallClockTimeout(requests.exceptions.ReadTimeout):
    """One attempt outlasted its total wall-clock bound (the watchdog closed its socket)."""


class _Bound:
    """The wall-clock bound of one attempt and the connections it is using."""

    __slots__ = ("connections", "deadline", "fired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connections: list[Any] = []
        self.fired = False


class _Watchdog:
    """One daemon thread that shuts down the sockets of attempts past their bound.

    A per-socket read timeout restarts with every byte, so a server dripping bytes
    could hold a request for ever; shutting the socket down wakes the blocked read.
    """

    def __init__(self) -> None:
        self._active: set[_Bound] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, bound: _Bound) -> None:
        with self._wake:
            self._active.add(bound)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="qoro-deadline-watchdog", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def discard(self, bound: _Bound) -> None:
        with self._wake:
            self._active.discard(bound)

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                for bound in [b for b in self._active if b.deadline <= now]:
                    self._active.discard(bound)
                    bound.fired = True
                    for connection in bound.connections:
                        _shut_down(connection)
                earliest = min((b.deadline for b in self._active), default=None)
                self._wake.wait(None if earliest is None else max(0.0, earliest - now))


def _shut_down(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    # The plain socket's shutdown, also for TLS: it wakes a read blocked in another thread.
    with contextlib.suppress(OSError, TypeError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()
_CURRENT = threading.local()
"""``bound``: the :class:`_Bound` of the attempt this thread is sending, if any."""


def _watch(connection: Any) -> None:
    bound = getattr(_CURRENT, "bound", None)
    if bound is not None:
        bound.connections.append(connection)


class _BoundedHTTPPool(HTTPConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch(conn)
        return super()._make_request(conn, *args, **kwargs)


class _BoundedHTTPSPool(HTTPSConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch(conn)
        return super()._make_request(conn, *args, **kwargs)


class _BoundedAdapter(HTTPAdapter):
    """An adapter whose connections the watchdog can shut down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _BoundedHTTPPool,
            "https": _BoundedHTTPSPool,
        }


_CHUNK_BYTES = 1 << 16


def _read_body(response: requests.Response, limit: int, what: str) -> None:
    """Read the whole body into ``response`` (so ``.content``/``.json()`` work), at most
    ``limit`` bytes after decoding; :class:`QoroProtocolError` naming the limit otherwise."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise _too_large(what, f"{int(declared):,} bytes (Content-Length)", limit)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            response.close()
            raise _too_large(what, f"more than {limit:,} bytes", limit)
        chunks.append(chunk)
    response._content = b"".join(chunks)


def _too_large(what: str, size: str, limit: int) -> QoroProtocolError:
    return QoroProtocolError(
        f"Malformed server reply: {what} sent {size}, over the {limit:,}-byte limit for this "
        "endpoint. Raise it with QoroClient(max_response_bytes={...}) if the server is trusted."
    )


def _origin(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no user info, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _check_verify(verify: Any, base_url: str) -> None:
    """TLS verification must be True or a CA bundle path; False only on loopback."""
    if verify is True:
        return
    if verify is False and is_loopback_url(base_url):
        return
    if isinstance(verify, (str, os.PathLike)) and os.fspath(verify):
        if not os.path.exists(verify):
            raise QoroConfigurationError(
                f"The CA bundle {os.fspath(verify)!r} given as session.verify does not exist. "
                "Give the path of an existing CA bundle, or verify=True."
            )
        return
    raise QoroConfigurationError(
        f"TLS certificate verification cannot be turned off for {base_url} "
        f"(session.verify={verify!r}): it would expose the API token. Use a session with "
        "verify=True or a CA bundle path (verify=False is accepted on loopback only)."
    )


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
        max_response_bytes: per-endpoint caps on reply bodies overriding
            :data:`~.endpoints.MAX_RESPONSE_BYTES` (same keys as ``timeouts``).

    Every attempt of a request is bounded in wall-clock time by its endpoint's
    timeout (not per socket read), and every method takes an optional
    ``deadline`` (a :func:`time.monotonic` instant) that no attempt or retry
    delay outlasts: past it, :class:`QoroDeadlineError` is raised.
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
        max_response_bytes: Mapping[str, int] | None = None,
    ) -> None:
        self._token = token if isinstance(token, Secret) else resolve_token(token)
        self.base_url = resolve_base_url(base_url)
        self.retry_policy = retry_policy or RetryPolicy()
        self.timeouts = _check_timeouts(timeouts)
        self.connect_timeout = positive_seconds(
            connect_timeout, "connect_timeout", error=QoroConfigurationError
        )
        self.max_response_bytes = _check_limits(max_response_bytes)
        self._session = session or requests.Session()
        _check_verify(self._session.verify, self.base_url)
        adapter = _BoundedAdapter(max_retries=0, pool_maxsize=16)
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

    def call(self, call: Call[T], *, deadline: float | None = None) -> T:
        """Send ``call`` (retry policy, error mapping) and return its typed reply."""
        return self.exchange(call, deadline=deadline)[0]

    def exchange(
        self, call: Call[T], *, deadline: float | None = None
    ) -> tuple[T, requests.Response]:
        """Send ``call`` and return its typed reply together with the raw response.

        A 2xx status outside the call's ``ok_statuses`` raises :class:`QoroProtocolError`.
        """
        response = self.send(
            call.method,
            call.endpoint,
            json_body=call.body,
            timeout=self.timeouts[call.timeout],
            job_id=call.job_id,
            deadline=deadline,
            max_bytes=self.max_response_bytes[call.timeout],
        )
        if call.ok_statuses is not None and response.status_code not in call.ok_statuses:
            expected = " or ".join(str(code) for code in sorted(call.ok_statuses))
            raise QoroProtocolError(
                f"{call.endpoint} answered {response.status_code}, expected {expected}."
            )
        return call.read(response), response

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
        deadline: float | None = None,
        max_bytes: int | None = None,
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

        Each attempt lasts at most ``timeout`` seconds in all; ``deadline`` (a
        :func:`time.monotonic` instant) bounds every attempt and retry delay, and
        :class:`QoroDeadlineError` is raised when the next one would outlast it.
        Replies over ``max_bytes`` (default: the largest per-endpoint cap) and
        redirects raise :class:`QoroProtocolError`: a redirect is never followed.
        """
        method = method.upper()
        all_headers = {"Authorization": self.authorization_header}
        if method in ("POST", "PUT", "PATCH"):
            all_headers["Content-Type"] = "application/json"
        if headers:
            all_headers.update(headers)
        key: str | None = None
        if method in KEYED_METHODS:
            key = all_headers.setdefault(KEY_HEADER, str(uuid.uuid4()))
        data = None if json_body is None else json.dumps(json_body).encode("utf-8")
        request = {"data": data, "params": params, "headers": all_headers}
        limit = max(self.max_response_bytes.values()) if max_bytes is None else max_bytes
        attempt = 0
        acted = False  # an earlier attempt may have reached the server and acted
        while True:
            attempt += 1
            _check_deadline(method, endpoint, attempt, deadline)
            result = self._attempt(method, endpoint, attempt, timeout, request, deadline, limit)
            response = result if isinstance(result, requests.Response) else None
            if response is not None and 300 <= response.status_code < 400:
                raise self._redirected(method, endpoint, response)
            decision = self._decide(method, attempt, result, acted, deadline)
            acted = decision.may_have_acted
            why = str(response.status_code) if response is not None else _why(result)
            if decision.action in (Action.RETRY, Action.RESEND):
                self._sleep_before_retry(attempt, decision, method, endpoint, why)
                continue
            error = _as_cause(result)
            if decision.action is Action.AMBIGUOUS:
                raise self._ambiguous(method, endpoint, why, job_id, key, attempt) from error
            if decision.out_of_time:
                raise self._out_of_time(method, endpoint, why, decision, response) from error
            if response is None:
                raise QoroConnectionError(
                    f"Could not reach the Qoro API at {self.base_url} ({why}) "
                    f"after {attempt} attempts. Check the URL and your network connection."
                ) from error
            if decision.action is Action.ACCEPT:
                self._note_accepted(method, endpoint, response)
                return response
            if not raise_errors:
                return response
            raise api_error_for(
                response.status_code,
                _server_message(response),
                method=method,
                endpoint=endpoint,
                hint=self.not_found_hint(endpoint) if response.status_code == 404 else None,
            )

    def _attempt(
        self,
        method: str,
        endpoint: str,
        attempt: int,
        timeout: float,
        request: dict[str, Any],
        deadline: float | None,
        limit: int,
    ) -> requests.Response | requests.RequestException:
        """One HTTP exchange, its body read within ``limit`` bytes and within ``timeout``
        seconds in all (and before ``deadline``): the response, or the transport error."""
        self.stats["requests"] += 1
        started = time.monotonic()
        bound = _Bound(started + timeout if deadline is None else min(started + timeout, deadline))
        left = max(bound.deadline - started, 0.001)
        _CURRENT.bound = bound
        _WATCHDOG.add(bound)
        try:
            response = self._session.request(
                method,
                self.url_for(endpoint),
                timeout=(min(self.connect_timeout, left), min(timeout, left)),
                stream=True,
                allow_redirects=False,
                **request,
            )
            _read_body(response, limit, f"{method} /{endpoint}")
        except requests.RequestException as exc:
            failure = exc
            if bound.fired:
                failure = _WallClockTimeout(
                    f"no complete reply within {bound.deadline - started:.3g} s"
                    + ("" if deadline is None or bound.deadline < deadline else ", the deadline")
                    + f" (the per-request bound is {timeout:g} s)"
                )
            logger.debug(
                "%s /%s failed (attempt %d): %s", method, endpoint, attempt, type(failure).__name__
            )
            return failure
        finally:
            _WATCHDOG.discard(bound)
            _CURRENT.bound = None
        logger.debug(
            "%s /%s -> %d in %.3fs (attempt %d)",
            method,
            endpoint,
            response.status_code,
            time.monotonic() - started,
            attempt,
        )
        self._note_support(response)
        return response

    def _decide(
        self,
        method: str,
        attempt: int,
        result: requests.Response | requests.RequestException,
        acted: bool,
        deadline: float | None = None,
    ) -> Decision:
        """Ask the retry policy; probe the server's idempotency support when it must know."""
        if isinstance(result, requests.Response):
            outcome: int | Failure = result.status_code
            retry_after = result.headers.get("Retry-After")
        else:
            outcome, retry_after = _failure_of(result), None

        def decide(supported: bool | None) -> Decision:
            return self.retry_policy.decide(
                method,
                attempt,
                outcome,
                may_have_acted=acted,
                idempotency_supported=supported,
                retry_after=retry_after,
                remaining=None if deadline is None else deadline - time.monotonic(),
            )

        decision = decide(self.idempotency_supported)
        if decision.action is Action.PROBE:
            self._probe_idempotency_support(deadline)
            decision = decide(self.idempotency_supported is True)
        return decision

    def _note_accepted(self, method: str, endpoint: str, response: requests.Response) -> None:
        """Count and log what an accepted response means beyond its status."""
        if response.status_code < 400:
            if is_replay(response.headers.get(REPLAY_HEADER)):
                self.stats["replayed"] += 1
                logger.info(
                    "%s /%s: the server replayed the stored response of an earlier attempt.",
                    method,
                    endpoint,
                )
        else:  # the one error status the policy accepts: DELETE 404 after a lost reply
            logger.info(
                "DELETE /%s answered 404 after an earlier attempt may have acted: already deleted.",
                endpoint,
            )

    def not_found_hint(self, endpoint: str) -> str | None:
        """What to do about a 404 on ``endpoint``: None for a job's own endpoints (the job
        id is the suspect), else a pointer to the URL, which then lacks the API root."""
        if is_job_endpoint(endpoint):
            return None
        root = "" if self.base_url.endswith("/api") else f" (try {self.base_url}/api)"
        return (
            f"The server at {self.base_url} has no such endpoint: check the API URL{root}, "
            f"given as url=... or {URL_ENV}. It must be the API root including /api, "
            f"e.g. {PRODUCTION_URL}."
        )

    # --- idempotency ---------------------------------------------------------------

    def _note_support(self, response: requests.Response) -> None:
        """Learn from any response whether the server honours ``Idempotency-Key``."""
        if advertises_support(response.headers.get(SUPPORT_HEADER)):
            if self.idempotency_supported is not True:
                logger.debug("The Qoro API at %s honours Idempotency-Key.", self.base_url)
            self.idempotency_supported = True

    def _probe_idempotency_support(self, deadline: float | None = None) -> None:
        """One ``GET /api/`` to learn whether the server advertises idempotency support."""
        ping = endpoints.ping()
        try:
            self.send(
                ping.method,
                ping.endpoint,
                timeout=self.timeouts[ping.timeout],
                raise_errors=False,
                deadline=deadline,
                max_bytes=self.max_response_bytes[ping.timeout],
            )
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
            where = (
                f" Check job {job_id}: it may be in an unknown state "
                "(cancel and delete it if unsure)."
            )
        elif endpoint == INIT_ENDPOINT:
            where = (
                " A job may have been created; its id is unknown because the reply was lost, "
                "and the API has no way to list jobs."
            )
        else:
            where = ""
        return QoroAmbiguousRequestError(
            f"{method} /{endpoint} failed ({why}) after the request may have reached the server. "
            f"{how}{where}",
            job_id=job_id,
        )

    def _redirected(
        self, method: str, endpoint: str, response: requests.Response
    ) -> QoroProtocolError:
        location = response.headers.get("Location", "")
        target = _origin(requests.compat.urljoin(response.url or self.base_url, location))
        response.close()
        return QoroProtocolError(
            f"{method} /{endpoint}: the server at {self.base_url} redirected the request "
            f"({response.status_code}) to {target or 'an unnamed location'}. Redirects are not "
            "followed (a request must not carry the token and its body elsewhere): check the API "
            "URL, and give the final one as url=... or " + URL_ENV + "."
        )

    def _out_of_time(
        self,
        method: str,
        endpoint: str,
        why: str,
        decision: Decision,
        response: requests.Response | None,
    ) -> QoroDeadlineError:
        if response is not None:
            why = f"{why}: {_server_message(response)}"
        return QoroDeadlineError(
            f"{method} /{endpoint} failed ({why}) and was not retried: the next attempt "
            f"would start {decision.delay:.3g} s from now, past the caller's deadline. "
            "Allow more time (a larger timeout) or try again later."
        )

    def _sleep_before_retry(
        self, attempt: int, decision: Decision, method: str, endpoint: str, why: str
    ) -> None:
        resend = decision.action is Action.RESEND
        self.stats["retries"] += 1
        if resend:
            self.stats["resent"] += 1
        logger.info(
            "Retrying %s /%s after %s in %.2fs (retry %d%s)",
            method,
            endpoint,
            why,
            decision.delay,
            attempt,
            ", same Idempotency-Key" if resend else "",
        )
        time.sleep(decision.delay)

    # --- endpoints -----------------------------------------------------------------

    def ping(self, *, deadline: float | None = None) -> None:
        """``GET /api/``: check the URL and the token (raises on failure)."""
        self.call(endpoints.ping(), deadline=deadline)

    def list_systems(self, *, deadline: float | None = None) -> list[QPUSystem]:
        """``GET qpusystem/``: the systems this token can target."""
        return self.call(endpoints.list_systems(), deadline=deadline)

    def list_clusters(self, *, deadline: float | None = None) -> list[SimulatorCluster]:
        """``GET simulatorcluster/``: the simulator clusters; none when the server has no
        such endpoint (404)."""
        try:
            return self.call(endpoints.list_clusters(), deadline=deadline)
        except QoroNotFoundError:
            logger.debug("The server has no simulatorcluster/ endpoint: no clusters.")
            return []

    def credit_balance(self, *, deadline: float | None = None) -> CreditBalance:
        """``GET credits/``: the token's credit balance."""
        return self.call(endpoints.credit_balance(), deadline=deadline)

    def credit_transactions(
        self, page: int = 1, page_size: int = 20, *, deadline: float | None = None
    ) -> CreditTransactionsPage:
        """``GET credits/transactions/``: one page of the credit history."""
        return self.call(endpoints.credit_transactions(page, page_size), deadline=deadline)

    def init_job(self, request: InitJobRequest, *, deadline: float | None = None) -> str:
        """``POST job/init/``: create an empty job; returns its id."""
        return self.call(endpoints.init_job(request), deadline=deadline)

    def add_circuits(
        self,
        job_id: str,
        request: AddCircuitsRequest | AddTemplateRequest,
        *,
        deadline: float | None = None,
    ) -> None:
        """``POST job/<id>/add_circuits/``: upload one chunk of packed circuits or of a
        template's parameter sets."""
        self.call(endpoints.add_circuits(job_id, request), deadline=deadline)

    def job_status(self, job_id: str, *, deadline: float | None = None) -> JobStatusReply:
        """``GET job/<id>/status/``."""
        return self.call(endpoints.job_status(job_id), deadline=deadline)

    def results_page(
        self,
        job_id: str,
        *,
        limit: int = RESULTS_PAGE_SIZE,
        offset: int = 0,
        deadline: float | None = None,
    ) -> ResultsPage:
        """``GET job/<id>/resultsV2/?limit=&offset=``: one page of result rows."""
        return self.call(
            endpoints.results_page(job_id, limit=limit, offset=offset), deadline=deadline
        )

    def iter_results(self, job_id: str, *, limit: int = RESULTS_PAGE_SIZE) -> Iterator[ResultRow]:
        """Every result row of a job, page by page (:func:`~.endpoints.iter_results`)."""
        return endpoints.iter_results(self, job_id, limit=limit)

    def cancel_job(self, job_id: str, *, deadline: float | None = None) -> CancelReply:
        """``POST job/<id>/cancel/``; 409 (already finished) raises ``QoroConflictError``."""
        return self.call(endpoints.cancel_job(job_id), deadline=deadline)

    def delete_job(self, job_id: str, *, deadline: float | None = None) -> None:
        """``DELETE job/<id>`` (no trailing slash)."""
        self.call(endpoints.delete_job(job_id), deadline=deadline)


def _check_timeouts(timeouts: Mapping[str, float] | None) -> dict[str, float]:
    """:data:`TIMEOUTS` with the given overrides, validated."""
    merged = dict(TIMEOUTS)
    for name, value in (timeouts or {}).items():
        if name not in TIMEOUTS:
            raise QoroConfigurationError(
                f"Unknown timeout {name!r}; known: {', '.join(sorted(TIMEOUTS))}."
            )
        merged[name] = positive_seconds(value, f"timeouts[{name!r}]", error=QoroConfigurationError)
    return merged


def _check_limits(limits: Mapping[str, int] | None) -> dict[str, int]:
    """:data:`MAX_RESPONSE_BYTES` with the given overrides, validated."""
    merged = dict(MAX_RESPONSE_BYTES)
    for name, value in (limits or {}).items():
        if name not in MAX_RESPONSE_BYTES:
            raise QoroConfigurationError(
                f"Unknown response limit {name!r}; known: {', '.join(sorted(MAX_RESPONSE_BYTES))}."
            )
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise QoroConfigurationError(
                f"max_response_bytes[{name!r}] must be a positive int of bytes. Got {value!r}."
            )
        merged[name] = value
    return merged


def _as_cause(result: object) -> requests.RequestException | None:
    """The transport error of an attempt, redacted: it is chained to the error raised."""
    if not isinstance(result, requests.RequestException):
        return None
    redact_exception(result)
    return result


def _check_deadline(method: str, endpoint: str, attempt: int, deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise QoroDeadlineError(
            f"{method} /{endpoint} was not sent (attempt {attempt}): the caller's deadline has "
            "passed. Allow more time (a larger timeout) or try again later."
        )


def _why(error: Any) -> str:
    """A transport failure as the error messages name it."""
    if isinstance(error, _WallClockTimeout):
        return f"ReadTimeout: {error}"
    return type(error).__name__


__all__ = [
    "CONNECT_TIMEOUT",
    "IDEMPOTENCY_KEY_HEADER",
    "IDEMPOTENCY_SUPPORT_HEADER",
    "IDEMPOTENT_REPLAY_HEADER",
    "RESULTS_PAGE_SIZE",
    "TIMEOUTS",
    "QoroApiError",
    "QoroClient",
    "QoroDeadlineError",
]
