"""Typed wire models of the Qoro REST API (``qoro-api.md`` sections 3 and 4).

Responses are parsed tolerantly: unknown fields are ignored, a missing or
mistyped required field raises :class:`QoroProtocolError` naming it.
"""

from __future__ import annotations

import decimal
import enum
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import QoroInputError, QoroProtocolError

logger = logging.getLogger(__name__)

EXPVAL_SYSTEM_NAMES = frozenset({"qoro_maestro"})
"""Systems that run EXPECTATION jobs when the server does not say (reference-client rule)."""


class JobStatus(enum.Enum):
    """Status of a Qoro job, as the ``status/`` endpoint spells it (``qoro-api.md`` 4.2)."""

    PENDING = "PENDING"
    """Created, or finalised and waiting for a scheduler."""
    SCHEDULED = "SCHEDULED"
    """Assigned to a scheduler, not yet running."""
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    """Execution temporarily paused; it resumes by itself."""
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    """Final: the billing account lacks the credits to run it."""
    TIMED_OUT = "TIMED_OUT"
    """Final: it exceeded its server-side execution deadline."""

    @property
    def is_final(self) -> bool:
        """Whether the job can no longer change state."""
        return self in _FINAL_STATUSES

    @property
    def is_unsuccessful(self) -> bool:
        """Final without results (every final status but COMPLETED)."""
        return self in _FINAL_STATUSES and self is not JobStatus.COMPLETED


_FINAL_STATUSES = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.INSUFFICIENT_CREDITS,
        JobStatus.TIMED_OUT,
    }
)

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


@dataclass(frozen=True, repr=True)
class SimulatorCluster:
    """A Qoro simulator cluster (``GET simulatorcluster/``): jobs name it in
    ``simulator_cluster`` instead of ``qpu_system_name``. Clusters run EXPECTATION jobs."""

    name: str
    access_level: str = "PUBLIC"
    minimum_tier: str = "FREE"
    supports_expval: bool = True


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


def parse_simulator_clusters(data: Any) -> list[SimulatorCluster]:
    """Parse the JSON array returned by ``GET simulatorcluster/`` (unknown keys ignored)."""
    if not isinstance(data, list):
        raise QoroProtocolError(
            "Malformed server reply: simulatorcluster/ should return a JSON array, "
            f"got {type(data).__name__}."
        )
    clusters = []
    for item in data:
        name = _require(item, "name", str, "a simulator cluster object")
        where = f"simulator cluster '{name}'"
        fields = {}
        for key in ("access_level", "minimum_tier"):
            if key in item and item[key] is not None:
                fields[key] = _require(item, key, str, where)
        # The reference client treats every cluster as EXPECTATION-capable unless told.
        supports_expval = item.get("supports_expval")
        clusters.append(
            SimulatorCluster(
                name=name,
                supports_expval=supports_expval if isinstance(supports_expval, bool) else True,
                **fields,
            )
        )
    return clusters


# --- request bodies --------------------------------------------------------------


@dataclass(frozen=True)
class InitJobRequest:
    """Body of ``POST job/init/``: the target is a QPU system or (``simulator_cluster``)
    a simulator cluster, never both (``qoro-api.md`` 3.4)."""

    job_type: JobType
    qpu_system_name: str | None = None
    tag: str = "default"
    use_packing: bool = False
    simulator_cluster: str | None = None
    execution_configuration: Mapping[str, Any] | None = None
    """The execution configuration object of ``qoro-api.md`` 5.8 (only set fields)."""

    def __post_init__(self) -> None:
        if (self.qpu_system_name is None) == (self.simulator_cluster is None):
            raise ValueError(
                "InitJobRequest needs exactly one of qpu_system_name or simulator_cluster."
            )

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"tag": self.tag, "job_type": self.job_type.value}
        if self.qpu_system_name is not None:
            body["qpu_system_name"] = self.qpu_system_name
        else:
            body["simulator_cluster"] = self.simulator_cluster
        body["use_packing"] = bool(self.use_packing)
        if self.execution_configuration:
            body["execution_configuration"] = dict(self.execution_configuration)
        return body


ShotGroup = tuple[int, int, int]
"""``(start, end, shots)``: circuits ``start`` to ``end - 1`` (half-open) of a request each
take ``shots`` shots (``qoro-api.md`` 5.6)."""


def _with_measurement(
    body: dict[str, Any],
    shots: int | None,
    observables: str | None,
    shot_groups: Sequence[ShotGroup] | None = None,
) -> dict[str, Any]:
    """``body`` plus exactly one of ``shots``, ``observables`` or ``shot_groups``."""
    if sum(x is not None for x in (shots, observables, shot_groups)) != 1:
        raise ValueError("An upload needs exactly one of shots, observables or shot_groups.")
    if observables is not None:
        body["observables"] = observables
    elif shot_groups is not None:
        body["shot_groups"] = [list(group) for group in shot_groups]
    else:
        body["shots"] = shots
    return body


