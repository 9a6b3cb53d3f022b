"""Emulator settings (fault settings live in :mod:`.faults`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..api.validation import (
    boolean,
    non_negative_int,
    non_negative_seconds,
    positive_int,
    positive_seconds,
)
from .accounts import credit_amount
from .systems import (
    DEFAULT_CLUSTERS,
    DEFAULT_SYSTEMS,
    ClusterSpec,
    Engine,
    SystemSpec,
    resolve_engine,
    systems_for_engine,
)

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
"""2 MiB. The reference client packs ``add_circuits`` bodies to ~0.95 MiB but sends a
single over-budget circuit alone and does not count the ``observables`` string, so
the limit leaves headroom above its budget. Larger bodies get ``413``."""
DEFAULT_MAX_CIRCUIT_BYTES = 8 * 1024 * 1024
"""8 MiB of QASM text per inflated circuit (tens of thousands of gates); more gets ``413``."""
DEFAULT_MAX_JOB_CIRCUIT_BYTES = 128 * 1024 * 1024
"""128 MiB of inflated QASM text per job, over all its ``add_circuits`` chunks."""
DEFAULT_MAX_CLBITS = 1024
"""Classical bits per circuit; a larger total of ``creg`` sizes gets ``400`` before parsing."""
DEFAULT_MAX_OBSERVABLE_BYTES = 16 * 1024 * 1024
"""16 MiB: bound on an inflated ``@gzs`` payload and on the dense terms it expands to."""
DEFAULT_MAX_JOB_MEMORY_BYTES = 4 * 1024**3
"""4 GiB: enough for an EXPECTATION job on 24 qubits (about 1.7 GiB)."""


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated service behaves.

    ``min_job_seconds``: a finalised job stays non-terminal at least this long.
    ``seed``: seeds the transpiler and ``seed_simulator`` of every Aer run, and Maestro's
    sampler (circuit ``i`` of a job: ``seed + i``) (``None``: fresh randomness).
    ``max_shots``: larger ``shots`` get ``400``.
    ``max_body_bytes``: larger request bodies get ``413``. ``default_page_size``
    and ``max_page_size`` bound ``resultsV2``'s ``limit``. ``idempotency``: honour
    ``Idempotency-Key`` and advertise it (:mod:`.idempotency`); False behaves like
    a server without that support. Keys live ``idempotency_ttl_seconds``, at most
    ``idempotency_max_keys`` of them.

    Uploads are bounded before they cost memory: a gzip'd circuit stops inflating at
    ``max_circuit_bytes`` of text, a job's circuits at ``max_job_circuit_bytes`` in total
    (both ``413``); register sizes are read before parsing, and more qubits than the
    system has or more than ``max_clbits`` classical bits get ``400``. An ``@gzs``
    observable must not declare more qubits than the system has, and neither its inflated
    payload nor its dense terms may exceed ``max_observable_bytes`` (``400``).

    Work and state are bounded too. ``max_job_memory_bytes``: a job whose estimated peak
    memory (:func:`~.systems.job_memory_estimate`: the statevector of its widest circuit
    and the working set around it, plus its histograms) exceeds it gets ``400`` at
    ``add_circuits``. ``isolate_jobs``: simulate in a child process so the HTTP threads
    always answer (Aer holds the GIL while it runs; see :mod:`.worker`); False runs jobs
    in a thread of the server's process. ``max_open_jobs_per_token`` open (not
    finalised) jobs per token and ``max_jobs`` jobs in all; terminal jobs are dropped
    ``job_retention_seconds`` after they ended, the oldest first when ``max_jobs`` is
    reached. Over a limit ``job/init/`` answers ``429`` with ``Retry-After``.

    Accounts and deadlines. ``credits``: each token's starting balance (a decimal amount;
    ``None``: unlimited), charged by the rule of :mod:`.accounts`; a finalised job that
    would exceed it ends ``INSUFFICIENT_CREDITS``. ``max_job_seconds``: a job simulating
    longer ends ``TIMED_OUT`` (its child process is killed; ``None``: no limit; a job's own
    ``execution_configuration.api_meta.max_execution_time`` may lower it).
    ``report_scheduled``: finalised jobs are reported ``SCHEDULED`` for a third of
    ``min_job_seconds`` before ``RUNNING``; False keeps them ``PENDING`` until they run,
    for clients that know only the five v0.6.1 statuses. ``clusters``: the simulator
    clusters of ``GET simulatorcluster/``, each simulating like one of ``systems``.

    ``engine``: what simulates the noiseless systems (``qoro_maestro``): ``"aer"``,
    ``"maestro"`` (Qoro's Maestro, the ``maestro`` extra; statevector, matrix-product state
    above its limit, so the system lists :data:`~.systems.MAESTRO_Q_BITS` qubits) or
    ``"auto"``: Maestro when installed, else Aer. ``"maestro"`` without the extra raises
    :class:`~qiskit_divi.exceptions.QoroConfigurationError`. ``resolved_engine`` says which
    one runs, and ``systems`` holds the systems as they run (see
    :func:`~.systems.systems_for_engine`).
    """

    min_job_seconds: float = 0.1
    seed: int | None = None
    max_shots: int = 1_000_000
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    default_page_size: int = 100
    max_page_size: int = 1000
    systems: tuple[SystemSpec, ...] = DEFAULT_SYSTEMS
    idempotency: bool = True
    idempotency_ttl_seconds: float = 86_400.0
    idempotency_max_keys: int = 10_000
    max_circuit_bytes: int = DEFAULT_MAX_CIRCUIT_BYTES
    max_job_circuit_bytes: int = DEFAULT_MAX_JOB_CIRCUIT_BYTES
    max_clbits: int = DEFAULT_MAX_CLBITS
    max_observable_bytes: int = DEFAULT_MAX_OBSERVABLE_BYTES
    max_job_memory_bytes: int = DEFAULT_MAX_JOB_MEMORY_BYTES
    isolate_jobs: bool = True
    max_open_jobs_per_token: int = 1000
    max_jobs: int = 10_000
    job_retention_seconds: float = 86_400.0
    credits: Decimal | int | float | str | None = None
    max_job_seconds: float | None = None
    report_scheduled: bool = True
    clusters: tuple[ClusterSpec, ...] = DEFAULT_CLUSTERS
    engine: str = "auto"
    resolved_engine: Engine = field(init=False, compare=False, default="aer")

    def __post_init__(self) -> None:
        # Canonical types (a numpy integer becomes an int) so the frozen values compare and
        # serialise as plain Python numbers.
        canonical: dict[str, object] = {
            "min_job_seconds": non_negative_seconds(
                self.min_job_seconds, "min_job_seconds", error=ValueError
            ),
            "seed": None
            if self.seed is None
            else non_negative_int(self.seed, "seed (None: fresh randomness)", error=ValueError),
            "idempotency": boolean(self.idempotency, "idempotency", error=ValueError),
            "idempotency_ttl_seconds": positive_seconds(
                self.idempotency_ttl_seconds, "idempotency_ttl_seconds", error=ValueError
            ),
        }
        for name in (
            "max_shots",
            "max_body_bytes",
            "default_page_size",
            "max_page_size",
            "idempotency_max_keys",
        ):
            canonical[name] = positive_int(getattr(self, name), name, error=ValueError)
        for name in (
            "max_circuit_bytes",
            "max_job_circuit_bytes",
            "max_clbits",
            "max_observable_bytes",
        ):
            canonical[name] = positive_int(getattr(self, name), name, error=ValueError)
        for name in ("max_job_memory_bytes", "max_open_jobs_per_token", "max_jobs"):
            canonical[name] = positive_int(getattr(self, name), name, error=ValueError)
        canonical["isolate_jobs"] = boolean(self.isolate_jobs, "isolate_jobs", error=ValueError)
        canonical["job_retention_seconds"] = positive_seconds(
            self.job_retention_seconds, "job_retention_seconds", error=ValueError
        )
        canonical["credits"] = None if self.credits is None else credit_amount(self.credits)
        canonical["max_job_seconds"] = (
            None
            if self.max_job_seconds is None
            else positive_seconds(
                self.max_job_seconds, "max_job_seconds (None: no limit)", error=ValueError
            )
        )
        canonical["report_scheduled"] = boolean(
            self.report_scheduled, "report_scheduled", error=ValueError
        )
        for name, value in canonical.items():
            object.__setattr__(self, name, value)
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"default_page_size ({self.default_page_size}) must not exceed max_page_size "
                f"({self.max_page_size})."
            )
        resolved = resolve_engine(self.engine)
        object.__setattr__(self, "resolved_engine", resolved)
        object.__setattr__(self, "systems", systems_for_engine(tuple(self.systems), resolved))
        if not self.systems:
            raise ValueError("At least one system is required (the default is DEFAULT_SYSTEMS).")
        object.__setattr__(self, "clusters", tuple(self.clusters))
        system_names = {s.name for s in self.systems}
        cluster_names = [c.name for c in self.clusters]
        if len(set(cluster_names)) != len(cluster_names):
            raise ValueError(f"Duplicate cluster names in {cluster_names}.")
        for cluster in self.clusters:
            if cluster.system not in system_names:
                raise ValueError(
                    f"Cluster {cluster.name!r} simulates like system {cluster.system!r}, which "
                    f"is not among the systems {sorted(system_names)}."
                )
