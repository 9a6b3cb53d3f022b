"""divi's ``ParallelSimulator``, locally and on an executor: counts of QASM texts holding
every standard gate OpenQASM 2 can express, against exact outcome distributions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from hypothesis import given
from hypothesis import strategies as st
from qiskit import QuantumCircuit, qasm2
from random_circuits import DIFFERENTIAL, QASM_GATES, gate_tour, measured, unitary_circuits

from qiskit_divi.backends import ParallelSimulator

SHOTS = 20_000


@pytest.fixture(scope="module", params=["local", "executor"])
def simulator(request):
    if request.param == "local":
        yield ParallelSimulator(shots=SHOTS, simulation_seed=17)
        return
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield ParallelSimulator(shots=SHOTS, simulation_seed=17, executor=pool, max_job_size=2)


def _check(simulator: ParallelSimulator, circuits: list[QuantumCircuit]) -> None:
    texts = {f"c{i}": qasm2.dumps(circuit) for i, circuit in enumerate(circuits)}
    rows = simulator.submit_circuits(texts).results
    assert [row["label"] for row in rows] == list(texts)
    for circuit, row in zip(circuits, rows, strict=True):
        counts = {int(key.replace(" ", ""), 2): value for key, value in row["results"].items()}
        assert_sampled_from(counts, outcome_probabilities(circuit), circuit.name)


def test_every_gate(simulator):
    for circuit in gate_tour(QASM_GATES, measure=True):
        _check(simulator, [circuit])


@DIFFERENTIAL
@given(data=st.data())
def test_random_circuits(simulator, data):
    circuits = [
        data.draw(measured(data.draw(unitary_circuits(QASM_GATES))))
        for _ in range(data.draw(st.integers(1, 3)))
    ]
    _check(simulator, circuits)