@dataclass(frozen=True)
class AddCircuitsRequest:
    """Body of ``POST job/<id>/add_circuits/`` (bound form): exactly one of shots,
    observables or shot_groups (indices local to this request's circuits)."""

    circuits: Mapping[str, str]
    finalized: bool
    shots: int | None = None
    observables: str | None = None
    shot_groups: tuple[ShotGroup, ...] | None = None

    def __post_init__(self) -> None:
        _with_measurement({}, self.shots, self.observables, self.shot_groups)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "circuits": dict(self.circuits),
            "mode": "append",
            "finalized": "true" if self.finalized else "false",
        }
        return _with_measurement(body, self.shots, self.observables, self.shot_groups)


@dataclass(frozen=True)
class ParameterSet:
    """One binding of a circuit template: the circuit it resolves to is labelled ``label``."""

    label: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class AddTemplateRequest:
    """Body of ``POST job/<id>/add_circuits/`` in template form (``qoro-api.md`` 3.5): one
    packed ``circuit_template`` with symbolic parameters and the sets that bind it.

    Shot groups do not combine with templates (the contract), so it takes exactly one of
    shots or observables.
    """

    circuit_template: str
    """base64(gzip(QASM with the parameter names where the angles go))."""
    parameter_names: tuple[str, ...]
    parameter_sets: tuple[ParameterSet, ...]
    finalized: bool
    shots: int | None = None
    observables: str | None = None

    def __post_init__(self) -> None:
        _with_measurement({}, self.shots, self.observables)
        width = len(self.parameter_names)
        for row in self.parameter_sets:
            if len(row.values) != width:
                raise ValueError(
                    f"Parameter set '{row.label}' has {len(row.values)} values for "
                    f"{width} parameter names."
                )

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "circuit_template": self.circuit_template,
            "parameter_names": list(self.parameter_names),
            "parameter_sets": [
                {"label": row.label, "values": [float(v) for v in row.values]}
                for row in self.parameter_sets
            ],
            "mode": "append",
            "finalized": "true" if self.finalized else "false",
        }
        return _with_measurement(body, self.shots, self.observables)


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
    run_time: float | None = None
    """Seconds the server reports the job ran (``run_time``, ``qoro-api.md`` 3.6); None
    when it sends none."""

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
    return JobStatusReply(
        raw_status=raw, status=status, reason=reason, run_time=_run_time(obj.get("run_time"))
    )


def _run_time(value: Any) -> float | None:
    """A ``run_time`` as a finite, non-negative float; anything else is ignored (logged)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    logger.warning("Ignoring the malformed 'run_time' %r of a status/ reply.", value)
    return None


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


# --- credits ---------------------------------------------------------------------


@dataclass(frozen=True)
class CreditBalance:
    """Reply of ``GET credits/`` (``qoro-api.md`` 3.11); amounts are exact decimals."""

    balance: decimal.Decimal
    total_used: decimal.Decimal
    created_at: str | None = None
    updated_at: str | None = None


def _amount(obj: Any, key: str, where: str) -> decimal.Decimal:
    raw = _require(obj, key, (str, int, float), where)
    try:
        value = decimal.Decimal(str(raw))
    except decimal.InvalidOperation:
        raise QoroProtocolError(
            f"Malformed server reply: '{key}' of {where} should be a decimal amount, got {raw!r}."
        ) from None
    if not value.is_finite():
        raise QoroProtocolError(
            f"Malformed server reply: '{key}' of {where} should be a finite amount, got {raw!r}."
        )
    return value


def _optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def parse_credit_balance(obj: Any) -> CreditBalance:
    """Parse the reply of ``GET credits/``."""
    where = "the credits/ reply"
    return CreditBalance(
        balance=_amount(obj, "balance", where),
        total_used=_amount(obj, "total_used", where),
        created_at=_optional_str(obj, "created_at"),
        updated_at=_optional_str(obj, "updated_at"),
    )


@dataclass(frozen=True)
class CreditTransaction:
    """One row of ``GET credits/transactions/``."""

    id: int | str
    amount: decimal.Decimal
    balance_after: decimal.Decimal
    transaction_type: str
    description: str
    job_id: str | None
    created_at: str | None


@dataclass(frozen=True)
class CreditTransactionsPage:
    """One page of ``GET credits/transactions/``."""

    count: int
    total_pages: int | None
    next: str | None
    transactions: list[CreditTransaction]


def parse_credit_transactions(obj: Any) -> CreditTransactionsPage:
    """Parse one page of ``GET credits/transactions/``."""
    where = "the credits/transactions/ reply"
    rows = []
    for i, row in enumerate(_require(obj, "results", list, where)):
        row_where = f"credit transaction {i}"
        job_id = row.get("job_id") if isinstance(row, Mapping) else None
        rows.append(
            CreditTransaction(
                id=_require(row, "id", (int, str), row_where),
                amount=_amount(row, "amount", row_where),
                balance_after=_amount(row, "balance_after", row_where),
                transaction_type=str(row.get("transaction_type", "")),
                description=str(row.get("description", "")),
                job_id=None if job_id is None else str(job_id),
                created_at=_optional_str(row, "created_at"),
            )
        )
    total_pages = obj.get("total_pages")
    nxt = obj.get("next")
    return CreditTransactionsPage(
        count=_require(obj, "count", int, where),
        total_pages=total_pages if isinstance(total_pages, int) else None,
        next=nxt if isinstance(nxt, str) else None,
        transactions=rows,
    )
