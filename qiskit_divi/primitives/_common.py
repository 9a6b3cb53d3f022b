"""Pieces both primitives share: the ``mode`` check, ISA validation, labels, JSON-safe metadata."""

from __future__ import annotations

import json
import math
from typing import Any

from qiskit import QuantumCircuit

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


def pub_label(pub_index: int, flat_index: int, group: int | None = None) -> str:
    """Qoro circuit label of binding ``flat_index`` of PUB ``pub_index`` (and measurement group)."""
    label = f"p{pub_index}_{flat_index}"
    return label if group is None else f"{label}_g{group}"


def shape_size(shape: tuple[int, ...] | list[int]) -> int:
    return math.prod(shape)


def check_isa(circuit: QuantumCircuit, pub_index: int, backend: QoroBackend, *, estimator: bool = False) -> None:
    """Raise :class:`QoroInputError` unless the PUB's circuit runs on ``backend`` as it is.

    ``circuit`` may be parameterised: it is checked with every parameter at 0
    (binding values changes no instruction or qubit).
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
    probe = circuit.assign_parameters([0.0] * circuit.num_parameters) if circuit.parameters else circuit
    try:
        validate_circuit(probe, pub_index, backend.target, backend.name)
    except QoroInputError as exc:
        if probe.num_clbits == 0:  # the sampler's "measure it first": not an ISA problem
            raise QoroInputError(f"PUB {pub_index}: {exc}") from None
        raise QoroInputError(f"PUB {pub_index} is not an ISA circuit for backend '{backend.name}': {exc} {hint}") from None


def json_safe(value: Any) -> Any:
    """``value`` if JSON can carry it, else ``{}`` (circuit metadata in the journal)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {}
    return value
