"""Build a Qiskit backend from an IBM ``BackendProperties``-style dict (divi v0.6.1).

``qiskit_ibm_runtime`` is imported only inside :func:`create_backend_from_properties`:
it is slow to import and not needed by anything else in this package.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from qiskit.providers.fake_provider import GenericBackendV2

_DIMENSIONLESS = frozenset({"gate_error", "readout_error", "prob"})
_MICROSECONDS = frozenset({"t1", "t2"})
_NANOSECONDS = frozenset({"gate_length", "readout_length"})
_GIGAHERTZ = frozenset({"frequency", "freq"})


def _normalize_nduv(nduv: dict[str, Any], default_date: datetime.datetime) -> dict[str, Any]:
    """A copy of one Nduv (name, date, unit, value) with ``date`` and ``unit`` filled in.

    A missing unit is inferred from the lower-cased name: ``gate_error``,
    ``readout_error``, ``prob`` -> ``""``; ``t1``, ``t2`` -> ``"us"``;
    ``gate_length``, ``readout_length`` -> ``"ns"``; ``frequency``, ``freq`` ->
    ``"GHz"``; anything else -> ``""``. Existing values are kept.
    """
    normalized = dict(nduv)
    if "date" not in normalized:
        normalized["date"] = default_date
    if "unit" not in normalized:
        name = str(normalized.get("name", "")).lower()
        if name in _MICROSECONDS:
            unit = "us"
        elif name in _NANOSECONDS:
            unit = "ns"
        elif name in _GIGAHERTZ:
            unit = "GHz"
        else:  # dimensionless (gate_error, readout_error, prob) and unknown names
            unit = ""
        normalized["unit"] = unit
    return normalized


def _normalize_properties(
    properties: dict[str, Any], default_date: datetime.datetime | None = None
) -> dict[str, Any]:
    """A complete ``BackendProperties`` dict from a partial one, without mutating the input.

    Fills ``backend_name`` (``"custom_backend"``), ``backend_version`` (``"1.0.0"``),
    ``last_update_date`` (``default_date``, else now), empty ``general``/``gates``/``qubits``
    lists, a missing gate ``parameters`` list, and normalises every Nduv
    (:func:`_normalize_nduv`) into new dicts.
    """
    if default_date is None:
        default_date = datetime.datetime.now()
    normalized = dict(properties)
    normalized.setdefault("backend_name", "custom_backend")
    normalized.setdefault("backend_version", "1.0.0")
    normalized.setdefault("last_update_date", default_date)
    normalized.setdefault("general", [])
    normalized.setdefault("gates", [])
    normalized.setdefault("qubits", [])
    normalized["qubits"] = [
        [_normalize_nduv(param, default_date) for param in qubit] for qubit in normalized["qubits"]
    ]
    normalized["gates"] = [
        {
            **gate,
            "parameters": [
                _normalize_nduv(param, default_date) for param in gate.get("parameters", [])
            ],
        }
        for gate in normalized["gates"]
    ]
    if normalized["general"]:
        normalized["general"] = [
            _normalize_nduv(param, default_date) for param in normalized["general"]
        ]
    return normalized


def create_backend_from_properties(
    properties: dict[str, Any],
    n_qubits: int | None = None,
    default_date: datetime.datetime | None = None,
) -> GenericBackendV2:
    """A ``GenericBackendV2`` carrying the given (normalised) backend properties.

    Args:
        properties: a ``BackendProperties`` dict; missing fields are filled in
            (see :func:`_normalize_properties`).
        n_qubits: number of qubits; inferred from ``len(properties["qubits"])`` if None.
        default_date: date used for missing dates (default: now).

    Returns:
        A ``GenericBackendV2`` with ``num_qubits`` qubits whose ``_properties``
        attribute holds the ``BackendProperties`` object. As in divi v0.6.1 the
        properties are attached, not turned into the backend's ``Target`` (whose
        calibration is Qiskit's generic one).

    Raises:
        ValueError: no qubit count can be inferred, or ``n_qubits < 1``.

    Fixed relative to divi v0.6.1: a 1-qubit backend now builds (v0.6.1 failed
    inside Qiskit because the default basis has two-qubit gates); it gets a
    single-qubit basis (``id``, ``rz``, ``sx``, ``x``).
    """
    from qiskit.providers.fake_provider import GenericBackendV2
    from qiskit_ibm_runtime.models.backend_properties import BackendProperties

    normalized = _normalize_properties(properties, default_date)
    if n_qubits is None:
        n_qubits = len(normalized["qubits"])
        if n_qubits == 0:
            raise ValueError(
                "n_qubits must be provided when properties dictionary has no qubits, "
                "or qubits list must contain at least one qubit"
            )
    if n_qubits < 1:
        raise ValueError("n_qubits must be at least 1")
    if n_qubits == 1:
        backend = GenericBackendV2(num_qubits=1, basis_gates=["id", "rz", "sx", "x"])
    else:
        backend = GenericBackendV2(num_qubits=n_qubits)
    backend._properties = BackendProperties.from_dict(normalized)
    return backend
