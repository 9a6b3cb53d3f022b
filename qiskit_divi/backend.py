"""``QoroBackend``: one Qoro system, or one simulator cluster, as a Qiskit ``BackendV2``.

``run`` validates every circuit against the backend's :class:`~qiskit.transpiler.Target`
first (nothing is sent for a bad input), writes it as OpenQASM 2 on one quantum and
one classical register (the statements ``qasm2.dumps`` would write, by
:mod:`qiskit_divi._qasm`) and submits ONE Qoro job: ``SIMULATE`` on
simulators, ``EXECUTE`` on QPU systems, uploaded in chunks as the API requires.
The job is journaled locally so another process can rebuild its result.

A backend built from a :class:`~qiskit_divi.api.models.SimulatorCluster`
(``is_cluster``) is a noiseless simulator that also runs EXPECTATION jobs; its jobs
name it in ``simulator_cluster`` rather than ``qpu_system_name`` (``qoro-api.md`` 3.4).

Options (``backend.options``, overridable per ``run``):

==================  ===============  ==========================================
option              default          meaning
==================  ===============  ==========================================
``shots``           1024             shots per circuit (as qiskit-aer)
``timeout``         None             seconds ``job.result()`` waits before
                                     raising a ``JobTimeoutError`` (None: no
                                     limit)
``progress``        True             live display on stderr while a job is
                                     not final, and an INFO log line per
                                     status change (:mod:`.progress`)
``tag``             "qiskit_divi"    the Qoro job ``tag``
``memory``          False            only False: the service returns
                                     histograms, not per-shot memory
``seed_simulator``  None             only None: the Qoro API takes no seed
==================  ===============  ==========================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target

from ._circuits import as_circuit_list, prepare_circuits
from ._version import __version__
from .api.errors import QoroInputError
from .api.models import JobType, QPUSystem, SimulatorCluster
from .api.submission import JobSpec, submit_job
from .api.validation import non_empty_str, optional_positive_seconds, positive_int
from .job import QoroJob
from .journal import KIND_BACKEND_RUN, record_quietly
from .target import (
    FALLBACK_SIMULATOR_QUBITS,
    SIMULATOR_KIND,
    build_cluster_target,
    build_target,
    is_operational,
    is_simulator,
    system_kind,
    system_num_qubits,
)

if TYPE_CHECKING:
    from .provider import QoroProvider

logger = logging.getLogger(__name__)

PAYLOAD_FORMAT = 1
"""Version of the ``backend-run`` journal payload."""


class QoroBackend(BackendV2):
    """A Qoro system (simulator or QPU), or a simulator cluster, as a Qiskit backend.

    Built by :class:`~qiskit_divi.QoroProvider`; cheap to construct (the
    ``Target`` is built on first use, nothing touches the network). A cluster
    carries no qubit count on the wire: ``num_qubits`` gives its width (the
    provider passes :func:`~qiskit_divi.target.cluster_num_qubits`).
    """

    def __init__(
        self,
        system: QPUSystem | SimulatorCluster,
        provider: QoroProvider,
        *,
        num_qubits: int | None = None,
    ) -> None:
        if isinstance(system, SimulatorCluster):
            kind = SIMULATOR_KIND
            description = f"Qoro simulator cluster '{system.name}'"
            width = FALLBACK_SIMULATOR_QUBITS if num_qubits is None else num_qubits
        else:
            kind = system_kind(system)
            description = f"Qoro {kind} system '{system.name}'"
            width = system_num_qubits(system)
        super().__init__(
            provider=provider,
            name=system.name,
            description=description,
            backend_version=__version__,
        )
        self._system = system
        self._kind = kind
        self._num_qubits = width
        self._target: Target | None = None

    # --- description --------------------------------------------------------------

    def __repr__(self) -> str:
        if self.is_cluster:
            kind = "simulator cluster"
        else:
            kind = "simulator" if self.simulator else self._kind
        return f"<QoroBackend('{self.name}', {self.num_qubits} qubits, {kind})>"

    @property
    def system(self) -> QPUSystem | SimulatorCluster:
        """The wire-level description: the :class:`QPUSystem`, or the
        :class:`SimulatorCluster` of a cluster backend."""
        return self._system

    @property
    def is_cluster(self) -> bool:
        """Whether this is a simulator cluster (jobs carry ``simulator_cluster``); pass it
        as ``JobSpec(cluster=...)``."""
        return isinstance(self._system, SimulatorCluster)

    @property
    def system_kind(self) -> str:
        """Row of the native gate table in :mod:`qiskit_divi.target` (``simulator``,
        ``trapped_ion``, ...)."""
        return self._kind

    @property
    def simulator(self) -> bool:
        """Whether the system is a simulator (jobs run as SIMULATE, noiselessly); every
        cluster is."""
        return isinstance(self._system, SimulatorCluster) or is_simulator(self._system)

    @property
    def operational(self) -> bool:
        """Whether at least one of the system's QPUs reports an operational status; a
        cluster reports no status, so a listed cluster counts as operational."""
        if isinstance(self._system, SimulatorCluster):
            return True
        return is_operational(self._system)

    @property
    def supports_expval(self) -> bool:
        """Whether the system runs EXPECTATION jobs (the server's field wins, else by name;
        clusters do, ``qoro-api.md`` 3.3)."""
        return self._system.supports_expval

    @property
    def job_type(self) -> JobType:
        """Qoro job type of ``run``: SIMULATE on simulators, EXECUTE on QPU systems."""
        return JobType.SIMULATE if self.simulator else JobType.EXECUTE

    @property
    def num_qubits(self) -> int:
        return self._num_qubits

    @property
    def target(self) -> Target:
        if self._target is None:
            system = self._system
            self._target = (
                build_cluster_target(system, self._num_qubits)
                if isinstance(system, SimulatorCluster)
                else build_target(system)
            )
        return self._target

    @property
    def max_circuits(self) -> None:
        """No limit: large batches are uploaded in several chunks of one job."""
        return None

    @classmethod
    def _default_options(cls) -> Options:
        return Options(
            shots=1024,
            timeout=None,
            progress=True,
            tag="qiskit_divi",
            memory=False,
            seed_simulator=None,
        )

    # --- running ------------------------------------------------------------------

    def _run_options(self, shots: Any, options: dict[str, Any]) -> dict[str, Any]:
        known = set(self.options.__dict__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise QoroInputError(
                f"Unknown run option(s) {', '.join(map(repr, unknown))} for backend '{self.name}'. "
                f"Valid options: {', '.join(sorted(known))}."
            )
        merged = {**self.options.__dict__, **options}
        if shots is not None:
            merged["shots"] = shots
        merged["shots"] = positive_int(merged["shots"], "shots")
        merged["timeout"] = optional_positive_seconds(merged["timeout"], "timeout")
        merged["tag"] = non_empty_str(merged["tag"], "tag")
        if merged["memory"]:
            raise QoroInputError(
                "memory=True (per-shot results) is not available: the Qoro service returns "
                "histograms. Use counts (result.get_counts()) or qiskit_divi.SamplerV2."
            )
        if merged["seed_simulator"] is not None:
            raise QoroInputError(
                "seed_simulator is not supported: the Qoro API does not take a simulator seed."
            )
        return merged

    def job_spec(
        self, circuits: Mapping[str, str], *, job_type: JobType | None = None, **fields: Any
    ) -> JobSpec:
        """A :class:`~qiskit_divi.api.submission.JobSpec` of ``circuits`` aimed at this
        backend (its system or cluster); ``job_type`` defaults to :attr:`job_type`, the other
        ``fields`` are JobSpec's."""
        return JobSpec(
            system_name=self.name,
            job_type=job_type or self.job_type,
            circuits=circuits,
            cluster=self.is_cluster,
            **fields,
        )

    def run(
        self,
        circuits: QuantumCircuit | Sequence[QuantumCircuit],
        shots: int | None = None,
        **options: Any,
    ) -> QoroJob:
        """Run circuits as ONE Qoro job and return its :class:`QoroJob` at once.

        Everything is validated before any request: the options (unknown ones,
        ``shots`` not a positive int -> ``ValueError``), every circuit's width,
        instructions (run ``transpile(circuit, backend)`` first), bound
        parameters and classical bits -> :class:`QoroInputError` (a
        ``QoroError`` and a ``ValueError``).
        """
        merged = self._run_options(shots, options)
        circuit_list = as_circuit_list(circuits)
        prepared = prepare_circuits(circuit_list, self.target, self.name)
        spec = self.job_spec(
            {p.label: p.qasm for p in prepared}, shots=merged["shots"], tag=merged["tag"]
        )
        provider = self.provider
        job_id = submit_job(provider.client, spec)
        headers = [p.header for p in prepared]
        payload: dict[str, Any] = {
            "format": PAYLOAD_FORMAT,
            "job_type": spec.job_type.value,
            "shots": spec.shots,
            "circuits": headers,
        }
        if self.is_cluster:
            # Only for clusters, so system payloads stay as before; the name alone is
            # ambiguous when a system and a cluster share it.
            payload["cluster"] = True
        record_quietly(
            provider.journal, job_id, KIND_BACKEND_RUN, self.name, payload, base_url=provider.url
        )
        return QoroJob(
            self,
            job_id,
            provider=provider,
            circuits=headers,
            shots=spec.shots,
            progress=bool(merged["progress"]),
            timeout=merged["timeout"],
        )
