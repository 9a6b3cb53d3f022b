"""ParallelSimulator (divi-runner-api.md section 8 and the section 13 checklist), run on real
Aer: counts are compared, bit for bit, with a plain
``AerSimulator().run(transpile(circuits, simulator), seed_simulator=seed)`` and with the
exact distributions of ``qiskit.quantum_info``."""

from __future__ import annotations

import logging
import threading
import warnings

import numpy as np
import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from hypothesis import given
from hypothesis import strategies as st
from qiskit import QuantumCircuit, qasm2, transpile
from qiskit.circuit.random import random_circuit
from qiskit.exceptions import QiskitError
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error
from qiskit_ibm_runtime.fake_provider import FakeNairobiV2, FakeQuitoV2
from random_circuits import DIFFERENTIAL, QASM_GATES, measured, unitary_circuits

from qiskit_divi.backends import ExecutionResult, ParallelSimulator
from qiskit_divi.backends.parallel_simulator import caches
from qiskit_divi.backends.parallel_simulator.runner import default_n_processes, run_options

SEED = 1234
LOGGER = "qiskit_divi.backends.parallel_simulator.runner"


@pytest.fixture
def bell_text(make_qasm) -> str:
    return make_qasm("h q[0];\ncx q[0],q[1];\nmeasure q -> c;")


@pytest.fixture
def h_text(make_qasm) -> str:
    return make_qasm("h q[0];\nmeasure q[0] -> c[0];")


# --- construction -------------------------------------------------------------------------


def test_backend_and_noise_model_warn_once_and_both_are_stored():
    backend, noise_model = FakeQuitoV2(), NoiseModel()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simulator = ParallelSimulator(qiskit_backend=backend, noise_model=noise_model)
    assert len(caught) == 1
    assert issubclass(caught[0].category, UserWarning)
    message = str(caught[0].message)
    assert "Both `qiskit_backend` and `noise_model`" in message
    assert "`noise_model` will be ignored" in message
    assert simulator.qiskit_backend is backend
    assert simulator.noise_model is noise_model


def test_auto_with_an_empty_noise_model_warns_too():
    with pytest.warns(UserWarning, match="will be ignored"):
        ParallelSimulator(qiskit_backend="auto", noise_model=NoiseModel())


@pytest.mark.parametrize("kwargs", [{"qiskit_backend": "auto"}, {"noise_model": NoiseModel()}, {}])
def test_single_source_does_not_warn(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        simulator = ParallelSimulator(**kwargs)
    assert simulator.qiskit_backend == kwargs.get("qiskit_backend")
    assert simulator.noise_model is kwargs.get("noise_model")


def test_defaults_and_flags():
    simulator = ParallelSimulator()
    assert simulator.shots == 5000
    assert simulator.simulation_seed is None
    assert simulator._deterministic_execution is False
    assert simulator.transpile_skip is True
    assert simulator.supports_expval is False
    assert simulator.is_async is False
    simulator.set_seed(42)
    assert simulator.simulation_seed == 42


def test_shots_n_processes_and_switch_validation():
    with pytest.raises(ValueError, match="Shots must be a positive integer. Got 0."):
        ParallelSimulator(shots=0)
    with pytest.raises(ValueError, match="n_processes must be >= 1, got 0"):
        ParallelSimulator(n_processes=0)
    simulator = ParallelSimulator(n_processes=3)
    assert simulator.n_processes == 3
    simulator.n_processes = 1
    assert simulator.n_processes == 1
    with pytest.raises(ValueError, match="n_processes must be >= 1, got -2"):
        simulator.n_processes = -2
    assert simulator.n_processes == 1
    with pytest.raises(TypeError, match="transpile_skip must be True or False, got 0"):
        ParallelSimulator(transpile_skip=0)


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [
        (None, 3),
        (1, 2),
        (2, 2),
        (3, 2),
        (4, 3),
        (8, 7),
        (16, 15),
        (17, 12),
        (20, 15),
        (22, 16),
        (64, 16),
    ],
)
def test_default_n_processes_table(cpus, expected):
    assert default_n_processes(cpus, on_main=True) == expected
    assert default_n_processes(cpus, on_main=False) == 2


def test_default_n_processes_off_the_main_thread():
    seen = []
    worker = threading.Thread(target=lambda: seen.append(ParallelSimulator().n_processes))
    worker.start()
    worker.join()
    assert seen == [2]


