"""``SamplerV2``: Qiskit's sampler primitive on a Qoro backend.

.. code-block:: python

    sampler = SamplerV2(mode=backend)                # backend = provider.get_backend(...)
    result = sampler.run([(isa_circuit, parameter_values)], shots=1000).result()
    result[0].data.meas.get_counts()

How a call travels:

* Every PUB is coerced as Qiskit does (circuits, ``(circuit, params)``,
  ``(circuit, params, shots)``) and checked against the backend's target before
  anything is sent (non-ISA input raises :class:`QoroInputError`).
* Each parameter binding is one circuit labelled ``p<pub>_<flat index>`` (C order
  over the PUB's shape), its classical bits flattened into one register ``c``
  (``c[i]`` is the circuit's ``clbits[i]``). With the ``templates`` option (the
  default) a parametric PUB travels as ONE circuit template whose parameter sets
  carry those labels, and the server binds it; a circuit the template writer
  cannot express, and ``templates=False``, send one bound circuit per binding.
* All circuits with the same shots travel as ONE Qoro job (uploaded in chunks
  as the API requires), whose id is ``job.job_id()``. PUBs with different shot
  counts are still one job, with ``shot_groups`` (bound circuits), unless one job
  per shots value in template form is estimated to upload fewer bytes: the rule is
  in :mod:`qiskit_divi.primitives._batches`. Statistics are never altered by
  subsampling.
* Counts come back as histograms; each is expanded into shots (outcomes in
  ascending order) and split into one :class:`~qiskit.primitives.BitArray` per
  classical register, named as the register, with the PUB's shape. Bits of one
  shot stay together across registers.
* A PUB whose registers hold no bits (no classical register at all warns, as
  Qiskit's samplers do) has nothing to measure: it is not sent, and its data
  are empty (zero-width arrays for its empty registers). A call made only of
  such PUBs still sends one job, of one one-shot circuit labelled
  ``placeholder``, so that every call has a Qoro job id.

The journal payload (kind ``sampler``) is a
:class:`~qiskit_divi.primitives.payloads.SamplerPayload`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2, BitArray, DataBin, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike

from .._circuits import json_safe, to_qasm
from ..api.errors import QoroInputError
from ..api.submission import JobSpec
from ..api.validation import positive_int
from ..journal import KIND_SAMPLER
from ._batches import Batch, JobForm, job_specs, plan_jobs
from ._common import (
    check_isa,
    check_mode,
    check_pubs,
    check_total_shots,
    outcome_bits,
    retrieve_as,
)
from .job import QoroPrimitiveJob, RawResults, journal_call, rebuild_job, submit_call
from .options import SamplerOptions, coerce_options
from .payloads import QoroJobRef, SamplerPayload, SamplerPubPlan, pub_label

if TYPE_CHECKING:
    from ..backend import QoroBackend
    from ..journal import JournalEntry
    from ..provider import QoroProvider

logger = logging.getLogger(__name__)

PLACEHOLDER_LABEL = "placeholder"
"""Label of the one circuit sent for a call whose PUBs have nothing to measure."""


@dataclass(frozen=True)
class SamplerPlan:
    """What a sampler call sends (its :class:`JobSpec` objects, usually one) and the plan of
    each PUB."""

    specs: tuple[JobSpec, ...]
    pubs: tuple[SamplerPubPlan, ...]
    circuit_metadata: tuple[Any, ...] = ()
    """Each PUB's circuit metadata as given (the journal keeps the JSON-safe part only)."""

    def payload(self, job_ids: Sequence[str]) -> SamplerPayload:
        """The journal payload once the jobs of :attr:`specs` have ``job_ids``."""
        jobs = tuple(
            QoroJobRef(job_id, spec.shots) for job_id, spec in zip(job_ids, self.specs, strict=True)
        )
        return SamplerPayload(jobs=jobs, pubs=self.pubs)


