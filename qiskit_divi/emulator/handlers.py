"""The emulated Qoro API: routing, authentication and one function per endpoint.

Transport-free: :class:`QoroApi` turns an :class:`ApiRequest` into an
:class:`ApiResponse`; :mod:`.server` does the HTTP. Status codes and bodies
follow ``qoro-api.md``; where the document leaves a case open the choice made
here is noted on the handler.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import weakref
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote, unquote

from qiskit_divi.api.circuits import gunzip_bounded, unpack_circuit
from qiskit_divi.api.models import JobStatus, JobType
from qiskit_divi.api.observables import split_ham_ops

from .._qasm.scan import RegisterSizes, declared_register_sizes, included_files
from ..api.validation import is_integer
from . import job_options
from .accounts import (
    DEFAULT_TRANSACTIONS_PAGE_SIZE,
    MAX_TRANSACTIONS_PAGE_SIZE,
    PageError,
    page_query,
)
from .circuits import CircuitParser, JobCircuit, QasmSyntaxError
from .config import EmulatorConfig
from .idempotency import KEYED_METHODS, SUPPORT_HEADER, IdempotencyStore, fingerprint, normalise_key
from .state import SAMPLING_TYPES, Job, JobStore, Runner, StoreFull, owner_hash
from .systems import SystemCatalogue, SystemSpec, job_memory_estimate, shot_batches
from .templates import (
    CircuitTemplate,
    ParameterSet,
    TemplateError,
    parameter_names,
    parameter_sets,
)
from .worker import ProcessRunner, Task, execute

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
PERMISSION_DENIED = "You do not have permission to modify this job."
CANCEL_CONFLICT = "Can only cancel a PENDING or RUNNING job"


# --- request / response -------------------------------------------------------------


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    query: Mapping[str, list[str]]
    authorization: str | None
    content_type: str | None
    body: bytes
    host: str
    """``host[:port]`` for absolute URLs (the request's Host header)."""
    idempotency_key: str | None = None
    """The raw ``Idempotency-Key`` header, if any (see :mod:`.idempotency`)."""


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    """JSON-serialisable; None for an empty body (204)."""
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised by handlers; becomes a JSON error response."""

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ):
        super().__init__(status, body)
        self.response = ApiResponse(status, dict(body), dict(headers or {}))


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"error": message})


# --- routing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    endpoint: str
    """Endpoint name, as used by :class:`~.faults.FaultConfig` (``unknown`` if none)."""
    methods: frozenset[str] = frozenset()
    job_id: str | None = None


_JOB_ACTIONS = {
    "add_circuits": ("add_circuits", "POST"),
    "status": ("status", "GET"),
    "resultsV2": ("results", "GET"),
    "cancel": ("cancel", "POST"),
}
UNKNOWN_ROUTE = Route("unknown")


def resolve(path: str) -> Route:
    """Map a URL path (without query) to a route; :data:`UNKNOWN_ROUTE` if none."""
    if not path.startswith(API_PREFIX):
        return UNKNOWN_ROUTE
    rel = path[len(API_PREFIX) :]
    if rel == "":
        return Route("ping", frozenset({"GET"}))
    if rel == "qpusystem/":
        return Route("qpusystem", frozenset({"GET"}))
    if rel == "simulatorcluster/":
        return Route("simulatorcluster", frozenset({"GET"}))
    if rel == "credits/":
        return Route("credits", frozenset({"GET"}))
    if rel == "credits/transactions/":
        return Route("credit_transactions", frozenset({"GET"}))
    if rel == "job/init/":
        return Route("job_init", frozenset({"POST"}))
    if rel == "job/create_failed/":
        return Route("create_failed", frozenset({"POST"}))
    parts = rel.split("/")
    if parts[0] != "job" or len(parts) < 2 or not parts[1]:
        return UNKNOWN_ROUTE
    job_id = unquote(parts[1])
    if len(parts) == 2:  # DELETE job/<id>, no trailing slash
        return Route("delete", frozenset({"DELETE"}), job_id)
    if len(parts) == 4 and parts[3] == "" and parts[2] in _JOB_ACTIONS:
        endpoint, method = _JOB_ACTIONS[parts[2]]
        return Route(endpoint, frozenset({method}), job_id)
    return UNKNOWN_ROUTE


# --- body parsing -------------------------------------------------------------------


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_json_object(req: ApiRequest) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is ``{}``."""
    if not req.body.strip():
        return {}
    content_type = (req.content_type or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, {"detail": f'Unsupported media type "{content_type}" in request.'})
    try:
        data = json.loads(req.body.decode("utf-8"), object_pairs_hook=_reject_duplicate_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from None
    except RecursionError:
        # The decoder recurses once per level: deep nesting is bad input, not a crash.
        raise ApiError(
            400, {"detail": "JSON parse error - the body nests arrays or objects too deeply."}
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, {"detail": f"Expected a JSON object, got {type(data).__name__}."})
    return data


def _parse_bool(value: Any, name: str) -> bool:
    """``"true"``/``"false"`` as the reference sends; JSON booleans are tolerated."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request(f'\'{name}\' must be "true" or "false", got {value!r}.')


_SPARSE_TERM = re.compile(r"([XYZ])(\d+)")


def decode_gzs(value: str, *, max_qubits: int, max_bytes: int) -> str:
    """Expand HEAD's ``@gzs<n>:<base64 gzip of sparse terms>`` into a dense ``ham_ops``.

    ``n`` is checked against ``max_qubits`` and the dense size against ``max_bytes``
    before anything is expanded; the payload stops inflating at ``max_bytes``.
    """
    head, sep, blob = value[4:].partition(":")
    if not sep or not head.isascii() or not head.isdigit() or not head.strip("0"):
        raise ValueError("malformed @gzs header; expected '@gzs<n_qubits>:<payload>'")
    # A count too long for int() to be cheap is over any system's width anyway.
    n_qubits = int(head) if len(head) <= 18 else 10**18
    if n_qubits > max_qubits:
        raise ValueError(
            f"@gzs declares {n_qubits} qubits; the system has {max_qubits}. "
            "Send observables of the circuits' width."
        )
    try:
        sparse = gunzip_bounded(base64.b64decode(blob, validate=True), max_bytes, _too_large)
        text = sparse.decode("utf-8")
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, _ObservablesTooLarge):
            raise
        raise ValueError(f"@gzs payload is not base64 gzip text ({exc})") from None
    items = text.split(";")
    dense_bytes = len(items) * (n_qubits + 1)
    if dense_bytes > max_bytes:
        raise ValueError(
            f"@gzs expands to {len(items)} terms of {n_qubits} qubits ({dense_bytes:,} bytes), "
            f"over the {max_bytes:,}-byte limit. Send fewer terms per job."
        )
    terms = []
    for item in items:
        dense = ["I"] * n_qubits
        if item != "I":
            pos = 0
            for match in _SPARSE_TERM.finditer(item):
                if match.start() != pos:
                    break
                index = int(match.group(2))
                if index >= n_qubits or dense[index] != "I":
                    raise ValueError(
                        f"sparse term {item!r} has a bad or repeated qubit index "
                        f"for {n_qubits} qubits"
                    )
                dense[index] = match.group(1)
                pos = match.end()
            if pos != len(item) or not item:
                raise ValueError(f"malformed sparse term {item!r}")
        terms.append("".join(dense))
    return ";".join(terms)


class _ObservablesTooLarge(ValueError):
    """An ``@gzs`` payload inflates past the limit."""


def _too_large(max_bytes: int) -> Exception:
    return _ObservablesTooLarge(
        f"@gzs payload inflates to more than {max_bytes:,} bytes, the limit. "
        "Send fewer terms per job."
    )


def parse_observables(value: Any, *, max_qubits: int, max_bytes: int) -> list[str]:
    """Dense terms of an ``observables`` string (plain v0.6.1 form or ``@gzs``), the
    ``@gzs`` form bounded as :func:`decode_gzs` says."""
    if not isinstance(value, str):
        raise ValueError("must be a string of ';'-separated Pauli terms")
    if value.startswith("@gzs"):
        value = decode_gzs(value, max_qubits=max_qubits, max_bytes=max_bytes)
    if "|" in value:
        raise ValueError(
            "observable groups ('|', with circuit_ham_map) are not supported by the emulator"
        )
    return split_ham_ops(value)


def _page_param(query: Mapping[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values:
        return None
    try:
        return int(values[-1])
    except ValueError:
        return None


_UNSUPPORTED_ADD_CIRCUITS_KEYS = ("circuit_ham_map",)
_TEMPLATE_KEYS = ("parameter_names", "parameter_sets")


def _add_circuits_fields(body: Mapping[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """``add_circuits``' ``circuits`` object (None in the template form, whose keys are
    checked to be complete) and ``finalized`` flag, after the checks of the keys the
    emulator refuses and of ``mode``."""
    for unsupported in _UNSUPPORTED_ADD_CIRCUITS_KEYS:
        if unsupported in body:
            raise bad_request(f"'{unsupported}' is not supported by the emulator.")
    circuits: dict[str, Any] | None = None
    if "circuit_template" in body:
        if "circuits" in body:
            raise bad_request(
                "Send either 'circuits' (bound circuits) or 'circuit_template' with "
                "'parameter_names' and 'parameter_sets', not both in one request."
            )
        if "shot_groups" in body:
            raise bad_request(
                "'shot_groups' does not combine with 'circuit_template' (qoro-api.md 5.6): "
                "send 'shots', or send the circuits bound with 'shot_groups'."
            )
        for key in _TEMPLATE_KEYS:
            if key not in body:
                raise bad_request(f"The template form needs '{key}' with 'circuit_template'.")
    else:
        stray = [key for key in _TEMPLATE_KEYS if key in body]
        if stray:
            raise bad_request(
                f"'{stray[0]}' belongs to the template form: send it with 'circuit_template'."
            )
        circuits = body.get("circuits")
        if not isinstance(circuits, dict):
            raise bad_request(
                "'circuits' must be an object mapping labels to base64-gzip QASM strings."
            )
    mode = body.get("mode", "append")
    if mode != "append":
        raise bad_request(f"Unsupported mode {mode!r}; only 'append' is supported.")
    return circuits, _parse_bool(body.get("finalized", "false"), "finalized")


ShotGroup = tuple[int, int, int]


def _check_tiling(groups: list[ShotGroup], n_circuits: int) -> list[int]:
    """The shots of each of the request's ``n_circuits`` circuits; ``400`` unless the
    ``[start, end)`` ranges tile them in order (``qoro-api.md`` 5.6: indices are local to
    the request)."""
    at = 0
    for i, (start, end, _) in enumerate(groups):
        if start != at or end <= start or end > n_circuits:
            raise bad_request(
                f"'shot_groups' must tile this request's {n_circuits} circuits with "
                f"[start, end, shots] ranges in order, from 0 to {n_circuits}, without gaps or "
                f"overlaps; group {i} is {list(groups[i])} (expected start {at})."
            )
        at = end
    if at != n_circuits:
        raise bad_request(
            f"'shot_groups' cover circuits 0 to {at} of this request's {n_circuits}: every "
            "circuit needs a group."
        )
    return [shots for start, end, shots in groups for _ in range(end - start)]


# --- the API ------------------------------------------------------------------------


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
        self.parser = CircuitParser()
        self._inflated: dict[str, int] = {}
        """Inflated QASM bytes per open job, for ``max_job_circuit_bytes``."""
        # Only digests are kept: the raw tokens stay with EmulatorServer.tokens.
        self._owners = {hashlib.sha256(t.encode("utf-8")).digest(): owner_hash(t) for t in tokens}
        self.idempotency: IdempotencyStore | None = (
            IdempotencyStore(
                ttl_seconds=config.idempotency_ttl_seconds, max_keys=config.idempotency_max_keys
            )
            if config.idempotency
            else None
        )
        self._handlers: dict[str, Callable[[Route, ApiRequest, str], ApiResponse]] = {
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
        try:
            page = page_query(req.query.get("page"), "page", 1)
            size = min(
                page_query(req.query.get("page_size"), "page_size", DEFAULT_TRANSACTIONS_PAGE_SIZE),
                MAX_TRANSACTIONS_PAGE_SIZE,
            )
            base = f"http://{req.host}{API_PREFIX}credits/transactions/"
            body = self.store.accounts.transactions_page(
                owner, page, size, lambda n: f"{base}?page={n}&page_size={size}"
            )
        except PageError as exc:
            raise bad_request(str(exc)) from None
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
        tag = body.get("tag", "default")
        if not isinstance(tag, str):
            raise bad_request("'tag' must be a string.")
        use_packing = body.get("use_packing", False)  # accepted; packing is not emulated
        if use_packing is not None:
            _parse_bool(use_packing, "use_packing")
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
        try:
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
        except ValueError as exc:
            raise bad_request(str(exc)) from None
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
        tag = body.get("tag", "test")
        if not isinstance(tag, str):
            raise bad_request("'tag' must be a string.")
        job = _create(
            self.store,
            owner=owner,
            tag=tag,
            job_type=JobType.EXECUTE,
            system=None,
            failed_reason="Job created in FAILED state by the create_failed test helper.",
        )
        return ApiResponse(201, {"job_id": job.id})

    # 5. POST job/<id>/add_circuits/
    def add_circuits(self, route: Route, req: ApiRequest, owner: str) -> ApiResponse:
        """Append circuits, bound or as a template (:mod:`.templates`); all-or-nothing. A
        finalised or terminal job answers 409."""
        job = self._job(route, owner)
        self._check_open(job)
        body = parse_json_object(req)
        circuits, finalized = _add_circuits_fields(body)
        shots, terms, groups = self._shots_or_observables(job, body)
        circuit_shots: list[int] | None = None
        if circuits is None:
            parsed, inflated = self._parse_template(job, body, shots, terms)
        else:
            if groups is not None:
                circuit_shots = _check_tiling(groups, len(circuits))
            parsed, inflated = self._parse_circuits(job, circuits, terms)
        with self.store.lock:
            self._check_open(job)
            self._check_inflated(job, inflated)
            total = self._append(job, parsed, shots, terms, finalized, circuit_shots)
            self._count_inflated(job, inflated, finalized)
        return ApiResponse(
            200,
            {
                "job_id": job.id,
                "circuits_added": len(parsed),
                "total_circuits": total,
                "finalized": finalized,
            },
        )

    def _check_shots(self, shots: Any, name: str) -> int:
        if not is_integer(shots):
            raise bad_request(f"{name} must be an integer, got {shots!r}.")
        if shots <= 0:
            raise bad_request(f"{name} must be positive, got {shots}.")
        if shots > self.config.max_shots:
            raise bad_request(f"{name} must not exceed {self.config.max_shots}, got {shots}.")
        return int(shots)

    def _shots_or_observables(
        self, job: Job, body: Mapping[str, Any]
    ) -> tuple[int | None, list[str] | None, list[ShotGroup] | None]:
        """The chunk's ``shots`` or ``shot_groups`` (sampling jobs; the groups' tiling is
        checked against the circuits later) or dense observable terms (EXPECTATION)."""
        has_shots, has_obs, has_groups = (
            key in body for key in ("shots", "observables", "shot_groups")
        )
        if has_shots + has_obs + has_groups != 1:
            raise bad_request("Exactly one of 'shots', 'observables' or 'shot_groups' is required.")
        if job.job_type is JobType.EXPECTATION:
            if not has_obs:
                given = "'shot_groups'" if has_groups else "'shots'"
                raise bad_request(f"EXPECTATION jobs take 'observables', not {given}.")
            system = self.catalogue.get(job.system or "")
            assert system is not None
            try:
                return (
                    None,
                    parse_observables(
                        body["observables"],
                        max_qubits=system.q_bits,
                        max_bytes=self.config.max_observable_bytes,
                    ),
                    None,
                )
            except ValueError as exc:
                raise bad_request(f"Invalid observables: {exc}") from None
        if has_obs:
            raise bad_request(
                f"{job.job_type.value} jobs take 'shots' or 'shot_groups'; 'observables' need "
                "an EXPECTATION job."
            )
        if has_shots:
            return self._check_shots(body["shots"], "'shots'"), None, None
        raw = body["shot_groups"]
        if not isinstance(raw, list):
            raise bad_request(
                "'shot_groups' must be a list of [start, end, shots] integer triples."
            )
        groups: list[ShotGroup] = []
        for i, group in enumerate(raw):
            if (
                not isinstance(group, list)
                or len(group) != 3
                or not all(is_integer(v) and v >= 0 for v in group[:2])
            ):
                raise bad_request(
                    f"Shot group {i} is {group!r}: each group is [start, end, shots] with "
                    "non-negative integer circuit indices, local to this request."
                )
            shots = self._check_shots(group[2], f"The shots of shot group {i}")
            groups.append((int(group[0]), int(group[1]), shots))
        return None, None, groups

    def _parse_template(
        self, job: Job, body: Mapping[str, Any], shots: int | None, terms: list[str] | None
    ) -> tuple[list[tuple[str, JobCircuit]], int]:
        """The circuits a template upload binds to (:mod:`.templates`) and their inflated
        bytes, every check of :meth:`_parse_circuits` applied to each.

        The limits are checked from the template's size and the count of sets before any
        set is read or bound, so a small template with a huge ``parameter_sets`` is refused
        at the cost of its JSON parse.
        """
        system = self.catalogue.get(job.system or "")
        assert system is not None
        config = self.config
        try:
            names = parameter_names(body["parameter_names"])
        except TemplateError as exc:
            raise bad_request(str(exc)) from None
        packed, raw_sets = body["circuit_template"], body["parameter_sets"]
        if not isinstance(packed, str):
            raise bad_request("'circuit_template' must be a base64-gzip QASM string.")
        job_left = config.max_job_circuit_bytes - self._inflated.get(job.id, 0)
        label = "circuit_template"
        qasm = self._unpack(label, packed, job_left)
        sizes = self._check_text(label, qasm, system)
        try:
            template = CircuitTemplate.of(qasm, names)
        except TemplateError as exc:
            raise bad_request(str(exc)) from None
        if isinstance(raw_sets, list) and raw_sets:
            self._check_template_floor(job, template, sizes, len(raw_sets), shots, job_left)
        try:
            sets = parameter_sets(raw_sets, len(names))
        except TemplateError as exc:
            raise bad_request(str(exc)) from None
        inflated = self._check_bound_sizes(template, sets, job_left)
        parsed = []
        for item in sets:
            try:
                circuit = self.parser.parse(template.bind(item.texts))
            except QasmSyntaxError as exc:
                raise bad_request(
                    f"Parameter set '{item.label}' binds 'circuit_template' to invalid "
                    f"OpenQASM 2.0: {exc}"
                ) from None
            self._check_circuit(job, item.label, circuit, system, terms)
            parsed.append((item.label, circuit))
        return parsed, inflated

    def _parse_circuits(
        self, job: Job, circuits: Mapping[str, Any], terms: list[str] | None
    ) -> tuple[list[tuple[str, JobCircuit]], int]:
        """Unpack and parse every circuit of a chunk, checking it fits the job's system;
        also returns the chunk's inflated QASM bytes.

        Each circuit's inflate stops at ``max_circuit_bytes`` (or what is left of the job's
        ``max_job_circuit_bytes``), and its register sizes are checked before it is parsed:
        a few bytes must not make the parser allocate a huge register.
        """
        system = self.catalogue.get(job.system or "")
        assert system is not None
        job_left = self.config.max_job_circuit_bytes - self._inflated.get(job.id, 0)
        inflated = 0
        parsed = []
        for label, packed in circuits.items():
            if not label:
                raise bad_request("Circuit labels must be non-empty strings.")
            if not isinstance(packed, str):
                raise bad_request(f"Circuit '{label}' must be a base64-gzip QASM string.")
            qasm = self._unpack(label, packed, job_left - inflated)
            inflated += len(qasm) if qasm.isascii() else len(qasm.encode("utf-8"))
            self._check_text(label, qasm, system)
            try:
                circuit = self.parser.parse(qasm)
            except QasmSyntaxError as exc:
                raise bad_request(f"Circuit '{label}' is not valid OpenQASM 2.0: {exc}") from None
            self._check_circuit(job, label, circuit, system, terms)
            parsed.append((label, circuit))
        return parsed, inflated

    def _unpack(self, label: str, packed: str, room: int) -> str:
        """The QASM text of one packed circuit, its inflate stopped at ``max_circuit_bytes``
        or at the ``room`` left in the job (``413``)."""
        config = self.config
        too_large: Callable[[int], Exception] = (
            partial(_circuit_too_large, label)
            if room >= config.max_circuit_bytes
            else lambda _: _job_too_large(config.max_job_circuit_bytes)
        )
        try:
            return unpack_circuit(
                packed, max_bytes=max(min(config.max_circuit_bytes, room), 0), too_large=too_large
            )
        except ValueError as exc:
            raise bad_request(f"Circuit '{label}' is not base64-gzip UTF-8 text: {exc}") from None

    def _check_template_floor(
        self,
        job: Job,
        template: CircuitTemplate,
        sizes: RegisterSizes,
        n_sets: int,
        shots: int | None,
        job_left: int,
    ) -> None:
        """The limits ``n_sets`` bound circuits must exceed whatever their values (every
        value takes 3 bytes or more; values cannot change the registers): ``413``/``400``
        before any set is read."""
        config = self.config
        floor = template.min_bound_bytes
        if floor > config.max_circuit_bytes:
            raise _circuit_too_large("bound from 'circuit_template'", config.max_circuit_bytes)
        if floor * n_sets > job_left:
            raise _job_too_large(config.max_job_circuit_bytes)
        shots = shots if shots is not None else job.shots
        total = job.n_circuits + n_sets
        self._check_budget(job, sizes.num_qubits, sizes.num_clbits, shots, total)

    def _check_bound_sizes(
        self, template: CircuitTemplate, sets: list[ParameterSet], job_left: int
    ) -> int:
        """The inflated bytes of the circuits ``sets`` bind ``template`` to, computed without
        binding; ``413`` over ``max_circuit_bytes`` or the ``job_left`` bytes of the job."""
        limit = self.config.max_circuit_bytes
        inflated = 0
        for item in sets:
            size = template.bound_bytes(item.texts)
            if size > limit:
                raise _circuit_too_large(item.label, limit)
            inflated += size
            if inflated > job_left:
                raise _job_too_large(self.config.max_job_circuit_bytes)
        return inflated

    def _check_text(self, label: str, qasm: str, system: SystemSpec) -> RegisterSizes:
        """``400`` for a text including a file other than ``qelib1.inc`` or declaring more
        bits than allowed (read without parsing); returns its register sizes."""
        foreign = [name for name in included_files(qasm) if name != "qelib1.inc"]
        if foreign:
            raise bad_request(
                f"Circuit '{label}' includes {foreign[0]!r}: only \"qelib1.inc\" can be "
                "included (define other gates in the program itself)."
            )
        sizes = declared_register_sizes(qasm)
        if sizes.num_qubits > system.q_bits:
            raise bad_request(
                f"Circuit '{label}' uses {sizes.num_qubits} qubits; "
                f"system {system.name!r} has {system.q_bits}."
            )
        if sizes.num_clbits > self.config.max_clbits:
            raise bad_request(
                f"Circuit '{label}' declares {sizes.num_clbits} classical bits; the emulator "
                f"accepts at most {self.config.max_clbits} (EmulatorConfig.max_clbits)."
            )
        return sizes

    def _check_circuit(
        self,
        job: Job,
        label: str,
        circuit: JobCircuit,
        system: SystemSpec,
        terms: list[str] | None,
    ) -> None:
        """``400`` for a parsed circuit the job cannot run."""
        if circuit.num_qubits > system.q_bits:
            raise bad_request(
                f"Circuit '{label}' uses {circuit.num_qubits} qubits; "
                f"system {system.name!r} has {system.q_bits}."
            )
        if terms is not None and len(terms[0]) != circuit.num_qubits:
            raise bad_request(
                f"Observables act on {len(terms[0])} qubits "
                f"but circuit '{label}' has {circuit.num_qubits}."
            )
        if job.job_type in SAMPLING_TYPES and circuit.num_clbits == 0:
            raise bad_request(f"Circuit '{label}' has no classical bits: nothing to sample.")

    def _check_inflated(self, job: Job, inflated: int) -> None:
        """``413`` when the chunk's inflated bytes would take the job over
        ``max_job_circuit_bytes``. Runs under the store's lock, with :meth:`_count_inflated`,
        so chunks sent at once cannot exceed the limit together."""
        if self._inflated.get(job.id, 0) + inflated > self.config.max_job_circuit_bytes:
            raise _job_too_large(self.config.max_job_circuit_bytes)

    def _count_inflated(self, job: Job, inflated: int, finalized: bool) -> None:
        """Add an accepted chunk's inflated bytes to the job's (forgotten once the job is
        finalised: it takes no more circuits)."""
        if finalized:
            self._inflated.pop(job.id, None)
            return
        if inflated == 0:
            return
        known = job.id in self._inflated
        self._inflated[job.id] = self._inflated.get(job.id, 0) + inflated
        if not known:
            # Dropped with the job (deleted or evicted): no bookkeeping elsewhere.
            weakref.finalize(job, self._inflated.pop, job.id, None)

    def _append(
        self,
        job: Job,
        parsed: list[tuple[str, JobCircuit]],
        shots: int | None,
        terms: list[str] | None,
        finalized: bool,
        circuit_shots: list[int] | None = None,
    ) -> int:
        """Check the chunk against the job's earlier chunks, append it, finalise if asked;
        returns the job's circuit count. ``circuit_shots``: each circuit's shots, from the
        chunk's ``shot_groups``. Runs under the store's lock."""
        _check_shots_form(job, shots, circuit_shots)
        if terms is not None and job.observables is not None and terms != job.observables:
            raise bad_request("'observables' differ from earlier chunks of this job.")
        seen = set(job.labels)
        for label, _ in parsed:
            if label in seen:
                raise bad_request(f"Duplicate circuit label '{label}' in this job.")
            seen.add(label)
        total = job.n_circuits + len(parsed)
        if job.job_type is JobType.CIRCUIT_CUT and total > 1:
            raise bad_request("CIRCUIT_CUT jobs take exactly one circuit.")
        if finalized and total == 0:
            raise bad_request("Cannot finalise a job without circuits.")
        if circuit_shots is not None:
            most = max(circuit_shots + job.circuit_shots, default=None)
        else:
            most = shots if shots is not None else job.shots
        self._check_memory(job, parsed, most, total)
        job.shots = shots if shots is not None else job.shots
        job.observables = terms if terms is not None else job.observables
        if circuit_shots is not None:
            job.circuit_shots.extend(circuit_shots)
        elif shots is not None:
            job.circuit_shots.extend([shots] * len(parsed))
        for label, circuit in parsed:
            job.labels.append(label)
            job.circuits.append(circuit)
        if finalized:
            self.store.finalize(job)
        return total

    def _check_open(self, job: Job) -> None:
        with self.store.lock:
            if job.finalized or job.status is not JobStatus.PENDING:
                state = "finalised" if job.status is JobStatus.PENDING else job.status.value
                raise ApiError(409, {"error": f"Job no longer accepts circuits (it is {state})."})

    def _check_memory(
        self, job: Job, parsed: list[tuple[str, JobCircuit]], shots: int | None, total: int
    ) -> None:
        """``400`` when the job with this chunk would exceed ``max_job_memory_bytes``; else
        record the chunk's widths on the job (the store's lock is held). ``shots``: the most
        any circuit of the job takes."""
        qubits = max([circuit.num_qubits for _, circuit in parsed], default=0)
        clbits = max([circuit.num_clbits for _, circuit in parsed], default=0)
        self._check_budget(job, qubits, clbits, shots, total)
        job.max_qubits, job.max_clbits = max(job.max_qubits, qubits), max(job.max_clbits, clbits)

    def _check_budget(
        self, job: Job, num_qubits: int, num_clbits: int, shots: int | None, total: int
    ) -> None:
        """``400`` when the job with ``total`` circuits, the widest of ``num_qubits`` qubits
        and ``num_clbits`` clbits (or the job's earlier ones), would exceed
        ``max_job_memory_bytes`` (:func:`~.systems.job_memory_estimate`)."""
        qubits, clbits = max(job.max_qubits, num_qubits), max(job.max_clbits, num_clbits)
        budget = self.config.max_job_memory_bytes
        expectation = job.job_type is JobType.EXPECTATION
        estimate = job_memory_estimate(
            expectation=expectation,
            num_qubits=qubits,
            num_clbits=clbits,
            n_circuits=total,
            shots=shots,
        )
        if estimate > budget:
            per_circuit = job_memory_estimate(
                expectation=expectation,
                num_qubits=qubits,
                num_clbits=clbits,
                n_circuits=1,
                shots=shots,
            )
            fits = budget // per_circuit if per_circuit <= budget else 0
            advice = (
                f"split it into jobs of at most {fits} circuits, or use fewer shots"
                if fits
                else "use circuits of fewer qubits (or fewer shots)"
            )
            raise bad_request(
                f"This job needs an estimated {estimate / 2**20:,.0f} MiB to run ({total} "
                f"circuits of up to {qubits} qubits), over the emulator's memory budget of "
                f"{budget / 2**20:,.0f} MiB (EmulatorConfig.max_job_memory_bytes, "
                f"--max-job-memory-mb): {advice}."
            )

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
        limit = _page_param(req.query, "limit")
        if limit is None or limit <= 0:
            limit = self.config.default_page_size
        limit = min(limit, self.config.max_page_size)
        offset = _page_param(req.query, "offset")
        offset = max(offset or 0, 0)
        count = len(rows)
        base = f"http://{req.host}{API_PREFIX}job/{quote(job.id)}/resultsV2/"

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


def _check_shots_form(job: Job, shots: int | None, circuit_shots: list[int] | None) -> None:
    """``400`` unless a chunk's ``shots`` (or ``shot_groups``) agree with the job's earlier
    chunks: one ``shots`` value throughout, or ``shot_groups`` with every chunk."""
    if shots is not None and job.shots is not None and shots != job.shots:
        raise bad_request(
            f"'shots' ({shots}) differs from earlier chunks of this job ({job.shots})."
        )
    if shots is not None and job.shots is None and job.circuit_shots:
        raise bad_request(
            "Earlier chunks of this job sent 'shot_groups': send 'shot_groups' with every "
            "chunk of the job (indices local to each request)."
        )
    if circuit_shots is not None and job.shots is not None:
        raise bad_request(
            f"Earlier chunks of this job sent 'shots' ({job.shots}): send 'shots' with "
            "every chunk, or 'shot_groups' with every chunk."
        )


def _circuit_too_large(label: str, limit: int) -> ApiError:
    return ApiError(
        413,
        {
            "error": f"Circuit '{label}' inflates to more than {limit:,} bytes of QASM, the "
            "per-circuit limit (EmulatorConfig.max_circuit_bytes). Send smaller circuits."
        },
    )


def _job_too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        {
            "error": f"The job's circuits inflate to more than {limit:,} bytes of QASM, the "
            "per-job limit (EmulatorConfig.max_job_circuit_bytes). Split them over several jobs."
        },
    )


def _error_as_response(
    handler: Callable[[Route, ApiRequest, str], ApiResponse],
    route: Route,
    req: ApiRequest,
    owner: str,
) -> ApiResponse:
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


def make_runner(
    catalogue: SystemCatalogue, seed: int | None, process: ProcessRunner | None = None
) -> Runner:
    """The worker's job runner: one result payload per circuit, in submission order; in
    ``process`` when given (:mod:`.worker`), else in the calling thread.

    A sampling job whose circuits take different shots (``shot_groups``) runs as one task
    per shots value, each circuit sampled with its own shots; a job of one shots value (the
    usual case) stays one batched task.
    """

    def run_task(task: Task, abandoned: Callable[[], bool]) -> list[Any]:
        if process is not None:
            return process.run(task, abandoned)
        return execute(catalogue, seed, task)

    def run(job: Job, abandoned: Callable[[], bool]) -> list[Any]:
        assert job.system is not None
        circuits = list(job.circuits)
        observables = None if job.observables is None else list(job.observables)
        batches = (
            shot_batches(job.circuit_shots)
            if job.job_type is not JobType.EXPECTATION and job.circuit_shots
            else [(job.shots, list(range(len(circuits))))]
        )
        if len(batches) == 1:
            shots = batches[0][0]
            return run_task(Task(job.job_type, job.system, circuits, shots, observables), abandoned)
        rows: list[Any] = [None] * len(circuits)
        for shots, positions in batches:
            task = Task(job.job_type, job.system, [circuits[i] for i in positions], shots, None)
            for position, row in zip(positions, run_task(task, abandoned), strict=True):
                rows[position] = row
        return rows

    return run