@pytest.mark.parametrize(
    ("shots", "n_processes", "circuits", "expected"),
    [
        (100, 4, 1, {"max_parallel_experiments": 1, "max_parallel_shots": 4}),
        (3, 4, 1, {"max_parallel_experiments": 1, "max_parallel_shots": 1}),
        (100, 4, 3, {"max_parallel_experiments": 3, "max_parallel_shots": 1}),
        (100, 2, 3, {"max_parallel_experiments": 2, "max_parallel_shots": 1}),
    ],
)
def test_run_options_follow_divi(shots, n_processes, circuits, expected):
    options = run_options(n_processes, shots, circuits, seed=7)
    assert options == {"seed_simulator": 7, "max_parallel_threads": n_processes, **expected}
    assert "seed_simulator" not in run_options(n_processes, shots, circuits, seed=None)


def test_submit_circuits_takes_no_extra_arguments(bell_text):
    with pytest.raises(TypeError, match="ham_ops"):
        ParallelSimulator(shots=10).submit_circuits({"a": bell_text}, ham_ops="ZZ")


# --- simulator selection --------------------------------------------------------------------


def _plain_counts(simulator, texts, shots, seed, **options):
    circuits = transpile(
        [QuantumCircuit.from_qasm_str(text) for text in texts],
        simulator,
        seed_transpiler=seed,
        num_processes=1,
    )
    result = simulator.run(circuits, shots=shots, seed_simulator=seed, **options).result()
    return [dict(result.get_counts(i)) for i in range(len(texts))]


def test_auto_backend_simulates_the_last_class_of_the_widest_circuits_bucket(make_qasm):
    texts = {
        "a": make_qasm("rx(0.3) q[0];\nmeasure q[0] -> c[0];", 2),
        "b": make_qasm("h q[0];\ncx q[0],q[5];\nmeasure q -> c;", 6),
    }
    result = ParallelSimulator(qiskit_backend="auto", shots=200, simulation_seed=3, n_processes=1)
    rows = result.submit_circuits(texts).results
    assert caches.auto_entry(FakeNairobiV2).get(texts["a"], 3) is not None  # the 7-qubit bucket
    simulator = AerSimulator.from_backend(FakeNairobiV2())
    options = run_options(1, 200, 2, None)
    assert [row["results"] for row in rows] == _plain_counts(
        simulator, list(texts.values()), 200, 3, **options
    )


def test_auto_backend_too_wide(make_qasm):
    with pytest.raises(ValueError, match="No fake backend available for circuit with 28 qubits"):
        ParallelSimulator(qiskit_backend="auto").submit_circuits({"wide": make_qasm("h q[0];", 28)})


def test_explicit_backend_is_simulated_with_its_noise(bell_text, h_text):
    texts = {"bell": bell_text, "h": h_text}
    rows = (
        ParallelSimulator(qiskit_backend=FakeQuitoV2(), shots=400, simulation_seed=5, n_processes=2)
        .submit_circuits(texts)
        .results
    )
    simulator = AerSimulator.from_backend(FakeQuitoV2())
    expected = _plain_counts(
        simulator, list(texts.values()), 400, 5, **run_options(2, 400, 2, None)
    )
    assert [row["results"] for row in rows] == expected
    assert rows[0]["results"].get("01", 0) + rows[0]["results"].get("10", 0) > 0  # noise


def test_deterministic_mode_with_a_backend_runs_each_circuit_with_the_seed(bell_text, h_text):
    texts = {"test_circuit": h_text, "other": bell_text}
    rows = (
        ParallelSimulator(
            qiskit_backend=FakeQuitoV2(),
            shots=300,
            _deterministic_execution=True,
            simulation_seed=42,
        )
        .submit_circuits(texts)
        .results
    )
    simulator = AerSimulator.from_backend(FakeQuitoV2())
    assert [row["label"] for row in rows] == ["test_circuit", "other"]
    for row, text in zip(rows, texts.values(), strict=True):
        assert row["results"] == _plain_counts(simulator, [text], 300, 42)[0]


def test_deterministic_mode_with_a_noise_model(h_text, bell_text):
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.2, 1), ["h"])
    texts = {"h": h_text, "bell": bell_text}
    rows = (
        ParallelSimulator(
            noise_model=noise_model, shots=300, _deterministic_execution=True, simulation_seed=42
        )
        .submit_circuits(texts)
        .results
    )
    simulator = AerSimulator(noise_model=noise_model)
    for row, text in zip(rows, texts.values(), strict=True):
        assert row["results"] == _plain_counts(simulator, [text], 300, 42)[0]


def test_empty_submission():
    assert ParallelSimulator(shots=10).submit_circuits({}) == ExecutionResult(results=[])


# --- the seed warning -----------------------------------------------------------------------


