"""ParallelSimulator (divi-runner-api.md section 8 and the section 13 checklist).

Mocked tests patch the module globals the reference's tests patch (``AerSimulator``,
``AerSimulator.from_backend``, ``transpile``, ``_find_best_fake_backend``, ``logger``);
the others run Aer for real and compare, bit for bit, with a plain
``AerSimulator().run(transpile(circuits, simulator), seed_simulator=seed)``.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import warnings
from unittest import mock

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2
from qiskit import transpile as qiskit_transpile
from qiskit.circuit.random import random_circuit
from qiskit.exceptions import QiskitError
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error
from qiskit_ibm_runtime.fake_provider import FakeQuitoV2

from qiskit_divi.backends import ExecutionResult, ParallelSimulator
from qiskit_divi.backends import _parallel_simulator as ps
from qiskit_divi.backends._parallel_simulator import FAKE_BACKENDS, _find_best_fake_backend

SEED = 1234


def qasm(body: str, n_qubits: int = 2, n_clbits: int | None = None) -> str:
    n_clbits = n_qubits if n_clbits is None else n_clbits
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n_qubits}];\ncreg c[{n_clbits}];\n{body}\n'
    )


H_MEASURE = qasm("h q[0];\nmeasure q[0] -> c[0];")
BELL = qasm("h q[0];\ncx q[0],q[1];\nmeasure q -> c;")


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test starts without cached simulators or prepared circuits."""
    ps._clear_caches()
    yield
    ps._clear_caches()


def mock_aer_result(counts, metadata=None):
    result = mock.Mock()
    if isinstance(counts, list):
        result.get_counts.side_effect = counts
    else:
        result.get_counts.return_value = counts
    result.metadata = (
        {"parallel_experiments": 1, "omp_nested": False} if metadata is None else metadata
    )
    simulator = mock.Mock()
    simulator.run.return_value.result.return_value = result
    return simulator


# --- circuit corpus for the bit-identity tests ----------------------------------------------


def qaoa_circuit(n: int, p: int, seed: int, rzz: bool = False) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.35]
    circuit = QuantumCircuit(n, n)
    circuit.h(range(n))
    for _ in range(p):
        gamma, beta = rng.uniform(0, math.pi, 2)
        for i, j in edges:
            if rzz:
                circuit.rzz(2 * gamma, i, j)
            else:
                circuit.cx(i, j)
                circuit.rz(2 * gamma, j)
                circuit.cx(i, j)
        circuit.rx(2 * beta, range(n))
    circuit.measure(range(n), range(n))
    return circuit


def hardware_efficient(n: int, layers: int, seed: int) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(n, n)
    for _ in range(layers):
        for q in range(n):
            circuit.ry(rng.uniform(0, 2 * math.pi), q)
            circuit.rz(rng.uniform(0, 2 * math.pi), q)
        for q in range(n - 1):
            circuit.cx(q, q + 1)
    circuit.measure(range(n), range(n))
    return circuit


def chain(n: int, seed: int) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(n, n)
    for q in range(n):
        circuit.ry(rng.uniform(0, 3), q)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    return circuit


def corpus() -> dict[str, str]:
    """Circuits that exercise every branch of the transpile-skip decision."""
    circuits: dict[str, QuantumCircuit] = {}
    for s in range(3):
        circuits[f"qaoa_cx_{s}"] = qaoa_circuit(10, 2, s)  # >= 3 gates on a pair: init-stage check
        circuits[f"qaoa_rzz_{s}"] = qaoa_circuit(11, 2, 10 + s, rzz=True)
        circuits[f"hea_{s}"] = hardware_efficient(4, 2, s)
    for s in range(6):
        circuits[f"random_{s}"] = random_circuit(5 + s, 4, max_operands=2, measure=True, seed=s)
    clifford = QuantumCircuit(3, 3)
    clifford.h(0), clifford.s(0), clifford.h(1), clifford.cx(0, 2), clifford.sdg(1)
    clifford.measure(range(3), range(3))
    circuits["clifford"] = clifford  # stabilizer method; transpilation merges h.s into u2
    disguised = QuantumCircuit(3, 3)
    disguised.h(range(3)), disguised.p(math.pi / 2, 2), disguised.cx(0, 1)
    disguised.measure(range(3), range(3))
    circuits["clifford_in_disguise"] = (
        disguised  # statevector as written, stabilizer once transpiled
    )
    cancelling = QuantumCircuit(3, 3)
    cancelling.h(0), cancelling.t(0), cancelling.tdg(0), cancelling.h(1)
    cancelling.rx(0.3, 2), cancelling.rx(-0.3, 2), cancelling.cx(0, 1)
    cancelling.measure(range(3), range(3))
    circuits["cancels_to_clifford"] = cancelling
    swapped = chain(12, 1)
    swapped.swap(2, 5), swapped.ry(0.3, 2), swapped.cx(2, 7)
    swapped.measure(range(12), range(12))
    circuits["swap_12q"] = swapped  # elided by the transpiler: qubits relabelled
    unmeasured = chain(11, 2)
    unmeasured.rx(0.9, range(11))
    unmeasured.cx(10, 3), unmeasured.cx(10, 3)  # keeps rx on the unmeasured qubit 10 relevant
    unmeasured.measure(range(10), range(10))
    circuits["unmeasured_ancilla"] = unmeasured  # Aer truncation differs once the pair cancels
    mid = chain(10, 3)
    mid.measure(0, 0), mid.ry(0.4, 1), mid.measure(range(1, 10), range(1, 10))
    circuits["mid_circuit_measure"] = mid
    two_registers = QuantumCircuit.from_qasm_str(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg a[1];\ncreg b[2];\n'
        "h q[0];\nrx(0.4) q[1];\ncx q[0],q[2];\nmeasure q[0] -> a[0];\nmeasure q[1] -> b[0];\nmeasure q[2] -> b[1];\n"
    )
    circuits["two_registers"] = two_registers
    texts = {label: qasm2.dumps(circuit) for label, circuit in circuits.items()}
    texts["reset_and_if"] = qasm(
        "h q[0];\nmeasure q[0] -> c[0];\nreset q[0];\nif(c==1) x q[1];\nmeasure q -> c;"
    )
    texts["custom_gate"] = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\ngate mine(t) a,b { rx(t) a; cx a,b; }\n'
        "qreg q[3];\ncreg c[3];\nmine(0.7) q[0],q[1];\nh q[2];\nmeasure q -> c;\n"
    )
    texts["scientific_notation"] = qasm(
        "rz(1.e-07) q[0];\nh q[0];\nrx(2.5e-1) q[1];\nmeasure q -> c;"
    )
    return texts


