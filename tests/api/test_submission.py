"""Submitting a job over any transport, and waiting for it: the status poll schedule."""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pytest
import requests
from ground_truth import assert_sampled_from, outcome_probabilities
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import SparsePauliOp, Statevector

from qiskit_divi._qasm.writer import QasmTemplate, symbolic_qasm
from qiskit_divi.api import submission
from qiskit_divi.api.circuits import pack_circuit, unpack_circuit
from qiskit_divi.api.client import QoroClient
from qiskit_divi.api.endpoints import Call
from qiskit_divi.api.errors import (
    QoroAmbiguousRequestError,
    QoroBadRequestError,
    QoroInputError,
    QoroProtocolError,
)
from qiskit_divi.api.histogram import encode_envelope
from qiskit_divi.api.models import JobType, ParameterSet, parse_job_status
from qiskit_divi.api.submission import CircuitTemplate, JobSpec
from qiskit_divi.api.templates import bind_template
from qiskit_divi.emulator import EmulatorConfig, EmulatorServer
from qiskit_divi.target import qasm2_standard_gates


class _StatusScript:
    """A client whose ``job_status`` answers PENDING ``pending`` times, then COMPLETED."""

    def __init__(self, pending: int):
        self.replies = ["PENDING"] * pending + ["COMPLETED"]
        self.polls = 0

    def job_status(self, job_id: str, *, deadline=None):
        reply = parse_job_status({"status": self.replies[self.polls]})
        self.polls += 1
        return reply


def test_polls_start_at_ten_milliseconds_and_grow_by_the_backoff_up_to_the_cap(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(submission.time, "sleep", sleeps.append)
    client = _StatusScript(pending=30)
    reply = submission.wait_for_final_status(client, "job", max_interval=0.5)
    assert reply.is_final and client.polls == 31 and len(sleeps) == 30
    assert sleeps[:3] == pytest.approx([0.01, 0.0125, 0.015625])
    assert all(
        b == pytest.approx(min(0.5, a * submission.POLL_BACKOFF))
        for a, b in zip(sleeps, sleeps[1:], strict=False)
    )
    assert sleeps[-1] == 0.5
    # a job finishing at 0.1 s is noticed within a quarter of that (the first poll after it)
    elapsed = [sum(sleeps[:k]) for k in range(len(sleeps) + 1)]
    assert min(t for t in elapsed if t >= 0.1) < 0.125


# --- submission over any transport -------------------------------------------------


class _Transport:
    """Answers ``job/init/`` with job ``j9``; an upload raises ``add_error`` unless it is
    None; records every call."""

    def __init__(self, add_error: Exception | None = None) -> None:
        self.add_error = add_error
        self.calls: list[Call[Any]] = []

    @property
    def sent(self) -> list[tuple[str, str]]:
        return [(call.method, call.endpoint) for call in self.calls]

    def call(self, call: Call[Any]) -> Any:
        self.calls.append(call)
        if call.endpoint == "job/init/":
            return "j9"
        if call.endpoint.endswith("add_circuits/") and self.add_error is not None:
            raise self.add_error
        return None


SPEC = JobSpec("qoro_maestro", JobType.SIMULATE, {"a": "qasm-a", "b": "qasm-b"}, shots=5)


def test_a_failed_upload_discards_the_job_and_raises_the_error_as_it_is():
    error = RuntimeError("the transport's own error")
    transport = _Transport(error)
    with pytest.raises(RuntimeError) as info:
        submission.submit_job(transport, SPEC)
    assert info.value is error and info.value.job_id == "j9"
    assert transport.sent[1:] == [
        ("POST", "job/j9/add_circuits/"),
        ("POST", "job/j9/cancel/"),
        ("DELETE", "job/j9"),
    ]


@pytest.mark.parametrize("style", ["client", "divi"])
def test_a_job_already_gone_counts_as_discarded_whichever_transport_says_404(style):
    class GoneTransport(_Transport):
        def call(self, call: Call[Any]) -> Any:
            if call.method == "DELETE":
                response = requests.Response()
                response.status_code = 404
                error = requests.HTTPError("404 Not Found", response=response)
                if style == "client":
                    error.status_code = 404  # type: ignore[attr-defined]
                    error.response = None
                raise error
            return super().call(call)

    assert submission.discard_job(GoneTransport(), "j9") is True


def test_an_ambiguous_upload_names_the_job_and_the_clean_up():
    transport = _Transport(QoroAmbiguousRequestError("POST failed (ReadTimeout)"))
    with pytest.raises(
        QoroAmbiguousRequestError, match="Uploading circuits to job j9 failed"
    ) as info:
        submission.submit_job(transport, SPEC)
    assert info.value.job_id == "j9" and "it was cancelled and deleted" in str(info.value)


def test_given_chunks_are_uploaded_as_they_are():
    transport = _Transport()
    chunks = [{"a": "packed-a"}, {"b": "packed-b"}]
    assert submission.submit_job(transport, SPEC, chunks=chunks) == "j9"
    uploads = [call.body for call in transport.calls[1:]]
    assert [body["circuits"] for body in uploads] == chunks
    assert [body["finalized"] for body in uploads] == ["false", "true"]


@pytest.mark.parametrize("shots", [0, -1, 2.5, True, "5", submission.MAX_SHOTS + 1])
def test_shots_are_checked_once_for_every_caller(shots):
    with pytest.raises(
        QoroInputError, match="Shots must be a positive integer of at most 1,000,000"
    ):
        submission.check_shots(shots)
    with pytest.raises(QoroInputError, match=f"Got {shots!r}"):
        JobSpec("qoro_maestro", JobType.SIMULATE, {"a": "q"}, shots=shots)
    assert submission.check_shots(submission.MAX_SHOTS) == submission.MAX_SHOTS


# --- templates: after the bound circuits, bound instead on a 400 ---------------------------

TEMPLATE_QASM = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\n'
    "rz(t0000) q[0];\nrx(t0001) q[0];\nmeasure q[0] -> c[0];"
)


