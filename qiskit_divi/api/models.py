"""Typed wire models of the Qoro REST API (``qoro-api.md`` sections 3 and 4).

Responses are parsed tolerantly: unknown fields are ignored, a missing or
mistyped required field raises :class:`QoroProtocolError` naming it.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import QoroInputError, QoroProtocolError

logger = logging.getLogger(__name__)

EXPVAL_SYSTEM_NAMES = frozenset({"qoro_maestro"})
"""Systems that run EXPECTATION jobs when the server does not say (reference-client rule)."""


class JobStatus(enum.Enum):
    """Status of a Qoro job, as the ``status/`` endpoint spells it."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        """Whether the job can no longer change state."""
        return self in _FINAL_STATUSES


_FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

UNKNOWN_STATUS_MEANS = JobStatus.RUNNING
"""What a status string outside :class:`JobStatus` means: the job is in progress.

A new server-side state (say ``QUEUED`` or ``VALIDATING``) belongs to a job that exists
and has not reported an end; a poller must keep waiting and must not read results.
RUNNING says exactly that, whereas PENDING would claim the job has not started, which
the client cannot know. Every caller (``QoroJob``, ``QoroService``, the poller) derives
its answer from here."""


class JobType(enum.Enum):
    """Kind of a Qoro job (``job_type`` of ``job/init/``)."""

    EXECUTE = "EXECUTE"
    SIMULATE = "SIMULATE"
    EXPECTATION = "EXPECTATION"
    CIRCUIT_CUT = "CIRCUIT_CUT"


@dataclass(frozen=True, repr=True)
class QPU:
    """One quantum processing unit of a system."""

    nickname: str
    q_bits: int
    status: str
    system_kind: str
    coupling_map: tuple[tuple[int, int], ...] | None = None
    """Directed qubit pairs, when the server sends a ``coupling_map`` for the QPU or its system
    (only the local emulator does)."""


@dataclass(frozen=True, repr=True)
class QPUSystem:
    """A Qoro system: a named group of QPUs (or a simulator) jobs can target."""

    name: str
    qpus: list[QPU] = field(default_factory=list)
    access_level: str = "PUBLIC"
    supports_expval: bool = False


# --- tolerant field access -------------------------------------------------------


def _require(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise QoroProtocolError(
            f"Malformed server reply: {where} should be a JSON object, got {type(obj).__name__}."
        )
    if key not in obj:
        raise QoroProtocolError(f"Malformed server reply: {where} has no '{key}' field.")
    value = obj[key]
    if isinstance(value, bool) and kind is int:
        raise QoroProtocolError(
            f"Malformed server reply: '{key}' of {where} should be int, got bool."
        )
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise QoroProtocolError(
            f"Malformed server reply: '{key}' of {where} should be {names}, "
            f"got {type(value).__name__}."
        )
    return value


def parse_qpu(obj: Any, where: str = "a QPU object") -> QPU:
    """Parse one QPU object of ``qpusystem/``."""
    return QPU(
        nickname=_require(obj, "nickname", str, where),
        q_bits=_require(obj, "q_bits", int, where),
        status=_require(obj, "status", str, where),
        system_kind=_require(obj, "system_kind", str, where),
        coupling_map=_optional_coupling_map(obj, where),
    )


def _optional_coupling_map(
    obj: Mapping[str, Any], where: str
) -> tuple[tuple[int, int], ...] | None:
    """An optional ``coupling_map`` (list of ``[a, b]`` int pairs); anything else is ignored."""
    raw = obj.get("coupling_map")
    if raw is None:
        return None
    if isinstance(raw, list) and all(
        isinstance(e, list)
        and len(e) == 2
        and all(isinstance(q, int) and not isinstance(q, bool) for q in e)
        for e in raw
    ):
        return tuple((e[0], e[1]) for e in raw)
    logger.warning(
        "Ignoring the malformed 'coupling_map' of %s (expected a list of [a, b] int pairs).", where
    )
    return None


def parse_qpu_system(obj: Any) -> QPUSystem:
    """Parse one system object of ``qpusystem/``.

    ``supports_expval`` is taken from the server when it sends it, else it is
    True for the systems the reference client knows run EXPECTATION jobs.
    """
    name = _require(obj, "name", str, "a system object")
    where = f"system '{name}'"
    access_level = obj.get("access_level", "PUBLIC")
    if not isinstance(access_level, str):
        raise QoroProtocolError(f"Malformed server reply: 'access_level' of {where} should be str.")
    raw_qpus = obj.get("qpus") or []
    if not isinstance(raw_qpus, list):
        raise QoroProtocolError(f"Malformed server reply: 'qpus' of {where} should be a list.")
    qpus = [parse_qpu(q, f"a QPU of {where}") for q in raw_qpus]
    # A system-level map (the local emulator sends one; the reference client ignores extra
    # system keys, whereas an extra QPU key breaks it) applies to QPUs that bring none.
    system_map = _optional_coupling_map(obj, where)
    if system_map is not None:
        qpus = [
            q if q.coupling_map is not None else replace(q, coupling_map=system_map) for q in qpus
        ]
    supports_expval = obj.get("supports_expval")
    if not isinstance(supports_expval, bool):
        supports_expval = name in EXPVAL_SYSTEM_NAMES
    return QPUSystem(
        name=name, qpus=qpus, access_level=access_level, supports_expval=supports_expval
    )


def parse_qpu_systems(data: Any) -> list[QPUSystem]:
    """Parse the JSON array returned by ``GET qpusystem/``."""
    if not isinstance(data, list):
        raise QoroProtocolError(
            "Malformed server reply: qpusystem/ should return a JSON array, "
            f"got {type(data).__name__}."
        )
    return [parse_qpu_system(item) for item in data]


# --- request bodies --------------------------------------------------------------


@dataclass(frozen=True)
class InitJobRequest:
    """Body of ``POST job/init/``."""

    job_type: JobType
    qpu_system_name: str
    tag: str = "default"
    use_packing: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "job_type": self.job_type.value,
            "qpu_system_name": self.qpu_system_name,
            "use_packing": bool(self.use_packing),
        }


@dataclass(frozen=True)
class AddCircuitsRequest:
    """Body of ``POST job/<id>/add_circuits/``: exactly one of shots / observables."""

    circuits: Mapping[str, str]
    finalized: bool
    shots: int | None = None
    observables: str | None = None

    def __post_init__(self) -> None:
        if (self.shots is None) == (self.observables is None):
            raise ValueError("AddCircuitsRequest needs exactly one of shots or observables.")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "circuits": dict(self.circuits),
            "mode": "append",
            "finalized": "true" if self.finalized else "false",
        }
        if self.observables is not None:
            body["observables"] = self.observables
        else:
            body["shots"] = self.shots
        return body


# --- response bodies -------------------------------------------------------------


JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
"""A job id: 1 to 128 ASCII letters, digits, ``_`` and ``-``, not starting with a
separator. The contract only says ids look like UUIDs (``qoro-api.md`` section 3.4);
this admits those and every other id seen, and nothing that changes a URL (``/``,
``.``, ``?``, ``#``, ``%``, spaces)."""


def _is_job_id(value: str) -> bool:
    return JOB_ID_PATTERN.fullmatch(value) is not None


def check_job_id(job_id: Any) -> str:
    """``job_id`` as a string if it matches :data:`JOB_ID_PATTERN`, else :class:`QoroInputError`."""
    text = str(job_id) if isinstance(job_id, int) and not isinstance(job_id, bool) else job_id
    if not isinstance(text, str) or not _is_job_id(text):
        raise QoroInputError(
            f"Invalid job id {job_id!r}: a Qoro job id is 1 to 128 letters, digits, '_' or '-' "
            "(like a UUID). Pass the id the submission returned (job.job_id())."
        )
    return text


def parse_job_id(obj: Any) -> str:
    """Parse the ``{"job_id": ...}`` reply of ``job/init/``; the id must match
    :data:`JOB_ID_PATTERN` before it becomes part of a URL."""
    job_id = str(_require(obj, "job_id", (str, int), "the job/init/ reply"))
    if not _is_job_id(job_id):
        raise QoroProtocolError(
            f"Malformed server reply: the job/init/ reply names job id {job_id[:80]!r}, which "
            "is not a valid job id (1 to 128 letters, digits, '_' or '-'); it was not used. "
            "Check the API URL: the server does not follow the Qoro API."
        )
    return job_id


@dataclass(frozen=True)
class JobStatusReply:
    """Reply of ``GET job/<id>/status/``.

    ``status`` is None when the server sent a value outside :class:`JobStatus`;
    ``raw_status`` always holds the text it sent; :attr:`meaning` is what the reply
    means either way.
    """

    raw_status: str
    status: JobStatus | None
    reason: str | None = None

    @property
    def is_known(self) -> bool:
        """Whether the server sent one of the :class:`JobStatus` values."""
        return self.status is not None

    @property
    def meaning(self) -> JobStatus:
        """The status, or :data:`UNKNOWN_STATUS_MEANS` for a value outside :class:`JobStatus`."""
        return self.status if self.status is not None else UNKNOWN_STATUS_MEANS

    @property
    def is_final(self) -> bool:
        return self.meaning.is_final


def warn_unknown_status(job_id: str, reply: JobStatusReply, seen: set[str]) -> None:
    """Log an unknown status once per value in ``seen`` (which it updates)."""
    if reply.is_known or reply.raw_status in seen:
        return
    seen.add(reply.raw_status)
    logger.warning(
        "Job %s reported an unknown status %r; treating it as %s (in progress, not final).",
        job_id,
        reply.raw_status,
        UNKNOWN_STATUS_MEANS.value,
    )


def parse_job_status(obj: Any) -> JobStatusReply:
    """Parse the reply of ``status/``; an unknown status string is kept, not rejected."""
    raw = _require(obj, "status", str, "the status/ reply")
    try:
        status: JobStatus | None = JobStatus(raw.upper())
    except ValueError:
        status = None
    reason = next(
        (obj[k] for k in ("reason", "error", "detail", "message") if isinstance(obj.get(k), str)),
        None,
    )
    return JobStatusReply(raw_status=raw, status=status, reason=reason)


@dataclass(frozen=True)
class ResultRow:
    """One row of a results page: a circuit label and its raw result payload."""

    label: str
    results: Any


@dataclass(frozen=True)
class ResultsPage:
    """One page of ``GET job/<id>/resultsV2/``."""

    count: int | None
    next: str | None
    rows: list[ResultRow]


def parse_results_page(obj: Any) -> ResultsPage:
    """Parse one page of ``resultsV2``; each row needs a string ``label`` and a ``results``."""
    raw_rows = _require(obj, "results", list, "the resultsV2 reply")
    rows = []
    for i, row in enumerate(raw_rows):
        if not (
            isinstance(row, Mapping) and isinstance(row.get("label"), str) and "results" in row
        ):
            where = f"results row {i}"
            _require(row, "label", str, where)  # raises the precise error for a bad row or label
            raise QoroProtocolError(f"Malformed server reply: {where} has no 'results' field.")
        rows.append(ResultRow(row["label"], row["results"]))
    count = obj.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise QoroProtocolError(
            "Malformed server reply: 'count' of the resultsV2 reply should be int."
        )
    nxt = obj.get("next")
    if nxt is not None and not isinstance(nxt, str):
        raise QoroProtocolError(
            "Malformed server reply: 'next' of the resultsV2 reply should be a URL or null."
        )
    return ResultsPage(count=count, next=nxt, rows=rows)


@dataclass(frozen=True)
class CancelReply:
    """Reply of ``POST job/<id>/cancel/`` (note the lowercase ``"cancelled"``)."""

    status: str
    job_id: str
    circuits_cancelled: int | None


def parse_cancel_reply(obj: Any, job_id: str) -> CancelReply:
    """Parse the reply of ``cancel/``; missing fields default to what was asked."""
    if not isinstance(obj, Mapping):
        raise QoroProtocolError(
            "Malformed server reply: the cancel/ reply should be a JSON object."
        )
    count = obj.get("circuits_cancelled")
    return CancelReply(
        status=str(obj.get("status", "cancelled")),
        job_id=str(obj.get("job_id", job_id)),
        circuits_cancelled=count if isinstance(count, int) else None,
    )
