"""How the circuits of a primitive call travel: bound, in template form, or with shot groups.

Both primitives describe what a call sends as :class:`Batch` objects: the bindings of one
(possibly parametric) circuit that one PUB sends at one shots value, each binding labelled
(:func:`~qiskit_divi.primitives.payloads.pub_label`). :func:`plan_jobs` turns them into
:class:`~qiskit_divi.api.submission.JobSpec` objects:

* **Template form** (``templates=True``, the default): a batch whose circuit has parameters
  travels as ONE :class:`~qiskit_divi.api.submission.CircuitTemplate` whose parameter sets are
  its bindings, labelled as the bound circuits would be, so results decode exactly as before.
  A circuit the template writer cannot express (:func:`template_of` returns ``None``) and a
  circuit without parameters travel bound. ``templates=False``: every binding travels bound
  (one circuit per binding, as qiskit_divi 0.6 sent them).
* **Several shots values** (a sampler call whose PUBs ask for different shots, an estimator
  sampling fallback whose PUBs have different precisions). The contract (``qoro-api.md`` 5.6)
  does not combine ``shot_groups`` with templates, so there are two candidate forms:

  - one bound job with ``shot_groups`` (one group per run of equal shots, in batch order);
  - one job per shots value, parametric batches in template form.

  The rule: the template form is chosen when it is estimated to upload fewer bytes, an extra
  job counted as :data:`EXTRA_JOB_BYTES`; otherwise (ties included) the single shot-groups
  job. Bytes are estimated as the service's chunking does (``qoro-api.md`` 5.2): a bound
  binding is its packed QASM (the first binding's, times the number of bindings) plus its
  label; a template is its packed text, its names and one row per set
  (:func:`template_bytes`). Batches that travel bound either way count the same on both sides
  and are not estimated. With ``templates=False``, or when no batch can be templated, several
  shots values are always the one shot-groups job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives.containers.bindings_array import BindingsArray

from .._circuits import bound_qasm, to_qasm
from .._qasm.writer import symbolic_qasm
from ..api.circuits import pack_circuit
from ..api.errors import QoroInputError
from ..api.models import ParameterSet, ShotGroup
from ..api.submission import CircuitTemplate, JobSpec

logger = logging.getLogger(__name__)

EXTRA_JOB_BYTES = 4096
"""Upload cost counted for each job beyond the first: its ``job/init/``, its own finalising
upload, status polls and result pages, which a single job would not need."""


@dataclass(frozen=True)
class Batch:
    """Bindings ``flats`` (flat indices into ``bindings``) of ``circuit``, labelled ``labels``.

    ``key`` says which jobs may hold it: batches of different keys never share a job unless
    :func:`plan_jobs` joins them with shot groups (``shots`` is then each batch's shots).
    """

    index: int
    """The PUB's index, for messages."""
    circuit: QuantumCircuit
    bindings: BindingsArray
    flats: tuple[int, ...]
    labels: tuple[str, ...]
    key: Hashable
    shots: int | None = None


@dataclass(frozen=True)
class JobForm:
    """The circuits and templates of one job of a call, and the shot groups over its circuits."""

    key: Hashable
    circuits: dict[str, str]
    templates: tuple[CircuitTemplate, ...] = ()
    shots: int | None = None
    """The shots of every circuit (``None``: shot groups, or an EXPECTATION job)."""
    shot_groups: tuple[ShotGroup, ...] | None = None


def template_of(batch: Batch) -> CircuitTemplate | None:
    """``batch`` as one template with a parameter set per binding, or ``None`` when its circuit
    has no parameters or cannot be written as a template.

    Raises :class:`QoroInputError` for non-finite parameter values (as the bound form does).
    """
    circuit = batch.circuit
    if not circuit.parameters or not batch.flats:
        return None
    written = symbolic_qasm(circuit)
    if written is None:
        logger.debug(
            "PUB %d: circuit '%s' cannot be written as a template; sending it bound.",
            batch.index,
            circuit.name,
        )
        return None
    qasm, names = written
    rows = batch.bindings.as_array(circuit.parameters).reshape(-1, circuit.num_parameters)
    rows = rows[list(batch.flats)]
    if not np.isfinite(rows).all():
        raise QoroInputError(
            f"PUB {batch.index}: circuit '{circuit.name}' cannot be bound: a parameter value is "
            "not finite. Pass finite parameter values."
        )
    sets = tuple(
        ParameterSet(label, tuple(values))
        for label, values in zip(batch.labels, rows.tolist(), strict=True)
    )
    return CircuitTemplate(qasm, tuple(names), sets)


def bound_circuits(batch: Batch) -> dict[str, str]:
    """``batch`` as bound QASM texts by label."""
    texts = bound_qasm(batch.circuit, batch.bindings, batch.index)
    return {label: texts[flat] for label, flat in zip(batch.labels, batch.flats, strict=True)}


def template_bytes(template: CircuitTemplate) -> int:
    """Estimated upload bytes of ``template`` (``qoro-api.md`` 5.2, HEAD's estimate)."""
    fixed = len(pack_circuit(template.qasm)) + sum(len(n) + 4 for n in template.parameter_names)
    rows = sum(
        26 + len(s.label) + sum(len(repr(float(v))) + 2 for v in s.values) + 2
        for s in template.parameter_sets
    )
    return fixed + 2 + rows


def bound_bytes(batch: Batch, template: CircuitTemplate) -> int:
    """Estimated upload bytes of ``batch`` bound: its first binding's packed QASM per binding,
    plus the labels (``qoro-api.md`` 5.2)."""
    first = template.parameter_sets[0].values
    sample = to_qasm(batch.circuit.assign_parameters(list(first)), batch.index)
    return len(batch.labels) * len(pack_circuit(sample)) + sum(len(x) + 6 for x in batch.labels)


def plan_jobs(batches: Sequence[Batch], *, templates: bool) -> list[JobForm]:
    """The jobs of a call's ``batches`` by the rule of the module docstring, in key order."""
    keys = list(dict.fromkeys(batch.key for batch in batches))
    encoded = [template_of(batch) if templates else None for batch in batches]
    several_shots = len(keys) > 1 and all(batch.shots is not None for batch in batches)
    if several_shots and (not any(encoded) or not _templates_cheaper(batches, encoded, len(keys))):
        return [_shot_groups_job(batches)]
    jobs: dict[Hashable, tuple[dict[str, str], list[CircuitTemplate]]] = {
        key: ({}, []) for key in keys
    }
    shots: dict[Hashable, int | None] = {}
    for batch, template in zip(batches, encoded, strict=True):
        circuits, job_templates = jobs[batch.key]
        shots.setdefault(batch.key, batch.shots)
        if template is None:
            circuits.update(bound_circuits(batch))
        else:
            job_templates.append(template)
    return [
        JobForm(key, circuits, tuple(ts), shots=shots[key]) for key, (circuits, ts) in jobs.items()
    ]


def _templates_cheaper(
    batches: Sequence[Batch], encoded: Sequence[CircuitTemplate | None], num_jobs: int
) -> bool:
    saved = 0
    for batch, template in zip(batches, encoded, strict=True):
        if template is not None:
            saved += bound_bytes(batch, template) - template_bytes(template)
    cheaper = saved > (num_jobs - 1) * EXTRA_JOB_BYTES
    logger.debug(
        "Templates save ~%d bytes against one shot-groups job; %d extra job(s) cost %d: %s.",
        saved,
        num_jobs - 1,
        (num_jobs - 1) * EXTRA_JOB_BYTES,
        "one job per shots value, in template form" if cheaper else "one shot-groups job",
    )
    return cheaper


def _shot_groups_job(batches: Sequence[Batch]) -> JobForm:
    """One bound job of every batch, a shot group per run of batches of equal shots."""
    circuits: dict[str, str] = {}
    shots: list[int] = []
    for batch in batches:
        assert batch.shots is not None  # plan_jobs only joins sampling batches
        texts = bound_circuits(batch)
        circuits.update(texts)
        shots.extend([batch.shots] * len(texts))
    return JobForm(batches[0].key, circuits, shot_groups=shot_groups_of(shots))


def shot_groups_of(shots: Sequence[int]) -> tuple[ShotGroup, ...]:
    """The shot groups of circuits whose shots are ``shots`` (in job order): one per run of
    equal shots."""
    groups: list[ShotGroup] = []
    for position, n in enumerate(shots):
        if groups and groups[-1][2] == n:
            groups[-1] = (groups[-1][0], position + 1, n)
        else:
            groups.append((position, position + 1, n))
    return tuple(groups)


def job_specs(
    forms: Sequence[JobForm], make: Callable[[JobForm], JobSpec]
) -> tuple[tuple[JobSpec, ...], Callable[[Hashable], int]]:
    """The specs of ``forms`` and the job index of each key (all 0 for one shot-groups job)."""
    specs = tuple(make(form) for form in forms)
    if len(forms) == 1 and forms[0].shot_groups is not None:
        return specs, lambda key: 0
    index = {form.key: i for i, form in enumerate(forms)}
    return specs, index.__getitem__


__all__ = [
    "EXTRA_JOB_BYTES",
    "Batch",
    "JobForm",
    "bound_circuits",
    "job_specs",
    "plan_jobs",
    "shot_groups_of",
    "template_of",
    "template_bytes",
]
