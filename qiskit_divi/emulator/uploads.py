"""``add_circuits``: a chunk of bound circuits or a template, checked and appended whole.

:class:`Uploads` holds what the checks need (the config, the system catalogue, the job
store, one :class:`~.circuits.CircuitParser` and the :class:`~.upload_limits.JobLimits`);
:mod:`.upload_form` reads the body's fields. Every check runs before anything is
appended, so a refused chunk leaves the job as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qiskit_divi.api.models import JobStatus, JobType

from .._qasm.scan import RegisterSizes, declared_register_sizes, included_files
from .circuits import CircuitParser, JobCircuit, QasmSyntaxError
from .config import EmulatorConfig
from .http_api import ApiError, bad_request, bad_request_on
from .observables import parse_observables
from .state import SAMPLING_TYPES, Job, JobStore
from .systems import SystemCatalogue, SystemSpec
from .templates import CircuitTemplate, TemplateError, parameter_names, parameter_sets
from .upload_form import (
    ShotGroup,
    add_circuits_fields,
    check_shots,
    check_shots_form,
    check_tiling,
    shot_groups,
    shots_form,
)
from .upload_limits import JobLimits

Parsed = list[tuple[str, JobCircuit]]
"""A chunk's circuits, parsed, with their labels."""


def _check_width(label: str, num_qubits: int, system: SystemSpec) -> None:
    if num_qubits > system.q_bits:
        raise bad_request(
            f"Circuit '{label}' uses {num_qubits} qubits; "
            f"system {system.name!r} has {system.q_bits}."
        )