def test_seeded_parallel_execution_logs_one_warning_per_simulator(caplog, bell_text, h_text):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    simulator = ParallelSimulator(shots=10, simulation_seed=42, n_processes=2)
    for _ in range(3):  # e.g. the iterations of an optimiser
        simulator.submit_circuits({"a": h_text, "b": bell_text})
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    for phrase in [
        "Parallel execution detected",
        "parallel_experiments=2",
        "omp_nested=False",
        "may not be deterministic",
        "same counts, whatever n_processes, executor or max_job_size",
        "Aer seeds each circuit from its position in the batch",
        "pass _deterministic_execution=True",
        "Logged once per ParallelSimulator",
    ]:
        assert phrase in message
    ParallelSimulator(shots=10, simulation_seed=42, n_processes=2).submit_circuits(
        {"a": h_text, "b": bell_text}
    )
    assert len(caplog.records) == 2


@pytest.mark.parametrize(("seed", "n_processes"), [(None, 2), (42, 1)])
def test_no_warning_without_seed_or_parallelism(caplog, seed, n_processes, bell_text, h_text):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    ParallelSimulator(shots=10, simulation_seed=seed, n_processes=n_processes).submit_circuits(
        {"a": h_text, "b": bell_text}
    )
    assert caplog.records == []


def test_what_the_seed_warning_says_is_true(hea):
    """A seeded batch's counts do not depend on the parallelism; a circuit's do depend on its
    position in the batch; deterministic mode's do not."""
    rng = np.random.default_rng(11)
    texts = {f"hea{i}": qasm2.dumps(hea(3, 2, int(rng.integers(1 << 30)))) for i in range(4)}
    runs = {
        n: ParallelSimulator(shots=500, simulation_seed=SEED, n_processes=n)
        .submit_circuits(texts)
        .results
        for n in (1, 2)
    }
    assert runs[1] == runs[2]
    reordered = dict(reversed(list(texts.items())))
    moved = {
        row["label"]: row["results"]
        for row in ParallelSimulator(shots=500, simulation_seed=SEED, n_processes=2)
        .submit_circuits(reordered)
        .results
    }
    assert all(moved[row["label"]] != row["results"] for row in runs[2])
    alone = []
    for order in (texts, reordered):
        rows = (
            ParallelSimulator(shots=500, simulation_seed=SEED, _deterministic_execution=True)
            .submit_circuits(order)
            .results
        )
        alone.append({row["label"]: row["results"] for row in rows})
    assert alone[0] == alone[1]


# --- real simulation ------------------------------------------------------------------------

OPTIONS = {"max_parallel_threads": 2, "max_parallel_experiments": 2, "max_parallel_shots": 1}


def test_counts_use_qiskit_bit_order_and_keep_the_input_order(make_qasm):
    texts = {
        "x0": make_qasm("x q[0];\nmeasure q -> c;", 3),
        "x2": make_qasm("x q[2];\nmeasure q -> c;", 3),
        "none": make_qasm("measure q -> c;", 3),
    }
    rows = ParallelSimulator(shots=64).submit_circuits(texts).results
    assert rows == [
        {"label": "x0", "results": {"001": 64}},
        {"label": "x2", "results": {"100": 64}},
        {"label": "none", "results": {"000": 64}},
    ]
    two = make_qasm("x q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> d[0];", 2, 1).replace(
        "creg c[1];", "creg c[1];\ncreg d[1];"
    )
    assert ParallelSimulator(shots=8).submit_circuits({"r": two}).results[0]["results"] == {
        "1 0": 8
    }


def test_bit_identical_to_plain_aer_on_a_mixed_batch(corpus, plain_aer):
    result = ParallelSimulator(shots=500, simulation_seed=SEED, n_processes=2).submit_circuits(
        corpus
    )
    expected = plain_aer(
        list(corpus.values()),
        AerSimulator(),
        500,
        {"seed_simulator": SEED, **OPTIONS},
        seed_transpiler=SEED,
    )
    assert [row["label"] for row in result.results] == list(corpus)
    for row, counts in zip(result.results, expected, strict=True):
        assert row["results"] == counts, row["label"]


def test_bit_identical_on_random_native_circuits(plain_aer):
    rng = np.random.default_rng(7)
    texts = {}
    for i in range(12):
        n = int(rng.integers(2, 12))
        circuit = random_circuit(
            n, int(rng.integers(1, 6)), max_operands=2, seed=int(rng.integers(1 << 30))
        )
        circuit = transpile(
            circuit,
            basis_gates=["rx", "ry", "rz", "cx", "cz", "rzz", "h", "s", "t"],
            optimization_level=0,
        )
        circuit.measure_all()
        texts[f"r{i}"] = qasm2.dumps(circuit)
    result = ParallelSimulator(shots=300, simulation_seed=99, n_processes=2).submit_circuits(texts)
    expected = plain_aer(
        list(texts.values()),
        AerSimulator(),
        300,
        {"seed_simulator": 99, **OPTIONS},
        seed_transpiler=99,
    )
    assert [row["results"] for row in result.results] == expected


