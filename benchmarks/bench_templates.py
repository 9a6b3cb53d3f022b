"""Bound form vs template form (``qoro-api.md`` 3.5): bytes uploaded and client CPU for
1000 bindings of a 20-qubit circuit with 100 parameters.

* bound form: what the primitives send without templates: ``QasmTemplate.of`` once,
  ``render`` per binding, then :func:`submit_job` packs (gzip + base64) and chunks every
  bound circuit;
* template form: ``symbolic_qasm`` once, one ``ParameterSet`` per binding, then
  :func:`submit_job` validates the template and chunks its parameter sets;
* template refused: the template form answered 400 by the server, so the same job is
  sent bound after the refused first upload (the fallback's cost).

Both go through :func:`submit_job` into a counting transport (no network, no server):
each request body is serialised as the client serialises it (``json.dumps``, UTF-8) and
its bytes counted. CPU is the process time of building the job spec plus submit_job
(median of rounds). Circuit: 5 layers of ``ry`` on every qubit (100 parameters) and a
``cx`` chain, measured. Values: uniform random doubles (17 significant digits, the
worst case for both forms), and the same rounded to a 1e-3 grid (a parameter scan).
Target: the template form uploads no more bytes and costs no more CPU than the bound
form. (gzip already squeezes the repeated structure out of the bound circuits, so with
full-precision doubles both forms are dominated by the angles' digits.)

    python benchmarks/bench_templates.py [--quick]
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from _common import SEED, cpu_timed, emit, figure, machine, median, quick_mode
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from qiskit_divi._qasm.writer import QasmTemplate, symbolic_qasm
from qiskit_divi.api.endpoints import Call
from qiskit_divi.api.models import JobType, ParameterSet
from qiskit_divi.api.submission import CircuitTemplate, JobSpec, submit_job

BENCHMARK = "templates"
NUM_QUBITS = 20
NUM_PARAMETERS = 100
SHOTS = 1000


class CountingTransport:
    """Answers every call; counts requests and body bytes as the client would send them.
    With ``refuse_templates``, the first template upload raises a 400-like error."""

    def __init__(self, refuse_templates: bool = False) -> None:
        self.requests = 0
        self.bytes = 0
        self.refuse = refuse_templates

    def call(self, call: Call[Any]) -> Any:
        self.requests += 1
        if call.body is not None:
            self.bytes += len(json.dumps(call.body).encode("utf-8"))
        if call.endpoint == "job/init/":
            return "job1"
        if self.refuse and call.body and "circuit_template" in call.body:
            self.refuse = False
            raise _BadRequest("400: unknown field 'circuit_template'")
        return None


class _BadRequest(Exception):
    status_code = 400


def circuit(num_qubits: int, num_parameters: int) -> QuantumCircuit:
    theta = ParameterVector("θ", num_parameters)
    qc = QuantumCircuit(num_qubits, num_qubits)
    for i, parameter in enumerate(theta):
        qc.ry(parameter, i % num_qubits)
        if i % num_qubits == num_qubits - 1:
            for q in range(num_qubits - 1):
                qc.cx(q, q + 1)
    qc.measure(range(num_qubits), range(num_qubits))
    return qc


def bound_spec(qc: QuantumCircuit, values: np.ndarray) -> JobSpec:
    writer = QasmTemplate.of(qc)
    assert writer is not None
    circuits = {f"pub0_{k}": writer.render(row) for k, row in enumerate(values.tolist())}
    return JobSpec("qoro_maestro", JobType.SIMULATE, circuits, shots=SHOTS)


def template_spec(qc: QuantumCircuit, values: np.ndarray) -> JobSpec:
    symbolic = symbolic_qasm(qc)
    assert symbolic is not None
    sets = tuple(ParameterSet(f"pub0_{k}", tuple(row)) for k, row in enumerate(values.tolist()))
    template = CircuitTemplate(symbolic.qasm, symbolic.parameter_names, sets)
    return JobSpec("qoro_maestro", JobType.SIMULATE, {}, shots=SHOTS, templates=(template,))


def run(build, qc, values, refuse: bool = False) -> tuple[float, CountingTransport]:
    def once() -> CountingTransport:
        transport = CountingTransport(refuse_templates=refuse)
        submit_job(transport, build(qc, values))
        return transport

    seconds, transport = cpu_timed(once)
    return seconds, transport


def main() -> None:
    quick = quick_mode()
    bindings = 50 if quick else 1000
    rounds = 1 if quick else 5
    rng = np.random.default_rng(SEED)
    qc = circuit(NUM_QUBITS, NUM_PARAMETERS)
    doubles = rng.uniform(-np.pi, np.pi, (bindings, NUM_PARAMETERS))
    for kind, values in (("random doubles", doubles), ("angles on a 1e-3 grid", doubles.round(3))):
        measure(
            qc,
            values,
            f"{bindings} bindings, {NUM_QUBITS} qubits, {NUM_PARAMETERS} parameters, {kind}",
            rounds,
        )


def measure(qc: QuantumCircuit, values: np.ndarray, workload: str, rounds: int) -> None:
    forms = {
        "bound": (bound_spec, False),
        "template": (template_spec, False),
        "template refused (bound fallback)": (template_spec, True),
    }
    times: dict[str, list[float]] = {name: [] for name in forms}
    sent: dict[str, CountingTransport] = {}
    for _ in range(rounds):  # interleaved: a noisy machine slows every form alike
        for name, (build, refuse) in forms.items():
            seconds, sent[name] = run(build, qc, values, refuse)
            times[name].append(seconds)
    medians = {name: median(seconds) for name, seconds in times.items()}
    for name in forms:
        emit(
            BENCHMARK,
            f"{workload}: {name}",
            seconds=medians[name],
            bytes_uploaded=sent[name].bytes,
            requests=sent[name].requests,
            transport="counting (no network)",
            **machine(),
        )
    # Targets: the template form costs no more than the bound form, in bytes and in CPU.
    figure(
        BENCHMARK,
        f"{workload}: template/bound bytes uploaded",
        seconds=float(sent["template"].bytes),
        baseline_seconds=float(sent["bound"].bytes),
        target=1.0,
        unit="bytes",
    )
    figure(
        BENCHMARK,
        f"{workload}: template/bound client CPU",
        seconds=medians["template"],
        baseline_seconds=medians["bound"],
        target=1.0,
    )


if __name__ == "__main__":
    main()
