"""QoroBackend through the emulator (real HTTP on loopback): counts checked against exact
``quantum_info`` distributions, and formatted exactly as qiskit-aer formats them."""

from __future__ import annotations

import logging
import math

import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile
from qiskit.circuit import Clbit, Parameter
from qiskit.circuit.random import random_circuit
from qiskit_aer import AerSimulator
from sample_circuits import bell

from qiskit_divi import QoroBackend, QoroError, QoroInputError, QoroJob
from qiskit_divi._circuits import prepare_circuits
from qiskit_divi.api.models import JobType
from qiskit_divi.journal import KIND_BACKEND_RUN, JobJournal

AER = AerSimulator(seed_simulator=99)


def aer_counts(circuits, shots):
    result = AER.run(transpile(circuits, AER), shots=shots).result()
    return [result.get_counts(i) for i in range(len(circuits))]


@pytest.fixture(scope="module")
def maestro(provider) -> QoroBackend:
    return provider.get_backend("qoro_maestro")


# --- description ----------------------------------------------------------------


def test_backend_properties(provider):
    maestro, nairobi, ion = (
        provider.get_backend(n) for n in ("qoro_maestro", "fake_nairobi", "fake_ion")
    )
    assert (maestro.simulator, maestro.supports_expval, maestro.job_type) == (
        True,
        True,
        JobType.SIMULATE,
    )
    assert (nairobi.simulator, nairobi.supports_expval, nairobi.job_type) == (
        False,
        False,
        JobType.EXECUTE,
    )
    assert (maestro.num_qubits, nairobi.num_qubits, ion.num_qubits) == (24, 7, 11)
    assert maestro.target.num_qubits == 24 and ion.target.num_qubits == 11
    assert {"rx", "ry", "rz", "rxx"} <= set(
        ion.target.operation_names
    ) and "h" not in ion.target.operation_names
    assert {"rz", "sx", "x", "cz"} <= set(nairobi.target.operation_names)
    assert maestro.max_circuits is None and maestro.provider is provider
    assert maestro.system.name == "qoro_maestro" and maestro.operational
    assert maestro.options.shots == 1024
    assert repr(maestro) == "<QoroBackend('qoro_maestro', 24 qubits, simulator)>"
    assert repr(ion) == "<QoroBackend('fake_ion', 11 qubits, trapped_ion)>"


# --- round trips ----------------------------------------------------------------


def _deterministic_circuits() -> list[QuantumCircuit]:
    """Circuits with one certain outcome: 1-3 registers, unmeasured clbits, out-of-order
    measures."""
    one = QuantumCircuit(3, 3, name="one_reg")
    one.x([0, 2])
    one.measure([0, 1, 2], [0, 1, 2])

    partial = QuantumCircuit(4, 4, name="unmeasured_clbits")
    partial.x([0, 2, 3])
    partial.measure(0, 0)
    partial.measure(2, 2)  # c[1] and c[3] are never written: they read 0

    qa, qb = QuantumRegister(2, "qa"), QuantumRegister(2, "qb")
    a, b = ClassicalRegister(2, "a"), ClassicalRegister(3, "b")
    two = QuantumCircuit(qa, qb, a, b, name="two_regs_out_of_order")
    two.x(qa[0])
    two.x(qb[1])
    two.measure(qb[1], a[0])
    two.measure(qa[0], b[2])
    two.measure(qa[1], b[0])

    x, y, z = ClassicalRegister(1, "x"), ClassicalRegister(2, "y"), ClassicalRegister(3, "z")
    three = QuantumCircuit(
        QuantumRegister(4, "q"), z, x, y, name="three_regs"
    )  # registers declared out of order
    three.x([1, 3])
    three.measure(3, x[0])
    three.measure(1, z[1])
    three.measure(0, y[1])
    three.measure(1, y[0])

    loose = QuantumCircuit(
        QuantumRegister(2, "q"), [Clbit()], ClassicalRegister(2, "r"), name="loose_clbit"
    )
    loose.x(0)
    loose.measure(0, 0)  # the register-less clbit
    loose.measure(0, 2)
    return [one, partial, two, three, loose]


def test_bell_state_through_transpile(maestro):
    job = maestro.run(transpile(bell(), maestro), shots=2000)
    assert isinstance(job, QoroJob) and job.backend() is maestro
    counts = job.result().get_counts()
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 2000
    assert abs(counts["00"] - 1000) < 4 * math.sqrt(500)


def test_deterministic_bit_order_matches_aer_exactly(maestro):
    circuits = _deterministic_circuits()
    result = maestro.run(circuits, shots=50).result()
    expected = aer_counts(circuits, 50)
    assert [len(c) for c in expected] == [1] * len(circuits)  # really deterministic
    for i, circuit in enumerate(circuits):
        assert result.get_counts(i) == expected[i], circuit.name
        assert result.get_counts(circuit) == expected[i]
        assert result.get_counts(circuit.name) == expected[i]
    assert result.get_counts(2) == {"100 01": 50}  # Aer's own format, spelled out once
    assert result.get_counts(3) == {"01 1 010": 50}
    assert [r.header["name"] for r in result.results] == [c.name for c in circuits]
    assert result.job_id and result.backend_name == "qoro_maestro" and result.success