def _sets(prefix: str, count: int) -> tuple[ParameterSet, ...]:
    return tuple(ParameterSet(f"{prefix}{k}", (0.125 * k, -0.5 - k)) for k in range(count))


def _template_spec(count: int = 40, circuits: dict[str, str] | None = None) -> JobSpec:
    templates = (
        CircuitTemplate(TEMPLATE_QASM, ("t0000", "t0001"), _sets("x", count)),
        CircuitTemplate(TEMPLATE_QASM.replace("rx", "ry"), ("t0000", "t0001"), _sets("y", 3)),
    )
    return JobSpec(
        "qoro_maestro",
        JobType.SIMULATE,
        {"a": "qasm-a", "b": "qasm-b"} if circuits is None else circuits,
        shots=5,
        templates=templates,
    )


def test_templates_follow_the_bound_circuits_and_only_the_last_request_is_finalised():
    transport = _Transport()
    spec = _template_spec()
    assert submission.submit_job(transport, spec, max_bytes=1500) == "j9"
    uploads = [call.body for call in transport.calls[1:]]
    kinds = ["circuits" if "circuits" in body else "template" for body in uploads]
    assert kinds[0] == "circuits" and kinds[1:].count("circuits") == 0 and len(kinds) > 3
    assert [body["finalized"] for body in uploads] == ["false"] * (len(uploads) - 1) + ["true"]
    assert all(len(json.dumps(body)) <= 1500 for body in uploads)
    sent = [row["label"] for body in uploads[1:] for row in body["parameter_sets"]]
    assert sent == spec.labels()[2:]
    assert all(body["shots"] == 5 and body["mode"] == "append" for body in uploads)
    assert unpack_circuit(uploads[-1]["circuit_template"]) == spec.templates[1].qasm


def test_a_job_of_templates_only_finalises_its_last_template_upload():
    transport = _Transport()
    submission.submit_job(transport, _template_spec(count=2, circuits={}))
    uploads = [call.body for call in transport.calls[1:]]
    assert [b["finalized"] for b in uploads] == ["false", "true"]
    assert all("parameter_sets" in b for b in uploads)


def test_a_template_over_the_budget_fails_before_the_job_exists():
    transport = _Transport()
    with pytest.raises(QoroInputError, match=r"Circuit template 0 takes \d+ bytes without any"):
        submission.submit_job(
            transport,
            _template_spec(count=1),
            max_bytes=len(pack_circuit(TEMPLATE_QASM)) + 120,
        )
    assert transport.calls == []


def _bad_request_scripted(scripted, *, refuse_at: int) -> None:
    """A server whose ``refuse_at``-th upload (0-based) of job j1 answers 400."""
    scripted.on("POST", "job/init/", (201, {}, {"job_id": "j1"}))
    replies = [(200, {}, {})] * refuse_at + [(400, {}, {"detail": "unknown field"})]
    scripted.on("POST", "job/j1/add_circuits/", *replies, (200, {}, {}))
    scripted.on("POST", "job/j1/cancel/", (200, {}, {}))
    scripted.on("DELETE", "job/j1", (204, {}, ""))


