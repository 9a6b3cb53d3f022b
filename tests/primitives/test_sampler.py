"""SamplerV2 through the emulator, compared with Qiskit's StatevectorSampler."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.primitives import (
    BaseSamplerV2,
    BitArray,
    PrimitiveResult,
    SamplerPubResult,
    StatevectorSampler,
)
from qiskit.providers import JobStatus, JobTimeoutError
from qiskit.transpiler import generate_preset_pass_manager

from qiskit_divi import QoroError, QoroInputError, QoroJobError, SamplerV2
from qiskit_divi.primitives import QoroPrimitiveJob, SamplerOptions

from .conftest import random_ansatz, without_run_times


def registers_circuit() -> QuantumCircuit:
    """Four qubits, registers alpha[3] and beta[2] filled out of order; qubit 2 stays 0.

    With parameters a, b in {0, pi}, every outcome is deterministic.
    """
    a, b = Parameter("a"), Parameter("b")
    q = QuantumRegister(4, "q")
    alpha, beta = ClassicalRegister(3, "alpha"), ClassicalRegister(2, "beta")
    circuit = QuantumCircuit(q, alpha, beta, name="registers")
    circuit.x(0)
    circuit.rx(a, 1)
    circuit.rx(b, 3)
    circuit.cx(3, 2)
    circuit.cx(2, 3)  # qubit 3 ends 0 whatever b, qubit 2 ends b
    circuit.measure(3, beta[1])
    circuit.measure(0, alpha[2])
    circuit.measure(2, alpha[0])
    circuit.measure(1, beta[0])  # alpha[1] is never measured: reads 0
    return circuit


def assert_same_bits(ours: PrimitiveResult, reference: PrimitiveResult) -> None:
    assert len(ours) == len(reference)
    for mine, ref in zip(ours, reference, strict=True):
        assert isinstance(mine, SamplerPubResult)
        assert list(mine.data.keys()) == list(ref.data.keys())
        for name in ref.data:
            got, want = mine.data[name], ref.data[name]
            assert isinstance(got, BitArray)
            assert (got.shape, got.num_shots, got.num_bits) == (
                want.shape,
                want.num_shots,
                want.num_bits,
            )
            np.testing.assert_array_equal(got.array, want.array)


def test_is_a_sampler_v2(maestro):
    sampler = SamplerV2(mode=maestro)
    assert isinstance(sampler, BaseSamplerV2)
    assert sampler.mode is maestro and sampler.backend is maestro
    assert sampler.options == SamplerOptions(
        default_shots=1024, timeout=None, progress=True, tag="qiskit_divi"
    )


def test_registers_bit_identical_to_statevector_sampler_all_shapes(
    maestro, new_jobs, emulator_server
):
    circuit = registers_circuit()
    pi = math.pi
    pubs = [
        (circuit, [pi, 0.0]),  # shape ()
        (circuit, [[0, 0], [pi, 0], [0, pi]], 7),  # shape (3,), own shots
        (
            circuit,
            np.array([[[0, 0], [pi, pi], [pi, 0]], [[0, pi], [0, 0], [pi, pi]]]),
        ),  # shape (2, 3)
    ]
    job = SamplerV2(mode=maestro, options={"default_shots": 7}).run(pubs, shots=7)
    result = job.result()
    assert_same_bits(result, StatevectorSampler(default_shots=7).run(pubs).result())
    assert [r.data.alpha.shape for r in result] == [(), (3,), (2, 3)]
    assert result[0].data.alpha.get_counts() == {"100": 7} and result[0].data.beta.get_counts() == {
        "01": 7
    }
    # one call, all PUBs and all 10 bindings: ONE Qoro job whose id is the job's id
    assert new_jobs() == [job.job_id()]
    assert emulator_server.jobs[job.job_id()].n_circuits == 10
    assert all(r.metadata["job_id"] == job.job_id() and r.metadata["shots"] == 7 for r in result)
    assert result.metadata["job_ids"] == [job.job_id()]


def test_random_parameterised_circuits_match_statevector_within_shot_noise(maestro, new_jobs):
    circuits = []
    for seed in range(3):
        circuit = random_ansatz(3, 2, seed)
        circuit.measure_all()
        circuits.append(circuit)
    rng = np.random.default_rng(7)
    pubs = [(c, rng.uniform(-np.pi, np.pi, size=(2, c.num_parameters))) for c in circuits]
    shots = 4000
    ours = SamplerV2(mode=maestro).run(pubs, shots=shots).result()
    assert len(new_jobs()) == 1
    for (circuit, values), mine in zip(pubs, ours, strict=True):
        assert mine.data.meas.shape == (2,) and mine.data.meas.num_shots == shots
        for i in range(2):
            exact = outcome_probabilities(circuit.assign_parameters(values[i]))
            counts = {int(bits, 2): n for bits, n in mine.data.meas.get_counts(i).items()}
            assert_sampled_from(counts, exact, f"PUB of {circuit.name}, binding {i}")


def test_pub_forms_and_default_shots(maestro):
    bell = QuantumCircuit(2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    sampler = SamplerV2(mode=maestro, options=SamplerOptions(default_shots=300))
    result = sampler.run([bell, (bell,), (bell, None, 50)]).result()
    assert [r.data.meas.num_shots for r in result] == [300, 300, 50]
    assert [r.metadata["shots"] for r in result] == [300, 300, 50]
    for r in result:
        counts = r.data.meas.get_counts()
        assert set(counts) <= {"00", "11"} and len(counts) == 2


def test_different_shots_are_one_job_with_shot_groups(maestro, new_jobs, provider):
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    job = SamplerV2(mode=maestro).run([(circuit, None, 5), (circuit, None, 9), (circuit, None, 5)])
    result = job.result()
    assert new_jobs() == [job.job_id()] == job.job_ids
    assert [r.metadata["job_id"] for r in result] == [job.job_id()] * 3
    assert [r.metadata["shots"] for r in result] == [5, 9, 5]
    assert [r.data.c.get_counts() for r in result] == [{"1": 5}, {"1": 9}, {"1": 5}]
    again = provider.retrieve_job(job.job_id())
    assert isinstance(again, QoroPrimitiveJob) and again.job_ids == job.job_ids
    assert_same_bits(again.result(), result)


def test_templates_on_and_off_give_the_same_distributions_and_bits(maestro, provider, caplog):
    """Parametric PUBs travel as templates (on) or bound (off); each PUB at its own shots.

    Deterministic bindings (angles 0 or pi) give bit-identical results; random ones are
    checked against exact probabilities (TVD bound of ground_truth)."""
    circuit = registers_circuit()
    pi = math.pi
    exact_pubs = [(circuit, [[0, 0], [pi, 0], [0, pi], [pi, pi]], 11), (circuit, [pi, pi], 4)]
    ansatz = random_ansatz(3, 2, 4)
    ansatz.measure_all()
    values = np.random.default_rng(5).uniform(-np.pi, np.pi, (3, ansatz.num_parameters))
    reference = StatevectorSampler().run(exact_pubs).result()
    for templates in (True, False):
        sampler = SamplerV2(mode=maestro, options={"templates": templates})
        # small PUBs at two shots values: one bound shot-groups job either way (the rule)
        (spec,) = sampler.plan(exact_pubs).specs
        assert spec.shot_groups == ((0, 4, 11), (4, 5, 4))
        job = sampler.run(exact_pubs)
        assert_same_bits(job.result(), reference)
        assert_same_bits(provider.retrieve_job(job.job_id()).result(), reference)
        sampled = sampler.run([(ansatz, values)], shots=4000)
        assert bool(sampler.plan([(ansatz, values)]).specs[0].templates) is templates
        meas = sampled.result()[0].data.meas
        for i in range(3):
            exact = outcome_probabilities(ansatz.assign_parameters(values[i]))
            counts = {int(bits, 2): n for bits, n in meas.get_counts(i).items()}
            assert_sampled_from(counts, exact, f"templates={templates}, binding {i}")
    # the templates travelled as templates (no fall-back to the bound form)
    assert not [r for r in caplog.records if "refused the template form" in r.getMessage()]


def test_job_interface_and_retrieve_in_process(maestro, provider):
    circuit = registers_circuit()
    job = SamplerV2(mode=maestro).run([(circuit, [[0, 0], [math.pi, math.pi]])], shots=16)
    assert job.status() in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DONE)
    result = job.result(timeout=30)
    assert job.done() and job.in_final_state() and not job.running() and not job.cancelled()
    assert job.status() is JobStatus.DONE and job.result() is result
    assert job.cancel() is False  # already finished
    retrieved = SamplerV2.retrieve(job.job_id(), provider)
    assert retrieved.kind == "sampler" and retrieved.backend() is maestro
    assert_same_bits(retrieved.result(), result)
    assert retrieved.result()[0].metadata == result[0].metadata


def test_retrieve_in_a_fresh_process(maestro, run_fresh_process):
    circuit = registers_circuit()
    circuit.metadata = {"experiment": "registers"}
    values = [[0, 0], [math.pi, 0], [0, math.pi]]
    job = SamplerV2(mode=maestro).run(
        [(circuit, values), (circuit, [math.pi, math.pi], 3)], shots=11
    )
    result = job.result()
    out = run_fresh_process(
        f"""
