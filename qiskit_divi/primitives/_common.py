"""Pieces both primitives share: the ``mode``, ``pubs`` and precision checks, ISA validation,
decoding of histograms, retrieval by kind."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ClassicalRegister

from .._circuits import validate_circuit
from ..api.errors import QoroInputError, QoroProtocolError
from ..api.validation import is_integer
from ..backend import QoroBackend
from .job import QoroPrimitiveJob

if TYPE_CHECKING:
    from ..provider import QoroProvider

ISA_HINT = (
    "Primitives run ISA circuits as given: transpile them for the backend first, e.g. "
    "pm = generate_preset_pass_manager(backend=backend, optimization_level=1); "
    "isa_circuit = pm.run(circuit)"
)
OBSERVABLE_HINT = " (and map the observables with observable.apply_layout(isa_circuit.layout))"


def check_mode(mode: Any, primitive: str) -> QoroBackend:
    """``mode`` as a :class:`QoroBackend`, else a clear ``QoroInputError``."""
    if isinstance(mode, QoroBackend):
        return mode
    raise QoroInputError(
        f"{primitive}(mode=...) takes a QoroBackend, e.g. "
        f"QoroProvider(...).get_backend('qoro_maestro'); got {type(mode).__name__}. "
        "Sessions and batches are not part of the Qoro API."
    )


def check_pubs(pubs: Any, primitive: str, example: str) -> None:
    """Refuse a bare circuit or a non-iterable as ``run``'s ``pubs``, in Qiskit's words plus
    how to call it.

    ``primitive`` is ``"Sampler"`` or ``"Estimator"``; ``example`` a correct call, e.g.
    ``run([circuit])``.
    """
    if isinstance(pubs, QuantumCircuit):
        what = "run() takes a list of PUBs: wrap the circuit"
    elif isinstance(pubs, (str, bytes)) or not isinstance(pubs, Iterable):
        what = "run() takes an iterable of PUBs"
    else:
        return
    # Qiskit's own text first: code written for Qiskit's primitives matches on it.
    raise QoroInputError(
        f"An invalid {primitive} pub-like was given ({type(pubs).__name__}): {what}, "
        f"e.g. {example}."
    )


def check_precision(precision: Any, where: str) -> None:
    """Raise :class:`QoroInputError` unless a real ``precision`` is positive and finite.

    Non-real values are left to Qiskit's PUB coercion (its ``TypeError``).
    """
    # numbers.Real, bools included: precision=False is a zero precision, refused here.
    if isinstance(precision, numbers.Real) and not (
        math.isfinite(precision) and float(precision) > 0
    ):
        raise QoroInputError(
            f"{where} must be a positive number (the standard error to aim for), "
            f"got {precision!r}; e.g. precision=0.01. EXPECTATION systems return exact values "
            "whatever the precision, "
            "but it must still be positive, as in Qiskit's estimators."
        )


def check_isa(
    circuit: QuantumCircuit, pub_index: int, backend: QoroBackend, *, estimator: bool = False
) -> None:
    """Raise :class:`QoroInputError` unless the PUB's circuit runs on ``backend`` as it is.

    ``circuit`` may be parameterised: it is checked with every parameter at 0
    (binding values changes no instruction or qubit). A circuit without classical
    bits (a sampler PUB that is not sent) has its instructions checked all the same.
    """
    hint = ISA_HINT + (OBSERVABLE_HINT if estimator else "") + "."
    width = backend.target.num_qubits or 0
    if circuit.num_qubits > width:
        raise QoroInputError(
            f"PUB {pub_index}: its circuit '{circuit.name}' uses {circuit.num_qubits} qubits "
            f"but backend '{backend.name}' has only {width}. {hint}"
        )
    if circuit.num_qubits == 0:
        raise QoroInputError(f"PUB {pub_index}: its circuit '{circuit.name}' has no qubits.")
    probe = (
        circuit.assign_parameters([0.0] * circuit.num_parameters) if circuit.parameters else circuit
    )
    if probe.num_clbits == 0:
        # validate_circuit refuses circuits without classical bits (backend.run's guard).
        probe = probe.copy()
        probe.add_register(ClassicalRegister(1))
    try:
        validate_circuit(probe, pub_index, backend.target, backend.name)
    except QoroInputError as exc:
        raise QoroInputError(
            f"PUB {pub_index} is not an ISA circuit for backend '{backend.name}': {exc} {hint}"
        ) from None


def outcome_bits(
    counts: Mapping[str, Any], num_clbits: int, label: str
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct outcomes of a histogram as a bool matrix (column ``i`` = clbit ``i``) and
    their counts, outcomes in ascending order.

    Raises :class:`QoroProtocolError` naming circuit ``label`` for a value that is not a count
    or a key that is not a bitstring of at most ``num_clbits`` bits.
    """
    keys: dict[str, int] = {}
    for key, value in counts.items():
        if not is_integer(value):
            raise QoroProtocolError(
                f"Malformed server reply: circuit '{label}' has expectation values, not counts."
            )
        bits = key.replace(" ", "")
        if len(bits) > num_clbits or not set(bits) <= {"0", "1"}:
            raise QoroProtocolError(
                f"Malformed server reply: counts of circuit '{label}' have the key {key!r}, "
                f"which is not a bitstring of at most {num_clbits} bits."
            )
        bits = bits.zfill(num_clbits)
        keys[bits] = keys.get(bits, 0) + int(value)
    ordered = sorted(keys)
    tally = np.array([keys[k] for k in ordered], dtype=np.int64)
    if num_clbits == 0 or not ordered:
        return np.zeros((len(ordered), num_clbits), dtype=bool), tally
    text = np.frombuffer("".join(ordered).encode("ascii"), dtype=np.uint8).reshape(
        len(ordered), num_clbits
    )
    return (text == ord("1"))[:, ::-1], tally  # rightmost character is clbit 0


def parity_means(
    matrix: np.ndarray, tally: np.ndarray, masks: np.ndarray, shots: int
) -> np.ndarray:
    """Per row of ``masks`` (0/1 over the bits), the mean over a histogram's ``shots`` of
    ``(-1)**(parity of the bits it selects)``: the expectation of a Z-basis Pauli product.
    ``matrix`` and ``tally`` are :func:`outcome_bits`' outcomes x bits and counts."""
    parity = (matrix.astype(np.int64) @ masks.T) % 2  # outcomes x rows
    return np.asarray((tally[:, None] * (1 - 2 * parity)).sum(axis=0) / shots, dtype=np.float64)


def check_total_shots(counts: np.ndarray, shots: int, label: str) -> None:
    """Raise :class:`QoroProtocolError` unless circuit ``label`` returned ``shots`` shots."""
    total = int(counts.sum())
    if total != shots:
        raise QoroProtocolError(
            f"Malformed server reply: circuit '{label}' returned {total} shots, not {shots}."
        )


def retrieve_as(job_id: str, provider: QoroProvider, kind: str) -> QoroPrimitiveJob:
    """``provider.retrieve_job(job_id, kind=kind)``, which raises unless the journal says the
    job is of that kind (so it is a primitive job)."""
    job = provider.retrieve_job(job_id, kind=kind)
    assert isinstance(job, QoroPrimitiveJob)  # retrieve_job checked the kind
    return job