def _uploads(scripted) -> list[dict[str, Any]]:
    return [
        json.loads(body)
        for method, path, _, body in scripted.seen
        if method == "POST" and path.endswith("add_circuits/")
    ]


def test_a_400_on_the_first_template_sends_the_same_job_bound(scripted, client, caplog):
    _bad_request_scripted(scripted, refuse_at=1)
    spec = _template_spec()
    with caplog.at_level(logging.WARNING, logger="qiskit_divi.api.submission"):
        assert submission.submit_job(client, spec, max_bytes=2000) == "j1"
    assert scripted.count("POST", "job/init/") == 1
    assert scripted.count("POST", "job/j1/cancel/") == 0
    uploads = _uploads(scripted)
    assert "circuits" in uploads[0] and "parameter_sets" in uploads[1]
    fallback = uploads[2:]
    assert fallback and all("circuits" in b and "circuit_template" not in b for b in fallback)
    assert [b["finalized"] for b in uploads] == ["false"] * (len(uploads) - 1) + ["true"]
    bound = {
        label: unpack_circuit(value) for b in fallback for label, value in b["circuits"].items()
    }
    expected = {}
    for template in spec.templates:
        expected.update(bind_template(template))
    assert bound == expected and list(bound) == spec.labels()[2:]
    assert "refused the template form for job j1" in caplog.text
    assert "sending its 43 parametric circuit(s) bound instead" in caplog.text


def test_a_400_on_a_later_template_upload_is_an_error_and_the_job_is_discarded(scripted, client):
    _bad_request_scripted(scripted, refuse_at=2)
    with pytest.raises(QoroBadRequestError) as info:
        submission.submit_job(client, _template_spec(), max_bytes=2000)
    assert info.value.job_id == "j1"
    assert scripted.count("POST", "job/j1/cancel/") == 1
    assert scripted.count("DELETE", "job/j1") == 1
    assert scripted.count("POST", "job/init/") == 1


class _DiviTransport(_Transport):
    """Raises a ``requests.HTTPError`` with a 400 response on the first template upload,
    as divi's own transport does."""

    def call(self, call: Call[Any]) -> Any:
        result = super().call(call)
        if call.body and "circuit_template" in call.body and not getattr(self, "refused", False):
            self.refused = True
            response = requests.Response()
            response.status_code = 400
            raise requests.HTTPError("400 Bad Request: unknown field", response=response)
        return result


def test_a_divi_transports_400_on_the_first_template_also_falls_back():
    transport = _DiviTransport()
    submission.submit_job(transport, _template_spec(count=3, circuits={}))
    uploads = [call.body for call in transport.calls[1:]]
    assert ["circuit_template" in b for b in uploads] == [True, False]
    assert sorted(uploads[1]["circuits"]) == ["x0", "x1", "x2", "y0", "y1", "y2"]
    assert uploads[1]["finalized"] == "true"


def test_any_other_failure_of_the_first_template_discards_the_job_as_before():
    transport = _DiviTransport()
    transport.refused = True  # no fallback path: every upload fails with the transport's error
    transport.add_error = RuntimeError("connection lost")
    with pytest.raises(RuntimeError):
        submission.submit_job(transport, _template_spec(count=1, circuits={}))
    assert transport.sent[-2:] == [("POST", "job/j9/cancel/"), ("DELETE", "job/j9")]


def test_results_come_back_under_the_set_labels(scripted, client):
    spec = _template_spec(count=2)
    rows = [
        {"label": label, "results": encode_envelope({"0": 4, "1": 1}, 1)} for label in spec.labels()
    ]
    scripted.on(
        "GET", "job/j1/resultsV2/", (200, {}, {"count": len(rows), "next": None, "results": rows})
    )
    results = submission.fetch_results(client, "j1", spec.labels(), shots=5)
    assert list(results) == ["a", "b", "x0", "x1", "y0", "y1", "y2"]
    assert results["x1"] == {"0": 4, "1": 1}
    scripted.on(
        "GET",
        "job/j1/resultsV2/",
        (200, {}, {"count": len(rows) - 1, "next": None, "results": rows[:-1]}),
    )
    with pytest.raises(QoroProtocolError, match=r"no result for \['y2'\]"):
        submission.fetch_results(client, "j1", spec.labels(), shots=5)


