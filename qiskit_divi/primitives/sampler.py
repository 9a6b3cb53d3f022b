"""``SamplerV2``: Qiskit's sampler primitive on a Qoro backend.

>>> sampler = SamplerV2(mode=backend)                # backend = provider.get_backend(...)
>>> result = sampler.run([(isa_circuit, parameter_values)], shots=1000).result()
>>> result[0].data.meas.get_counts()

How a call travels:

* Every PUB is coerced as Qiskit does (circuits, ``(circuit, params)``,
  ``(circuit, params, shots)``) and checked against the backend's target before
  anything is sent (non-ISA input raises :class:`QoroInputError`).
* Each parameter binding becomes one bound circuit, labelled ``p<pub>_<flat
  index>`` (C order over the PUB's shape), its classical bits flattened into one
  register ``c`` (``c[i]`` is the circuit's ``clbits[i]``).
* All circuits with the same shots travel as ONE Qoro job (uploaded in chunks
  as the API requires). The wire protocol has one ``shots`` per job, so PUBs
  with different shot counts make one job per distinct value (statistics are
  never altered by subsampling). The common case, all PUBs at the same shots,
  is one job, whose id is ``job.job_id()``.
* Counts come back as histograms; each is expanded into shots (outcomes in
  ascending order) and split into one :class:`~qiskit.primitives.BitArray` per
  classical register, named as the register, with the PUB's shape. Bits of one
  shot stay together across registers.
* A PUB whose registers hold no bits (no classical register at all warns, as
  Qiskit's samplers do) has nothing to measure: it is not sent, and its data
  are empty (zero-width arrays for its empty registers). A call made only of
  such PUBs still sends one job, of one one-shot circuit labelled
  ``placeholder``, so that every call has a Qoro job id.

Journal payload (kind ``sampler``; see :mod:`.job` for the common part)::

    {"format": 1, "jobs": [{"job_id": str, "shots": int}, ...],
     "pubs": [{"job": <index into jobs> | null (not sent), "shots": int, "shape": [int, ...],
               "num_clbits": int, "registers": [[name, [clbit index, ...]], ...],
               "circuit_metadata": {...}}, ...]}
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2, BitArray, DataBin, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike

from .._circuits import bound_qasm, positive_int, to_qasm
from ..api.errors import QoroInputError, QoroProtocolError
from ..api.submission import JobSpec
from ..journal import KIND_SAMPLER
from ._common import check_isa, check_mode, check_pubs, json_safe, pub_label, shape_size
from .job import PAYLOAD_FORMAT, QoroPrimitiveJob, journal_call, rebuild_job, submit_call
from .options import SamplerOptions, coerce_options

if TYPE_CHECKING:
    from ..backend import QoroBackend
    from ..journal import JournalEntry
    from ..provider import QoroProvider

logger = logging.getLogger(__name__)

PLACEHOLDER_LABEL = "placeholder"
"""Label of the one circuit sent for a call whose PUBs have nothing to measure."""


class SamplerV2(BaseSamplerV2):
    """Qiskit's ``BaseSamplerV2`` on a Qoro backend, constructed like qiskit-ibm-runtime's.

    Args:
        mode: the :class:`~qiskit_divi.QoroBackend` to run on.
        options: ``None``, a dict or :class:`SamplerOptions` (``default_shots``
            1024, ``timeout``, ``progress``, ``tag``). There is no seed: the
            Qoro API takes none.
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
        """Submit the PUBs (one Qoro job per distinct shot count) and return the job at once.

        Everything is checked before any request; invalid input raises
        :class:`QoroInputError` (a ``ValueError``) and creates no job.
        """
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
                    f"PUB {index}: its circuit '{pub.circuit.name}' has no classical registers, so its result "
                    "has no data and it is not sent. Measure into a register (e.g. circuit.measure_all()) "
                    "to sample it.",
                    UserWarning,
                    stacklevel=2,
                )

        by_shots: dict[int, dict[str, str]] = {}
        pub_entries = []
        for index, pub in enumerate(coerced):
            circuit = pub.circuit
            job: int | None = None
            if any(len(register) for register in circuit.cregs):
                circuits = by_shots.setdefault(pub.shots, {})
                for flat, text in enumerate(bound_qasm(circuit, pub.parameter_values, index)):
                    circuits[pub_label(index, flat)] = text
                job = list(by_shots).index(pub.shots)
            pub_entries.append(
                {
                    "job": job,
                    "shots": pub.shots,
                    "shape": list(pub.shape),
                    "num_clbits": circuit.num_clbits,
                    "registers": [
                        [reg.name, [circuit.find_bit(bit).index for bit in reg]]
                        for reg in circuit.cregs
                    ],
                    "circuit_metadata": json_safe(circuit.metadata),
                }
            )
        if not by_shots:
            by_shots[1] = {PLACEHOLDER_LABEL: to_qasm(_placeholder_circuit())}
        specs = [
            JobSpec(
                system_name=backend.name,
                job_type=backend.job_type,
                circuits=circuits,
                shots=n,
                tag=options.tag,
            )
            for n, circuits in by_shots.items()
        ]
        if len(specs) > 1:
            logger.info(
                "Sampler call with %d distinct shot counts: submitting %d Qoro jobs.",
                len(specs),
                len(specs),
            )
        provider = backend.provider
        job_ids = submit_call(provider, specs)
        payload = {
            "format": PAYLOAD_FORMAT,
            "jobs": [
                {"job_id": job_id, "shots": spec.shots} for job_id, spec in zip(job_ids, specs)
            ],
            "pubs": pub_entries,
        }
        journal_call(provider, KIND_SAMPLER, backend.name, payload)
        return QoroPrimitiveJob(
            provider,
            SAMPLER_CODEC,
            payload,
            backend=backend,
            backend_name=backend.name,
            progress=options.progress,
            timeout=options.timeout,
            circuit_metadata=[pub.circuit.metadata for pub in coerced],
        )

    @classmethod
    def retrieve(cls, job_id: str, provider: QoroProvider) -> QoroPrimitiveJob:
        """Re-attach to a sampler call by (any of) its Qoro job id(s), from any process."""
        return _retrieve(job_id, provider, KIND_SAMPLER)


