"""Circuit cutting in ``EstimatorV2``: a cut 12-qubit estimate against the uncut exact one.

On ``QoroProvider.local()`` (each emulator engine: ``EmulatorConfig(engine="aer")``, and
``"maestro"`` with the ``maestro`` extra), one PUB: a 12-qubit ``efficient_su2``
(linear entanglement, ``reps=2``, angles seeded in [-0.5, 0.5], so the value is far from 0)
and a five-term Z/ZZ observable, on the noiseless ``qoro_maestro``:

* ``uncut``: one EXPECTATION job, exact: end-to-end seconds and the value.
* ``cut, pieces <= k`` (``cutting_max_qubits`` = 6 and 4, precision 0.05): seconds split
  into planning (``estimator.plan``, after one untimed call: cuts, sub-experiments,
  transpilation), submission (``run`` minus that planning time: the upload of the one
  sampling job, and the journal entry), the wait until the job
  is final (simulation), and ``result()`` (results download and reconstruction); total
  shots, sub-experiments, overhead, the value, its std and ``|error|`` against
  ``qiskit.quantum_info.Statevector``.

Checks (fields of each line): ``exact`` (uncut): within 1e-6 of ``Statevector``; ``within_6_std``
(cut): ``|error| <= 6 std``, which a correct estimator fails with probability below 2e-9
(the std is an upper bound; the shots are many, so the estimate is close to normal);
``one_job``: every sub-experiment travelled in one Qoro job. Nothing is compared with another
simulator.

    python benchmarks/bench_cutting.py [--quick]
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
from _common import SEED, emit, machine, quick_mode, timed
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp, Statevector

BENCHMARK = "cutting"
NUM_QUBITS = 12
PRECISION = 0.05
SIGMAS = 6


def workload() -> tuple[QuantumCircuit, SparsePauliOp, np.ndarray]:
    circuit = efficient_su2(NUM_QUBITS, entanglement="linear", reps=2)
    angles = np.random.default_rng(SEED).uniform(-0.5, 0.5, circuit.num_parameters)
    terms = [("Z", [0]), ("ZZ", [3, 4]), ("ZZ", [5, 6]), ("ZZ", [7, 8]), ("Z", [11])]
    observable = SparsePauliOp.from_sparse_list([(p, q, 1.0) for p, q in terms], NUM_QUBITS)
    return circuit, observable, angles


def engines() -> list[str]:
    """Aer always; Maestro when its extra is installed."""
    try:
        import maestro  # noqa: F401
    except ImportError:
        return ["aer"]
    return ["aer", "maestro"]


def uncut(backend: Any, pubs: list[Any], exact: float, engine: str) -> None:
    from qiskit_divi import EstimatorV2

    estimator = EstimatorV2(backend, options={"progress": False})
    estimator.run(pubs).result()  # warm-up: the engine's first simulation, imports
    seconds, result = timed(lambda: estimator.run(pubs).result())
    value = float(result[0].data.evs)
    emit(
        BENCHMARK,
        f"uncut, {NUM_QUBITS} qubits, one EXPECTATION job",
        engine=engine,
        seconds=seconds,
        value=value,
        exact_value=exact,
        abs_error=abs(value - exact),
        exact=abs(value - exact) < 1e-6,
        **machine(),
    )


def cut(backend: Any, pubs: list[Any], exact: float, engine: str, max_qubits: int) -> None:
    from qiskit_divi import EstimatorV2

    estimator = EstimatorV2(backend, options={"cutting_max_qubits": max_qubits, "progress": False})
    estimator.plan(pubs, precision=PRECISION)  # warm-up: imports qiskit-addon-cutting
    plan_seconds, _ = timed(lambda: estimator.plan(pubs, precision=PRECISION))
    run_seconds, job = timed(lambda: estimator.run(pubs, precision=PRECISION))
    wait_seconds, _ = timed(job.wait_for_final_state)
    result_seconds, result = timed(job.result)
    pub = result[0]
    value, std = float(pub.data.evs), float(pub.data.stds)
    meta = pub.metadata["cutting"]
    error = abs(value - exact)
    emit(
        BENCHMARK,
        f"cut, {NUM_QUBITS} qubits into pieces <= {max_qubits}, precision {PRECISION}",
        engine=engine,
        seconds=run_seconds + wait_seconds + result_seconds,
        plan_seconds=plan_seconds,
        submit_seconds=max(run_seconds - plan_seconds, 0.0),
        wait_seconds=wait_seconds,
        result_seconds=result_seconds,
        piece_widths=meta["piece_widths"],
        cuts=len(meta["cuts"]),
        sampling_overhead=meta["sampling_overhead"],
        num_subexperiments=meta["num_subexperiments"],
        shots=meta["shots"],
        qoro_jobs=len(job.job_ids),
        value=value,
        std=std,
        exact_value=exact,
        abs_error=error,
        error_in_std=error / std,
        within_6_std=error <= SIGMAS * std,
        one_job=len(job.job_ids) == 1,
        **machine(),
    )


def main() -> None:
    logging.getLogger("qiskit_divi").setLevel(logging.ERROR)
    os.environ.setdefault("QISKIT_DIVI_PROGRESS", "0")  # no progress lines among the figures
    from qiskit_divi import QoroProvider
    from qiskit_divi.emulator import EmulatorConfig

    quick = quick_mode()
    circuit, observable, angles = workload()
    exact = float(Statevector(circuit.assign_parameters(angles)).expectation_value(observable).real)
    pubs = [(circuit, observable, angles)]
    for engine in engines()[:1] if quick else engines():
        with QoroProvider.local(config=EmulatorConfig(engine=engine)) as provider:
            backend = provider.get_backend("qoro_maestro")
            uncut(backend, pubs, exact, engine)
            for max_qubits in (6,) if quick else (6, 4):
                cut(backend, pubs, exact, engine, max_qubits)


if __name__ == "__main__":
    main()
