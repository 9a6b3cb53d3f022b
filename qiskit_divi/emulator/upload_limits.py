"""The size and memory limits of ``add_circuits`` uploads (``413`` and ``400`` answers).

:class:`JobLimits` inflates packed circuits in a bounded stream, keeps the inflated
QASM bytes of each open job for ``max_job_circuit_bytes``, and checks a job's estimated
memory against ``max_job_memory_bytes`` before it takes a chunk.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from functools import partial

from qiskit_divi.api.circuits import unpack_circuit
from qiskit_divi.api.models import JobType

from .._qasm.scan import RegisterSizes
from .circuits import JobCircuit
from .config import EmulatorConfig
from .http_api import ApiError, bad_request
from .state import Job
from .systems import SystemCatalogue, job_memory_estimate
from .templates import CircuitTemplate, ParameterSet


def circuit_too_large(label: str, limit: int) -> ApiError:
    return ApiError(
        413,
        {
            "error": f"Circuit '{label}' inflates to more than {limit:,} bytes of QASM, the "
            "per-circuit limit (EmulatorConfig.max_circuit_bytes). Send smaller circuits."
        },
    )


def job_too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        {
            "error": f"The job's circuits inflate to more than {limit:,} bytes of QASM, the "
            "per-job limit (EmulatorConfig.max_job_circuit_bytes). Split them over several jobs."
        },
    )


class JobLimits:
    """The limits of :class:`~.config.EmulatorConfig` applied to one upload after another."""

    def __init__(self, config: EmulatorConfig, catalogue: SystemCatalogue):
        self.config = config
        self._catalogue = catalogue
        self._inflated: dict[str, int] = {}
        """Inflated QASM bytes per open job, for ``max_job_circuit_bytes``."""

    def room(self, job: Job) -> int:
        """The inflated QASM bytes ``job`` may still take."""
        return self.config.max_job_circuit_bytes - self._inflated.get(job.id, 0)

    def unpack(self, label: str, packed: str, room: int) -> str:
        """The QASM text of one packed circuit, its inflate stopped at ``max_circuit_bytes``
        or at the ``room`` left in the job (``413``)."""
        config = self.config
        too_large: Callable[[int], Exception] = (
            partial(circuit_too_large, label)
            if room >= config.max_circuit_bytes
            else lambda _: job_too_large(config.max_job_circuit_bytes)
        )
        try:
            return unpack_circuit(
                packed, max_bytes=max(min(config.max_circuit_bytes, room), 0), too_large=too_large
            )
        except ValueError as exc:
            raise bad_request(f"Circuit '{label}' is not base64-gzip UTF-8 text: {exc}") from None

    def check_inflated(self, job: Job, inflated: int) -> None:
        """``413`` when the chunk's inflated bytes would take the job over
        ``max_job_circuit_bytes``. Runs under the store's lock, with :meth:`count_inflated`,
        so chunks sent at once cannot exceed the limit together."""
        if self._inflated.get(job.id, 0) + inflated > self.config.max_job_circuit_bytes:
            raise job_too_large(self.config.max_job_circuit_bytes)

    def count_inflated(self, job: Job, inflated: int, finalized: bool) -> None:
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

    def check_template_floor(
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
            raise circuit_too_large("bound from 'circuit_template'", config.max_circuit_bytes)
        if floor * n_sets > job_left:
            raise job_too_large(config.max_job_circuit_bytes)
        shots = shots if shots is not None else job.shots
        total = job.n_circuits + n_sets
        self.check_budget(job, sizes.num_qubits, sizes.num_clbits, shots, total)

    def check_bound_sizes(
        self, template: CircuitTemplate, sets: Sequence[ParameterSet], job_left: int
    ) -> int:
        """The inflated bytes of the circuits ``sets`` bind ``template`` to, computed without
        binding; ``413`` over ``max_circuit_bytes`` or the ``job_left`` bytes of the job."""
        limit = self.config.max_circuit_bytes
        inflated = 0
        for item in sets:
            size = template.bound_bytes(item.texts)
            if size > limit:
                raise circuit_too_large(item.label, limit)
            inflated += size
            if inflated > job_left:
                raise job_too_large(self.config.max_job_circuit_bytes)
        return inflated

    def check_memory(
        self, job: Job, parsed: Sequence[tuple[str, JobCircuit]], shots: int | None, total: int
    ) -> None:
        """``400`` when the job with this chunk would exceed ``max_job_memory_bytes``; else
        record the chunk's widths on the job (the store's lock is held). ``shots``: the most
        any circuit of the job takes."""
        qubits = max([circuit.num_qubits for _, circuit in parsed], default=0)
        clbits = max([circuit.num_clbits for _, circuit in parsed], default=0)
        self.check_budget(job, qubits, clbits, shots, total)
        job.max_qubits, job.max_clbits = max(job.max_qubits, qubits), max(job.max_clbits, clbits)

    def check_budget(
        self, job: Job, num_qubits: int, num_clbits: int, shots: int | None, total: int
    ) -> None:
        """``400`` when the job with ``total`` circuits, the widest of ``num_qubits`` qubits
        and ``num_clbits`` clbits (or the job's earlier ones), would exceed
        ``max_job_memory_bytes`` (:func:`~.systems.job_memory_estimate`)."""
        qubits, clbits = max(job.max_qubits, num_qubits), max(job.max_clbits, num_clbits)
        budget = self.config.max_job_memory_bytes
        system = self._catalogue.get(job.system or "")
        engine = system.engine if system is not None else None

        def estimate(n_circuits: int) -> int:
            return job_memory_estimate(
                expectation=job.job_type is JobType.EXPECTATION,
                num_qubits=qubits,
                num_clbits=clbits,
                n_circuits=n_circuits,
                shots=shots,
                engine=engine,
            )

        needed = estimate(total)
        if needed <= budget:
            return
        per_circuit = estimate(1)
        fits = budget // per_circuit if per_circuit <= budget else 0
        advice = (
            f"split it into jobs of at most {fits} circuits, or use fewer shots"
            if fits
            else "use circuits of fewer qubits (or fewer shots)"
        )
        raise bad_request(
            f"This job needs an estimated {needed / 2**20:,.0f} MiB to run ({total} "
            f"circuits of up to {qubits} qubits), over the emulator's memory budget of "
            f"{budget / 2**20:,.0f} MiB (EmulatorConfig.max_job_memory_bytes, "
            f"--max-job-memory-mb): {advice}."
        )