def baseline_counts(qasm_texts, simulator, shots, options):
    """What a user gets from plain Aer on the same circuits, transpiled the standard way."""
    circuits = [QuantumCircuit.from_qasm_str(text) for text in qasm_texts]
    result = simulator.run(qiskit_transpile(circuits, simulator), shots=shots, **options).result()
    return [dict(result.get_counts(i)) for i in range(len(circuits))]


# --- fake backends ------------------------------------------------------------------------


def test_find_best_fake_backend_buckets():
    assert _find_best_fake_backend(QuantumCircuit(3)) == FAKE_BACKENDS[5]
    assert _find_best_fake_backend(QuantumCircuit(20)) == FAKE_BACKENDS[20]
    assert _find_best_fake_backend(QuantumCircuit(100)) is None


def test_fake_backend_table():
    expected = {
        5: ["FakeManilaV2", "FakeBelemV2", "FakeLimaV2", "FakeQuitoV2"],
        7: ["FakeOslo", "FakePerth", "FakeLagosV2", "FakeNairobiV2"],
        15: ["FakeMelbourneV2"],
        16: ["FakeGuadalupeV2"],
        20: ["FakeAlmadenV2", "FakeJohannesburgV2", "FakeSingaporeV2", "FakeBoeblingenV2"],
        27: ["FakeGeneva", "FakePeekskill", "FakeAuckland", "FakeCairoV2"],
    }
    assert {
        size: [cls.__name__ for cls in classes] for size, classes in FAKE_BACKENDS.items()
    } == expected
    for size, classes in FAKE_BACKENDS.items():
        assert classes[-1]().num_qubits == size
    for n, size in [
        (0, 5),
        (5, 5),
        (6, 7),
        (7, 7),
        (8, 15),
        (15, 15),
        (16, 16),
        (17, 20),
        (21, 27),
        (27, 27),
    ]:
        assert _find_best_fake_backend(QuantumCircuit(n)) is FAKE_BACKENDS[size], n