def test_random_circuits_are_sampled_from_their_exact_distribution(maestro):
    shots = 4000
    circuits = [random_circuit(4, 5, measure=True, seed=seed) for seed in range(4)]
    for i, circuit in enumerate(circuits):
        circuit.name = f"random_{i}"
    result = maestro.run(transpile(circuits, maestro, seed_transpiler=1), shots=shots).result()
    for i, circuit in enumerate(circuits):
        got = result.get_counts(i)
        assert sum(got.values()) == shots
        counts = {int(bits, 2): n for bits, n in got.items()}
        assert_sampled_from(counts, outcome_probabilities(circuit), circuit.name)


@pytest.mark.parametrize("name", ["qoro_maestro", "fake_nairobi", "fake_ion"])
def test_transpile_at_every_level_then_run(provider, name):
    backend = provider.get_backend(name)
    ghz = QuantumCircuit(3, 3, name="ghz")
    ghz.h(0)
    ghz.cx(0, 1)
    ghz.cx(1, 2)
    ghz.ry(0.3, 2)
    ghz.ry(-0.3, 2)
    ghz.measure(range(3), range(3))
    circuits = [
        transpile(ghz, backend, optimization_level=level, seed_transpiler=7) for level in range(4)
    ]
    result = backend.run(circuits, shots=400).result()
    for i in range(4):
        counts = result.get_counts(i)
        assert sum(counts.values()) == 400
        good = counts.get("000", 0) + counts.get("111", 0)
        assert good == 400 if backend.simulator else good > 0.75 * 400, (name, i, counts)


@pytest.mark.parametrize("name", ["fake_nairobi", "fake_ion"])
def test_noisy_qpu_systems_run_bell_with_noise(provider, name):
    backend = provider.get_backend(name)
    counts = (
        backend.run(transpile(bell(), backend, seed_transpiler=3), shots=2000).result().get_counts()
    )
    assert counts.get("00", 0) + counts.get("11", 0) > 0.85 * 2000
    assert counts.get("01", 0) + counts.get("10", 0) > 0  # the noise is there


def test_many_circuits_in_one_job_keep_order_across_result_pages(maestro, emulator_server):
    circuits = []
    for i in range(130):
        qc = QuantumCircuit(2, 2, name=f"c{i}")
        if i % 2:
            qc.x(0)
        if i % 3 == 0:
            qc.x(1)
        qc.measure([0, 1], [0, 1])
        circuits.append(qc)
    created = emulator_server.stats["jobs_created"]
    result = maestro.run(circuits, shots=10).result()
    assert emulator_server.stats["jobs_created"] == created + 1  # ONE job
    for i in range(130):
        expected = ("1" if i % 3 == 0 else "0") + ("1" if i % 2 else "0")
        assert result.get_counts(f"c{i}") == {expected: 10}


def test_run_journals_layout_and_never_the_token(maestro, journal_path, emulator_token, caplog):
    with caplog.at_level(logging.DEBUG):
        job = maestro.run(_deterministic_circuits()[2], shots=20)
        job.result()
    entry = JobJournal(journal_path).lookup(job.job_id())
    assert entry.kind == KIND_BACKEND_RUN and entry.backend_name == "qoro_maestro"
    assert entry.payload["shots"] == 20 and entry.payload["job_type"] == "SIMULATE"
    (header,) = entry.payload["circuits"]
    assert header["label"] == "circuit_0" and header["name"] == "two_regs_out_of_order"
    assert header["creg_sizes"] == [["a", 2], ["b", 3]] and header["memory_slots"] == 5
    assert emulator_token not in caplog.text
    assert emulator_token.encode() not in journal_path.read_bytes()
    for obj in (maestro, job, maestro.provider):
        assert emulator_token not in repr(obj)


def test_one_job_of_the_right_type_per_run(provider, emulator_server):
    maestro, ion = provider.get_backend("qoro_maestro"), provider.get_backend("fake_ion")
    circuits = _deterministic_circuits()[2:4]
    sim_job = maestro.run(circuits, shots=5, tag="flat")
    qpu_job = ion.run(transpile(bell(), ion), shots=5)
    sim, qpu = emulator_server.jobs[sim_job.job_id()], emulator_server.jobs[qpu_job.job_id()]
    assert (sim.job_type, sim.system, sim.n_circuits, sim.tag) == (
        "SIMULATE",
        "qoro_maestro",
        2,
        "flat",
    )
    assert (qpu.job_type, qpu.system, qpu.n_circuits, qpu.tag) == (
        "EXECUTE",
        "fake_ion",
        1,
        "qiskit_divi",
    )
    assert sim_job.labels == ["circuit_0", "circuit_1"]
    assert sim_job.circuit_names == ["two_regs_out_of_order", "three_regs"]


