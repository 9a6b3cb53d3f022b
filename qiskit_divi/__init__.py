"""qiskit_divi: Qoro Quantum's cloud as Qiskit backends and primitives.

Public names: :class:`QoroProvider`, :class:`QoroBackend`, :class:`QoroJob`,
:class:`SamplerV2`, :class:`EstimatorV2` and the :class:`QoroError` tree. The
Qiskit-facing classes are imported on first use, so ``import qiskit_divi.api``
or ``import qiskit_divi.backends`` stay light.
"""

from __future__ import annotations

import importlib
from typing import Any

from .api.errors import (
    QoroAmbiguousRequestError,
    QoroApiError,
    QoroAuthenticationError,
    QoroConfigurationError,
    QoroConflictError,
    QoroConnectionError,
    QoroError,
    QoroInputError,
    QoroJobError,
    QoroNotFoundError,
    QoroProtocolError,
    QoroResultsNotReadyError,
    QoroServerError,
)

__version__ = "0.1.0"

_LAZY = {
    "QoroProvider": ".provider",
    "QoroBackendNotFoundError": ".provider",
    "QoroBackend": ".backend",
    "QoroJob": ".job",
    "QoroJobTimeoutError": ".job",
    "SamplerV2": ".primitives",
    "EstimatorV2": ".primitives",
}

__all__ = [
    "QoroAmbiguousRequestError",
    "QoroApiError",
    "QoroAuthenticationError",
    "QoroConfigurationError",
    "QoroConflictError",
    "QoroConnectionError",
    "QoroError",
    "QoroInputError",
    "QoroJobError",
    "QoroNotFoundError",
    "QoroProtocolError",
    "QoroResultsNotReadyError",
    "QoroServerError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qiskit_divi' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