def test_importing_the_package_does_not_import_the_fake_provider():
    code = (
        "import sys, qiskit_divi.backends, qiskit_divi.backends._parallel_simulator as m\n"
        "assert not any(n.startswith('qiskit_ibm_runtime') for n in sys.modules), 'eager import'\n"
        "assert 5 in m.FAKE_BACKENDS\n"
        "assert 'qiskit_ibm_runtime.fake_provider' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_unknown_module_attribute():
    with pytest.raises(AttributeError, match="NOT_THERE"):
        ps.NOT_THERE  # noqa: B018


# --- construction -------------------------------------------------------------------------


def test_backend_and_noise_model_warn_once_and_both_are_stored():
    backend = FakeQuitoV2()
    noise_model = NoiseModel()
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
    assert simulator.supports_expval is False
    assert simulator.is_async is False
    simulator.set_seed(42)
    assert simulator.simulation_seed == 42
    simulator.set_seed(100)
    assert simulator.simulation_seed == 100


def test_shots_and_n_processes_validation():
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
    with mock.patch.object(ps.os, "cpu_count", return_value=cpus):
        assert ParallelSimulator().n_processes == expected


def test_default_n_processes_off_the_main_thread():
    seen = []
    with mock.patch.object(ps.os, "cpu_count", return_value=64):
        worker = threading.Thread(target=lambda: seen.append(ParallelSimulator().n_processes))
        worker.start()
        worker.join()
        assert seen == [2]
        worker_process = mock.Mock()
        worker_process.name = "ForkPoolWorker-1"
        with mock.patch.object(ps, "current_process", return_value=worker_process):
            assert ParallelSimulator().n_processes == 2
        assert ParallelSimulator().n_processes == 16


def test_submit_circuits_takes_no_extra_arguments():
    with pytest.raises(TypeError):
        ParallelSimulator(shots=10).submit_circuits({"a": BELL}, ham_ops="ZZ")


# --- submission with a mocked Aer (the reference's checklist) -------------------------------


def test_auto_backend_uses_the_finder_and_from_backend_once():
    backend_class = mock.Mock()
    simulator = mock_aer_result({"000": 50, "111": 50})
    circuit = qasm("h q[0];\ncx q[0],q[1];\nmeasure q[0] -> c[0];", n_qubits=3)
    with (
        mock.patch.object(
            ps, "_find_best_fake_backend", return_value=[mock.Mock(), backend_class]
        ) as finder,
        mock.patch.object(ps.AerSimulator, "from_backend", return_value=simulator) as from_backend,
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(3)]),
    ):
        result = ParallelSimulator(qiskit_backend="auto", shots=100).submit_circuits(
            {"test_circuit": circuit}
        )
        again = ParallelSimulator(qiskit_backend="auto", shots=100).submit_circuits(
            {"test_circuit": circuit}
        )
    assert finder.call_args.args[0].num_qubits == 3
    backend_class.assert_called_once_with()  # the last class of the bucket, instantiated once
    from_backend.assert_called_once_with(backend_class.return_value)  # and cached
    assert isinstance(result, ExecutionResult)
    assert result.results == [{"label": "test_circuit", "results": {"000": 50, "111": 50}}]
    assert again.results == result.results


def test_auto_backend_picks_the_widest_circuit():
    with (
        mock.patch.object(ps, "_find_best_fake_backend", return_value=[mock.Mock()]) as finder,
        mock.patch.object(ps.AerSimulator, "from_backend", return_value=mock_aer_result({"0": 1})),
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(1)] * 3),
    ):
        ParallelSimulator(qiskit_backend="auto", shots=1).submit_circuits(
            {
                "a": qasm("measure q[0] -> c[0];", 2),
                "b": qasm("measure q[0] -> c[0];", 6),
                "c": H_MEASURE,
            }
        )
    assert finder.call_args.args[0].num_qubits == 6


def test_auto_backend_too_wide():
    with pytest.raises(ValueError, match="No fake backend available for circuit with 28 qubits"):
        ParallelSimulator(qiskit_backend="auto").submit_circuits({"wide": qasm("h q[0];", 28)})


def test_explicit_backend_goes_through_from_backend():
    backend = FakeQuitoV2()
    with (
        mock.patch.object(
            ps.AerSimulator, "from_backend", return_value=mock_aer_result({"0": 60, "1": 40})
        ) as fb,
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(2)]),
    ):
        result = ParallelSimulator(qiskit_backend=backend, shots=100).submit_circuits(
            {"test_circuit": H_MEASURE}
        )
    fb.assert_called_once_with(backend)
    assert result.results == [{"label": "test_circuit", "results": {"0": 60, "1": 40}}]


def test_batch_path_keeps_the_input_order():
    simulator = mock_aer_result(
        [{"0": 50, "1": 50}, {"0": 30, "1": 70}, {"1": 100}],
        metadata={"parallel_experiments": 2, "omp_nested": False},
    )
    circuits = {
        "circuit1": H_MEASURE,
        "circuit2": H_MEASURE.replace("h q[0];", "x q[0];"),
        "circuit0": BELL,
    }
    with (
        mock.patch.object(ps, "AerSimulator", return_value=simulator) as aer_class,
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(2)] * 3) as transpile,
    ):
        result = ParallelSimulator(shots=100, n_processes=2).submit_circuits(circuits)
    aer_class.assert_called_once_with(noise_model=None)
    transpile.assert_called_once()
    assert len(transpile.call_args.args[0]) == 3
    simulator.run.assert_called_once()
    kwargs = simulator.run.call_args.kwargs
    assert kwargs["shots"] == 100
    assert (
        kwargs["max_parallel_threads"],
        kwargs["max_parallel_experiments"],
        kwargs["max_parallel_shots"],
    ) == (2, 2, 1)
    assert "seed_simulator" not in kwargs
    assert [row["label"] for row in result.results] == ["circuit1", "circuit2", "circuit0"]
    assert [row["results"] for row in result.results] == [
        {"0": 50, "1": 50},
        {"0": 30, "1": 70},
        {"1": 100},
    ]


