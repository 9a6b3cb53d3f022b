"""qiskit_divi: Qoro Quantum's cloud as Qiskit backends and primitives."""

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

__version__ = "0.1.0"
