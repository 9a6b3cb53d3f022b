"""A divi program on qiskit_divi.backends: QAOA MaxCut locally and on Qoro, offline.

Code written for ``divi.backends`` runs unchanged once its imports say
``qiskit_divi.backends``. This example sweeps a p=1 QAOA for MaxCut on a 4-node
ring with ``ParallelSimulator`` (noiseless, then with ``qiskit_backend="auto"``
noise), then sends the best circuit to the Qoro cloud through ``QoroService``:
a SIMULATE job for its histogram and an EXPECTATION job for the cut value.
Here the "cloud" is the bundled emulator on loopback; against the real service,
drop the emulator and set ``QORO_API_KEY`` (and nothing else).

Run it with ``python examples/divi_workflow.py``.
"""

from __future__ import annotations

import os
import secrets

import numpy as np

from qiskit_divi.backends import JobConfig, ParallelSimulator, QoroService
from qiskit_divi.emulator import EmulatorServer

EDGES = [(0, 1), (1, 2), (2, 3), (3, 0)]
NUM_NODES = 4
SHOTS = 4000


def qaoa_qasm(gamma: float, beta: float) -> str:
    """One QAOA layer for MaxCut on EDGES, as the OpenQASM 2.0 divi programs pass around."""
    lines = [
        "OPENQASM 2.0;",
        'include "qelib1.inc";',
        f"qreg q[{NUM_NODES}];",
        f"creg c[{NUM_NODES}];",
    ]
    lines += [f"h q[{i}];" for i in range(NUM_NODES)]
    for a, b in EDGES:
        lines += [f"cx q[{a}],q[{b}];", f"rz({2 * gamma:.6f}) q[{b}];", f"cx q[{a}],q[{b}];"]
    lines += [f"rx({2 * beta:.6f}) q[{i}];" for i in range(NUM_NODES)]
    lines += [f"measure q[{i}] -> c[{i}];" for i in range(NUM_NODES)]
    return "\n".join(lines) + "\n"


def cut_size(bitstring: str) -> int:
    bits = bitstring[::-1]  # Qiskit order: the rightmost character is qubit 0
    return sum(bits[a] != bits[b] for a, b in EDGES)


def mean_cut(counts: dict[str, int]) -> float:
    return sum(cut_size(key) * n for key, n in counts.items()) / sum(counts.values())


def main() -> None:
    angles = {
        f"g{g:.2f}_b{b:.2f}": (g, b)
        for g in np.linspace(0.2, 1.4, 4)
        for b in np.linspace(0.2, 1.2, 4)
    }
    circuits = {label: qaoa_qasm(*pair) for label, pair in angles.items()}

    # 1. A local sweep, noiseless and seeded.
    simulator = ParallelSimulator(shots=SHOTS, simulation_seed=7)
    sweep = simulator.submit_circuits(circuits).results
    cuts = {row["label"]: mean_cut(row["results"]) for row in sweep}
    best = max(cuts, key=cuts.get)
    print(
        f"ParallelSimulator: {len(sweep)} circuits, "
        f"best {best} with mean cut {cuts[best]:.3f} (max 4)"
    )

    # 2. The same circuit on a noisy fake device picked by qubit count.
    noisy = ParallelSimulator(shots=SHOTS, simulation_seed=7, qiskit_backend="auto")
    noisy_counts = noisy.submit_circuits({best: circuits[best]}).results[0]["results"]
    print(
        "ParallelSimulator(qiskit_backend='auto'): "
        f"mean cut {mean_cut(noisy_counts):.3f} with device noise"
    )
    seconds = ParallelSimulator.estimate_run_time_batch(circuits=list(circuits.values()), n_qpus=4)
    print(f"estimated QPU time for the sweep on 4 QPUs: {seconds * 1e6:.1f} us")

    # 3. The Qoro cloud through QoroService (here: the local emulator).
    token = secrets.token_urlsafe(16)
    with EmulatorServer(tokens=[token]) as server:
        os.environ["QORO_API_KEY"], os.environ["QORO_API_URL"] = token, server.base_url
        service = QoroService(polling_interval=0.1)

        job = service.submit_circuits(
            {best: circuits[best]}, override_config=JobConfig(shots=SHOTS)
        )
        status = service.poll_job_status(job, loop_until_complete=True, verbose=False)
        cloud_counts = service.get_job_results(job).results[0]["results"]
        print(
            f"QoroService SIMULATE job {job.job_id}: {status.value}, "
            f"mean cut {mean_cut(cloud_counts):.3f}"
        )

        measured = circuits[best].replace(
            "".join(f"measure q[{i}] -> c[{i}];\n" for i in range(NUM_NODES)), ""
        )
        ham_ops = ";".join(
            "".join("Z" if q in edge else "I" for q in range(NUM_NODES)) for edge in EDGES
        )
        job = service.submit_circuits({best: measured}, ham_ops=ham_ops)
        service.poll_job_status(job, loop_until_complete=True, verbose=False)
        expectations = service.get_job_results(job).results[0]["results"]
        exact = sum((1 - expectations[term]) / 2 for term in ham_ops.split(";"))
        print(f"QoroService EXPECTATION job {job.job_id} ({ham_ops}): exact mean cut {exact:.3f}")

        service.delete_job(job)
        print(
            f"agreement: |sampled - exact| = {abs(mean_cut(cloud_counts) - exact):.3f} "
            "(shot noise ~0.02)"
        )


if __name__ == "__main__":
    main()