@pytest.mark.parametrize(
    ("shots", "n_processes", "expected"),
    [
        (100, 4, {"max_parallel_experiments": 1, "max_parallel_shots": 4}),
        (3, 4, {"max_parallel_experiments": 1, "max_parallel_shots": 1}),
    ],
)
def test_single_circuit_parallelism_options(shots, n_processes, expected):
    simulator = mock_aer_result({"0": shots})
    with (
        mock.patch.object(ps, "AerSimulator", return_value=simulator),
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(2)]),
    ):
        ParallelSimulator(shots=shots, n_processes=n_processes, simulation_seed=7).submit_circuits(
            {"a": H_MEASURE}
        )
    kwargs = simulator.run.call_args.kwargs
    assert kwargs["seed_simulator"] == 7
    assert kwargs["max_parallel_threads"] == n_processes
    assert {k: kwargs[k] for k in expected} == expected


def test_seeded_parallel_execution_logs_one_warning():
    simulator = mock_aer_result(
        {"0": 50, "1": 50}, metadata={"parallel_experiments": 2, "omp_nested": True}
    )
    with (
        mock.patch.object(ps, "AerSimulator", return_value=simulator),
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(2)] * 2),
        mock.patch.object(ps, "logger") as logger,
    ):
        ParallelSimulator(shots=100, simulation_seed=42).submit_circuits(
            {"circuit1": H_MEASURE, "circuit2": BELL}
        )
    logger.warning.assert_called_once()
    message = str(logger.warning.call_args.args[0])
    for phrase in [
        "Parallel execution detected",
        "parallel_experiments=2",
        "omp_nested=True",
        "may not be deterministic",
    ]:
        assert phrase in message


def test_the_seed_warning_says_what_to_do_once_per_simulator():
    metadata = {"parallel_experiments": 2, "omp_nested": False}
    with (
        mock.patch.object(
            ps,
            "AerSimulator",
            side_effect=lambda *a, **k: mock_aer_result({"0": 1}, metadata=metadata),
        ),
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(2)] * 2),
        mock.patch.object(ps, "logger") as logger,
    ):
        simulator = ParallelSimulator(shots=1, simulation_seed=42)
        for _ in range(3):  # e.g. the iterations of an optimiser
            simulator.submit_circuits({"a": H_MEASURE, "b": BELL})
        logger.warning.assert_called_once()
        message = str(logger.warning.call_args.args[0])
        for phrase in ["same counts, whatever n_processes, executor or max_job_size",
                       "Aer seeds each circuit from its position in the batch",
                       "pass _deterministic_execution=True", "Logged once per ParallelSimulator"]:  # fmt: skip
            assert phrase in message
        ParallelSimulator(shots=1, simulation_seed=42).submit_circuits({"a": H_MEASURE, "b": BELL})
        assert logger.warning.call_count == 2


def test_what_the_seed_warning_says_is_true():
    """A seeded batch's counts do not depend on the parallelism; a circuit's do depend on its
    position in the batch; deterministic mode's do not."""
    rng = np.random.default_rng(11)
    texts = {
        f"hea{i}": qasm2.dumps(hardware_efficient(3, 2, int(rng.integers(1 << 30))))
        for i in range(4)
    }
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
    alone = {}
    for order in (texts, reordered):
        rows = (
            ParallelSimulator(shots=500, simulation_seed=SEED, _deterministic_execution=True)
            .submit_circuits(order)
            .results
        )
        alone[len(alone)] = {row["label"]: row["results"] for row in rows}
    assert alone[0] == alone[1]


@pytest.mark.parametrize("seed", [None, 42])
def test_no_warning_without_seed_or_parallelism(seed):
    metadata = {"parallel_experiments": 1 if seed else 2, "omp_nested": False}
    with (
        mock.patch.object(
            ps, "AerSimulator", return_value=mock_aer_result({"0": 1}, metadata=metadata)
        ),
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(2)] * 2),
        mock.patch.object(ps, "logger") as logger,
    ):
        ParallelSimulator(shots=1, simulation_seed=seed).submit_circuits(
            {"a": H_MEASURE, "b": BELL}
        )
    logger.warning.assert_not_called()


def test_deterministic_mode_with_a_backend():
    backend = FakeQuitoV2()
    simulator = mock_aer_result({"0": 100})
    with (
        mock.patch.object(ps.AerSimulator, "from_backend", return_value=simulator) as from_backend,
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(2)] * 2),
    ):
        result = ParallelSimulator(
            qiskit_backend=backend, shots=100, _deterministic_execution=True, simulation_seed=42
        ).submit_circuits({"test_circuit": H_MEASURE, "other": BELL})
    assert from_backend.call_count >= 1
    assert simulator.run.call_count == 2  # one run per circuit
    for call in simulator.run.call_args_list:
        assert len(call.args[0]) == 1
        assert call.kwargs == {
            "shots": 100,
            "seed_simulator": 42,
        }  # same seed, no parallelism options
    assert [row["label"] for row in result.results] == ["test_circuit", "other"]


