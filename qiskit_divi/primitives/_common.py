"""Pieces both primitives share: the ``mode``, ``pubs`` and precision checks, ISA validation,
labels, JSON-safe metadata."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import ClassicalRegister

from .._circuits import validate_circuit
from ..api.errors import QoroInputError
from ..backend import QoroBackend

ISA_HINT = (
    "Primitives run ISA circuits as given: transpile them for the backend first, e.g. "
    "pm = generate_preset_pass_manager(backend=backend, optimization_level=1); isa_circuit = pm.run(circuit)"
)
OBSERVABLE_HINT = " (and map the observables with observable.apply_layout(isa_circuit.layout))"


def check_mode(mode: Any, primitive: str) -> QoroBackend:
    """``mode`` as a :class:`QoroBackend`, else a clear ``QoroInputError``."""
    if isinstance(mode, QoroBackend):
        return mode
    raise QoroInputError(
        f"{primitive}(mode=...) takes a QoroBackend, e.g. QoroProvider(...).get_backend('qoro_maestro'); "
        f"got {type(mode).__name__}. Sessions and batches are not part of the Qoro API."
    )


def check_pubs(pubs: Any, primitive: str, example: str) -> None:
    """Refuse a bare circuit or a non-iterable as ``run``'s ``pubs``, in Qiskit's words plus how to call it.

    ``primitive`` is ``"Sampler"`` or ``"Estimator"``; ``example`` a correct call, e.g. ``run([circuit])``.
    """
    if isinstance(pubs, QuantumCircuit):
        what = "run() takes a list of PUBs: wrap the circuit"
    elif isinstance(pubs, (str, bytes)) or not isinstance(pubs, Iterable):
        what = "run() takes an iterable of PUBs"
    else:
        return
    # Qiskit's own text first: code written for Qiskit's primitives matches on it.
    raise QoroInputError(
        f"An invalid {primitive} pub-like was given ({type(pubs).__name__}): {what}, e.g. {example}."
    )


def check_precision(precision: Any, where: str) -> None:
    """Raise :class:`QoroInputError` unless a real ``precision`` is positive and finite.

    Non-real values are left to Qiskit's PUB coercion (its ``TypeError``).
    """
    if isinstance(precision, numbers.Real) and not (math.isfinite(precision) and precision > 0):
        raise QoroInputError(
            f"{where} must be a positive number (the standard error to aim for), got {precision!r}; "
            "e.g. precision=0.01. EXPECTATION systems return exact values whatever the precision, "
            "but it must still be positive, as in Qiskit's estimators."
        )


def pub_label(pub_index: int, flat_index: int, group: int | None = None) -> str:
    """Qoro circuit label of binding ``flat_index`` of PUB ``pub_index`` (and measurement group)."""
    label = f"p{pub_index}_{flat_index}"
    return label if group is None else f"{label}_g{group}"


def shape_size(shape: tuple[int, ...] | list[int]) -> int:
    return math.prod(shape)


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
            f"PUB {pub_index}: its circuit '{circuit.name}' uses {circuit.num_qubits} qubits but backend "
            f"'{backend.name}' has only {width}. {hint}"
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


def json_safe(value: Any) -> Any:
    """``value`` if JSON can carry it, else ``{}`` (circuit metadata in the journal)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {}
    return value