# --- end to end against the emulator: templates bind to the Qiskit-bound circuits ------------

E2E_TOKEN = "template-e2e-token-0f3b9d2c"


@pytest.fixture(scope="module")
def emulator_client():
    config = EmulatorConfig(min_job_seconds=0.0, seed=97)
    server = EmulatorServer(tokens=[E2E_TOKEN], host="127.0.0.1", port=0, config=config)
    with server, QoroClient(E2E_TOKEN, server.base_url) as client:
        yield client


def _every_parametric_target_gate(num_qubits: int = 3) -> QuantumCircuit:
    """Every parametric gate of the target, each angle a parameter or an affine expression
    of the parameters, on an entangled state."""
    theta = ParameterVector("θ", 4)
    mapping = get_standard_gate_name_mapping()
    circuit = QuantumCircuit(num_qubits)
    circuit.h(range(num_qubits))
    circuit.cx(0, 1)
    forms = [
        lambda k: theta[k % 4],
        lambda k: 2 * theta[k % 4] - 0.5,
        lambda k: theta[k % 4] - theta[(k + 1) % 4] / 3,
    ]
    k = 0
    for name in qasm2_standard_gates():
        op = mapping[name]
        if not op.params:
            continue
        angles = []
        for _ in op.params:
            angles.append(forms[k % 3](k))
            k += 1
        circuit.append(op.base_class(*angles), [(k + i) % num_qubits for i in range(op.num_qubits)])
    return circuit


def _bindings(count: int, seed: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, (count, 4))


def test_templates_sample_the_qiskit_bound_circuits_on_the_emulator(emulator_client):
    unitary = _every_parametric_target_gate()
    circuit = unitary.measure_all(inplace=False)
    symbolic = symbolic_qasm(circuit)
    assert symbolic is not None
    values = _bindings(4)
    template = CircuitTemplate(
        symbolic.qasm,
        symbolic.parameter_names,
        tuple(ParameterSet(f"pub0_{k}", tuple(row)) for k, row in enumerate(values.tolist())),
    )
    fixed = unitary.assign_parameters(values[0]).measure_all(inplace=False)
    shots = 4000
    spec = JobSpec(
        "qoro_maestro",
        JobType.SIMULATE,
        {"bound": QasmTemplate.of(fixed).render()},
        shots=shots,
        templates=(template,),
    )
    # A small budget: the bound circuit and the sets travel in several requests.
    job_id = submission.submit_job(emulator_client, spec, max_bytes=len(symbolic.qasm) + 1500)
    assert submission.wait_for_final_status(emulator_client, job_id, timeout=60).is_final
    results = submission.fetch_results(emulator_client, job_id, spec.labels(), shots=shots)
    references = {"bound": fixed} | {
        f"pub0_{k}": circuit.assign_parameters(row) for k, row in enumerate(values)
    }
    for label, reference in references.items():
        counts = {int(key, 2): count for key, count in results[label].items()}
        assert_sampled_from(counts, outcome_probabilities(reference), label)  # TVD, delta 1e-9


def test_templates_estimate_the_qiskit_bound_expectations_on_the_emulator(emulator_client):
    unitary = _every_parametric_target_gate()
    symbolic = symbolic_qasm(unitary)
    values = _bindings(3, seed=9)
    terms = ["ZZI", "XIY", "IIX"]
    template = CircuitTemplate(
        symbolic.qasm,
        symbolic.parameter_names,
        tuple(ParameterSet(f"e{k}", tuple(row)) for k, row in enumerate(values.tolist())),
    )
    spec = JobSpec(
        "qoro_maestro", JobType.EXPECTATION, {}, observables=";".join(terms), templates=(template,)
    )
    job_id = submission.submit_job(emulator_client, spec)
    assert submission.wait_for_final_status(emulator_client, job_id, timeout=60).is_final
    results = submission.fetch_results(emulator_client, job_id, spec.labels())
    for k, row in enumerate(values):
        state = Statevector(unitary.assign_parameters(row))
        for term in terms:
            # Wire terms are big-endian (qoro-api.md 5.4): reversed Qiskit labels.
            exact = state.expectation_value(SparsePauliOp(term[::-1])).real
            assert results[f"e{k}"][term] == pytest.approx(exact, abs=1e-9), (k, term)