def test_deterministic_mode_with_a_noise_model():
    noise_model = NoiseModel()
    simulator = mock_aer_result({"0": 100})
    with (
        mock.patch.object(ps, "AerSimulator", return_value=simulator) as aer_class,
        mock.patch.object(ps, "transpile", return_value=[QuantumCircuit(2)]),
    ):
        result = ParallelSimulator(
            noise_model=noise_model, shots=100, _deterministic_execution=True, simulation_seed=42
        ).submit_circuits({"test_circuit": H_MEASURE})
    aer_class.assert_called_once_with(noise_model=noise_model)
    assert result.results == [{"label": "test_circuit", "results": {"0": 100}}]


def test_empty_submission():
    assert ParallelSimulator(shots=10).submit_circuits({}) == ExecutionResult(results=[])


# --- real simulation ------------------------------------------------------------------------


def test_counts_use_qiskit_bit_order():
    result = ParallelSimulator(shots=64).submit_circuits(
        {"x0": qasm("x q[0];\nmeasure q -> c;", 3)}
    )
    assert result.results == [{"label": "x0", "results": {"001": 64}}]
    two = qasm("x q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> d[0];", 2, 1).replace(
        "creg c[1];", "creg c[1];\ncreg d[1];"
    )
    assert ParallelSimulator(shots=8).submit_circuits({"r": two}).results[0]["results"] == {
        "1 0": 8
    }


def test_bit_identical_to_plain_aer_on_a_mixed_batch():
    texts = corpus()
    shots = 500
    result = ParallelSimulator(shots=shots, simulation_seed=SEED, n_processes=2).submit_circuits(
        texts
    )
    options = {
        "seed_simulator": SEED,
        "max_parallel_threads": 2,
        "max_parallel_experiments": 2,
        "max_parallel_shots": 1,
    }
    expected = baseline_counts(list(texts.values()), AerSimulator(), shots, options)
    assert [row["label"] for row in result.results] == list(texts)
    for row, counts in zip(result.results, expected):
        assert row["results"] == counts, row["label"]


def test_bit_identical_on_random_native_circuits():
    rng = np.random.default_rng(7)
    texts = {}
    for i in range(12):
        n = int(rng.integers(2, 12))
        circuit = random_circuit(
            n, int(rng.integers(1, 6)), max_operands=2, seed=int(rng.integers(1 << 30))
        )
        circuit = qiskit_transpile(
            circuit,
            basis_gates=["rx", "ry", "rz", "cx", "cz", "rzz", "h", "s", "t"],
            optimization_level=0,
        )
        circuit.measure_all()
        texts[f"r{i}"] = qasm2.dumps(circuit)
    result = ParallelSimulator(shots=300, simulation_seed=99, n_processes=2).submit_circuits(texts)
    options = {
        "seed_simulator": 99,
        "max_parallel_threads": 2,
        "max_parallel_experiments": 2,
        "max_parallel_shots": 1,
    }
    expected = baseline_counts(list(texts.values()), AerSimulator(), 300, options)
    assert [row["results"] for row in result.results] == expected


def test_deterministic_mode_matches_per_circuit_runs():
    texts = {
        label: text
        for label, text in corpus().items()
        if label.startswith(("hea", "clifford", "qaoa_rzz_0"))
    }
    result = ParallelSimulator(
        shots=200, simulation_seed=SEED, _deterministic_execution=True
    ).submit_circuits(texts)
    simulator = AerSimulator()
    for row, text in zip(result.results, texts.values()):
        assert (
            row["results"] == baseline_counts([text], simulator, 200, {"seed_simulator": SEED})[0]
        ), row["label"]


def test_noise_model_results_match_plain_aer():
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.05, 1), ["rx", "h"])
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.1, 2), ["cx"])
    texts = {"bell": BELL, "hea": qasm2.dumps(hardware_efficient(3, 1, 0)), "bell_again": BELL}
    result = ParallelSimulator(
        shots=400, simulation_seed=5, noise_model=noise_model, n_processes=2
    ).submit_circuits(texts)
    options = {
        "seed_simulator": 5,
        "max_parallel_threads": 2,
        "max_parallel_experiments": 2,
        "max_parallel_shots": 1,
    }
    expected = baseline_counts(
        list(texts.values()), AerSimulator(noise_model=noise_model), 400, options
    )
    assert [row["results"] for row in result.results] == expected
    assert set(result.results[0]["results"]) == {"00", "01", "10", "11"}  # the noise is applied


def test_auto_backend_simulates_with_noise():
    result = ParallelSimulator(
        qiskit_backend="auto", shots=2000, simulation_seed=3
    ).submit_circuits({"bell": BELL})
    counts = result.results[0]["results"]
    assert sum(counts.values()) == 2000
    assert counts["00"] + counts["11"] > 1700
    assert counts.get("01", 0) + counts.get("10", 0) > 0  # FakeQuitoV2's noise


def test_missing_measurements_raise_like_qiskit():
    with pytest.raises(QiskitError, match="No counts for experiment"):
        ParallelSimulator(shots=10).submit_circuits({"a": qasm("h q[0];")})


def test_invalid_qasm_raises_the_parser_error():
    with pytest.raises(qasm2.QASM2ParseError):
        ParallelSimulator(shots=10).submit_circuits({"bad": qasm("notagate q[0];")})


