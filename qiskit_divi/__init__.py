"""qiskit_divi: Qoro Quantum's cloud as Qiskit backends and primitives."""

__version__ = "0.1.0"

from .api.errors import (
    QoroAmbiguousRequestError,
    QoroApiError,
    QoroAuthenticationError,
    QoroConfigurationError,
    QoroConflictError,
    QoroError,
    QoroInputError,
    QoroJobError,
    QoroNotFoundError,
    QoroProtocolError,
    QoroResultsNotReadyError,
    QoroServerError,
)

from .backend import QoroBackend
from .job import QoroJob, QoroJobTimeoutError
from .provider import QoroBackendNotFoundError, QoroProvider
