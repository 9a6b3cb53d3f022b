"""Errors of the Qiskit layer (provider, backends, jobs, journal), beside the wire errors.

Every error of the package derives from :class:`QoroError`; this module re-exports the wire
layer's tree from :mod:`qiskit_divi.api.errors` (and the per-status job errors of
:mod:`qiskit_divi.api.job_errors`) so that one import serves both.
"""

from __future__ import annotations

from qiskit.providers import JobTimeoutError, QiskitBackendNotFoundError

from .api.errors import (
    QoroAmbiguousRequestError,
    QoroApiError,
    QoroAuthenticationError,
    QoroBadRequestError,
    QoroConfigurationError,
    QoroConflictError,
    QoroConnectionError,
    QoroDeadlineError,
    QoroError,
    QoroInputError,
    QoroJobError,
    QoroNotFoundError,
    QoroProtocolError,
    QoroRateLimitError,
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


class QoroBackendNotFoundError(QoroError, QiskitBackendNotFoundError):
    """No system of that name is available to this token."""


class QoroJobTimeoutError(QoroError, JobTimeoutError):
    """Waiting for a job took longer than the timeout; the job keeps running on the server."""


class JournalError(QoroError):
    """The journal could not be read or written."""


__all__ = [
    "JournalError",
    "QoroAmbiguousRequestError",
    "QoroApiError",
    "QoroAuthenticationError",
    "QoroBackendNotFoundError",
    "QoroBadRequestError",
    "QoroConfigurationError",
    "QoroConflictError",
    "QoroConnectionError",
    "QoroDeadlineError",
    "QoroError",
    "QoroInputError",
    "QoroInsufficientCreditsError",
    "QoroJobCancelledError",
    "QoroJobEndedError",
    "QoroJobError",
    "QoroJobFailedError",
    "QoroJobTimedOutError",
    "QoroJobTimeoutError",
    "QoroNotFoundError",
    "QoroProtocolError",
    "QoroRateLimitError",
    "QoroResultsNotReadyError",
    "QoroServerError",
]