class SamplerV2(BaseSamplerV2):
    """Qiskit's ``BaseSamplerV2`` on a Qoro backend, constructed like qiskit-ibm-runtime's.

    Args:
        mode: the :class:`~qiskit_divi.QoroBackend` to run on.
        options: ``None``, a dict or :class:`SamplerOptions` (``default_shots``
            1024, ``timeout``, ``progress``, ``tag``, ``templates``). There is no
            seed: the Qoro API takes none.
    """

    def __init__(
        self, mode: QoroBackend, options: SamplerOptions | Mapping[str, Any] | None = None
    ) -> None:
        self._backend = check_mode(mode, "SamplerV2")
        self._options = coerce_options(SamplerOptions, options)

    def __repr__(self) -> str:
        return f"<SamplerV2(mode={self._backend!r})>"

    @property
    def mode(self) -> QoroBackend:
        return self._backend

    @property
    def backend(self) -> QoroBackend:
        return self._backend

    @property
    def options(self) -> SamplerOptions:
        """The live options (mutable; checked on assignment and again at every ``run``)."""
        return self._options

    def run(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> QoroPrimitiveJob:
        """Submit the PUBs (usually as one Qoro job) and return the job at once.

        Everything is checked before any request; invalid input raises
        :class:`QoroInputError` (a ``ValueError``) and creates no job.
        """
        plan = self._plan(pubs, shots, stacklevel=3)
        if len(plan.specs) > 1:
            logger.info(
                "Sampler call with %d distinct shot counts: submitting %d Qoro jobs "
                "(templates, estimated cheaper than one job with shot groups).",
                len(plan.specs),
                len(plan.specs),
            )
        backend, options = self._backend, self._options
        provider = backend.provider
        payload = plan.payload(submit_call(provider, plan.specs))
        journal_call(provider, KIND_SAMPLER, backend.name, payload)
        return QoroPrimitiveJob(
            provider,
            SAMPLER_CODEC,
            payload,
            backend=backend,
            backend_name=backend.name,
            progress=options.progress,
            timeout=options.timeout,
            circuit_metadata=plan.circuit_metadata,
        )

    def plan(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> SamplerPlan:
        """What :meth:`run` would submit for these arguments (checked as ``run`` checks them);
        nothing is sent."""
        return self._plan(pubs, shots, stacklevel=3)

    def _plan(
        self, pubs: Iterable[SamplerPubLike], shots: int | None, *, stacklevel: int
    ) -> SamplerPlan:
        options = self._options
        options.validate()
        shots = options.default_shots if shots is None else positive_int(shots, "shots")
        check_pubs(pubs, "Sampler", "run([circuit]) or run([(circuit, parameter_values)])")
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        if not coerced:
            raise QoroInputError(
                "run() got no PUBs: pass at least one circuit or (circuit, parameter values)."
            )
        backend = self._backend
        for index, pub in enumerate(coerced):
            check_isa(pub.circuit, index, backend)
            if not pub.circuit.cregs:
                warnings.warn(
                    f"PUB {index}: its circuit '{pub.circuit.name}' has no classical registers, "
                    "so its result has no data and it is not sent. Measure into a register "
                    "(e.g. circuit.measure_all()) to sample it.",
                    UserWarning,
                    stacklevel=stacklevel,  # the caller of run() / plan()
                )
        return plan_sampler_call(coerced, backend, tag=options.tag, templates=options.templates)

    @classmethod
    def retrieve(cls, job_id: str, provider: QoroProvider) -> QoroPrimitiveJob:
        """Re-attach to a sampler call by (any of) its Qoro job id(s), from any process."""
        return retrieve_as(job_id, provider, KIND_SAMPLER)


def plan_sampler_call(
    pubs: Sequence[SamplerPub], backend: QoroBackend, *, tag: str, templates: bool = True
) -> SamplerPlan:
    """The jobs and PUB plans of a call of coerced, checked ``pubs`` on ``backend``.

    Nothing is sent: this is what :meth:`SamplerV2.run` submits and journals. ``templates``
    as the option (:mod:`._batches` says how the circuits travel).
    """
    batches = []
    for index, pub in enumerate(pubs):
        if any(len(register) for register in pub.circuit.cregs):
            flats = tuple(range(pub.parameter_values.size))
            batches.append(
                Batch(
                    index=index,
                    circuit=pub.circuit,
                    bindings=pub.parameter_values,
                    flats=flats,
                    labels=tuple(pub_label(index, flat) for flat in flats),
                    key=pub.shots,
                    shots=pub.shots,
                )
            )
    if batches:
        forms = plan_jobs(batches, templates=templates)
    else:
        placeholder = {PLACEHOLDER_LABEL: to_qasm(_placeholder_circuit())}
        forms = [JobForm(1, placeholder, shots=1)]
    specs, job_of = job_specs(
        forms,
        lambda form: backend.job_spec(
            form.circuits,
            shots=form.shots,
            tag=tag,
            shot_groups=form.shot_groups,
            templates=form.templates,
        ),
    )
    sent = {batch.index for batch in batches}
    plans = tuple(
        SamplerPubPlan(
            job=job_of(pub.shots) if index in sent else None,
            shots=pub.shots,
            shape=tuple(pub.shape),
            num_clbits=pub.circuit.num_clbits,
            registers=tuple(
                (reg.name, tuple(pub.circuit.find_bit(bit).index for bit in reg))
                for reg in pub.circuit.cregs
            ),
            circuit_metadata=json_safe(pub.circuit.metadata, {}),
        )
        for index, pub in enumerate(pubs)
    )
    return SamplerPlan(specs, plans, tuple(pub.circuit.metadata for pub in pubs))


def _placeholder_circuit() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1, name=PLACEHOLDER_LABEL)
    circuit.measure(0, 0)
    return circuit


# --- decoding ----------------------------------------------------------------------


def _packed(matrix: np.ndarray, clbits: Sequence[int]) -> np.ndarray:
    """Rows of ``matrix`` restricted to ``clbits`` (bit j of the register = clbit
    ``clbits[j]``), packed big-endian."""
    num_bits = len(clbits)
    num_bytes = (num_bits + 7) // 8
    sub = matrix[:, list(clbits)[::-1]]  # most significant register bit first
    padded = np.zeros((matrix.shape[0], num_bytes * 8), dtype=bool)
    padded[:, num_bytes * 8 - num_bits :] = sub
    return (
        np.packbits(padded, axis=1) if num_bytes else np.zeros((matrix.shape[0], 0), dtype=np.uint8)
    )


def _pub_result(
    index: int, pub: SamplerPubPlan, raw: RawResults, job_id: str | None, metadata: Any
) -> SamplerPubResult:
    """One PUB's registers as bit arrays of its shape (empty when it was not sent)."""
    shape, shots = pub.shape, pub.shots
    arrays = {
        name: np.zeros((pub.size, shots, (len(clbits) + 7) // 8), dtype=np.uint8)
        for name, clbits in pub.registers
    }
    if pub.job is not None:  # a PUB that was not sent has no bits: its arrays stay empty
        results = raw[pub.job]
        for flat in range(pub.size):
            label = pub_label(index, flat)
            matrix, counts = outcome_bits(results[label], pub.num_clbits, label)
            check_total_shots(counts, shots, label)
            for name, clbits in pub.registers:
                arrays[name][flat] = np.repeat(_packed(matrix, clbits), counts, axis=0)
    data = DataBin(
        **{
            name: BitArray(arrays[name].reshape(shape + arrays[name].shape[1:]), len(clbits))
            for name, clbits in pub.registers
        },
        shape=shape,
    )
    return SamplerPubResult(
        data, metadata={"shots": shots, "circuit_metadata": metadata, "job_id": job_id}
    )


class SamplerCodec:
    """Reads sampler journal payloads and decodes their results."""

    kind = KIND_SAMPLER

    def read(self, data: Mapping[str, Any]) -> SamplerPayload:
        return SamplerPayload.from_json(data)

    def decode(
        self,
        payload: SamplerPayload,
        raw: RawResults,
        circuit_metadata: Sequence[Any] | None,
    ) -> PrimitiveResult:
        job_ids = [job.job_id for job in payload.jobs]
        results = [
            _pub_result(
                index,
                pub,
                raw,
                None if pub.job is None else job_ids[pub.job],
                pub.circuit_metadata if circuit_metadata is None else circuit_metadata[index],
            )
            for index, pub in enumerate(payload.pubs)
        ]
        return PrimitiveResult(results, metadata={"version": 2, "job_ids": job_ids})


SAMPLER_CODEC = SamplerCodec()


def retrieve_sampler_job(provider: QoroProvider, entry: JournalEntry) -> QoroPrimitiveJob:
    """The :class:`QoroPrimitiveJob` of a ``sampler`` journal entry (``provider.retrieve_job``)."""
    return rebuild_job(provider, entry, SAMPLER_CODEC)
