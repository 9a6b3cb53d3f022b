"""``QoroProvider``: the entry point, as ``QiskitRuntimeService`` or ``AerProvider`` are.

.. code-block:: python

    with QoroProvider.local() as provider:          # bundled emulator, offline
        backend = provider.get_backend("qoro_maestro")

Against the real service: ``QoroProvider(token=..., url=...)``, or the
``QORO_API_KEY`` / ``QORO_API_URL`` environment (or ``.env``) settings. The
constructor does no network I/O; the system list is fetched on first use and
cached (:meth:`QoroProvider.refresh` fetches it again).

Simulator clusters (``GET simulatorcluster/``; a server without the endpoint has
none) are backends beside the systems. A name can be both: ``qoro_maestro`` is a
system and a cluster on today's service. ``get_backend(name)`` then returns the
system (what it returned before clusters existed, so programs keep their target);
``get_backend(name, kind="cluster")`` returns the cluster.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus

from .api.client import QoroClient
from .api.config import resolve_base_url, resolve_token
from .api.endpoints import CREDIT_PAGE_SIZE_MAX
from .api.errors import (
    QoroAuthenticationError,
    QoroError,
    QoroInputError,
    QoroJobError,
    QoroNotFoundError,
)
from .api.models import CreditBalance, CreditTransactionsPage, QPUSystem, SimulatorCluster
from .api.validation import positive_int
from .backend import QoroBackend
from .exceptions import JournalError, QoroBackendNotFoundError
from .job import QoroJob, map_status
from .job_records import (
    NOT_FOUND,
    JobRecord,
    check_kind,
    created_at,
    is_listed,
    parse_status,
    qoro_job_ids,
    same_url,
    shown_against,
    summary,
)
from .journal import (
    JOURNAL_ENV,
    KIND_BACKEND_RUN,
    KIND_ESTIMATOR,
    KIND_SAMPLER,
    JobJournal,
    JournalEntry,
)
from .target import cluster_num_qubits

if TYPE_CHECKING:
    from .emulator import EmulatorConfig, EmulatorServer
    from .primitives import QoroPrimitiveJob

logger = logging.getLogger(__name__)

_SUBMITTERS = {
    KIND_SAMPLER: "SamplerV2",
    KIND_ESTIMATOR: "EstimatorV2",
    KIND_BACKEND_RUN: "backend.run()",
}
"""Who writes each journal kind, for messages."""

_RETRIEVE_WITH = {
    KIND_SAMPLER: "SamplerV2.retrieve({id!r}, provider) or provider.retrieve_job({id!r})",
    KIND_ESTIMATOR: "EstimatorV2.retrieve({id!r}, provider) or provider.retrieve_job({id!r})",
}
"""How to retrieve each kind (the default: ``provider.retrieve_job``)."""

_JOURNALED = {
    KIND_SAMPLER: "the PUBs' shapes and classical registers",
    KIND_ESTIMATOR: "the PUBs' shapes, observables and coefficients",
    KIND_BACKEND_RUN: "the circuit names, registers and shots",
}
"""What only the journal knows of each kind, for messages."""

KIND_SYSTEM = "system"
KIND_CLUSTER = "cluster"
BACKEND_KINDS = (KIND_SYSTEM, KIND_CLUSTER)
"""Values of ``kind`` in :meth:`QoroProvider.backends` / :meth:`QoroProvider.get_backend`."""


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in BACKEND_KINDS:
        raise QoroInputError(
            f"kind={kind!r} is not a backend kind: use 'system' (QPU systems), 'cluster' "
            "(simulator clusters) or None (both)."
        )


class QoroProvider:
    """Access to the Qoro systems of one account.

    Args:
        token: Qoro API key; else ``QORO_API_KEY`` from the environment or a
            ``.env`` file. Never logged or shown.
        url: API root including ``/api``; else ``QORO_API_URL``, else production.
        journal: where jobs are journaled (default: ``QISKIT_DIVI_JOURNAL`` or
            the user cache directory; see :mod:`qiskit_divi.journal`).
    """

    def __init__(
        self,
        token: str | None = None,
        url: str | None = None,
        *,
        journal: JobJournal | None = None,
    ) -> None:
        self._client = QoroClient(token=resolve_token(token), base_url=resolve_base_url(url))
        self._journal = journal if journal is not None else JobJournal()
        self._lock = threading.Lock()
        self._systems: list[QPUSystem] | None = None
        self._clusters: list[SimulatorCluster] = []
        self._backends: dict[str, QoroBackend] = {}
        self._cluster_backends: dict[str, QoroBackend] = {}
        self._server: EmulatorServer | None = None
        self._closed = False

    @classmethod
    def local(
        cls,
        token: str | None = None,
        *,
        config: EmulatorConfig | None = None,
        journal: JobJournal | None = None,
    ) -> QoroProvider:
        """Start the bundled emulator on loopback (a free port) and return a provider for it.

        ``token`` is the one token the emulator accepts (a fresh random one by
        default). Closing the provider (or leaving its ``with`` block) stops the
        emulator.
        """
        from .emulator import EmulatorServer

        token = token or secrets.token_urlsafe(24)
        kwargs: dict[str, Any] = {"tokens": [token], "host": "127.0.0.1", "port": 0}
        if config is not None:
            kwargs["config"] = config
        server = EmulatorServer(**kwargs)
        server.start()
        try:
            provider = cls(token=token, url=server.base_url, journal=journal)
        except BaseException:
            server.stop()
            raise
        provider._server = server
        logger.info(
            "Started a local Qoro emulator at %s (engine %s)", server.base_url, server.engine
        )
        return provider

    # --- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API root in use, including ``/api`` (the form of ``QORO_API_URL``)."""
        return self._client.base_url

    @property
    def client(self) -> QoroClient:
        """The wire client (shared by every backend and job of this provider)."""
        return self._client

    @property
    def journal(self) -> JobJournal:
        """The local job journal used by this provider."""
        return self._journal

    @property
    def emulator(self) -> EmulatorServer | None:
        """The in-process emulator of a :meth:`local` provider, else None."""
        return self._server

    @property
    def emulator_engine(self) -> str | None:
        """What simulates ``qoro_maestro`` on a :meth:`local` provider's emulator (``"aer"``
        or ``"maestro"``, see ``EmulatorConfig.engine``); None for a remote service."""
        return None if self._server is None else self._server.engine

    def close(self) -> None:
        """Close the HTTP session; a :meth:`local` provider also stops its emulator."""
        if self._closed:
            return
        self._closed = True
        self._client.close()
        if self._server is not None:
            self._server.stop()
            logger.info("Stopped the local Qoro emulator at %s", self.url)

    def __enter__(self) -> QoroProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        local = f", local emulator on {self._server.engine}" if self._server is not None else ""
        return f"<QoroProvider(url='{self.url}'{local})>"

    # --- systems and backends -----------------------------------------------------

    def systems(self) -> list[QPUSystem]:
        """The systems this token can target (fetched once with the clusters, then cached)."""
        with self._lock:
            if self._systems is None:
                systems = self._client.list_systems()
                clusters = self._client.list_clusters()
                logger.debug(
                    "Fetched %d Qoro systems and %d simulator clusters from %s",
                    len(systems),
                    len(clusters),
                    self.url,
                )
                self._backends = {s.name: QoroBackend(s, self) for s in systems}
                self._cluster_backends = {
                    c.name: QoroBackend(c, self, num_qubits=cluster_num_qubits(c, systems))
                    for c in clusters
                }
                self._clusters = clusters
                self._systems = systems
            return list(self._systems)

    def clusters(self) -> list[SimulatorCluster]:
        """The simulator clusters this token can target (none when the server has no
        ``simulatorcluster/`` endpoint); fetched and cached with :meth:`systems`."""
        self.systems()
        with self._lock:
            return list(self._clusters)

    def refresh(self) -> None:
        """Forget the cached system and cluster lists; the next call fetches them again."""
        with self._lock:
            self._systems = None

    def backends(
        self,
        name: str | None = None,
        *,
        simulator: bool | None = None,
        operational: bool | None = None,
        min_num_qubits: int | None = None,
        kind: str | None = None,
    ) -> list[QoroBackend]:
        """Backends matching every given filter: the systems in the server's order, then
        the simulator clusters (``kind``: ``"system"``, ``"cluster"``, or None for both)."""
        _check_kind(kind)
        self.systems()
        candidates = [
            *(self._backends.values() if kind != KIND_CLUSTER else ()),
            *(self._cluster_backends.values() if kind != KIND_SYSTEM else ()),
        ]
        out = []
        for backend in candidates:
            if name is not None and backend.name != name:
                continue
            if simulator is not None and backend.simulator != simulator:
                continue
            if operational is not None and backend.operational != operational:
                continue
            if min_num_qubits is not None and backend.num_qubits < min_num_qubits:
                continue
            out.append(backend)
        return out

    def get_backend(self, name: str, *, kind: str | None = None) -> QoroBackend:
        """The backend called ``name``; raises :class:`QoroBackendNotFoundError` listing the
        others.

        ``kind="system"`` or ``kind="cluster"`` looks among the QPU systems or the
        simulator clusters only; by default a system wins over a cluster of the same name.
        """
        _check_kind(kind)
        self.systems()
        backend = None
        if kind != KIND_CLUSTER:
            backend = self._backends.get(name)
        if backend is None and kind != KIND_SYSTEM:
            backend = self._cluster_backends.get(name)
        if backend is None:
            available = ", ".join(sorted(self._backends)) or "none"
            clusters = ", ".join(sorted(self._cluster_backends)) or "none"
            what = {KIND_SYSTEM: "system", KIND_CLUSTER: "simulator cluster"}.get(
                kind or "", "backend"
            )
            raise QoroBackendNotFoundError(
                f"No Qoro {what} named {name!r} at {self.url}. Available backends: {available}; "
                f"simulator clusters: {clusters}."
            )
        return backend

    def backend(self, name: str, *, kind: str | None = None) -> QoroBackend:
        """:meth:`get_backend`, as ``QiskitRuntimeService.backend`` spells it."""
        return self.get_backend(name, kind=kind)

    # --- credits ------------------------------------------------------------------

    def credits(self) -> CreditBalance:
        """The token's credit balance (``GET credits/``; amounts are exact decimals)."""
        return self._client.credit_balance()

    def credit_transactions(self, page: int = 1, page_size: int = 20) -> CreditTransactionsPage:
        """One page of the token's credit history, newest first as the server orders it
        (``page`` from 1, ``page_size`` up to 100)."""
        page = positive_int(page, "page")
        page_size = positive_int(page_size, "page_size")
        if page_size > CREDIT_PAGE_SIZE_MAX:
            raise QoroInputError(
                f"page_size={page_size} is more than the service's maximum of "
                f"{CREDIT_PAGE_SIZE_MAX} transactions per page: ask for at most "
                f"{CREDIT_PAGE_SIZE_MAX} and page on."
            )
        return self._client.credit_transactions(page, page_size)

    # --- jobs ---------------------------------------------------------------------

    def retrieve_job(self, job_id: str, *, kind: str | None = None) -> QoroJob | QoroPrimitiveJob:
        """Re-attach to an existing job by its Qoro id, from this or any other process.

        With a journal entry, the job comes back as it was submitted (a
        :class:`QoroJob` for ``backend.run`` jobs, whose ``result()`` equals the
        original one; a :class:`~qiskit_divi.primitives.QoroPrimitiveJob` for the
        primitives' calls, given any of their Qoro job ids). Without one,
        a :class:`QoroJob` whose result holds the counts per Qoro circuit label
        (:meth:`QoroJob.raw_results` also reads expectation values).

        ``kind`` (``"sampler"``, ``"estimator"``, ``"backend-run"``) requires the
        job to have been journaled as that kind, as ``SamplerV2.retrieve`` and
        ``EstimatorV2.retrieve`` do: a missing journal entry or another kind
        raises :class:`QoroJobError` saying what happened and what to do. An id
        the server does not know raises a ``QoroError`` naming it. An unreadable journal
        counts as a missing entry, with a warning naming the file.
        """
        job_id = str(job_id).strip()
        self._check_exists(job_id)
        entry, unreadable = self._journal_entry(job_id)
        if kind is not None and (entry is None or entry.kind != kind):
            raise QoroJobError(
                self._not_retrievable_as(job_id, kind, entry, unreadable), job_id=job_id
            )
        if entry is None:
            logger.info(
                "Job %s has no entry in the local journal (%s); its result holds the counts per "
                "Qoro circuit label.",
                job_id,
                self._journal.path or "journaling is off",
            )
            return QoroJob(None, job_id, provider=self)
        return self._job_from_entry(entry)

    def job(self, job_id: str) -> QoroJob | QoroPrimitiveJob:
        """Re-attach to any job by its Qoro id, whichever kind it is, as
        ``QiskitRuntimeService.job`` does: :meth:`retrieve_job` without ``kind``."""
        return self.retrieve_job(job_id)

    def jobs(
        self,
        limit: int = 20,
        backend: str | QoroBackend | None = None,
        status: JobStatus | str | None = None,
        kind: str | None = None,
        *,
        all_urls: bool = False,
    ) -> list[JobRecord]:
        """This machine's journaled jobs, newest first, each with a fresh status.

        Unlike ``QiskitRuntimeService.jobs()``, which lists job objects the service holds,
        this lists the local journal, where a job may be gone from the service (deleted,
        evicted, or run on an emulator that has stopped): each item is a
        :class:`~qiskit_divi.job_records.JobRecord` (job id, kind, backend, status,
        created, shots, circuits or PUBs) whose ``job`` is the job object
        :meth:`job` returns, None for a gone job, which is listed with
        ``qoro_status="NOT_FOUND"`` rather than raised.

        Args:
            limit: at most this many jobs, the newest; also the bound on the status
                requests (one per listed job; per Qoro job of a multi-job primitive call).
            backend: only jobs of this backend (a name or a backend).
            status: only jobs now in this Qiskit status (a ``JobStatus`` or its name),
                among the ``limit`` newest that match the other filters (raise ``limit`` to
                look further back: each candidate costs a status request).
            kind: ``"backend-run"``, ``"sampler"`` or ``"estimator"``.
            all_urls: also jobs journaled with other URLs (listed without a status), but
                never a loopback emulator's against a non-loopback service
                (:mod:`qiskit_divi.job_records` states the rule).
        """
        limit = positive_int(limit, "limit")
        wanted = parse_status(status)
        check_kind(kind)
        backend_name = backend.name if isinstance(backend, QoroBackend) else backend
        url = self.url

        def accept(entry: JournalEntry) -> bool:
            return is_listed(entry) and shown_against(entry.base_url, url, all_urls=all_urls)

        entries = self._journal.recent(limit, kind=kind, backend_name=backend_name, accept=accept)
        records = [self._record(entry) for entry in entries]
        if wanted is not None:
            records = [r for r in records if r.status is wanted]
        return records

    def _record(self, entry: JournalEntry) -> JobRecord:
        """The record of a listed entry; its status asked of the service when it is ours."""
        ids = qoro_job_ids(entry)
        status: JobStatus | None = None
        qoro_status: str | None = None
        job: QoroJob | QoroPrimitiveJob | None = None
        if same_url(entry.base_url, self.url):
            status, qoro_status = self._fresh_status(ids)
            if qoro_status != NOT_FOUND:
                try:
                    job = self._job_from_entry(entry)
                except QoroJobError as exc:  # e.g. a payload format of another version
                    logger.warning("Listing job %s without its job object: %s", entry.job_id, exc)
        shots, num_circuits, num_pubs = summary(entry)
        return JobRecord(
            job_id=entry.job_id,
            kind=entry.kind,
            backend_name=entry.backend_name,
            created=created_at(entry),
            status=status,
            qoro_status=qoro_status,
            shots=shots,
            num_circuits=num_circuits,
            num_pubs=num_pubs,
            base_url=entry.base_url,
            job_ids=ids,
            job=job,
        )

    def _fresh_status(self, job_ids: tuple[str, ...]) -> tuple[JobStatus | None, str]:
        """The combined Qiskit status of Qoro jobs and the text of the one that decides it
        (:data:`~qiskit_divi.job_records.NOT_FOUND` when any is gone)."""
        replies = []
        for job_id in job_ids:
            try:
                replies.append(self._client.job_status(job_id))
            except QoroNotFoundError:
                return None, NOT_FOUND
            except QoroAuthenticationError as exc:
                if exc.status_code != 403:  # 401: the token is wrong for every job
                    raise
                return None, NOT_FOUND  # another account's: not this token's job
        if len(replies) == 1:
            return map_status(replies[0]), replies[0].raw_status
        from .primitives.job import combine_status  # only multi-job calls need it

        statuses = [map_status(reply) for reply in replies]
        combined = combine_status(statuses)
        # The job in that status; a call with some jobs DONE and others QUEUED is RUNNING
        # with none running: then the first open job tells what the call waits for.
        matching = [r for r, s in zip(replies, statuses, strict=True) if s is combined]
        open_jobs = [r for r in replies if not r.is_final]
        return combined, (matching or open_jobs or replies)[0].raw_status

    def _check_exists(self, job_id: str) -> None:
        """Ask the service for the job's status; raise, naming the id, when it has no such job."""
        try:
            self._client.job_status(job_id)
        except QoroNotFoundError as exc:
            self._raise_if_wrong_url()
            raise QoroNotFoundError(
                exc.status_code,
                exc.server_message,
                method=exc.method,
                endpoint=exc.endpoint,
                hint=f"No job with id {job_id!r} exists at {self.url} (deleted jobs cannot be "
                "retrieved).",
            ) from None
        except QoroAuthenticationError as exc:
            if exc.status_code != 403:
                raise
            raise QoroAuthenticationError(
                exc.status_code,
                exc.server_message,
                method=exc.method,
                endpoint=exc.endpoint,
                hint=f"Job {job_id!r} does not exist at {self.url} or belongs to another account.",
            ) from None

    def _job_from_entry(self, entry: JournalEntry) -> QoroJob | QoroPrimitiveJob:
        """The job object of a journal entry, whichever kind wrote it (no server request but
        the cached system list): the one path of :meth:`retrieve_job` and :meth:`jobs`."""
        job_id = entry.job_id
        # The primitives are imported here, when needed: `import qiskit_divi.provider` stays light.
        if entry.kind == KIND_SAMPLER:
            from .primitives.sampler import retrieve_sampler_job

            return retrieve_sampler_job(self, entry)
        if entry.kind == KIND_ESTIMATOR:
            from .primitives.estimator import retrieve_estimator_job

            return retrieve_estimator_job(self, entry)
        if entry.kind != KIND_BACKEND_RUN:
            logger.warning(
                "Job %s was journaled as %r, which this version of qiskit_divi cannot rebuild; "
                "returning its raw counts.",
                job_id,
                entry.kind,
            )
            return QoroJob(
                self._backend_or_none(entry.backend_name),
                job_id,
                provider=self,
                backend_name=entry.backend_name,
            )
        return self._backend_run_job(entry)

    def _raise_if_wrong_url(self) -> None:
        """After a 404 on a job: if the system list 404s too, the URL is the problem, not the id."""
        try:
            self.systems()
        except QoroNotFoundError as exc:
            raise exc from None
        except QoroError:
            pass  # the URL answers something else: keep the job-id message

    def _journal_entry(self, job_id: str) -> tuple[JournalEntry | None, JournalError | None]:
        """The journal entry of ``job_id`` (or None), and the error when the journal is
        unreadable: a job the server knows stays retrievable without it."""
        try:
            return self._journal.lookup(job_id), None
        except JournalError as exc:
            logger.warning(
                "%s Retrieving job %s without its journal entry: its result holds the counts "
                "per Qoro circuit label.",
                exc,
                job_id,
            )
            return None, exc

    def _not_retrievable_as(
        self,
        job_id: str,
        kind: str,
        entry: JournalEntry | None,
        unreadable: JournalError | None = None,
    ) -> str:
        """Why ``job_id`` cannot be rebuilt as a ``kind`` job, and what to do instead."""
        wanted = _SUBMITTERS.get(kind, f"a {kind!r} job")
        if entry is not None:
            actual = _SUBMITTERS.get(entry.kind, f"a {entry.kind!r} job")
            how = _RETRIEVE_WITH.get(entry.kind, "provider.retrieve_job({id!r})").format(id=job_id)
            return (
                f"Job {job_id} was submitted by {actual}, not by {wanted}: retrieve it with {how}."
            )
        path = self._journal.path
        where = (
            f"its entry in the local job journal cannot be read ({unreadable})"
            if unreadable is not None
            else f"the local job journal ({path}) has no entry for it"
            if path is not None
            else f"journaling is off ({JOURNAL_ENV}={os.environ.get(JOURNAL_ENV, '')!r}), so "
            "there is no entry for it"
        )
        return (
            f"Job {job_id} exists at {self.url}, but {where}, and {wanted}'s result cannot be "
            f"rebuilt without it ({_JOURNALED.get(kind, 'what the result needs')} are stored only "
            f"there). Either the job was submitted from another machine or with another "
            f"{JOURNAL_ENV}, or its entry was deleted. To rebuild it, set {JOURNAL_ENV} to the "
            f"journal file (or a copy) of the process that submitted it. Its raw results per Qoro "
            f"circuit label (counts, or expectation values per Pauli term) can still be read: "
            f"provider.retrieve_job({job_id!r}).raw_results()."
        )

    def _backend_or_none(self, name: str, kind: str | None = None) -> QoroBackend | None:
        try:
            return self.get_backend(name, kind=kind)
        except QoroBackendNotFoundError:
            logger.info("Backend %r of a retrieved job is not available at %s.", name, self.url)
            return None

    def _backend_run_job(self, entry: JournalEntry) -> QoroJob:
        payload = entry.payload
        kind = KIND_CLUSTER if payload.get("cluster") else None
        backend = self._backend_or_none(entry.backend_name, kind)
        options = backend.options if backend is not None else None
        return QoroJob(
            backend,
            entry.job_id,
            provider=self,
            circuits=payload.get("circuits"),
            shots=payload.get("shots"),
            backend_name=entry.backend_name,
            progress=bool(options.progress) if options is not None else True,
            timeout=options.timeout if options is not None else None,
        )
