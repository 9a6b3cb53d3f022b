"""The emulated Qoro API: authentication, routing and one method per endpoint.

Transport-free: :class:`QoroApi` turns an :class:`~.http_api.ApiRequest` into an
:class:`~.http_api.ApiResponse`; :mod:`.server` does the HTTP. Status codes and bodies
follow ``qoro-api.md``; where the document leaves a case open the choice made here is
noted on the handler. The request plumbing lives in :mod:`.http_api`, the checks of
``add_circuits`` in :mod:`.uploads`, the job runner in :mod:`.runner`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from qiskit_divi.api.models import JobStatus, JobType

from . import job_options
from .accounts import (
    DEFAULT_TRANSACTIONS_PAGE_SIZE,
    MAX_TRANSACTIONS_PAGE_SIZE,
    PageError,
    page_query,
)
from .config import EmulatorConfig
from .http_api import (
    ApiError,
    ApiRequest,
    ApiResponse,
    Route,
    bad_request,
    bad_request_on,
    page_param,
    parse_bool,
    parse_json_object,
    parse_tag,
    resolve,
)
from .idempotency import KEYED_METHODS, SUPPORT_HEADER, IdempotencyStore, fingerprint, normalise_key
from .runner import make_runner
from .state import Job, JobStore, StoreFull, owner_hash
from .systems import SystemCatalogue, SystemSpec
from .uploads import Uploads

# Imported from here by :mod:`.server` and the tests since before the split.
__all__ = ["ApiError", "ApiRequest", "ApiResponse", "QoroApi", "Route", "make_runner", "resolve"]

logger = logging.getLogger(__name__)

PERMISSION_DENIED = "You do not have permission to modify this job."
CANCEL_CONFLICT = "Can only cancel a PENDING or RUNNING job"

Handler = Callable[[Route, ApiRequest, str], ApiResponse]


class QoroApi:
    """Endpoints 1-9 of ``qoro-api.md`` plus the ``create_failed`` test helper."""

    def __init__(
        self,
        config: EmulatorConfig,
        catalogue: SystemCatalogue,
        store: JobStore,
        tokens: list[str],
    ):
        self.config = config
        self.catalogue = catalogue
        self.store = store
        self.uploads = Uploads(config, catalogue, store)
        # Only digests are kept: the raw tokens stay with EmulatorServer.tokens.
        self._owners = {hashlib.sha256(t.encode("utf-8")).digest(): owner_hash(t) for t in tokens}
        self.idempotency: IdempotencyStore | None = (
            IdempotencyStore(
                ttl_seconds=config.idempotency_ttl_seconds, max_keys=config.idempotency_max_keys
            )
            if config.idempotency
            else None
        )
        self._handlers: dict[str, Handler] = {
            "ping": self.ping,
            "qpusystem": self.qpusystem,
            "simulatorcluster": self.simulatorcluster,
            "credits": self.credits,
            "credit_transactions": self.credit_transactions,
            "job_init": self.job_init,
            "create_failed": self.create_failed,
            "add_circuits": self.add_circuits,
            "status": self.status,
            "results": self.results,
            "cancel": self.cancel,
            "delete": self.delete,
        }

    def handle(self, route: Route, req: ApiRequest) -> ApiResponse:
        """Authenticate, route and run one request; errors become JSON responses.

        With idempotency on (the default), every response says so with
        ``Idempotency-Key-Support: 1`` and a keyed state-changing request runs
        at most once per key (:mod:`.idempotency`).
        """
        response = self._handle(route, req)
        if self.idempotency is not None:
            response.headers.setdefault(SUPPORT_HEADER, "1")
        return response

    def _handle(self, route: Route, req: ApiRequest) -> ApiResponse:
        try:
            owner = self._authenticate(req.authorization)
            if route.endpoint == "unknown":
                raise ApiError(404, {"detail": "Not found."})
            if req.method not in route.methods:
                raise ApiError(
                    405,
                    {"detail": f'Method "{req.method}" not allowed.'},
                    {"Allow": ", ".join(sorted(route.methods))},
                )
            handler = self._handlers[route.endpoint]
            if (
                self.idempotency is None
                or req.idempotency_key is None
                or req.method not in KEYED_METHODS
            ):
                return handler(route, req, owner)
            key = normalise_key(req.idempotency_key)
            if key is None:
                raise bad_request(
                    "Invalid Idempotency-Key header: expected 1 to 255 visible ASCII characters."
                )
            query = json.dumps({k: list(v) for k, v in req.query.items()}, sort_keys=True)
            return self.idempotency.run(
                owner,
                key,
                fingerprint(req.method, req.path, query, req.body),
                lambda: _error_as_response(handler, route, req, owner),
            )
        except ApiError as exc:
            return exc.response

    def _authenticate(self, header: str | None) -> str:
        challenge = {"WWW-Authenticate": 'Bearer realm="api"'}
        if not header:
            raise ApiError(
                401, {"detail": "Authentication credentials were not provided."}, challenge
            )
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise ApiError(
                401, {"detail": "Invalid token header. Expected 'Bearer <token>'."}, challenge
            )
        owner = self._owners.get(hashlib.sha256(parts[1].encode("utf-8")).digest())
        if owner is None:
            raise ApiError(401, {"detail": "Invalid token."}, challenge)
        return owner

    def _job(self, route: Route, owner: str) -> Job:
        job = self.store.get(route.job_id or "")
        if job is None:
            raise ApiError(404, {"detail": "Job not found."})
        if job.owner != owner:
            raise ApiError(403, {"detail": PERMISSION_DENIED})
        return job

    # 1. GET /api/
    def ping(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        return ApiResponse(200, {"status": "ok", "service": "qoro-api-emulator"})

    # 2. GET qpusystem/
    def qpusystem(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        return ApiResponse(200, self.catalogue.to_wire())

    # 3. GET simulatorcluster/
    def simulatorcluster(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        return ApiResponse(200, [cluster.to_wire() for cluster in self.config.clusters])

    # 12. GET credits/
    def credits(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        return ApiResponse(200, self.store.accounts.balance_reply(owner))

    # 13. GET credits/transactions/?page=&page_size=
    def credit_transactions(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        """DRF page-number pagination: ``page`` from 1, ``page_size`` default 20, capped at
        100; a page that is not a positive integer or past the last answers 400."""
        with bad_request_on(PageError):
            page = page_query(req.query.get("page"), "page", 1)
            size = min(
                page_query(req.query.get("page_size"), "page_size", DEFAULT_TRANSACTIONS_PAGE_SIZE),
                MAX_TRANSACTIONS_PAGE_SIZE,
            )
            base = req.url("credits/transactions/")
            body = self.store.accounts.transactions_page(
                owner, page, size, lambda n: f"{base}?page={n}&page_size={size}"
            )
        return ApiResponse(200, body)

    # 4. POST job/init/
    def job_init(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        body = parse_json_object(req)
        raw_type = body.get("job_type")
        if raw_type is None:
            raise bad_request("'job_type' is required.")
        try:
            job_type = JobType(raw_type)
        except ValueError:
            allowed = ", ".join(t.value for t in JobType)
            raise bad_request(
                f"Unknown job_type {raw_type!r}; expected one of {allowed}."
            ) from None
        system, cluster = self._target(body)
        if job_type is JobType.EXPECTATION and not system.supports_expectation:
            able = [s.name for s in self.catalogue.systems if s.supports_expectation]
            raise bad_request(
                f"System {system.name!r} runs sampling jobs only; EXPECTATION jobs need "
                f"{' or '.join(map(repr, able)) or 'a simulator'}."
            )
        tag = parse_tag(body, "default")
        use_packing = body.get("use_packing", False)  # accepted; packing is not emulated
        if use_packing is not None:
            parse_bool(use_packing, "use_packing")
        deadline = self._job_settings(body)
        job = _create(
            self.store,
            owner=owner,
            tag=tag,
            job_type=job_type,
            system=system.name,
            cluster=cluster,
            max_execution_time=deadline,
        )
        return ApiResponse(201, {"job_id": job.id})

    def _target(self, body: Mapping[str, Any]) -> tuple[SystemSpec, str | None]:
        """The system a new job runs on, and the cluster it was sent to (if any): exactly one
        of ``qpu_system_name`` and ``simulator_cluster`` (a null counts as absent)."""
        system_name = body.get("qpu_system_name")
        cluster_name = body.get("simulator_cluster")
        clusters = {c.name: c for c in self.config.clusters}
        targets = (
            f"'qpu_system_name' (one of {', '.join(self.catalogue.names)}) or "
            f"'simulator_cluster' (one of {', '.join(clusters) or 'none'})"
        )
        if (system_name is None) == (cluster_name is None):
            both = "both" if system_name is not None else "neither"
            raise bad_request(f"Send exactly one of {targets}; got {both}.")
        if cluster_name is not None:
            cluster = clusters.get(cluster_name) if isinstance(cluster_name, str) else None
            if cluster is None:
                raise bad_request(f"Unknown simulator cluster {cluster_name!r}; send {targets}.")
            system = self.catalogue.get(cluster.system)
            assert system is not None  # EmulatorConfig checks clusters against systems
            return system, cluster.name
        system = self.catalogue.get(system_name) if isinstance(system_name, str) else None
        if system is None:
            raise bad_request(f"Unknown QPU system {system_name!r}; send {targets}.")
        return system, None

    def _job_settings(self, body: Mapping[str, Any]) -> float | None:
        """Check ``execution_configuration`` (5.8) and divi 0.15.1's ``maestro_config`` /
        ``device_config``; returns the job's ``max_execution_time``. Settings the emulator
        does not model are ignored, said in a log line."""
        deadline: float | None = None
        ignored: list[str] = []
        with bad_request_on(ValueError):
            if body.get("execution_configuration") is not None:
                deadline, names = job_options.execution_configuration(
                    body["execution_configuration"]
                )
                ignored += [f"execution_configuration.{name}" for name in names]
            for key, check in (
                ("maestro_config", job_options.maestro_config),
                ("device_config", job_options.device_config),
            ):
                if body.get(key) is not None:
                    ignored += [f"{key}.{name}" for name in check(body[key])]
        if ignored:
            logger.info(
                "job/init/: ignoring settings the emulator does not model (it simulates "
                "exactly): %s.",
                ", ".join(ignored),
            )
        return deadline

    # 17. POST job/create_failed/ (test helper)
    def create_failed(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        body = parse_json_object(req)
        job = _create(
            self.store,
            owner=owner,
            tag=parse_tag(body, "test"),
            job_type=JobType.EXECUTE,
            system=None,
            failed_reason="Job created in FAILED state by the create_failed test helper.",
        )
        return ApiResponse(201, {"job_id": job.id})

    # 5. POST job/<id>/add_circuits/
    def add_circuits(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        """Append circuits, bound or as a template (:mod:`.templates`); all-or-nothing. A
        finalised or terminal job answers 409 (before its body is read)."""
        job = self._job(route, owner)
        self.uploads.check_open(job)
        return ApiResponse(200, self.uploads.add(job, parse_json_object(req)))

    # 6. GET job/<id>/status/
    def status(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        job = self._job(route, owner)
        with self.store.lock:
            body: dict[str, Any] = {"status": job.status.value}
            if job.status.is_unsuccessful and job.status is not JobStatus.CANCELLED:
                body["reason"] = job.reason or "Job failed."
            if job.status is JobStatus.COMPLETED:
                body["run_time"] = round(job.run_time or 0.0, 6)
        return ApiResponse(200, body)

    # 7. GET job/<id>/resultsV2/?limit=&offset=
    def results(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        """DRF limit/offset page.

        A job that is not COMPLETED answers 400 ``{"error": ...}``, FAILED, CANCELLED,
        INSUFFICIENT_CREDITS and TIMED_OUT included (the document leaves those open).
        """
        job = self._job(route, owner)
        with self.store.lock:
            status, rows, reason = job.status, job.results, job.reason
            labels = list(job.labels)
        if status is JobStatus.FAILED:
            raise bad_request(f"Job failed, it has no results: {reason or 'unknown reason'}")
        if status is JobStatus.CANCELLED:
            raise bad_request("Job was cancelled, it has no results.")
        if status in (JobStatus.INSUFFICIENT_CREDITS, JobStatus.TIMED_OUT):
            raise bad_request(f"Job ended {status.value}, it has no results: {reason}")
        if status is not JobStatus.COMPLETED or rows is None:
            raise bad_request(f"Job results are not available yet (job is {status.value}).")
        limit = page_param(req.query, "limit")
        if limit is None or limit <= 0:
            limit = self.config.default_page_size
        limit = min(limit, self.config.max_page_size)
        offset = max(page_param(req.query, "offset") or 0, 0)
        count = len(rows)
        base = req.url(f"job/{quote(job.id)}/resultsV2/")

        def page_url(at: int) -> str:
            return f"{base}?limit={limit}&offset={at}"

        return ApiResponse(
            200,
            {
                "count": count,
                "next": page_url(offset + limit) if offset + limit < count else None,
                "previous": page_url(max(offset - limit, 0)) if offset > 0 else None,
                "results": [
                    {"label": label, "results": payload}
                    for label, payload in zip(
                        labels[offset : offset + limit], rows[offset : offset + limit], strict=True
                    )
                ],
            },
        )

    # 8. POST job/<id>/cancel/
    def cancel(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        job = self._job(route, owner)
        if not self.store.cancel(job):
            raise ApiError(409, {"error": CANCEL_CONFLICT})
        return ApiResponse(
            200, {"status": "cancelled", "job_id": job.id, "circuits_cancelled": job.n_circuits}
        )

    # 9. DELETE job/<id>
    def delete(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        job = self._job(route, owner)
        if not self.store.delete(job.id):
            raise ApiError(404, {"detail": "Job not found."})
        return ApiResponse(204)


def _error_as_response(handler: Handler, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
    """Run a handler with its :class:`ApiError` as a response (error answers are stored for an
    idempotency key too)."""
    try:
        return handler(route, req, owner)
    except ApiError as exc:
        if exc.response.status == 429:
            raise  # not stored: a retry with the same key may succeed once there is room
        return exc.response


def _create(store: JobStore, **fields: Any) -> Job:
    """``store.create(**fields)``, a reached job limit answered ``429`` with ``Retry-After``."""
    try:
        return store.create(**fields)
    except StoreFull as exc:
        raise ApiError(429, {"detail": str(exc)}, {"Retry-After": str(exc.retry_after)}) from None
