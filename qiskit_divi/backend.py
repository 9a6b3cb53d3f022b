"""``QoroBackend``: one Qoro system as a Qiskit ``BackendV2``.

``run`` validates every circuit against the backend's :class:`~qiskit.transpiler.Target`
first (nothing is sent for a bad input), writes it as OpenQASM 2 on one quantum and
one classical register (the statements ``qasm2.dumps`` would write, by
:mod:`qiskit_divi._qasm`) and submits ONE Qoro job: ``SIMULATE`` on
simulators, ``EXECUTE`` on QPU systems, uploaded in chunks as the API requires.
The job is journaled locally so another process can rebuild its result.

Options (``backend.options``, overridable per ``run``):

==================  ===============  ==========================================
option              default          meaning
==================  ===============  ==========================================
``shots``           1024             shots per circuit (as qiskit-aer)
``timeout``         None             seconds ``job.result()`` waits before
                                     raising a ``JobTimeoutError`` (None: no
                                     limit)
``progress``        True             INFO log line per job status change
``tag``             "qiskit_divi"    the Qoro job ``tag``
``memory``          False            only False: the service returns
                                     histograms, not per-shot memory
``seed_simulator``  None             only None: the Qoro API takes no seed
==================  ===============  ==========================================
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target

from ._circuits import as_circuit_list, prepare_circuits
from ._version import __version__
from .api.errors import QoroInputError
from .api.models import JobType, QPUSystem
from .api.submission import JobSpec, submit_job
from .api.validation import non_empty_str, optional_positive_seconds, positive_int
from .job import QoroJob
from .journal import KIND_BACKEND_RUN, record_quietly
from .target import build_target, is_operational, is_simulator, system_kind, system_num_qubits

if TYPE_CHECKING:
    from .provider import QoroProvider

logger = logging.getLogger(__name__)

PAYLOAD_FORMAT = 1
"""Version of the ``backend-run`` journal payload."""


class QoroBackend(BackendV2):
    """A Qoro system (simulator or QPU) as a Qiskit backend.

    Built by :class:`~qiskit_divi.QoroProvider`; cheap to construct (the
    ``Target`` is built on first use, nothing touches the network).
    """

    def __init__(self, system: QPUSystem, provider: QoroProvider) -> None:
        kind = system_kind(system)
        super().__init__(
            provider=provider,
            name=system.name,
            description=f"Qoro {kind} system '{system.name}'",
            backend_version=__version__,
        )
        self._system = system
        self._kind = kind
        self._target: Target | None = None

    # --- description --------------------------------------------------------------

    def __repr__(self) -> str:
        kind = "simulator" if self.simulator else self._kind
        return f"<QoroBackend('{self.name}', {self.num_qubits} qubits, {kind})>"

    @property
    def system(self) -> QPUSystem:
        """The wire-level description of the system."""
        return self._system

    @property
    def system_kind(self) -> str:
        """Row of the native gate table in :mod:`qiskit_divi.target` (``simulator``,
        ``trapped_ion``, ...)."""
        return self._kind

    @property
    def simulator(self) -> bool:
        """Whether the system is a simulator (jobs run as SIMULATE, noiselessly)."""
        return is_simulator(self._system)

    @property
    def operational(self) -> bool:
        """Whether at least one of the system's QPUs reports an operational status."""
        return is_operational(self._system)

    @property
    def supports_expval(self) -> bool:
        """Whether the system runs EXPECTATION jobs (the server's field wins, else by name)."""
        return self._system.supports_expval

    @property
    def job_type(self) -> JobType:
        """Qoro job type of ``run``: SIMULATE on simulators, EXECUTE on QPU systems."""
        return JobType.SIMULATE if self.simulator else JobType.EXECUTE

    @property
    def num_qubits(self) -> int:
        return system_num_qubits(self._system)

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = build_target(self._system)
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
        spec = JobSpec(
            system_name=self.name,
            job_type=self.job_type,
            circuits={p.label: p.qasm for p in prepared},
            shots=merged["shots"],
            tag=merged["tag"],
        )
        provider = self.provider
        job_id = submit_job(provider.client, spec)
        headers = [p.header for p in prepared]
        record_quietly(
            provider.journal,
            job_id,
            KIND_BACKEND_RUN,
            self.name,
            {
                "format": PAYLOAD_FORMAT,
                "job_type": spec.job_type.value,
                "shots": spec.shots,
                "circuits": headers,
            },
            base_url=provider.url,
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
