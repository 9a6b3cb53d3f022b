"""divi's ``QoroService``: SIMULATE counts and EXPECTATION values of QASM texts holding
every standard gate OpenQASM 2 can express, against exact references."""

from __future__ import annotations

import numpy as np
from ground_truth import assert_sampled_from, outcome_probabilities, without_measurements
from hypothesis import given
from hypothesis import strategies as st
from qiskit import QuantumCircuit, qasm2
from qiskit.quantum_info import Pauli, Statevector
from random_circuits import DIFFERENTIAL, QASM_GATES, gate_tour, measured, unitary_circuits

from qiskit_divi.backends import JobConfig, JobStatus, QoroService

SHOTS = 20_000


def _results(service: QoroService, circuits: list[QuantumCircuit], **kwargs) -> list[dict]:
    texts = {f"c{i}": qasm2.dumps(circuit) for i, circuit in enumerate(circuits)}
    job = service.submit_circuits(
        texts, override_config=JobConfig(shots=SHOTS, qpu_system="qoro_maestro"), **kwargs
    )
    assert service.poll_job_status(job, loop_until_complete=True) is JobStatus.COMPLETED
    rows = service.get_job_results(job).results
    assert [row["label"] for row in rows] == list(texts)
    return [row["results"] for row in rows]


def _check_simulate(service: QoroService, circuits: list[QuantumCircuit]) -> None:
    for circuit, counts in zip(circuits, _results(service, circuits), strict=True):
        as_integers = {int(key.replace(" ", ""), 2): value for key, value in counts.items()}
        assert_sampled_from(as_integers, outcome_probabilities(circuit), circuit.name)


def _check_expectation(
    service: QoroService, circuits: list[QuantumCircuit], terms: list[str]
) -> None:
    """``terms`` are wire terms: qubit 0 is the leftmost letter (the reverse of Qiskit labels)."""
    results = _results(service, circuits, ham_ops=";".join(terms))
    for circuit, values in zip(circuits, results, strict=True):
        state = Statevector(without_measurements(circuit))
        for term in terms:
            exact = float(np.real(state.expectation_value(Pauli(term[::-1]))))
            assert abs(values[term] - exact) <= 1e-6, (
                f"{circuit.name} {term}: {values[term]} vs {exact}"
            )


def test_every_gate_simulate(service):
    """One job per gate, so that no other circuit of a job changes how the emulator runs it."""
    for circuit in gate_tour(QASM_GATES, measure=True):
        _check_simulate(service, [circuit])


def test_every_gate_expectation(service):
    rng = np.random.default_rng(8)
    for circuit in gate_tour(QASM_GATES, measure=True):
        terms = list(
            dict.fromkeys("".join(rng.choice(list("IXYZ"), circuit.num_qubits)) for _ in range(6))
        )
        _check_expectation(service, [circuit], terms)


@DIFFERENTIAL
@given(data=st.data())
def test_random_simulate(service, data):
    circuits = [
        data.draw(measured(data.draw(unitary_circuits(QASM_GATES))))
        for _ in range(data.draw(st.integers(1, 3)))
    ]
    _check_simulate(service, circuits)


@DIFFERENTIAL
@given(data=st.data())
def test_random_expectation(service, data):
    width = data.draw(st.integers(1, 6))
    circuits = []
    for _ in range(data.draw(st.integers(1, 3))):
        circuit = data.draw(
            unitary_circuits(QASM_GATES, max_qubits=width).filter(lambda c: c.num_qubits == width)
        )
        circuit.measure_all()  # as divi sends EXPECTATION circuits
        circuits.append(circuit)
    terms = data.draw(
        st.lists(
            st.text("IXYZ", min_size=width, max_size=width), min_size=1, max_size=5, unique=True
        )
    )
    _check_expectation(service, circuits, terms)
