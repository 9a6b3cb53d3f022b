"""The qiskit_divi exception tree, rooted in :class:`QoroError`.

``QoroError`` derives from Qiskit's ``QiskitError`` so that code catching Qiskit
errors also catches ours. ``qiskit.exceptions`` is the one Qiskit module the wire
layer imports: it defines exception classes only.
"""

from __future__ import annotations

from qiskit.exceptions import QiskitError

from .redaction import redact


class QoroError(QiskitError):
    """Base class of every error raised by qiskit_divi (its message has live tokens redacted)."""

    def __init__(self, message: str) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class QoroConfigurationError(QoroError, ValueError):
    """Missing or invalid local configuration (token, URL, options)."""


class QoroInputError(QoroError, ValueError):
    """Input rejected locally, before any job was created."""


class QoroProtocolError(QoroError):
    """The server answered with something that does not follow the wire contract."""


class QoroJobError(QoroError):
    """A job ended without results, or cannot be used the way it was asked."""

    def __init__(self, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class QoroAmbiguousRequestError(QoroError):
    """A state-changing request may or may not have reached the server.

    Such requests are never re-sent blindly; ``job_id`` names the job that may
    have been affected, when it is known.
    """

    def __init__(self, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class QoroConnectionError(QoroError):
    """The API could not be reached (connection refused, reset, timed out) after every retry.

    Transient by nature: a later attempt may succeed.
    """

    retriable = True


class QoroDeadlineError(QoroConnectionError):
    """The caller's deadline passed, or would pass before the next retry could be sent."""


class QoroApiError(QoroError):
    """The server answered with an HTTP error status.

    ``status_code`` is the HTTP status and ``server_message`` the text the
    server gave (its ``error`` or ``detail`` field, else the raw body), with live tokens
    redacted.
    """

    retriable = False
    hint = "Check the request and try again."

    def __init__(
        self,
        status_code: int,
        server_message: str,
        *,
        method: str = "",
        endpoint: str = "",
        hint: str | None = None,
    ) -> None:
        server_message, endpoint = redact(server_message), redact(endpoint)
        self.status_code = status_code
        self.server_message = server_message
        self.method = method
        self.endpoint = endpoint
        where = f" on {method.upper()} {endpoint or '/'}" if method else ""
        said = server_message if server_message.endswith((".", "!", "?")) else f"{server_message}."
        text = f"Qoro API returned {status_code}{where}: {said} {hint or self.hint}"
        super().__init__(text)


class QoroAuthenticationError(QoroApiError):
    """401/403: the token is missing, wrong, deactivated, or lacks permission."""

    hint = (
        "Check the token: pass token=... (or auth_token=...) or set QORO_API_KEY "
        "in the environment or in a .env file."
    )


class QoroNotFoundError(QoroApiError):
    """404: the job does not exist (or was deleted), or, on an endpoint that names no
    job (``qpusystem/``, ``job/init/``, the ping), the API URL is wrong."""

    hint = "Check the job id; deleted jobs cannot be retrieved."


class QoroConflictError(QoroApiError):
    """409: the operation does not fit the job's state (e.g. cancelling a finished job)."""

    hint = "Check the job's status first."


class QoroResultsNotReadyError(QoroApiError):
    """400 from the results endpoint: the job has no results yet."""

    retriable = True
    hint = "The job has not finished; wait for it (job.result() polls) and fetch again."


class QoroBadRequestError(QoroApiError):
    """400: the server rejected the request as invalid."""

    hint = "Fix the request (circuits, shots, observables) and submit again."


class QoroServerError(QoroApiError):
    """5xx: the server failed. 502/503/504 are transient and retried for idempotent calls."""

    retriable = True
    hint = "This is a server-side problem; try again later."


class QoroRateLimitError(QoroApiError):
    """429: too many requests."""

    retriable = True
    hint = "Slow down; retry after the delay the server asked for."


def api_error_for(
    status_code: int,
    server_message: str,
    *,
    method: str = "",
    endpoint: str = "",
    hint: str | None = None,
) -> QoroApiError:
    """Build the most specific :class:`QoroApiError` for an HTTP status (``hint``
    replaces the class's advice)."""
    cls: type[QoroApiError]
    if status_code in (401, 403):
        cls = QoroAuthenticationError
    elif status_code == 404:
        cls = QoroNotFoundError
    elif status_code == 409:
        cls = QoroConflictError
    elif status_code == 429:
        cls = QoroRateLimitError
    elif status_code == 400 and "resultsV2" in endpoint:
        cls = QoroResultsNotReadyError
    elif status_code == 400:
        cls = QoroBadRequestError
    elif status_code >= 500:
        cls = QoroServerError
    else:
        cls = QoroApiError
    return cls(status_code, server_message, method=method, endpoint=endpoint, hint=hint)