@DIFFERENTIAL
@given(data=st.data())
def test_the_transpile_skip_changes_no_count(data):
    """Skip on and off give the same counts under a seed, and they are samples of the exact
    distribution."""
    circuits = [
        data.draw(measured(data.draw(unitary_circuits(QASM_GATES))))
        for _ in range(data.draw(st.integers(1, 4)))
    ]
    texts = {f"c{i}": qasm2.dumps(circuit) for i, circuit in enumerate(circuits)}
    runs = [
        ParallelSimulator(shots=4000, simulation_seed=21, n_processes=2, transpile_skip=skip)
        .submit_circuits(texts)
        .results
        for skip in (True, False)
    ]
    assert runs[0] == runs[1]
    for circuit, row in zip(circuits, runs[0], strict=True):
        counts = {int(key.replace(" ", ""), 2): value for key, value in row["results"].items()}
        assert_sampled_from(counts, outcome_probabilities(circuit), circuit.name)


def test_deterministic_mode_matches_per_circuit_runs(corpus, plain_aer):
    texts = {
        label: text
        for label, text in corpus.items()
        if label.startswith(("hea", "clifford", "qaoa_rzz_0"))
    }
    result = ParallelSimulator(
        shots=200, simulation_seed=SEED, _deterministic_execution=True
    ).submit_circuits(texts)
    simulator = AerSimulator()
    for row, text in zip(result.results, texts.values(), strict=True):
        expected = plain_aer([text], simulator, 200, {"seed_simulator": SEED}, seed_transpiler=SEED)
        assert row["results"] == expected[0], row["label"]


def test_noise_model_results_match_plain_aer(bell_text, hea, plain_aer):
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.05, 1), ["rx", "h"])
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.1, 2), ["cx"])
    texts = {"bell": bell_text, "hea": qasm2.dumps(hea(3, 1, 0)), "bell_again": bell_text}
    result = ParallelSimulator(
        shots=400, simulation_seed=5, noise_model=noise_model, n_processes=2
    ).submit_circuits(texts)
    expected = plain_aer(
        list(texts.values()),
        AerSimulator(noise_model=noise_model),
        400,
        {"seed_simulator": 5, **OPTIONS},
        seed_transpiler=5,
    )
    assert [row["results"] for row in result.results] == expected
    assert set(result.results[0]["results"]) == {"00", "01", "10", "11"}  # the noise is applied


def test_auto_backend_texts_of_one_shape_match_plain_aer_on_the_parsed_circuits(hea):
    texts = {f"hea{s}": qasm2.dumps(hea(3, 2, s)) for s in range(5)}
    loads = caches.shapes.loads
    result = ParallelSimulator(qiskit_backend="auto", shots=400, simulation_seed=8).submit_circuits(
        texts
    )
    assert caches.shapes.loads - loads == 1
    simulator = AerSimulator.from_backend(FakeQuitoV2())
    options = ParallelSimulator(shots=400)._run_options(len(texts))
    assert [row["results"] for row in result.results] == _plain_counts(
        simulator, list(texts.values()), 400, 8, **options
    )


def test_seeded_auto_runs_are_reproducible_from_a_cold_cache():
    """The transpiler's stochastic layout is seeded with ``simulation_seed`` (divi v0.6.1
    did not seed it, so cold noisy runs could differ)."""
    rng = np.random.default_rng(4)
    texts = {}
    for i in range(12):
        circuit = QuantumCircuit(7)
        for _ in range(3):
            for q in range(7):
                circuit.ry(rng.uniform(0, np.pi), q)
            for a, b in rng.permutation(7)[:6].reshape(3, 2):
                circuit.cx(int(a), int(b))
        circuit.measure_all()
        texts[f"c{i}"] = qasm2.dumps(circuit)
    runs = []
    for _ in range(2):
        caches.clear()
        runs.append(
            ParallelSimulator(qiskit_backend="auto", shots=200, simulation_seed=5)
            .submit_circuits(texts)
            .results
        )
    assert runs[0] == runs[1]


def test_missing_measurements_raise_like_qiskit(make_qasm):
    with pytest.raises(QiskitError, match="No counts for experiment"):
        ParallelSimulator(shots=10).submit_circuits({"a": make_qasm("h q[0];")})


def test_invalid_qasm_raises_the_parser_error(make_qasm):
    with pytest.raises(qasm2.QASM2ParseError):
        ParallelSimulator(shots=10).submit_circuits({"bad": make_qasm("notagate q[0];")})