# --- the transpile-skip decision and the caches ----------------------------------------------


def verdict(text: str):
    return ps._skip_verdict(QuantumCircuit.from_qasm_str(text), ps._noiseless_entry())


@pytest.mark.parametrize(
    ("label", "skips"),
    [
        ("qaoa_cx_0", True), ("qaoa_rzz_0", True), ("hea_0", True), ("two_registers", True),
        ("clifford", False), ("clifford_in_disguise", True), ("swap_12q", False),
        ("unmeasured_ancilla", False), ("mid_circuit_measure", False), ("reset_and_if", False),
        ("custom_gate", False), ("scientific_notation", True),
    ],
)  # fmt: skip
def test_skip_verdict(label, skips):
    assert (verdict(corpus()[label]) is not None) is skips


def test_skip_verdict_rejects_unsupported_gates_and_noise():
    assert verdict(qasm("ch q[0],q[1];\nmeasure q -> c;")) is None  # not native to Aer
    noisy = ps._SimulatorEntry(AerSimulator(noise_model=NoiseModel()), noiseless=False)
    assert (
        ps._skip_verdict(QuantumCircuit.from_qasm_str(BELL.replace("h", "rx(0.2)")), noisy) is None
    )
    assert verdict(BELL.replace("h", "rx(0.2)")) == (0, 1)


@pytest.mark.parametrize(
    ("probabilities", "stabilizer_like"),
    [([1, 0, 0, 0], True), ([0.5, 0, 0, 0.5], True), ([0.25] * 4, True), ([0.5, 0.25, 0.25, 0], False),
     ([0.3, 0.7], False), ([1 / 3, 1 / 3, 1 / 3, 0], False), ([], True)],
)  # fmt: skip
def test_is_stabilizer_like(probabilities, stabilizer_like):
    assert ps._is_stabilizer_like(np.array(probabilities)) is stabilizer_like


def test_clifford_looking_results_are_rerun_transpiled():
    texts = {
        "disguised": corpus()["clifford_in_disguise"],
        "hea": corpus()["hea_1"],
        "cancelling": corpus()["cancels_to_clifford"],
        "disguised_again": corpus()["clifford_in_disguise"],
    }
    patcher, spy = spy_transpile()
    with patcher:
        result = ParallelSimulator(shots=300, simulation_seed=11, n_processes=2).submit_circuits(
            texts
        )
        assert (
            ps._noiseless_entry().get(texts["disguised"], 11).probe_qubits is None
        )  # remembered as transpiled
        assert ps._noiseless_entry().get(texts["hea"], 11).probe_qubits is not None
    # one transpile call for both suspects (each distinct text once), none for the HEA circuit
    assert spy.call_count == 1
    assert [c.num_qubits for c in spy.call_args.args[0]] == [3, 3]
    options = {
        "seed_simulator": 11,
        "max_parallel_threads": 2,
        "max_parallel_experiments": 2,
        "max_parallel_shots": 1,
    }
    assert [row["results"] for row in result.results] == baseline_counts(
        list(texts.values()), AerSimulator(), 300, options
    )


def spy_transpile():
    spy = mock.Mock(side_effect=qiskit_transpile)
    return mock.patch.multiple(ps, transpile=spy, _qiskit_transpile=spy), spy


def test_native_circuits_are_neither_transpiled_nor_parsed_twice():
    patcher, spy = spy_transpile()
    texts = {
        "hea": corpus()["hea_0"],
        "clifford": corpus()["clifford"],
        "hea_again": corpus()["hea_0"],
    }
    simulator = ParallelSimulator(shots=100, simulation_seed=1)
    with patcher, mock.patch.object(ps, "_parse_qasm", side_effect=ps._parse_qasm) as parse:
        first = simulator.submit_circuits(texts)
        assert spy.call_count == 1
        assert [c.num_qubits for c in spy.call_args.args[0]] == [3]  # only the Clifford circuit
        assert parse.call_count == 2  # one parse per distinct text
        second = simulator.submit_circuits(texts)
    assert spy.call_count == 1 and parse.call_count == 2  # served from the cache
    assert second == first


def test_auto_backend_transpiles_each_distinct_circuit_once_across_calls():
    patcher, spy = spy_transpile()
    texts = {"a": BELL, "b": H_MEASURE, "a_again": BELL}
    simulator = ParallelSimulator(qiskit_backend="auto", shots=100, simulation_seed=2)
    with (
        patcher,
        mock.patch.object(
            ps.AerSimulator, "from_backend", side_effect=AerSimulator.from_backend
        ) as fb,
    ):
        first = simulator.submit_circuits(texts)
        second = simulator.submit_circuits(texts)
    assert spy.call_count == 1
    assert len(spy.call_args.args[0]) == 2
    assert spy.call_args.kwargs == {"num_processes": 1, "seed_transpiler": 2}
    assert fb.call_count == 1
    assert type(fb.call_args.args[0]).__name__ == "FakeQuitoV2"
    assert first == second


# --- run-time estimates ---------------------------------------------------------------------