def test_prepared_qasm_has_one_quantum_and_one_classical_register(maestro):
    (prepared,) = prepare_circuits([_deterministic_circuits()[3]], maestro.target, maestro.name)
    declarations = [
        line for line in prepared.qasm.splitlines() if line.startswith(("qreg", "creg"))
    ]
    assert declarations == ["qreg q[4];", "creg c[6];"]
    # clbit i of the circuit is c[i]: z (3 bits) first, then x, then y
    assert "measure q[3] -> c[3];" in prepared.qasm and "measure q[0] -> c[5];" in prepared.qasm
    assert prepared.label == "circuit_0" and prepared.header["creg_sizes"] == [
        ["z", 3],
        ["x", 1],
        ["y", 2],
    ]


# --- bad input: a clear error and no job ----------------------------------------


def _too_wide(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n, 1)
    qc.measure(0, 0)
    return qc


def _with(builder) -> QuantumCircuit:
    qc = QuantumCircuit(2, 2)
    builder(qc)
    qc.measure([0, 1], [0, 1])
    return qc


theta = Parameter("theta")

BAD_RUNS = [
    # (backend, circuits, kwargs, exception, message fragment)
    ("qoro_maestro", _too_wide(25), {}, QoroInputError, "has only 24 qubits"),
    ("fake_nairobi", _too_wide(8), {}, QoroInputError, "has only 7 qubits"),
    ("fake_ion", _with(lambda qc: qc.h(0)), {}, QoroInputError, "transpile(circuit, backend)"),
    (
        "fake_nairobi",
        _with(lambda qc: qc.cx(0, 1)),
        {},
        QoroInputError,
        "transpile(circuit, backend)",
    ),
    ("qoro_maestro", [bell(), _with(lambda qc: qc.ecr(0, 1))], {}, QoroInputError, "circuit 1"),
    ("qoro_maestro", _with(lambda qc: qc.delay(100, 0)), {}, QoroInputError, "delay"),
    (
        "qoro_maestro",
        _with(lambda qc: qc.rx(theta, 0)),
        {},
        QoroInputError,
        "unbound parameters (theta)",
    ),
    ("qoro_maestro", QuantumCircuit(2), {}, QoroInputError, "no classical bits"),
    ("qoro_maestro", [], {}, QoroInputError, "no circuits"),
    ("qoro_maestro", "OPENQASM 2.0;", {}, QoroInputError, "QuantumCircuit"),
    ("qoro_maestro", bell(), {"shots": 0}, ValueError, "shots must be a positive integer"),
    ("qoro_maestro", bell(), {"shots": -3}, ValueError, "shots"),
    ("qoro_maestro", bell(), {"shots": 1.5}, ValueError, "shots"),
    ("qoro_maestro", bell(), {"shots": True}, ValueError, "shots"),
    ("qoro_maestro", bell(), {"shots": "100"}, ValueError, "shots"),
    ("qoro_maestro", bell(), {"bogus": 1}, QoroInputError, "Unknown run option(s) 'bogus'"),
    ("qoro_maestro", bell(), {"memory": True}, QoroInputError, "memory=True"),
    ("qoro_maestro", bell(), {"seed_simulator": 5}, QoroInputError, "seed_simulator"),
    ("qoro_maestro", bell(), {"timeout": -1}, QoroInputError, "timeout"),
]


def _control_flow() -> QuantumCircuit:
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(0)
    return qc


BAD_RUNS.append(("qoro_maestro", _control_flow(), {}, QoroInputError, "control flow"))


@pytest.mark.parametrize(("name", "circuits", "kwargs", "exc", "fragment"), BAD_RUNS)
def test_bad_input_raises_before_any_job(
    provider, emulator_server, name, circuits, kwargs, exc, fragment
):
    backend = provider.get_backend(name)
    before = (emulator_server.job_count, emulator_server.stats["jobs_created"])
    with pytest.raises(exc) as info:
        backend.run(circuits, **kwargs)
    assert fragment in str(info.value)
    assert isinstance(info.value, QoroError)
    assert (emulator_server.job_count, emulator_server.stats["jobs_created"]) == before


def test_options_merge_and_numpy_shots(maestro):
    import numpy as np

    job = maestro.run(bell(), shots=np.int64(64), tag="my-experiment")
    assert job.shots == 64 and sum(job.result().get_counts().values()) == 64
    maestro.set_options(shots=32)
    try:
        assert sum(maestro.run(bell()).result().get_counts().values()) == 32
    finally:
        maestro.set_options(shots=1024)