class Uploads:
    """The ``add_circuits`` endpoint's checks and appends, for the jobs of one store."""

    def __init__(self, config: EmulatorConfig, catalogue: SystemCatalogue, store: JobStore):
        self.config = config
        self.catalogue = catalogue
        self.store = store
        self.parser = CircuitParser()
        self.limits = JobLimits(config, catalogue)

    def check_open(self, job: Job) -> None:
        """``409`` unless ``job`` still takes circuits."""
        with self.store.lock:
            if job.finalized or job.status is not JobStatus.PENDING:
                state = "finalised" if job.status is JobStatus.PENDING else job.status.value
                raise ApiError(409, {"error": f"Job no longer accepts circuits (it is {state})."})

    def add(self, job: Job, body: Mapping[str, Any]) -> dict[str, Any]:
        """Check the chunk ``body`` sends and append it to ``job`` (open when last checked);
        the reply body."""
        circuits, finalized = add_circuits_fields(body)
        shots, terms, groups = self._shots_or_observables(job, body)
        circuit_shots: list[int] | None = None
        if circuits is None:
            parsed, inflated = self._parse_template(job, body, shots, terms)
        else:
            if groups is not None:
                circuit_shots = check_tiling(groups, len(circuits))
            parsed, inflated = self._parse_circuits(job, circuits, terms)
        with self.store.lock:
            self.check_open(job)
            self.limits.check_inflated(job, inflated)
            total = self._append(job, parsed, shots, terms, finalized, circuit_shots)
            self.limits.count_inflated(job, inflated, finalized)
        return {
            "job_id": job.id,
            "circuits_added": len(parsed),
            "total_circuits": total,
            "finalized": finalized,
        }

    def _system(self, job: Job) -> SystemSpec:
        system = self.catalogue.get(job.system or "")
        assert system is not None  # only jobs created FAILED have none, and those are closed
        return system

    def _shots_or_observables(
        self, job: Job, body: Mapping[str, Any]
    ) -> tuple[int | None, list[str] | None, list[ShotGroup] | None]:
        """The chunk's ``shots`` or ``shot_groups`` (sampling jobs; the groups' tiling is
        checked against the circuits later) or dense observable terms (EXPECTATION)."""
        form = shots_form(job.job_type, body)
        max_shots = self.config.max_shots
        if form == "shots":
            return check_shots(body["shots"], "'shots'", max_shots), None, None
        if form == "shot_groups":
            return None, None, shot_groups(body["shot_groups"], max_shots)
        with bad_request_on(ValueError, prefix="Invalid observables: "):
            terms = parse_observables(
                body["observables"],
                max_qubits=self._system(job).q_bits,
                max_bytes=self.config.max_observable_bytes,
            )
        return None, terms, None

    def _parse_template(
        self, job: Job, body: Mapping[str, Any], shots: int | None, terms: list[str] | None
    ) -> tuple[Parsed, int]:
        """The circuits a template upload binds to (:mod:`.templates`) and their inflated
        bytes, every check of :meth:`_parse_circuits` applied to each.

        The limits are checked from the template's size and the count of sets before any
        set is read or bound, so a small template with a huge ``parameter_sets`` is refused
        at the cost of its JSON parse.
        """
        system = self._system(job)
        with bad_request_on(TemplateError):
            names = parameter_names(body["parameter_names"])
        packed, raw_sets = body["circuit_template"], body["parameter_sets"]
        if not isinstance(packed, str):
            raise bad_request("'circuit_template' must be a base64-gzip QASM string.")
        job_left = self.limits.room(job)
        label = "circuit_template"
        qasm = self.limits.unpack(label, packed, job_left)
        sizes = self._check_text(label, qasm, system)
        with bad_request_on(TemplateError):
            template = CircuitTemplate.of(qasm, names)
        if isinstance(raw_sets, list) and raw_sets:
            self.limits.check_template_floor(job, template, sizes, len(raw_sets), shots, job_left)
        with bad_request_on(TemplateError):
            sets = parameter_sets(raw_sets, len(names))
        inflated = self.limits.check_bound_sizes(template, sets, job_left)
        parsed = []
        for item in sets:
            invalid = (
                f"Parameter set '{item.label}' binds 'circuit_template' to invalid OpenQASM 2.0: "
            )
            with bad_request_on(QasmSyntaxError, prefix=invalid):
                circuit = self.parser.parse(template.bind(item.texts))
            self._check_circuit(job, item.label, circuit, system, terms)
            parsed.append((item.label, circuit))
        return parsed, inflated

    def _parse_circuits(
        self, job: Job, circuits: Mapping[str, Any], terms: list[str] | None
    ) -> tuple[Parsed, int]:
        """Unpack and parse every circuit of a chunk, checking it fits the job's system;
        also returns the chunk's inflated QASM bytes.

        Each circuit's inflate stops at ``max_circuit_bytes`` (or what is left of the job's
        ``max_job_circuit_bytes``), and its register sizes are checked before it is parsed:
        a few bytes must not make the parser allocate a huge register.
        """
        system = self._system(job)
        job_left = self.limits.room(job)
        inflated = 0
        parsed = []
        for label, packed in circuits.items():
            if not label:
                raise bad_request("Circuit labels must be non-empty strings.")
            if not isinstance(packed, str):
                raise bad_request(f"Circuit '{label}' must be a base64-gzip QASM string.")
            qasm = self.limits.unpack(label, packed, job_left - inflated)
            inflated += len(qasm) if qasm.isascii() else len(qasm.encode("utf-8"))
            self._check_text(label, qasm, system)
            with bad_request_on(
                QasmSyntaxError, prefix=f"Circuit '{label}' is not valid OpenQASM 2.0: "
            ):
                circuit = self.parser.parse(qasm)
            self._check_circuit(job, label, circuit, system, terms)
            parsed.append((label, circuit))
        return parsed, inflated

    def _check_text(self, label: str, qasm: str, system: SystemSpec) -> RegisterSizes:
        """``400`` for a text including a file other than ``qelib1.inc`` or declaring more
        bits than allowed (read without parsing); returns its register sizes."""
        foreign = [name for name in included_files(qasm) if name != "qelib1.inc"]
        if foreign:
            raise bad_request(
                f"Circuit '{label}' includes {foreign[0]!r}: only \"qelib1.inc\" can be "
                "included (define other gates in the program itself)."
            )
        sizes = declared_register_sizes(qasm)
        _check_width(label, sizes.num_qubits, system)
        if sizes.num_clbits > self.config.max_clbits:
            raise bad_request(
                f"Circuit '{label}' declares {sizes.num_clbits} classical bits; the emulator "
                f"accepts at most {self.config.max_clbits} (EmulatorConfig.max_clbits)."
            )
        return sizes

    def _check_circuit(
        self,
        job: Job,
        label: str,
        circuit: JobCircuit,
        system: SystemSpec,
        terms: list[str] | None,
    ) -> None:
        """``400`` for a parsed circuit the job cannot run."""
        _check_width(label, circuit.num_qubits, system)
        if terms is not None and len(terms[0]) != circuit.num_qubits:
            raise bad_request(
                f"Observables act on {len(terms[0])} qubits "
                f"but circuit '{label}' has {circuit.num_qubits}."
            )
        if job.job_type in SAMPLING_TYPES and circuit.num_clbits == 0:
            raise bad_request(f"Circuit '{label}' has no classical bits: nothing to sample.")

    def _append(
        self,
        job: Job,
        parsed: Parsed,
        shots: int | None,
        terms: list[str] | None,
        finalized: bool,
        circuit_shots: list[int] | None = None,
    ) -> int:
        """Check the chunk against the job's earlier chunks, append it, finalise if asked;
        returns the job's circuit count. ``circuit_shots``: each circuit's shots, from the
        chunk's ``shot_groups``. Runs under the store's lock."""
        check_shots_form(job, shots, circuit_shots)
        if terms is not None and job.observables is not None and terms != job.observables:
            raise bad_request("'observables' differ from earlier chunks of this job.")
        seen = set(job.labels)
        for label, _ in parsed:
            if label in seen:
                raise bad_request(f"Duplicate circuit label '{label}' in this job.")
            seen.add(label)
        total = job.n_circuits + len(parsed)
        if job.job_type is JobType.CIRCUIT_CUT and total > 1:
            raise bad_request("CIRCUIT_CUT jobs take exactly one circuit.")
        if finalized and total == 0:
            raise bad_request("Cannot finalise a job without circuits.")
        if circuit_shots is not None:
            most = max(circuit_shots + job.circuit_shots, default=None)
        else:
            most = shots if shots is not None else job.shots
        self.limits.check_memory(job, parsed, most, total)
        job.shots = shots if shots is not None else job.shots
        job.observables = terms if terms is not None else job.observables
        if circuit_shots is not None:
            job.circuit_shots.extend(circuit_shots)
        elif shots is not None:
            job.circuit_shots.extend([shots] * len(parsed))
        for label, circuit in parsed:
            job.labels.append(label)
            job.circuits.append(circuit)
        if finalized:
            self.store.finalize(job)
        return total
