"""ParallelSimulator on a Dask cluster: speed-up of 2 workers over 1.

Needs the ``dask`` extra (``pip install -e ".[dask]"``). Starts a
``dask.distributed.LocalCluster`` on loopback with 1, then 2, single-threaded worker
processes and runs the same batch through ``ParallelSimulator(executor=client)``
(``n_processes=1``, so each worker simulates on one core). The workload is one where
simulation dominates: random 20-qubit circuits of depth 10. Each configuration is
timed once after a warm-up batch (workers import Qiskit on their first task).

Run with ``python benchmarks/bench_dask.py`` (``--quick`` for a short run).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, figure, machine, qasm_dict, quick_mode, random_layered_circuits, timed  # noqa: E402

BENCHMARK = "dask"


def run_on_cluster(workers: int, circuits: dict[str, str], shots: int) -> tuple[float, list[dict]]:
    from dask.distributed import Client, LocalCluster

    from qiskit_divi.backends import ParallelSimulator

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers, timeout=120)
        simulator = ParallelSimulator(
            n_processes=1, shots=shots, simulation_seed=7, executor=client
        )
        warm_up = dict(list(circuits.items())[:workers])
        simulator.submit_circuits(warm_up)
        seconds, result = timed(lambda: simulator.submit_circuits(circuits))
    return seconds, result.results


def main() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        emit(
            BENCHMARK, "skipped", reason="the dask extra is not installed: pip install -e '.[dask]'"
        )
        return
    count, qubits = (4, 14) if quick_mode() else (16, 20)
    circuits = qasm_dict(random_layered_circuits(count, qubits, depth=10))
    workload = f"{count} random circuits, {qubits} qubits, depth 10, 1000 shots"
    one_seconds, one_results = run_on_cluster(1, circuits, shots=1000)
    two_seconds, two_results = run_on_cluster(2, circuits, shots=1000)
    emit(BENCHMARK, workload, workers=1, seconds=one_seconds)
    figure(
        BENCHMARK,
        workload,
        seconds=two_seconds,
        baseline_seconds=one_seconds,
        target=1.5,
        higher_is_better=True,
        workers=2,
        identical_results=one_results == two_results,
        **machine(),
    )


if __name__ == "__main__":
    main()
