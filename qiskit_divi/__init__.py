"""qiskit_divi: Qoro Quantum's cloud as Qiskit backends and primitives.

Public names: :class:`QoroProvider`, :class:`QoroBackend`, :class:`QoroJob`,
:class:`SamplerV2`, :class:`EstimatorV2` and the :class:`QoroError` tree. The
Qiskit-facing classes are imported on first use, so ``import qiskit_divi.api``
or ``import qiskit_divi.backends`` stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .api.errors import (
    QoroAmbiguousRequestError,
    QoroApiError,
    QoroAuthenticationError,
    QoroConfigurationError,
    QoroConflictError,
    QoroConnectionError,
    QoroDeadlineError,
    QoroError,
    QoroInputError,
    QoroJobError,
    QoroNotFoundError,
    QoroProtocolError,
    QoroResultsNotReadyError,
    QoroServerError,
)
from .api.job_errors import (
    QoroInsufficientCreditsError,
    QoroJobCancelledError,
    QoroJobEndedError,
    QoroJobFailedError,
    QoroJobTimedOutError,
)

if TYPE_CHECKING:  # the lazy names below, as type checkers and IDEs should see them
    from .backend import QoroBackend
    from .exceptions import QoroBackendNotFoundError, QoroJobTimeoutError
    from .job import QoroJob
    from .primitives import EstimatorV2, SamplerV2
    from .provider import QoroProvider

_LAZY = {
    "QoroProvider": ".provider",
    "QoroBackendNotFoundError": ".exceptions",
    "QoroBackend": ".backend",
    "QoroJob": ".job",
    "QoroJobTimeoutError": ".exceptions",
    "SamplerV2": ".primitives",
    "EstimatorV2": ".primitives",
}

__all__ = [
    "EstimatorV2",
    "QoroAmbiguousRequestError",
    "QoroApiError",
    "QoroAuthenticationError",
    "QoroBackend",
    "QoroBackendNotFoundError",
    "QoroConfigurationError",
    "QoroConflictError",
    "QoroConnectionError",
    "QoroDeadlineError",
    "QoroError",
    "QoroInputError",
    "QoroInsufficientCreditsError",
    "QoroJob",
    "QoroJobCancelledError",
    "QoroJobEndedError",
    "QoroJobError",
    "QoroJobFailedError",
    "QoroJobTimedOutError",
    "QoroJobTimeoutError",
    "QoroNotFoundError",
    "QoroProtocolError",
    "QoroProvider",
    "QoroResultsNotReadyError",
    "QoroServerError",
    "SamplerV2",
    "__version__",
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
