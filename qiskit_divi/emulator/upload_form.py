"""What an ``add_circuits`` body says, checked field by field (``qoro-api.md`` 5.5, 5.6).

Bound ``circuits`` or the template form, ``finalized`` and ``mode``; exactly one of
``shots``, ``shot_groups`` (tiling the request's circuits) and ``observables``; and the
agreement of a chunk's shots with the job's earlier chunks. Every answer is a ``400``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qiskit_divi.api.models import JobType

from ..api.validation import is_integer
from .http_api import bad_request, parse_bool
from .state import Job

ShotGroup = tuple[int, int, int]

_UNSUPPORTED_ADD_CIRCUITS_KEYS = ("circuit_ham_map",)
_TEMPLATE_KEYS = ("parameter_names", "parameter_sets")
_FORMS = ("shots", "observables", "shot_groups")


def _check_template_form(body: Mapping[str, Any]) -> None:
    """``400`` unless a body with ``circuit_template`` is a complete template form."""
    if "circuits" in body:
        raise bad_request(
            "Send either 'circuits' (bound circuits) or 'circuit_template' with "
            "'parameter_names' and 'parameter_sets', not both in one request."
        )
    if "shot_groups" in body:
        raise bad_request(
            "'shot_groups' does not combine with 'circuit_template' (qoro-api.md 5.6): "
            "send 'shots', or send the circuits bound with 'shot_groups'."
        )
    for key in _TEMPLATE_KEYS:
        if key not in body:
            raise bad_request(f"The template form needs '{key}' with 'circuit_template'.")


def _bound_circuits(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``circuits`` object of a body without ``circuit_template``."""
    stray = [key for key in _TEMPLATE_KEYS if key in body]
    if stray:
        raise bad_request(
            f"'{stray[0]}' belongs to the template form: send it with 'circuit_template'."
        )
    circuits = body.get("circuits")
    if not isinstance(circuits, dict):
        raise bad_request(
            "'circuits' must be an object mapping labels to base64-gzip QASM strings."
        )
    return circuits


def add_circuits_fields(body: Mapping[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """``add_circuits``' ``circuits`` object (None in the template form, whose keys are
    checked to be complete) and ``finalized`` flag, after the checks of the keys the
    emulator refuses and of ``mode``."""
    for unsupported in _UNSUPPORTED_ADD_CIRCUITS_KEYS:
        if unsupported in body:
            raise bad_request(f"'{unsupported}' is not supported by the emulator.")
    circuits: dict[str, Any] | None = None
    if "circuit_template" in body:
        _check_template_form(body)
    else:
        circuits = _bound_circuits(body)
    mode = body.get("mode", "append")
    if mode != "append":
        raise bad_request(f"Unsupported mode {mode!r}; only 'append' is supported.")
    return circuits, parse_bool(body.get("finalized", "false"), "finalized")


def shots_form(job_type: JobType, body: Mapping[str, Any]) -> str:
    """Which of ``shots``, ``observables`` and ``shot_groups`` the body sends: exactly one,
    ``observables`` if and only if the job is EXPECTATION."""
    present = [key for key in _FORMS if key in body]
    if len(present) != 1:
        raise bad_request("Exactly one of 'shots', 'observables' or 'shot_groups' is required.")
    form = present[0]
    if job_type is JobType.EXPECTATION and form != "observables":
        raise bad_request(f"EXPECTATION jobs take 'observables', not '{form}'.")
    if job_type is not JobType.EXPECTATION and form == "observables":
        raise bad_request(
            f"{job_type.value} jobs take 'shots' or 'shot_groups'; 'observables' need "
            "an EXPECTATION job."
        )
    return form


def check_shots(shots: Any, name: str, max_shots: int) -> int:
    """``shots`` as a positive integer of at most ``max_shots``; ``name`` says whose."""
    if not is_integer(shots):
        raise bad_request(f"{name} must be an integer, got {shots!r}.")
    if shots <= 0:
        raise bad_request(f"{name} must be positive, got {shots}.")
    if shots > max_shots:
        raise bad_request(f"{name} must not exceed {max_shots}, got {shots}.")
    return int(shots)


def shot_groups(raw: Any, max_shots: int) -> list[ShotGroup]:
    """The ``[start, end, shots]`` triples of ``shot_groups`` (their tiling is checked
    against the circuits by :func:`check_tiling`)."""
    if not isinstance(raw, list):
        raise bad_request("'shot_groups' must be a list of [start, end, shots] integer triples.")
    groups: list[ShotGroup] = []
    for i, group in enumerate(raw):
        if (
            not isinstance(group, list)
            or len(group) != 3
            or not all(is_integer(v) and v >= 0 for v in group[:2])
        ):
            raise bad_request(
                f"Shot group {i} is {group!r}: each group is [start, end, shots] with "
                "non-negative integer circuit indices, local to this request."
            )
        shots = check_shots(group[2], f"The shots of shot group {i}", max_shots)
        groups.append((int(group[0]), int(group[1]), shots))
    return groups


def check_tiling(groups: list[ShotGroup], n_circuits: int) -> list[int]:
    """The shots of each of the request's ``n_circuits`` circuits; ``400`` unless the
    ``[start, end)`` ranges tile them in order (``qoro-api.md`` 5.6: indices are local to
    the request)."""
    at = 0
    for i, (start, end, _) in enumerate(groups):
        if start != at or end <= start or end > n_circuits:
            raise bad_request(
                f"'shot_groups' must tile this request's {n_circuits} circuits with "
                f"[start, end, shots] ranges in order, from 0 to {n_circuits}, without gaps or "
                f"overlaps; group {i} is {list(groups[i])} (expected start {at})."
            )
        at = end
    if at != n_circuits:
        raise bad_request(
            f"'shot_groups' cover circuits 0 to {at} of this request's {n_circuits}: every "
            "circuit needs a group."
        )
    return [shots for start, end, shots in groups for _ in range(end - start)]


def check_shots_form(job: Job, shots: int | None, circuit_shots: list[int] | None) -> None:
    """``400`` unless a chunk's ``shots`` (or ``shot_groups``) agree with the job's earlier
    chunks: one ``shots`` value throughout, or ``shot_groups`` with every chunk."""
    if shots is not None and job.shots is not None and shots != job.shots:
        raise bad_request(
            f"'shots' ({shots}) differs from earlier chunks of this job ({job.shots})."
        )
    if shots is not None and job.shots is None and job.circuit_shots:
        raise bad_request(
            "Earlier chunks of this job sent 'shot_groups': send 'shot_groups' with every "
            "chunk of the job (indices local to each request)."
        )
    if circuit_shots is not None and job.shots is not None:
        raise bad_request(
            f"Earlier chunks of this job sent 'shots' ({job.shots}): send 'shots' with "
            "every chunk, or 'shot_groups' with every chunk."
        )
