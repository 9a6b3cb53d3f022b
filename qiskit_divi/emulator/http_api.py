"""Request plumbing of the emulated Qoro API: requests, responses, errors, routes, bodies.

Transport-free: :mod:`.server` turns HTTP into an :class:`ApiRequest` and an
:class:`ApiResponse` back into HTTP; :mod:`.handlers` answers in between.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

API_PREFIX = "/api/"


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

    def url(self, rel: str) -> str:
        """The absolute URL of ``rel`` (a path below :data:`API_PREFIX`) on this host."""
        return f"http://{self.host}{API_PREFIX}{rel}"


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


@contextmanager
def bad_request_on(*errors: type[Exception], prefix: str = "") -> Iterator[None]:
    """Answer ``errors`` raised in the block with a ``400`` of their message (after
    ``prefix``): the checks the handlers call say what was wrong in their exceptions."""
    try:
        yield
    except errors as exc:
        raise bad_request(f"{prefix}{exc}") from None


# --- routing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    endpoint: str
    """Endpoint name, as used by :class:`~.faults.FaultConfig` (``unknown`` if none)."""
    methods: frozenset[str] = frozenset()
    job_id: str | None = None


def _route(endpoint: str, method: str, job_id: str | None = None) -> Route:
    return Route(endpoint, frozenset({method}), job_id)


_FIXED_ROUTES = {
    "": _route("ping", "GET"),
    "qpusystem/": _route("qpusystem", "GET"),
    "simulatorcluster/": _route("simulatorcluster", "GET"),
    "credits/": _route("credits", "GET"),
    "credits/transactions/": _route("credit_transactions", "GET"),
    "job/init/": _route("job_init", "POST"),
    "job/create_failed/": _route("create_failed", "POST"),
}
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
    if rel in _FIXED_ROUTES:
        return _FIXED_ROUTES[rel]
    parts = rel.split("/")
    if parts[0] != "job" or len(parts) < 2 or not parts[1]:
        return UNKNOWN_ROUTE
    job_id = unquote(parts[1])
    if len(parts) == 2:  # DELETE job/<id>, no trailing slash
        return _route("delete", "DELETE", job_id)
    if len(parts) == 4 and parts[3] == "" and parts[2] in _JOB_ACTIONS:
        return _route(*_JOB_ACTIONS[parts[2]], job_id)
    return UNKNOWN_ROUTE


# --- body and query parsing -----------------------------------------------------------


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


def parse_bool(value: Any, name: str) -> bool:
    """``"true"``/``"false"`` as the reference sends; JSON booleans are tolerated."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request(f'\'{name}\' must be "true" or "false", got {value!r}.')


def parse_tag(body: Mapping[str, Any], default: str) -> str:
    """A new job's ``tag`` (``default`` when absent); ``400`` unless a string."""
    tag = body.get("tag", default)
    if not isinstance(tag, str):
        raise bad_request("'tag' must be a string.")
    return tag


def page_param(query: Mapping[str, list[str]], name: str) -> int | None:
    """The last ``name`` of the query as an integer; None if absent or not an integer."""
    values = query.get(name)
    if not values:
        return None
    try:
        return int(values[-1])
    except ValueError:
        return None
