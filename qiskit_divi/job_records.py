"""What :meth:`QoroProvider.jobs` lists: one :class:`JobRecord` per journaled job.

The listing reads this machine's job journal (:mod:`qiskit_divi.journal`), so it shows jobs
submitted here, with any token, to any URL. Which of them a provider shows
(:func:`shown_against`):

* by default, only the jobs journaled with the provider's own URL;
* with ``all_urls=True``, also those of other URLs, but never a loopback emulator's jobs
  (``QoroProvider.local()``, ``qiskit-divi emulator``) against a non-loopback service:
  such an emulator is gone with its process, and its ids mean nothing to the real service.
  Against a loopback URL ``all_urls=True`` shows every job.

Entries without a URL (journals written before URLs were stored) count as another URL.
Only jobs of the provider's own URL get a fresh status; the others are listed with
``status=None`` and ``qoro_status=None`` (their service is not asked).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus

from .api.config import is_loopback_url
from .api.errors import QoroInputError
from .journal import KIND_BACKEND_RUN, KIND_ESTIMATOR, KIND_SAMPLER, JournalEntry

if TYPE_CHECKING:
    from .job import QoroJob
    from .primitives import QoroPrimitiveJob

JOB_KINDS = (KIND_BACKEND_RUN, KIND_SAMPLER, KIND_ESTIMATOR)
"""Values of ``kind`` in :meth:`QoroProvider.jobs`: who submitted the job."""

NOT_FOUND = "NOT_FOUND"
"""``JobRecord.qoro_status`` of a journaled job the service no longer knows (404, or 403:
another account's)."""


@dataclass(frozen=True)
class JobRecord:
    """One journaled job as :meth:`QoroProvider.jobs` lists it.

    ``status`` is the Qiskit status the service reported at listing time (None when the job
    is gone or belongs to another URL); ``qoro_status`` the server's own word for it
    (``"COMPLETED"``...; :data:`NOT_FOUND`; None when not asked). A primitive call of several
    Qoro jobs has their combined status and the status text of the job that decides it.
    ``shots`` is None when the job has none (EXPECTATION) or its parts differ;
    ``num_circuits`` counts a ``backend.run`` job's circuits, ``num_pubs`` a primitive
    call's PUBs. ``job`` is what :meth:`QoroProvider.job` returns for it (None when gone or
    of another URL).
    """

    job_id: str
    kind: str
    backend_name: str
    created: datetime.datetime
    status: JobStatus | None
    qoro_status: str | None
    shots: int | None
    num_circuits: int | None
    num_pubs: int | None
    base_url: str | None
    job_ids: tuple[str, ...]
    job: QoroJob | QoroPrimitiveJob | None = field(default=None, compare=False, repr=False)

    @property
    def found(self) -> bool | None:
        """Whether the service knows the job (None when it was not asked)."""
        return None if self.qoro_status is None else self.qoro_status != NOT_FOUND

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready values (``created`` in ISO 8601, UTC)."""
        return {
            "job_id": self.job_id,
            "kind": self.kind,
            "backend": self.backend_name,
            "created": self.created.isoformat(),
            "status": None if self.status is None else self.status.name,
            "qoro_status": self.qoro_status,
            "shots": self.shots,
            "num_circuits": self.num_circuits,
            "num_pubs": self.num_pubs,
            "url": self.base_url,
            "job_ids": list(self.job_ids),
        }


def same_url(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.rstrip("/") == b.rstrip("/")


def shown_against(entry_url: str | None, provider_url: str, *, all_urls: bool) -> bool:
    """Whether a job journaled with ``entry_url`` is listed by a provider of ``provider_url``
    (the rule of the module docstring)."""
    if same_url(entry_url, provider_url):
        return True
    if not all_urls:
        return False
    return is_loopback_url(provider_url) or not is_loopback_url(entry_url)


def is_listed(entry: JournalEntry) -> bool:
    """Whether ``entry`` is a job of its own, not a pointer to the first job of a primitive
    call (:mod:`qiskit_divi.primitives.payloads`), which the call's record covers."""
    return entry.payload.get("primary") is None


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in JOB_KINDS:
        raise QoroInputError(
            f"kind={kind!r} is not a job kind: use 'backend-run' (QoroBackend.run), 'sampler' "
            "(SamplerV2), 'estimator' (EstimatorV2) or None (all)."
        )


def parse_status(status: JobStatus | str | None) -> JobStatus | None:
    """A Qiskit ``JobStatus`` from itself or its name (any case), for the ``status`` filter."""
    if status is None or isinstance(status, JobStatus):
        return status
    if isinstance(status, str) and status.strip().upper() in JobStatus.__members__:
        return JobStatus[status.strip().upper()]
    names = ", ".join(s.name for s in (JobStatus.QUEUED, JobStatus.RUNNING, *_FINAL))
    raise QoroInputError(
        f"status={status!r} is not a Qiskit job status: use a qiskit.providers.JobStatus or "
        f"its name ({names})."
    )


_FINAL = (JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED)


def created_at(entry: JournalEntry) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(entry.created, tz=datetime.timezone.utc)


def qoro_job_ids(entry: JournalEntry) -> tuple[str, ...]:
    """The Qoro job ids of an entry: its own, or a primitive call's, first one first."""
    jobs = entry.payload.get("jobs")
    if entry.kind in (KIND_SAMPLER, KIND_ESTIMATOR) and isinstance(jobs, list) and jobs:
        ids = tuple(str(job["job_id"]) for job in jobs if isinstance(job, Mapping))
        if ids:
            return ids
    return (entry.job_id,)


def summary(entry: JournalEntry) -> tuple[int | None, int | None, int | None]:
    """``(shots, num_circuits, num_pubs)`` of an entry, None where the payload does not say."""
    payload = entry.payload
    if entry.kind == KIND_BACKEND_RUN:
        circuits = payload.get("circuits")
        return (
            _int_or_none(payload.get("shots")),
            len(circuits) if isinstance(circuits, list) else None,
            None,
        )
    pubs = payload.get("pubs")
    if not isinstance(pubs, list):
        return None, None, None
    shots = {_int_or_none(pub.get("shots")) for pub in pubs if isinstance(pub, Mapping)}
    return (shots.pop() if len(shots) == 1 else None), None, len(pubs)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
