"""``QoroService``: the divi v0.6.1 cloud CircuitRunner, as a thin adapter over
:class:`qiskit_divi.api.QoroClient`.

Signatures, defaults, validation order and messages follow divi v0.6.1. These
reference bugs are fixed without changing the API:

* results are read page by page until ``next`` is null (v0.6.1 stopped at 100);
* state-changing POSTs are never re-sent after an ambiguous failure (v0.6.1
  retried them on 502 and read timeouts, which could duplicate jobs);
* if an upload fails after the job was created, the job is cancelled and deleted
  before the error propagates (v0.6.1 left it behind);
* QASM is validated with Qiskit's OpenQASM 2 parser, so everything
  ``qiskit.qasm2.dumps`` writes is accepted (v0.6.1 rejected ``p``, ``cp`` and
  scientific notation);
* a config without ``shots`` falls back to 1000 (v0.6.1 crashed with TypeError);
* an empty circuit dict is rejected before a job is created (v0.6.1 created a job
  that was never finalised);
* the token comes from the argument, ``QORO_API_KEY`` in the environment, or a
  ``.env`` file found from the working directory upwards.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import requests
from dotenv import dotenv_values, find_dotenv

from ..api.circuits import chunk_packed_circuits, pack_circuit
from ..api.client import QoroClient
from ..api.config import MISSING_TOKEN_MESSAGE, TOKEN_ENV, normalise_token
from ..api.errors import QoroError, QoroInputError, QoroJobError, QoroProtocolError
from ..api.models import (
    JobStatus,
    JobType,
    parse_job_id,
    parse_job_status,
    parse_qpu_systems,
    parse_results_page,
)
from ..api.observables import PAULI_LETTERS
from ..api.submission import MAX_SHOTS
from ._circuit_runner import CircuitRunner, ExecutionResult
from ._job_config import JobConfig
from ._qasm import is_valid_qasm, qasm_num_qubits, validate_qasm
from ._qpu_system import QPUSystem, get_qpu_system, update_qpu_systems_cache
from ._results_processing import _decode_qh1_b64

logger = logging.getLogger(__name__)

_MAX_PAYLOAD_SIZE_MB = 0.95
_DEFAULT_SHOTS = 1000
_RESULTS_PAGE_SIZE = 100
_DEFAULT_QPU_SYSTEM = QPUSystem(name="qoro_maestro", supports_expval=True)
_DEFAULT_JOB_CONFIG = JobConfig(
    shots=1000, qpu_system=_DEFAULT_QPU_SYSTEM, use_circuit_packing=False
)
_MISSING_JOB_ID = "ExecutionResult must have a job_id. This ExecutionResult appears to be from a synchronous backend."


class QoroHTTPError(QoroError, requests.HTTPError):
    """An HTTP error status from the Qoro API: a ``requests.HTTPError`` (as divi raised)
    and a :class:`QoroError` at once."""

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        QoroError.__init__(self, message)
        self.response = response
        self.request = getattr(response, "request", None)


class QoroServiceJobError(QoroHTTPError, QoroJobError):
    """:meth:`QoroService.get_job_results` of a job that ended FAILED or CANCELLED: a
    ``requests.HTTPError`` (divi's type for a 400 from the results endpoint) and a
    :class:`QoroJobError` naming the job."""

    def __init__(self, message: str, job_id: str) -> None:
        QoroHTTPError.__init__(self, message)
        self.job_id = job_id


class MaxRetriesReachedError(QoroError):
    """Polling stopped after ``retries`` status requests; the remote job keeps running."""

    def __init__(self, job_id: str, retries: int) -> None:
        self.job_id = job_id
        self.retries = retries
        super().__init__(
            f"Maximum retries reached: {retries} retries attempted for job {job_id}. "
            "The job keeps running on the server: poll it again or cancel it."
        )


def _raise_with_details(resp: requests.Response, hint: str | None = None) -> None:
    """Raise an HTTPError ``"<code> <reason>: <body>"`` with the response attached,
    followed by ``hint`` (default: what to do about a rejected token)."""
    try:
        body = json.dumps(resp.json(), ensure_ascii=False)
    except ValueError:
        body = resp.text
    if hint is None:
        hint = _AUTH_HINT if resp.status_code in (401, 403) else ""
    elif hint:
        hint = f" {hint}"
    raise QoroHTTPError(f"{resp.status_code} {resp.reason}: {body}{hint}", response=resp)


_AUTH_HINT = " Check the token: pass auth_token=... or set QORO_API_KEY in the environment or in a .env file."


def _resolve_system(config: JobConfig) -> JobConfig:
    if config.qpu_system is None:
        raise ValueError(
            "JobConfig must have a qpu_system. It cannot be None. "
            "Please provide a QPUSystem object or a valid system name string."
        )
    if isinstance(config.qpu_system, str):
        return JobConfig(
            shots=config.shots,
            qpu_system=get_qpu_system(config.qpu_system),
            use_circuit_packing=config.use_circuit_packing,
            tag=config.tag,
            force_sampling=config.force_sampling,
        )
    return config


def _json_of(response: requests.Response, endpoint: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise QoroProtocolError(
            f"Malformed server reply: {endpoint} returned non-JSON content."
        ) from None


def _job_id_of(execution_result: ExecutionResult) -> str:
    if execution_result.job_id is None:
        raise ValueError(_MISSING_JOB_ID)
    return execution_result.job_id


class QoroService(CircuitRunner):
    """Submit circuits to the Qoro cloud, poll their status, fetch their results.

    Args:
        auth_token: API key; else ``QORO_API_KEY`` (environment, then ``.env``).
        config: default job configuration (system, shots, packing, tag).
        polling_interval: seconds between status requests when looping.
        max_retries: status requests before :class:`MaxRetriesReachedError`.
        url: API root (keyword-only extension; else ``QORO_API_URL``, else production).
        client: share an existing :class:`QoroClient` (keyword-only extension).
    """

    def __init__(
        self,
        auth_token: str | None = None,
        config: JobConfig | None = None,
        polling_interval: float = 3.0,
        max_retries: int = 5000,
        *,
        url: str | None = None,
        client: QoroClient | None = None,
    ) -> None:
        if auth_token is None and client is None:
            auth_token = self._token_from_environment()
        if client is None:
            client = QoroClient(auth_token, url)
        self._client = client
        self.auth_token = client.authorization_header
        self.polling_interval = polling_interval
        self.max_retries = max_retries
        self.fetch_qpu_systems()
        self.config = _resolve_system(config if config is not None else _DEFAULT_JOB_CONFIG)
        super().__init__(
            shots=self.config.shots if self.config.shots is not None else _DEFAULT_SHOTS
        )

    @staticmethod
    def _token_from_environment() -> str:
        """``QORO_API_KEY`` from the environment, then ``.env`` (the order of
        :func:`~qiskit_divi.api.config.resolve_token`), read through this module's
        ``dotenv_values`` because divi's tests patch that name here."""
        for candidate in (
            os.environ.get(TOKEN_ENV),
            dotenv_values(find_dotenv(usecwd=True)).get(TOKEN_ENV),
        ):
            if candidate and normalise_token(candidate):
                return candidate
        raise ValueError(MISSING_TOKEN_MESSAGE)

    def __repr__(self) -> str:
        system = getattr(self.config.qpu_system, "name", self.config.qpu_system)
        return (
            f"QoroService(url={self._client.base_url!r}, qpu_system={system!r}, shots={self.shots})"
        )

    @property
    def client(self) -> QoroClient:
        """The wire client (shared with ``QoroProvider`` / ``QoroBackend`` when passed in)."""
        return self._client

    @property
    def supports_expval(self) -> bool:
        return bool(self.config.qpu_system.supports_expval and not self.config.force_sampling)

    @property
    def is_async(self) -> bool:
        return True

    # --- transport -------------------------------------------------------------------

    def _make_request(self, method: str, endpoint: str, **kwargs: Any) -> requests.Response:
        """Every HTTP call of the service goes through here; status >= 400 raises HTTPError."""
        response = self._client.send(
            method,
            endpoint,
            json_body=kwargs.pop("json", None),
            params=kwargs.pop("params", None),
            headers=kwargs.pop("headers", None),
            timeout=kwargs.pop("timeout", 100),
            raise_errors=False,
        )
        if kwargs:
            raise TypeError(f"Unsupported request options: {sorted(kwargs)}")
        if response.status_code >= 400:
            _raise_with_details(
                response,
                self._client.not_found_hint(endpoint) if response.status_code == 404 else None,
            )
        return response

    def test_connection(self) -> requests.Response:
        """``GET /api/``; raises HTTPError (e.g. 401) when the token is rejected."""
        return self._make_request("get", "", timeout=10)

    def fetch_qpu_systems(self) -> list[QPUSystem]:
        """Fetch the system list and refresh the process-wide systems cache."""
        response = self._make_request("get", "qpusystem/", timeout=10)
        systems = parse_qpu_systems(_json_of(response, "qpusystem/"))
        update_qpu_systems_cache(systems)
        return systems

    # --- submission ------------------------------------------------------------------

    @staticmethod
    def _compress_data(value: str) -> str:
        """base64(gzip(UTF-8)); deterministic (gzip mtime 0)."""
        return pack_circuit(value)

    @staticmethod
    def _split_circuits(circuits: dict[str, str], overhead_bytes: int = 0) -> list[dict[str, str]]:
        """Compress and split circuits into chunks under the ``_MAX_PAYLOAD_SIZE_MB`` budget."""
        packed = {label: QoroService._compress_data(qasm) for label, qasm in circuits.items()}
        budget = int(_MAX_PAYLOAD_SIZE_MB * 1024 * 1024)
        return chunk_packed_circuits(packed, max_bytes=budget, overhead_bytes=overhead_bytes)

    def submit_circuits(
        self,
        circuits: dict[str, str],
        ham_ops: str | None = None,
        job_type: JobType | None = None,
        override_config: JobConfig | None = None,
    ) -> ExecutionResult:
        """Create a job for ``circuits`` (label -> OpenQASM 2.0) and upload them.

        Returns at once with the job id; poll with :meth:`poll_job_status` and read
        with :meth:`get_job_results`.
        """
        config = (
            _resolve_system(self.config.override(override_config))
            if override_config
            else self.config
        )
        if ham_ops is not None:
            if job_type is not None and job_type != JobType.EXPECTATION:
                raise ValueError(
                    "Hamiltonian operators are only supported for EXPECTATION job type."
                )
            job_type = JobType.EXPECTATION
            terms = ham_ops.split(";")
            if len({len(term) for term in terms}) != 1:
                raise ValueError("All Hamiltonian operators must have the same length.")
            if not all(set(term) <= PAULI_LETTERS for term in terms):
                raise ValueError("Hamiltonian operators must contain only I, X, Y, Z characters.")
            if not terms[0]:
                raise ValueError(
                    "Hamiltonian operators must not be empty: pass terms such as 'ZI;IZ'."
                )
        if job_type is None:
            job_type = JobType.SIMULATE
        if job_type == JobType.CIRCUIT_CUT and len(circuits) > 1:
            raise ValueError("Only one circuit allowed for circuit-cutting jobs.")
        if not circuits:
            raise QoroInputError(
                "No circuits to submit: pass a dict of {label: OpenQASM 2.0 string}."
            )
        for label, qasm in circuits.items():
            if not is_valid_qasm(qasm):  # a module global: divi's tests patch it
                try:
                    validate_qasm(qasm)
                except SyntaxError as exc:
                    raise ValueError(f"Circuit '{label}' is not a valid QASM: {exc}") from exc
                raise ValueError(f"Circuit '{label}' is not a valid QASM.")
        self._check_widths(circuits, ham_ops, config.qpu_system)
        shots = config.shots if config.shots is not None else _DEFAULT_SHOTS
        if ham_ops is None and (
            isinstance(shots, bool) or not isinstance(shots, int) or not 0 < shots <= MAX_SHOTS
        ):
            raise QoroInputError(
                f"Shots must be a positive integer of at most {MAX_SHOTS:,}. Got {shots!r}."
            )

        payload = {
            "tag": config.tag,
            "job_type": job_type.value,
            "qpu_system_name": config.qpu_system.name,
            "use_packing": config.use_circuit_packing or False,
        }
        response = self._make_request("post", "job/init/", json=payload, timeout=100)
        if response.status_code not in (200, 201):
            _raise_with_details(response)
        job_id = parse_job_id(_json_of(response, "job/init/"))

        chunks = self._split_circuits(circuits, overhead_bytes=len(ham_ops) if ham_ops else 0)
        try:
            for i, chunk in enumerate(chunks):
                body: dict[str, Any] = {
                    "circuits": chunk,
                    "mode": "append",
                    "finalized": "true" if i == len(chunks) - 1 else "false",
                }
                if ham_ops is not None:
                    body["observables"] = ham_ops
                else:
                    body["shots"] = shots
                response = self._make_request(
                    "post", f"job/{job_id}/add_circuits/", json=body, timeout=100
                )
                if response.status_code != 200:
                    _raise_with_details(response)
        except Exception:
            self._discard(job_id)
            raise
        logger.info(
            "Submitted Qoro job %s: %d circuits in %d upload(s)", job_id, len(circuits), len(chunks)
        )
        return ExecutionResult(results=None, job_id=job_id)

    @staticmethod
    def _check_widths(circuits: dict[str, str], ham_ops: str | None, system: QPUSystem) -> None:
        if (
            not system.qpus
        ):  # e.g. the default QPUSystem("qoro_maestro"): use the fetched description
            try:
                system = get_qpu_system(system.name)
            except ValueError:
                pass
        capacity = max((qpu.q_bits for qpu in system.qpus), default=None)
        for label, qasm in circuits.items():
            width = qasm_num_qubits(qasm)
            if capacity is not None and width > capacity:
                raise QoroInputError(
                    f"Circuit '{label}' uses {width} qubits but system '{system.name}' has {capacity}. "
                    "Use a smaller circuit or a larger system."
                )
            if ham_ops is not None and len(ham_ops.split(";")[0]) != width:
                raise QoroInputError(
                    f"Hamiltonian operators act on {len(ham_ops.split(';')[0])} qubits but circuit "
                    f"'{label}' has {width}; each term needs one letter per qubit (qubit 0 first)."
                )

    def _discard(self, job_id: str) -> None:
        """Cancel and delete a half-uploaded job (best effort, logged)."""
        for method, endpoint in (("post", f"job/{job_id}/cancel/"), ("delete", f"job/{job_id}")):
            try:
                self._make_request(method, endpoint, timeout=50)
            except (requests.RequestException, QoroError) as exc:
                logger.warning(
                    "Clean-up of half-uploaded job %s: %s %s failed: %s",
                    job_id,
                    method.upper(),
                    endpoint,
                    exc,
                )

    # --- job management --------------------------------------------------------------

    def delete_job(self, execution_result: ExecutionResult) -> requests.Response:
        """``DELETE job/<id>``; returns the 204 response."""
        return self._make_request("delete", f"job/{_job_id_of(execution_result)}", timeout=50)

    def cancel_job(self, execution_result: ExecutionResult) -> requests.Response:
        """``POST job/<id>/cancel/``; 409 if the job already finished."""
        return self._make_request("post", f"job/{_job_id_of(execution_result)}/cancel/", timeout=50)

    def get_job_results(self, execution_result: ExecutionResult) -> ExecutionResult:
        """Every result row of the job (all pages), histograms decoded to counts.

        A job without results raises ``requests.HTTPError`` "400 Bad Request: Job results
        not available, ...": divi's "likely job is still running" while it runs, and a
        :class:`QoroServiceJobError` (also a :class:`QoroJobError`) with the server's
        reason when it FAILED or was CANCELLED.
        """
        job_id = _job_id_of(execution_result)
        rows: list[dict] = []
        offset = 0
        while True:
            try:
                response = self._make_request(
                    "get",
                    f"job/{job_id}/resultsV2/?limit={_RESULTS_PAGE_SIZE}&offset={offset}",
                    timeout=100,
                )
            except requests.exceptions.HTTPError as exc:
                if exc.response is not None and exc.response.status_code == 400:
                    raise self._results_not_available(job_id) from exc
                raise
            page = parse_results_page(_json_of(response, "resultsV2"))
            page_rows = [
                {"label": row.label, "results": _decode_qh1_b64(row.results)} for row in page.rows
            ]
            rows.extend(page_rows)
            if page.next is None or not page_rows:
                break
            offset += len(page_rows)
        count = page.count
        if isinstance(count, int) and count != len(rows):
            raise QoroError(
                f"Job {job_id} reported {count} results but {len(rows)} arrived; fetch them again."
            )
        return execution_result.with_results(rows)

    def _results_not_available(self, job_id: str) -> requests.exceptions.HTTPError:
        """The error for a 400 from ``resultsV2``: divi's "still running", unless the job ended
        without results (FAILED or CANCELLED), which one status request tells."""
        try:
            reply = parse_job_status(
                _json_of(self._make_request("get", f"job/{job_id}/status/", timeout=200), "status")
            )
        except (requests.RequestException, QoroError) as exc:
            logger.debug("Status of job %s after a 400 from resultsV2 unavailable: %s", job_id, exc)
            reply = None
        if reply is None or reply.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            now = f" (status {reply.raw_status})" if reply is not None else ""
            return requests.exceptions.HTTPError(
                "400 Bad Request: Job results not available, likely job is still running"
                f"{now}. Wait with poll_job_status(..., loop_until_complete=True), then fetch again."
            )
        if reply.status is JobStatus.FAILED:
            reason = f": {reply.reason}" if reply.reason else " (the server gave no reason)"
            what = (
                f"job {job_id} FAILED{reason}. It has no results and will not get any: fix what the "
                "reason names (circuits, observables, system) and submit it again."
            )
        else:
            what = f"job {job_id} was CANCELLED. It has no results: submit the circuits again."
        return QoroServiceJobError(
            f"400 Bad Request: Job results not available: {what}", job_id=job_id
        )

    def poll_job_status(
        self,
        execution_result: ExecutionResult,
        loop_until_complete: bool = False,
        on_complete: Callable[[requests.Response], None] | None = None,
        verbose: bool = True,
        progress_callback: Callable[[int, str], None] | None = None,
    ) -> JobStatus:
        """Status of the job; with ``loop_until_complete``, poll until it is final.

        ``verbose`` logs each status change at INFO (divi drew a console spinner);
        ``progress_callback(attempt, status)`` is called after every non-final poll.
        Raises :class:`MaxRetriesReachedError` after ``max_retries`` polls.
        """
        job_id = _job_id_of(execution_result)
        if progress_callback:
            report = progress_callback
        elif verbose:
            report = self._status_logger(job_id)
        else:

            def report(attempt: int, status: str) -> None:
                return None

        if not loop_until_complete:
            return self._status_of(
                self._make_request("get", f"job/{job_id}/status/", timeout=200), job_id
            )
        for attempt in range(1, self.max_retries + 1):
            response = self._make_request("get", f"job/{job_id}/status/", timeout=200)
            status = self._status_of(response, job_id)
            if status.is_final:
                if on_complete is not None:
                    on_complete(response)
                return status
            report(attempt, status.value)
            if attempt < self.max_retries:
                time.sleep(self.polling_interval)
        raise MaxRetriesReachedError(job_id, self.max_retries)

    def _status_logger(self, job_id: str) -> Callable[[int, str], None]:
        last: list[str] = []
        short_id = job_id.split("-")[0]

        def report(attempt: int, status: str) -> None:
            if not last or last[-1] != status:
                last.append(status)
                logger.info(
                    "Job %s is %s. Polling attempt %d / %d",
                    short_id,
                    status,
                    attempt,
                    self.max_retries,
                )

        return report

    @staticmethod
    def _status_of(response: requests.Response, job_id: str) -> JobStatus:
        reply = parse_job_status(_json_of(response, "status"))
        if reply.status is None:
            logger.warning(
                "Job %s reported an unknown status %r; treating it as PENDING.",
                job_id,
                reply.raw_status,
            )
            return JobStatus.PENDING
        return reply.status