def stub_backend(durations_map):
    backend = mock.Mock()

    def get(name, qubits, unit="s"):
        if (name, qubits) not in durations_map:
            raise ps.TranspilerError(f"no duration for {name}")
        return durations_map[(name, qubits)]

    backend.target.durations.return_value.get = get
    return backend


def test_estimate_single_circuit_sums_the_longest_path():
    text = qasm("h q[0];\ncx q[0],q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];")
    backend = stub_backend(
        {
            ("h", (0,)): 1.6e-7,
            ("cx", (0, 1)): 3.2e-7,
            ("measure", (0,)): 5.0e-7,
            ("measure", (1,)): 5.0e-7,
        }
    )
    with mock.patch.object(
        ps, "transpile", return_value=QuantumCircuit.from_qasm_str(text)
    ) as transpile:
        estimate = ParallelSimulator.estimate_run_time_single_circuit(
            text, qiskit_backend=backend, optimization_level=1
        )
    assert estimate == pytest.approx(9.8e-7)
    assert transpile.call_args.args[1] is backend
    assert transpile.call_args.kwargs == {"optimization_level": 1}


def test_estimate_single_circuit_auto_backend():
    text = qasm("h q[0];", 1)
    backend_class = mock.Mock()
    backend_class.return_value = stub_backend({("h", (0,)): 1.0})
    with (
        mock.patch.object(ps, "_find_best_fake_backend", return_value=[backend_class]),
        mock.patch.object(ps, "transpile", return_value=QuantumCircuit.from_qasm_str(text)),
    ):
        assert (
            ParallelSimulator.estimate_run_time_single_circuit(text, qiskit_backend="auto") == 1.0
        )


def test_estimate_single_circuit_warns_on_unknown_durations():
    text = qasm("h q[0];\nbarrier q;\nx q[0];\nmeasure q[0] -> c[0];")
    backend = stub_backend({("h", (0,)): 2.0, ("measure", (0,)): 3.0})
    with mock.patch.object(ps, "transpile", return_value=QuantumCircuit.from_qasm_str(text)):
        with pytest.warns(UserWarning, match="Instruction duration not found: x") as caught:
            estimate = ParallelSimulator.estimate_run_time_single_circuit(
                text, qiskit_backend=backend
            )
    assert estimate == 5.0
    assert [str(w.message) for w in caught] == [
        "Instruction duration not found: x"
    ]  # barrier is silent


def test_estimate_single_circuit_on_a_real_fake_backend():
    backend = FakeQuitoV2()
    estimate = ParallelSimulator.estimate_run_time_single_circuit(BELL, backend, seed_transpiler=1)
    durations = backend.target.durations()
    assert durations.get("measure", (0,), unit="s") < estimate < 1e-4


def test_estimate_single_circuit_too_wide_for_auto():
    with pytest.raises(ValueError, match="No fake backend available for circuit with 30 qubits"):
        ParallelSimulator.estimate_run_time_single_circuit(qasm("h q[0];", 30), "auto")


@pytest.mark.parametrize(
    ("durations", "n_qpus", "expected"),
    [
        ([5, 4, 3, 3, 2], 2, 9.0),
        ([3, 3, 2, 2, 2], 2, 7.0),
        ([1, 2], 5, 2.0),
        ([], 5, 0.0),
        ([2.5], 1, 2.5),
    ],
)
def test_estimate_batch_lpt(durations, n_qpus, expected):
    estimate = ParallelSimulator.estimate_run_time_batch(
        precomputed_durations=durations, n_qpus=n_qpus
    )
    assert estimate == expected
    assert isinstance(estimate, float)


def test_estimate_batch_ignores_circuits_when_durations_are_given():
    with mock.patch.object(ParallelSimulator, "estimate_run_time_single_circuit") as single:
        assert (
            ParallelSimulator.estimate_run_time_batch(
                circuits=[BELL], precomputed_durations=[1.0, 2.0]
            )
            == 2.0
        )
    single.assert_not_called()


def test_estimate_batch_estimates_circuits_with_auto():
    with mock.patch.object(
        ParallelSimulator, "estimate_run_time_single_circuit", side_effect=[3.0, 1.0, 2.0]
    ) as single:
        assert (
            ParallelSimulator.estimate_run_time_batch(
                circuits=["a", "b", "c"], n_qpus=2, seed_transpiler=4
            )
            == 3.0
        )
    assert [call.args[0] for call in single.call_args_list] == ["a", "b", "c"]
    assert all(
        call.kwargs == {"qiskit_backend": "auto", "seed_transpiler": 4}
        for call in single.call_args_list
    )


def test_estimate_batch_uses_worker_processes_for_large_batches():
    circuits = [f"c{i}" for i in range(ps._PARALLEL_ESTIMATE_THRESHOLD)]
    with mock.patch(
        "qiskit.utils.parallel_map", return_value=[1.0] * len(circuits)
    ) as parallel_map:
        assert (
            ParallelSimulator.estimate_run_time_batch(circuits=circuits, n_qpus=len(circuits))
            == 1.0
        )
    assert parallel_map.call_args.args[:2] == (ps._estimate_auto, circuits)


