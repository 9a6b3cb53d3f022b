"""ParallelSimulator(executor=..., max_job_size=...): sub-batches on an executor give the
single-machine counts, in input order; a failing or dying worker never loses a result
silently. The Dask tests need the ``dask`` extra and are skipped without it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2
from qiskit.circuit.library import efficient_su2

from qiskit_divi.backends import ParallelSimulator, ParallelSimulatorExecutorError

SEED = 11


def random_circuits(count: int, num_qubits: int, seed: int) -> dict[str, str]:
    """Random hardware-efficient circuits plus a Bell pair, as OpenQASM 2 strings."""
    rng = np.random.default_rng(seed)
    template = efficient_su2(num_qubits, reps=2).decompose()
    circuits = {}
    for i in range(count):
        circuit = template.assign_parameters(rng.uniform(0, np.pi, template.num_parameters))
        circuit.measure_all()
        circuits[f"c{i}"] = qasm2.dumps(circuit)
    bell = QuantumCircuit(2, 2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    circuits["bell"] = qasm2.dumps(bell)
    return circuits


@pytest.fixture(scope="module")
def circuits() -> dict[str, str]:
    return random_circuits(9, 4, seed=1)


@pytest.fixture(scope="module")
def thread_pool():
    with ThreadPoolExecutor(2) as pool:
        yield pool


def local_results(circuits: dict[str, str], **options) -> list[dict]:
    return (
        ParallelSimulator(shots=300, simulation_seed=SEED, **options)
        .submit_circuits(circuits)
        .results
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"qiskit_backend": "auto"}, {"_deterministic_execution": True}],
    ids=["noiseless", "auto", "deterministic"],
)
@pytest.mark.parametrize("max_job_size", [None, 1, 4])
def test_executor_gives_the_single_machine_counts_in_order(
    circuits, thread_pool, options, max_job_size
):
    expected = local_results(circuits, **options)
    simulator = ParallelSimulator(
        shots=300, simulation_seed=SEED, executor=thread_pool, max_job_size=max_job_size, **options
    )
    results = simulator.submit_circuits(circuits).results
    assert [row["label"] for row in results] == list(circuits)
    assert results == expected


def test_max_job_size_alone_splits_the_local_run(circuits):
    assert local_results(circuits, max_job_size=2) == local_results(circuits)


@pytest.mark.parametrize("seed", [2**63 - 3000, 2**63 - 1])
def test_sub_batch_seeds_stay_in_the_range_aer_accepts(circuits, seed):
    """The moved seeds wrap modulo 2**64 like Aer's own, and are passed as Aer takes them."""
    whole = ParallelSimulator(shots=100, simulation_seed=seed).submit_circuits(circuits).results
    split = ParallelSimulator(shots=100, simulation_seed=seed, max_job_size=3)
    assert split.submit_circuits(circuits).results == whole


def test_seeds_change_the_counts_so_identity_is_not_vacuous(circuits, thread_pool):
    other = ParallelSimulator(
        shots=300, simulation_seed=SEED + 1, executor=thread_pool, max_job_size=2
    )
    assert other.submit_circuits(circuits).results != local_results(circuits)


class _FailingExecutor(Executor):
    """Runs tasks inline; the task of sub-batch ``fail_at`` (0-based) raises."""

    def __init__(self, fail_at: int):
        self.fail_at = fail_at
        self.submitted: list[Future] = []

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        if len(self.submitted) == self.fail_at:
            future.set_exception(MemoryError("worker ran out of memory"))
        else:
            future.set_result(fn(*args, **kwargs))
        self.submitted.append(future)
        return future


def test_a_failed_sub_batch_raises_and_names_it(circuits):
    simulator = ParallelSimulator(shots=100, executor=_FailingExecutor(fail_at=1), max_job_size=4)
    with pytest.raises(
        ParallelSimulatorExecutorError, match=r"Sub-batch 2 of 3 \(circuits 4 to 7\).*MemoryError"
    ):
        simulator.submit_circuits(circuits)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_max_job_size_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="max_job_size must be a positive number"):
        ParallelSimulator(max_job_size=bad)


def test_executor_needs_submit():
    with pytest.raises(TypeError, match="executor must have a submit"):
        ParallelSimulator(executor=object())


def test_executor_options_are_keyword_only():
    with pytest.raises(TypeError):
        ParallelSimulator(None, 100, None, None, None, False, ThreadPoolExecutor(1))


def test_importing_the_package_never_imports_dask():
    code = (
        "import sys, qiskit_divi, qiskit_divi.backends\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- Dask -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip(
        "distributed", reason="the dask extra is not installed (pip install -e '.[dask]')"
    )
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        death_timeout=60,
    )
    client = distributed.Client(cluster, timeout=60)
    try:
        client.wait_for_workers(2, timeout=60)
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


@pytest.mark.parametrize("options", [{}, {"qiskit_backend": "auto"}], ids=["noiseless", "auto"])
def test_dask_cluster_gives_the_single_machine_counts_in_order(circuits, dask_client, options):
    simulator = ParallelSimulator(shots=300, simulation_seed=SEED, executor=dask_client, **options)
    results = simulator.submit_circuits(circuits).results
    assert [row["label"] for row in results] == list(circuits)
    assert results == local_results(circuits, **options)


def test_a_worker_killed_mid_run_loses_nothing(dask_client):
    circuits = random_circuits(12, 7, seed=5)
    options = {"shots": 40_000, "simulation_seed": SEED, "qiskit_backend": "auto", "n_processes": 1}
    simulator = ParallelSimulator(executor=dask_client, max_job_size=1, **options)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["results"] = simulator.submit_circuits(circuits).results
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    worker_pids = dask_client.run(os.getpid)
    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    # Kill a worker seen running a sub-batch (whichever it is: the scheduler decides).
    deadline = time.monotonic() + 60
    busy: list[str] = []
    while not busy and time.monotonic() < deadline:
        busy = [
            address
            for address, tasks in dask_client.processing().items()
            if tasks and address in worker_pids
        ]
        time.sleep(0.05)
    assert busy, "no worker started a sub-batch within 60 s"
    os.kill(worker_pids[busy[0]], signal.SIGKILL)
    runner.join(timeout=240)
    assert not runner.is_alive(), "the batch neither completed nor failed within 240 s"
    # Dask reschedules the lost tasks on the surviving worker: the batch completes.
    assert "error" not in outcome, outcome.get("error")
    results = outcome["results"]
    assert [row["label"] for row in results] == list(circuits)
    assert results == ParallelSimulator(**options).submit_circuits(circuits).results
