"""One Qoro job from a dict of circuits: init, chunked uploads, clean-up on failure,
plus waiting for a final status and decoding the results.

Every layer above (``QoroBackend``, primitives, ``QoroService``) submits through
:func:`submit_job` so the chunking and the failure handling exist once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .circuits import MAX_PAYLOAD_BYTES, chunk_packed_circuits, pack_circuit
from .client import QoroClient
from .endpoints import Transport, add_circuits, cancel_job, delete_job, init_job
from .errors import (
    QoroAmbiguousRequestError,
    QoroBadRequestError,
    QoroDeadlineError,
    QoroError,
    QoroInputError,
    QoroProtocolError,
)
from .histogram import HistogramDecodeError, decode_envelope, is_histogram_envelope
from .models import (
    AddCircuitsRequest,
    AddTemplateRequest,
    InitJobRequest,
    JobStatusReply,
    JobType,
    ParameterSet,
    ShotGroup,
    warn_unknown_status,
)
from .templates import bind_template, check_template, chunk_parameter_sets
from .validation import is_integer

logger = logging.getLogger(__name__)


MAX_SHOTS = 1_000_000
"""Largest ``shots`` per circuit the client submits. It is the emulator's limit; the
Qoro service does not document one (``qoro-api.md`` section 11), so larger values
are refused locally rather than after a job was created."""

MAX_POLL_FAILURES = 3
"""Consecutive failed status polls (each after the client's own retries) that
:func:`wait_for_final_status` rides out before giving up."""

CHUNK_OVERHEAD_BYTES = 96
"""Bytes of an ``add_circuits`` body besides the circuits (mode, finalized, shots)."""


def check_shots(shots: Any) -> int:
    """``shots`` if it is an ``int`` in 1..:data:`MAX_SHOTS`, else :class:`QoroInputError`."""
    if not is_integer(shots) or not 0 < shots <= MAX_SHOTS:
        raise QoroInputError(
            f"Shots must be a positive integer of at most {MAX_SHOTS:,} per circuit. Got {shots!r}."
        )
    return int(shots)


@dataclass(frozen=True)
class CircuitTemplate:
    """A parametric circuit sent once with the values that bind it (``qoro-api.md`` 3.5).

    ``qasm`` is QASM 2 text with each name of ``parameter_names`` where an angle goes;
    each :class:`ParameterSet` resolves to one circuit, labelled by the set's label.
    """

    qasm: str
    parameter_names: tuple[str, ...]
    parameter_sets: tuple[ParameterSet, ...]


@dataclass(frozen=True)
class JobSpec:
    """What one job runs: target, type, circuits (label -> QASM) and how they are measured.

    Exactly one of ``shots`` (every circuit), ``shot_groups`` (``(start, end, shots)``
    ranges over the circuits in order, tiling them) or ``observables`` (an EXPECTATION
    job). ``cluster`` says ``system_name`` names a simulator cluster
    (``simulator_cluster`` in ``job/init/``) rather than a QPU system.
    """

    system_name: str
    job_type: JobType
    circuits: Mapping[str, str]
    shots: int | None = None
    observables: str | None = None
    tag: str = "default"
    use_packing: bool = False
    shot_groups: tuple[ShotGroup, ...] | None = None
    cluster: bool = False
    templates: tuple[CircuitTemplate, ...] = ()
    """Parametric circuits sent in template form, besides (after) ``circuits``."""

    def __post_init__(self) -> None:
        if not self.circuits and not self.templates:
            raise QoroInputError("No circuits to submit: pass at least one circuit.")
        given = sum(x is not None for x in (self.shots, self.observables, self.shot_groups))
        if given != 1:
            raise QoroInputError(
                "A job needs exactly one of shots or shot_groups (sampling) or observables "
                "(expectation)."
            )
        if self.shots is not None:
            check_shots(self.shots)
        if self.shot_groups is not None:
            if self.templates:
                raise QoroInputError(
                    "Shot groups do not combine with circuit templates (qoro-api.md 5.6): send "
                    "the circuits bound, or one job per shots value."
                )
            check_shot_groups(self.shot_groups, len(self.circuits))
        if self.templates:
            self._check_templates()

    def _check_templates(self) -> None:
        labels = set(self.circuits)
        for index, template in enumerate(self.templates):
            if not isinstance(template, CircuitTemplate):
                raise QoroInputError(
                    f"Template {index} is {type(template).__name__}: pass CircuitTemplate objects."
                )
            check_template(template, index)
            for row in template.parameter_sets:
                if row.label in labels:
                    raise QoroInputError(
                        f"Label '{row.label}' names two circuits of the job (a circuit or a "
                        "parameter set of another template): labels name the results, so every "
                        "label must be distinct."
                    )
                labels.add(row.label)

    def labels(self) -> list[str]:
        """Every result label of the job: the circuits', then each template's sets', in order."""
        return list(self.circuits) + [
            row.label for template in self.templates for row in template.parameter_sets
        ]

    def init_request(self) -> InitJobRequest:
        """The ``job/init/`` body of this job."""
        return InitJobRequest(
            job_type=self.job_type,
            qpu_system_name=None if self.cluster else self.system_name,
            simulator_cluster=self.system_name if self.cluster else None,
            tag=self.tag,
            use_packing=self.use_packing,
        )


def check_shot_groups(groups: Sequence[Sequence[Any]], num_circuits: int) -> None:
    """:class:`QoroInputError` unless ``groups`` are ``(start, end, shots)`` triples of
    ints tiling circuits ``0..num_circuits`` in order, each with valid shots."""
    if not isinstance(groups, Sequence) or isinstance(groups, str):
        raise QoroInputError(
            f"shot_groups is {groups!r}: pass a list of (start, end, shots) triples."
        )
    at = 0
    for i, group in enumerate(groups):
        if (
            not isinstance(group, Sequence)
            or isinstance(group, str)
            or len(group) != 3
            or not all(is_integer(v) for v in group)
        ):
            raise QoroInputError(
                f"Shot group {i} is {group!r}: each group is (start, end, shots) of integers."
            )
        start, end, shots = group
        if start != at or end <= start:
            raise QoroInputError(
                f"Shot group {i} is {tuple(group)!r}: the groups must tile the circuits in "
                f"order without gaps or overlaps, so it must start at {at} and end after it."
            )
        check_shots(shots)
        at = end
    if at != num_circuits:
        raise QoroInputError(
            f"The shot groups cover circuits 0..{at - 1 if at else 0} but the job has "
            f"{num_circuits}: they must cover every circuit exactly once."
        )


def shot_groups_of_chunk(
    groups: Sequence[ShotGroup], start: int, end: int
) -> tuple[ShotGroup, ...]:
    """The part of job-wide ``groups`` over circuits ``start..end - 1``, re-indexed from 0
    (``qoro-api.md`` 5.6: indices are local to each ``add_circuits`` request)."""
    local = []
    for g_start, g_end, shots in groups:
        lo, hi = max(g_start, start), min(g_end, end)
        if lo < hi:
            local.append((lo - start, hi - start, shots))
    return tuple(local)


def submit_job(
    client: Transport,
    spec: JobSpec,
    *,
    max_bytes: int = MAX_PAYLOAD_BYTES,
    packed: Mapping[str, str] | None = None,
    chunks: Sequence[Mapping[str, str]] | None = None,
) -> str:
    """Create the job, upload its circuits in chunks, finalise it; return the job id.

    The circuits are packed (unless ``packed`` are given) and chunked under
    ``max_bytes`` per request (unless the caller gives its own ``chunks`` of packed
    circuits). The templates follow in template form, their parameter sets chunked
    under the same budget; only the job's very last request is finalised. If the server
    answers the first template upload with 400, every template is sent bound instead
    (into the same job). If any upload fails after the job exists, the job is cancelled
    and deleted before the error propagates (no half-uploaded orphan); the error carries
    the job id. An upload whose fate is unknown is never re-sent into the same job.
    """
    if chunks is None:
        if packed is None:
            packed = {label: pack_circuit(q) for label, q in spec.circuits.items()}
        chunks = chunk_packed_circuits(
            packed, max_bytes=max_bytes, overhead_bytes=_chunk_overhead(spec)
        )
    # Built before the job exists, so a template over the budget fails with no job.
    template_chunks = [
        request
        for index, template in enumerate(spec.templates)
        for request in chunk_parameter_sets(
            template,
            shots=spec.shots,
            observables=spec.observables,
            max_bytes=max_bytes,
            index=index,
        )
    ]
    job_id = client.call(init_job(spec.init_request()))
    logger.info(
        "Created Qoro job %s (%s on %s): %d circuits in %d upload(s)",
        job_id,
        spec.job_type.value,
        spec.system_name,
        len(spec.circuits) + sum(len(t.parameter_sets) for t in spec.templates),
        len(chunks) + len(template_chunks),
    )
    try:
        _upload_bound(client, job_id, spec, chunks, last=not template_chunks)
        if template_chunks:
            _upload_templates(client, job_id, spec, template_chunks, max_bytes)
    except QoroAmbiguousRequestError as exc:
        outcome = _discard_half_uploaded(client, job_id)
        raise QoroAmbiguousRequestError(
            f"Uploading circuits to job {job_id} failed ({exc}); {outcome}.", job_id=job_id
        ) from exc
    except Exception as exc:
        # The error propagates as it is (a divi caller expects its own HTTPError), with
        # the job id attached.
        outcome = _discard_half_uploaded(client, job_id)
        logger.warning("Uploading circuits to job %s failed (%s); %s.", job_id, exc, outcome)
        exc.job_id = job_id  # type: ignore[attr-defined]
        raise
    return job_id


def measurement_bytes(observables: str | None, shot_groups: Sequence[Sequence[int]] | None) -> int:
    """Bytes every ``add_circuits`` chunk repeats besides its circuits and fixed fields:
    the observables, and at most all the shot groups (each chunk re-indexes its part)."""
    return (len(observables) if observables else 0) + (
        len(json.dumps([list(g) for g in shot_groups])) if shot_groups else 0
    )


def _chunk_overhead(spec: JobSpec) -> int:
    """Bytes of an ``add_circuits`` body besides its circuits."""
    return CHUNK_OVERHEAD_BYTES + measurement_bytes(spec.observables, spec.shot_groups)


def _upload_bound(
    client: Transport,
    job_id: str,
    spec: JobSpec,
    chunks: Sequence[Mapping[str, str]],
    *,
    last: bool,
) -> None:
    """Upload chunks of packed bound circuits; the final one finalises the job if ``last``."""
    first = 0
    for i, chunk in enumerate(chunks):
        groups = spec.shot_groups
        request = AddCircuitsRequest(
            circuits=chunk,
            finalized=last and i == len(chunks) - 1,
            shots=spec.shots,
            observables=spec.observables,
            shot_groups=None
            if groups is None
            else shot_groups_of_chunk(groups, first, first + len(chunk)),
        )
        first += len(chunk)
        client.call(add_circuits(job_id, request))


def _upload_templates(
    client: Transport,
    job_id: str,
    spec: JobSpec,
    requests: Sequence[AddTemplateRequest],
    max_bytes: int,
) -> None:
    """Upload the template chunks (the last finalises the job); on a 400 for the first,
    send every template bound instead."""
    for i, request in enumerate(requests):
        if i == len(requests) - 1:
            request = replace(request, finalized=True)
        try:
            client.call(add_circuits(job_id, request))
        except Exception as exc:
            if i or not _is_bad_request(exc):
                raise
            logger.warning(
                "The server refused the template form for job %s (%s); sending its %d "
                "parametric circuit(s) bound instead.",
                job_id,
                exc,
                sum(len(t.parameter_sets) for t in spec.templates),
            )
            bound = {
                label: pack_circuit(qasm)
                for template in spec.templates
                for label, qasm in bind_template(template).items()
            }
            chunks = chunk_packed_circuits(
                bound, max_bytes=max_bytes, overhead_bytes=_chunk_overhead(spec)
            )
            _upload_bound(client, job_id, spec, chunks, last=True)
            return


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of an error: the client's own (``status_code``), or that of the
    response a transport's error carries (``requests.HTTPError``, as divi's raises)."""
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _is_bad_request(exc: BaseException) -> bool:
    """A 400, from either transport."""
    return isinstance(exc, QoroBadRequestError) or _http_status(exc) == 400


def _discard_half_uploaded(client: Transport, job_id: str) -> str:
    """Discard a job whose upload failed; says what became of it."""
    if discard_job(client, job_id):
        return "it was cancelled and deleted"
    return "cleaning it up failed; cancel or delete it by hand"


def discard_job(client: Transport, job_id: str) -> bool:
    """Best-effort cancel then delete; True when the job is gone."""
    try:
        client.call(cancel_job(job_id))
    except Exception as exc:  # best effort: whatever went wrong, still try to delete
        logger.debug("Cancel of job %s during clean-up failed: %s", job_id, exc)
    try:
        client.call(delete_job(job_id))
    except Exception as exc:
        # A 404 (QoroNotFoundError, or a transport's own HTTP error) means already gone.
        if _http_status(exc) == 404:
            logger.info("Half-uploaded job %s was already gone", job_id)
            return True
        logger.warning("Could not delete half-uploaded job %s: %s", job_id, exc)
        return False
    logger.info("Discarded half-uploaded job %s", job_id)
    return True


POLL_BACKOFF = 1.25
"""Growth of the interval between status polls: it trades the latency of noticing a
finished job (at most ~25 % of its run time) against the number of polls."""

ProgressCallback = Callable[[str, JobStatusReply, float], None]
"""Called after every status poll with (job_id, reply, seconds elapsed)."""


def wait_for_final_status(
    client: QoroClient,
    job_id: str,
    *,
    timeout: float | None = None,
    initial_interval: float = 0.01,
    max_interval: float = 2.0,
    callback: ProgressCallback | None = None,
    timeout_error: Callable[[str], Exception] | None = None,
    warned_unknown: set[str] | None = None,
) -> JobStatusReply:
    """Poll ``status/`` with exponential backoff until the job is final
    (:attr:`JobStatus.is_final`: COMPLETED, FAILED, CANCELLED, INSUFFICIENT_CREDITS,
    TIMED_OUT); the final reply is returned, not raised (see ``ensure_completed``).

    Polls start 10 ms apart and grow by :data:`POLL_BACKOFF` (1.25x) up to
    ``max_interval``: a job is noticed within ~25 % of its run time (plus one
    round trip), with 15 polls in the first second and 25 in the first ten, then one
    per ``max_interval``.

    An unknown status string is logged once (once per job when the caller passes its
    ``warned_unknown`` set, which is updated) and treated as not final. A poll
    that fails transiently even after the client's retries (connection lost,
    5xx, 429) is logged and polling goes on, up to :data:`MAX_POLL_FAILURES`
    in a row. Raises ``timeout_error(message)`` (default ``QoroError``) after
    ``timeout`` seconds; the message says the job is still running. The deadline
    also bounds each poll and the client's retries inside it (``deadline=``).
    """
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    interval = initial_interval
    warned: set[str] = set() if warned_unknown is None else warned_unknown
    failures = 0
    while True:
        try:
            reply = client.job_status(job_id, deadline=deadline)
        except QoroError as exc:
            elapsed = time.monotonic() - started
            failures += 1
            if isinstance(exc, QoroDeadlineError):
                raise (timeout_error or QoroError)(
                    f"Job {job_id} did not finish within {timeout:g} s (its status could not be "
                    f"read in time: {exc}). It may still be running on the server: wait again or "
                    "cancel it."
                ) from exc
            if not getattr(exc, "retriable", False) or failures > MAX_POLL_FAILURES:
                raise
            if timeout is not None and elapsed + interval > timeout:
                raise (timeout_error or QoroError)(
                    f"Job {job_id} did not finish within {timeout:g} s (its status could not be "
                    f"read: {exc}). It may still be running on the server: wait again or cancel it."
                ) from exc
            logger.warning("Polling job %s failed (%s); polling again.", job_id, exc)
            time.sleep(interval)
            interval = min(max_interval, interval * POLL_BACKOFF)
            continue
        failures = 0
        elapsed = time.monotonic() - started
        warn_unknown_status(job_id, reply, warned)
        if callback is not None:
            callback(job_id, reply, elapsed)
        if reply.is_final:
            return reply
        if timeout is not None and elapsed + interval > timeout:
            message = (
                f"Job {job_id} did not finish within {timeout:g} s "
                f"(last status {reply.raw_status}). "
                "It is still running on the server: wait again or cancel it."
            )
            raise (timeout_error or QoroError)(message)
        time.sleep(interval)
        interval = min(max_interval, interval * POLL_BACKOFF)


def decode_result_payload(label: str, payload: Any) -> dict[str, Any]:
    """A result row's payload: counts ``{bitstring: int}`` or expectation values
    ``{term: float}``."""
    if payload is None:
        return {}
    if is_histogram_envelope(payload):
        try:
            return decode_envelope(payload)
        except HistogramDecodeError as exc:
            raise HistogramDecodeError(
                f"Malformed server reply: the histogram of circuit '{label}' cannot be decoded "
                f"({exc})."
            ) from None
    if isinstance(payload, Mapping) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in payload.values()
    ):
        return dict(payload)
    raise QoroProtocolError(
        f"Malformed server reply: the result of circuit '{label}' is neither a histogram envelope "
        "nor a map of expectation values."
    )


def fetch_results(
    client: QoroClient,
    job_id: str,
    expected_labels: list[str] | None = None,
    *,
    shots: int | None = None,
) -> dict[str, dict[str, Any]]:
    """All results of a finished job, decoded, keyed by label.

    With ``expected_labels`` every label must be present exactly once. With
    ``shots`` (a sampling job) every histogram must hold exactly that many shots.
    Anything else raises :class:`QoroProtocolError` naming the circuit.
    """
    results: dict[str, dict[str, Any]] = {}
    for row in client.iter_results(job_id):
        if row.label in results:
            raise QoroProtocolError(
                f"Malformed server reply: job {job_id} returned label '{row.label}' twice."
            )
        decoded = decode_result_payload(row.label, row.results)
        if shots is not None and is_histogram_envelope(row.results):
            total = sum(decoded.values())
            if total != shots:
                raise QoroProtocolError(
                    f"Malformed server reply: the counts of circuit '{row.label}' in job {job_id} "
                    f"add up to {total} shots, but {shots} were requested."
                )
        results[row.label] = decoded
    if expected_labels is not None:
        missing = [label for label in expected_labels if label not in results]
        if missing:
            raise QoroProtocolError(
                f"Malformed server reply: job {job_id} returned no result for {missing[:5]}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                + "."
            )
    return results