def test_estimate_batch_errors():
    with pytest.raises(TypeError):
        ParallelSimulator.estimate_run_time_batch()
    with pytest.raises(ValueError):
        ParallelSimulator.estimate_run_time_batch()
    with pytest.raises(IndexError):
        ParallelSimulator.estimate_run_time_batch(precomputed_durations=[1.0], n_qpus=0)


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
        ps._clear_caches()
        runs.append(
            ParallelSimulator(qiskit_backend="auto", shots=200, simulation_seed=5)
            .submit_circuits(texts)
            .results
        )
    assert runs[0] == runs[1]


# --- texts of one shape: parsed once, bound per text ------------------------------------------


def qaoa_bindings(n: int, count: int, seed: int) -> list[str]:
    """``count`` QAOA texts of one shape (fixed edges, >= 3 gates per pair, fresh angles)."""
    rng = np.random.default_rng(seed)
    edges = [(i, (i + 1) % n) for i in range(n)]
    texts = []
    for _ in range(count):
        circuit = QuantumCircuit(n, n)
        circuit.h(range(n))
        for _ in range(2):
            gamma, beta = rng.uniform(0, math.pi, 2)
            for i, j in edges:
                circuit.cx(i, j), circuit.rz(2 * gamma, j), circuit.cx(i, j)
            circuit.rx(2 * beta, range(n))
        circuit.measure(range(n), range(n))
        texts.append(qasm2.dumps(circuit))
    return texts


def test_texts_of_one_shape_are_parsed_once_and_bit_identical_to_plain_aer():
    texts = {f"qaoa{i}": text for i, text in enumerate(qaoa_bindings(5, 6, seed=3))}
    texts |= {f"hea{s}": qasm2.dumps(hardware_efficient(4, 2, s)) for s in range(6)}
    entry = ps._noiseless_entry()
    with (
        mock.patch.object(ps, "_parse_qasm", side_effect=ps._parse_qasm) as parse,
        mock.patch.object(
            ps, "_structural_verdict", side_effect=ps._structural_verdict
        ) as structural,
        mock.patch.object(
            entry, "init_stage_permutes", side_effect=entry.init_stage_permutes
        ) as init_check,
    ):
        result = ParallelSimulator(shots=300, simulation_seed=SEED, n_processes=2).submit_circuits(
            texts
        )
    assert parse.call_count == 2 and structural.call_count == 2  # one per shape
    qaoa_texts = [text for label, text in texts.items() if label.startswith("qaoa")]
    # the angle-dependent init-stage check runs on each bound circuit, not on the skeleton
    checked = [call.args[0] for call in init_check.call_args_list]
    assert checked == [QuantumCircuit.from_qasm_str(text) for text in qaoa_texts]
    assert all(
        entry.get(text, SEED).probe_qubits is not None for text in texts.values()
    )  # none transpiled
    options = ParallelSimulator(shots=300, simulation_seed=SEED, n_processes=2)._run_options(
        len(texts)
    )
    expected = baseline_counts(list(texts.values()), AerSimulator(), 300, options)
    assert [row["results"] for row in result.results] == expected


def test_auto_backend_texts_of_one_shape_match_plain_aer_on_the_parsed_circuits():
    texts = {f"hea{s}": qasm2.dumps(hardware_efficient(3, 2, s)) for s in range(5)}
    with mock.patch.object(ps, "_parse_qasm", side_effect=ps._parse_qasm) as parse:
        result = ParallelSimulator(
            qiskit_backend="auto", shots=400, simulation_seed=8
        ).submit_circuits(texts)
    assert parse.call_count == 1
    simulator = AerSimulator.from_backend(FakeQuitoV2())
    circuits = qiskit_transpile(
        [QuantumCircuit.from_qasm_str(text) for text in texts.values()],
        simulator,
        seed_transpiler=8,
    )
    options = ParallelSimulator(shots=400, simulation_seed=8)._run_options(len(texts))
    plain = simulator.run(circuits, shots=400, **options).result()
    assert [row["results"] for row in result.results] == [
        plain.get_counts(i) for i in range(len(texts))
    ]


def test_forgetting_prepared_circuits_keeps_the_simulator_and_the_shapes():
    texts = {"a": BELL, "b": H_MEASURE}
    simulator = ParallelSimulator(qiskit_backend="auto", shots=100, simulation_seed=2)
    patcher, spy = spy_transpile()
    with (
        patcher,
        mock.patch.object(
            ps.AerSimulator, "from_backend", side_effect=AerSimulator.from_backend
        ) as fb,
        mock.patch.object(ps, "_parse_qasm", side_effect=ps._parse_qasm) as parse,
    ):
        first = simulator.submit_circuits(texts)
        ps._forget_prepared_circuits()
        second = simulator.submit_circuits(texts)
    assert (spy.call_count, fb.call_count, parse.call_count) == (
        2,
        1,
        2,
    )  # transpiled again, nothing else
    assert first == second