def _placeholder_circuit() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1, name=PLACEHOLDER_LABEL)
    circuit.measure(0, 0)
    return circuit


def _retrieve(job_id: str, provider: QoroProvider, kind: str) -> QoroPrimitiveJob:
    # retrieve_job(kind=...) raises unless the journal says the job is of that kind.
    return cast(QoroPrimitiveJob, provider.retrieve_job(job_id, kind=kind))


# --- decoding ----------------------------------------------------------------------


def _outcome_bits(
    counts: Mapping[str, Any], num_clbits: int, label: str
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct outcomes as a bool matrix (column ``i`` = clbit ``i``) and their counts, ascending."""
    keys: dict[str, int] = {}
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise QoroProtocolError(
                f"Malformed server reply: circuit '{label}' has expectation values, not counts."
            )
        bits = key.replace(" ", "")
        if len(bits) > num_clbits or not set(bits) <= {"0", "1"}:
            raise QoroProtocolError(
                f"Malformed server reply: counts of circuit '{label}' have the key {key!r}, which is not "
                f"a bitstring of at most {num_clbits} bits."
            )
        bits = bits.zfill(num_clbits)
        keys[bits] = keys.get(bits, 0) + int(value)
    ordered = sorted(keys)
    if num_clbits == 0 or not ordered:
        return np.zeros((len(ordered), num_clbits), dtype=bool), np.array(
            [keys[k] for k in ordered], dtype=np.int64
        )
    text = np.frombuffer("".join(ordered).encode("ascii"), dtype=np.uint8).reshape(
        len(ordered), num_clbits
    )
    matrix = (text == ord("1"))[:, ::-1]  # rightmost character is clbit 0
    return matrix, np.array([keys[k] for k in ordered], dtype=np.int64)


def _packed(matrix: np.ndarray, clbits: Sequence[int]) -> np.ndarray:
    """Rows of ``matrix`` restricted to ``clbits`` (bit j of the register = clbit ``clbits[j]``), packed big-endian."""
    num_bits = len(clbits)
    num_bytes = (num_bits + 7) // 8
    sub = matrix[:, list(clbits)[::-1]]  # most significant register bit first
    padded = np.zeros((matrix.shape[0], num_bytes * 8), dtype=bool)
    padded[:, num_bytes * 8 - num_bits :] = sub
    return (
        np.packbits(padded, axis=1) if num_bytes else np.zeros((matrix.shape[0], 0), dtype=np.uint8)
    )


class _SamplerCodec:
    kind = KIND_SAMPLER

    def labels(self, payload: Mapping[str, Any]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in payload["jobs"]]
        for index, pub in enumerate(payload["pubs"]):
            if pub["job"] is not None:
                out[pub["job"]].extend(
                    pub_label(index, flat) for flat in range(shape_size(pub["shape"]))
                )
        return out

    def decode(
        self,
        payload: Mapping[str, Any],
        raw: Sequence[Mapping[str, Mapping[str, Any]]],
        circuit_metadata: Sequence[Any] | None,
    ) -> PrimitiveResult:
        job_ids = [job["job_id"] for job in payload["jobs"]]
        results = []
        for index, pub in enumerate(payload["pubs"]):
            shape = tuple(pub["shape"])
            shots = int(pub["shots"])
            size = shape_size(shape)
            registers = [(name, list(clbits)) for name, clbits in pub["registers"]]
            arrays = {
                name: np.zeros((size, shots, (len(clbits) + 7) // 8), dtype=np.uint8)
                for name, clbits in registers
            }
            for flat in range(size if pub["job"] is not None else 0):  # a PUB not sent has no bits
                label = pub_label(index, flat)
                matrix, counts = _outcome_bits(raw[pub["job"]][label], pub["num_clbits"], label)
                if int(counts.sum()) != shots:
                    raise QoroProtocolError(
                        f"Malformed server reply: circuit '{label}' returned {int(counts.sum())} shots, not {shots}."
                    )
                for name, clbits in registers:
                    arrays[name][flat] = np.repeat(_packed(matrix, clbits), counts, axis=0)
            data = DataBin(
                **{
                    name: BitArray(
                        arrays[name].reshape(shape + arrays[name].shape[1:]), len(clbits)
                    )
                    for name, clbits in registers
                },
                shape=shape,
            )
            metadata = (
                circuit_metadata[index]
                if circuit_metadata is not None
                else pub.get("circuit_metadata", {})
            )
            results.append(
                SamplerPubResult(
                    data,
                    metadata={
                        "shots": shots,
                        "circuit_metadata": metadata,
                        "job_id": None if pub["job"] is None else job_ids[pub["job"]],
                    },
                )
            )
        return PrimitiveResult(results, metadata={"version": 2, "job_ids": job_ids})


SAMPLER_CODEC = _SamplerCodec()


def retrieve_sampler_job(provider: QoroProvider, entry: JournalEntry) -> QoroPrimitiveJob:
    """Retriever registered for the ``sampler`` journal kind."""
    return rebuild_job(provider, entry, SAMPLER_CODEC)