import json
job = provider.retrieve_job({job.job_id()!r})
result = job.result()
print(json.dumps({{
    "type": type(job).__name__, "kind": job.kind, "job_id": job.job_id(),
    "pubs": [{{name: [r.data[name].array.tolist(), r.data[name].num_bits, list(r.data[name].shape)]
              for name in r.data.keys()}} for r in result],
    "metadata": [r.metadata for r in result],
}}))
"""
    )
    assert (
        out["type"] == "QoroPrimitiveJob"
        and out["kind"] == "sampler"
        and out["job_id"] == job.job_id()
    )
    for got, want in zip(out["pubs"], result, strict=True):
        assert list(got) == ["alpha", "beta"]
        for name, (array, num_bits, shape) in got.items():
            np.testing.assert_array_equal(np.array(array, dtype=np.uint8), want.data[name].array)
            assert num_bits == want.data[name].num_bits and tuple(shape) == want.data[name].shape
    assert out["metadata"][0] == {
        "shots": 11,
        "circuit_metadata": {"experiment": "registers"},
        "job_id": job.job_id(),
    }
    assert out["metadata"][1]["shots"] == 3


# --- refusals before any job ---------------------------------------------------------


def test_non_isa_and_too_wide_circuits_create_no_job(provider, emulator_server):
    nairobi = provider.get_backend("fake_nairobi")
    sampler = SamplerV2(mode=nairobi)
    not_isa = QuantumCircuit(2)
    not_isa.h(0)
    not_isa.cx(0, 1)
    not_isa.measure_all()
    too_wide = QuantumCircuit(8)
    too_wide.measure_all()
    before = emulator_server.stats["jobs_created"]
    with pytest.raises(
        QoroInputError,
        match=r"PUB 1 is not an ISA circuit.*'h'.*generate_preset_pass_manager\(backend=",
    ):
        sampler.run(
            [
                generate_preset_pass_manager(backend=nairobi, optimization_level=1).run(not_isa),
                not_isa,
            ]
        )
    with pytest.raises(
        QoroInputError, match=r"PUB 0.*8 qubits.*only 7.*generate_preset_pass_manager"
    ):
        sampler.run([too_wide])
    not_isa_unmeasured = QuantumCircuit(1)
    not_isa_unmeasured.h(0)
    with pytest.raises(QoroInputError, match=r"PUB 0 is not an ISA circuit.*'h'"):
        sampler.run([not_isa_unmeasured])  # it would not be sent, but is checked all the same
    with pytest.raises(ValueError):  # Qiskit's own PUB validation: missing parameter values
        SamplerV2(mode=nairobi).run(
            [generate_preset_pass_manager(backend=nairobi).run(registers_circuit())]
        )
    assert emulator_server.stats["jobs_created"] == before


def test_options_and_mode_are_checked(maestro):
    with pytest.raises(
        QoroInputError,
        match="seed_simulator is not supported: the Qoro API takes no simulator seed",
    ):
        SamplerV2(mode=maestro, options={"seed_simulator": 3})
    with pytest.raises(
        QoroInputError, match="Unknown SamplerOptions field.*'shots'.*default_shots"
    ):
        SamplerV2(mode=maestro, options={"shots": 3})
    with pytest.raises(QoroInputError, match="default_shots must be a positive integer"):
        SamplerV2(mode=maestro, options={"default_shots": 0})
    with pytest.raises(QoroInputError, match="takes a QoroBackend"):
        SamplerV2(mode="qoro_maestro")
    sampler = SamplerV2(mode=maestro)
    with pytest.raises(QoroInputError, match="default_shots must be a positive integer"):
        sampler.options.update(default_shots=-1)  # checked as it is made
    object.__setattr__(
        sampler.options, "default_shots", -1
    )  # behind the options' back: run() checks again
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    with pytest.raises(QoroInputError, match="default_shots"):
        sampler.run([circuit])
    with pytest.raises(QoroInputError, match="shots must be a positive integer"):
        SamplerV2(mode=maestro).run([circuit], shots=2.5)
    with pytest.raises(QoroInputError, match="no PUBs"):
        SamplerV2(mode=maestro).run([])
    with pytest.raises(
        QoroInputError, match=r"list of PUBs: wrap the circuit, e.g. run\(\[circuit\]\)"
    ):
        SamplerV2(mode=maestro).run(circuit)


def test_an_invalid_pub_like_is_refused_in_qiskits_words_then_ours(maestro, emulator_server):
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    before = emulator_server.stats["jobs_created"]
    # Qiskit's text first (code written for Qiskit's samplers matches on it), then how to call run()
    with pytest.raises(
        QoroInputError,
        match=r"^An invalid Sampler pub-like was given \(QuantumCircuit\): "
        r"run\(\) takes a list of PUBs: "
        r"wrap the circuit, e.g. run\(\[circuit\]\)",
    ):
        SamplerV2(mode=maestro).run(circuit)
    with pytest.raises(
        QoroInputError, match=r"^An invalid Sampler pub-like was given \(int\): .*iterable of PUBs"
    ):
        SamplerV2(mode=maestro).run(3)
    assert emulator_server.stats["jobs_created"] == before


def test_metadata_are_qiskits_plus_the_job_ids(maestro):
    """Qiskit's test_metadata (deselected in tools/qiskit_reference_plugin.py), with our extra
    keys."""
    qc = QuantumCircuit(2)
    qc.measure_all()
    qc2 = qc.copy()
    qc2.metadata = {"a": 1}
    job = SamplerV2(mode=maestro).run([(qc, None, 10), (qc2, None, 20)])  # one job: shot groups
    result = job.result()
    (only,) = job.job_ids
    assert without_run_times(result.metadata) == {"version": 2, "job_ids": [only]}
    assert result[0].metadata == {"shots": 10, "circuit_metadata": qc.metadata, "job_id": only}
    assert result[1].metadata == {"shots": 20, "circuit_metadata": qc2.metadata, "job_id": only}


# --- PUBs with nothing to measure ----------------------------------------------------------


def test_a_circuit_without_classical_registers_warns_and_gives_empty_data(
    provider, maestro, emulator_server, new_jobs
):
    theta = Parameter("θ")
    unmeasured = QuantumCircuit(2, name="unmeasured")
    unmeasured.rx(theta, 0)
    unmeasured.cx(0, 1)
    bell = QuantumCircuit(2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    pubs = [(unmeasured, [[0.1], [0.2], [0.3]]), bell]
    with pytest.warns(UserWarning, match="no output classical registers"):
        reference = StatevectorSampler(seed=1).run(pubs, shots=50).result()  # Qiskit warns too
    with pytest.warns(
        UserWarning, match="PUB 0: its circuit 'unmeasured' has no classical registers.*measure_all"
    ):
        job = SamplerV2(mode=maestro).run(pubs, shots=50)
    result = job.result()
    assert len(result[0].data) == 0 and result[0].data.shape == reference[0].data.shape == (3,)
    assert result[0].metadata == {
        "shots": 50,
        "circuit_metadata": {},
        "job_id": None,
    }  # it ran nowhere
    assert (
        result[1].data.meas.get_counts().keys() <= {"00", "11"}
        and result[1].data.meas.num_shots == 50
    )
    assert (
        new_jobs() == [job.job_id()] and emulator_server.jobs[job.job_id()].n_circuits == 1
    )  # bell only


def test_a_call_with_nothing_to_measure_sends_one_placeholder_and_can_be_retrieved(
    provider, maestro, emulator_server, new_jobs
):
    # a register without bits: no warning (as in Qiskit), zero-width data, nothing to send
    empty_register = QuantumCircuit(QuantumRegister(1, "q"), ClassicalRegister(0, "nothing"))
    with pytest.warns(UserWarning, match="PUB 1: .*no classical registers"):
        job = SamplerV2(mode=maestro).run([empty_register, QuantumCircuit(1)], shots=20)
    result = job.result()
    assert [len(pub.data) for pub in result] == [1, 0]
    nothing = result[0].data.nothing
    assert (nothing.num_shots, nothing.num_bits, nothing.array.shape) == (20, 0, (20, 0))
    assert (
        new_jobs() == [job.job_id()] and emulator_server.jobs[job.job_id()].n_circuits == 1
    )  # the placeholder
    again = SamplerV2.retrieve(job.job_id(), provider).result()
    assert [len(pub.data) for pub in again] == [1, 0] and again[0].data.nothing.num_shots == 20


# --- waiting, cancelling ---------------------------------------------------------------


def test_timeout_and_cancel(slow_provider):
    backend = slow_provider.get_backend("qoro_maestro")
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    job = SamplerV2(mode=backend, options={"progress": False}).run([circuit], shots=10)
    assert not job.in_final_state() and job.status() in (JobStatus.QUEUED, JobStatus.RUNNING)
    with pytest.raises(JobTimeoutError, match="did not finish within"):
        job.result(timeout=0.2)
    assert job.cancel() is True
    assert job.cancelled() and job.in_final_state() and not job.done()
    with pytest.raises(QoroJobError, match="CANCELLED") as info:
        job.result()
    assert isinstance(info.value, QoroError)
