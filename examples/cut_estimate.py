"""Circuit cutting: estimate an observable of a circuit wider than the QPU, fully offline.

``EstimatorV2`` cuts a circuit that does not fit the backend into pieces that do, runs
every piece's sub-experiments in one Qoro job, and puts the expectation value back
together (with qiskit-addon-cutting: ``pip install "qiskit-divi[cutting]"``). Cutting
costs shots: ``plan_cuts`` shows the cost before anything is sent.

Run it with ``python examples/cut_estimate.py`` (about 10 s on 2 cores).
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.primitives import PubResult
from qiskit.quantum_info import SparsePauliOp, Statevector

from qiskit_divi import EstimatorV2, QoroProvider

NUM_QUBITS = 10
PRECISION = 0.05
"""Each Pauli term's standard deviation is at most this (shots grow as 1 / precision**2)."""


def ansatz() -> tuple[QuantumCircuit, np.ndarray]:
    """A 10-qubit hardware-efficient circuit (a chain of cx) and seeded angles for it."""
    circuit = efficient_su2(NUM_QUBITS, entanglement="linear", reps=2)
    # Small angles keep the state near |0...0>, so the observable is far from 0 and the
    # device noise on the emulated QPU shows.
    angles = np.random.default_rng(1).uniform(-0.5, 0.5, circuit.num_parameters)
    return circuit, angles


def observable() -> SparsePauliOp:
    """Z on both ends, ZZ on two neighbouring pairs in the middle (where the cuts fall)."""
    terms = [("Z", [0], 1.0), ("ZZ", [4, 5], 1.0), ("ZZ", [6, 7], 1.0), ("Z", [9], 1.0)]
    return SparsePauliOp.from_sparse_list(terms, NUM_QUBITS)


def show(name: str, job_ids: list[str], result: PubResult, exact: float) -> None:
    value, std = float(result.data.evs), float(result.data.stds)
    cut = result.metadata["cutting"]
    gates = ", ".join(f"{c['kind']} {c['operation']}{tuple(c['qubits'])}" for c in cut["cuts"])
    print(f"\n{name}: {len(job_ids)} Qoro job ({', '.join(job_ids)})")
    print(f"    <H> = {value:.4f} +- {std:.4f} (std), exact {exact:.4f} (Statevector)")
    print(
        f"    ran: pieces of at most {cut['max_qubits']} "
        f"({'+'.join(map(str, cut['piece_widths']))}), {len(cut['cuts'])} cuts ({gates}), "
        f"sampling overhead {cut['sampling_overhead']:.6g}, "
        f"{cut['num_subexperiments']:,} sub-experiments, {cut['shots']:,} shots"
    )


def main() -> None:
    circuit, angles = ansatz()
    hamiltonian = observable()
    exact = float(
        Statevector(circuit.assign_parameters(angles)).expectation_value(hamiltonian).real
    )
    pubs = [(circuit, hamiltonian, angles)]
    print(f"A {NUM_QUBITS}-qubit circuit, H = {' + '.join(hamiltonian.paulis.to_labels())}")
    print(f"    exact <H> = {exact:.4f} (qiskit.quantum_info.Statevector)")

    with QoroProvider.local() as provider:
        print(f"Started a local Qoro emulator at {provider.url}")
        # 1. An emulated 7-qubit QPU: the circuit is wider, so it is cut automatically.
        qpu = EstimatorV2(provider.get_backend("fake_nairobi"), options={"progress": False})
        # 2. The noiseless simulator fits 10 qubits; cutting_max_qubits cuts anyway (to try
        #    out a small QPU's pieces without its noise).
        simulator = EstimatorV2(
            provider.get_backend("qoro_maestro"),
            options={"cutting_max_qubits": 5, "progress": False},
        )
        # 3. Pieces of 3 qubits need many cuts: the default cutting_max_overhead (1e4)
        #    refuses them, and plan_cuts says so instead of raising.
        tiny = EstimatorV2(
            provider.get_backend("qoro_maestro"),
            options={"cutting_max_qubits": 3, "progress": False},
        )

        print("\nThe cost, before anything is sent (plan_cuts):")
        for name, estimator in [
            ("fake_nairobi", qpu),
            ("qoro_maestro, cutting_max_qubits=5", simulator),
            ("qoro_maestro, cutting_max_qubits=3", tiny),
        ]:
            for report in estimator.plan_cuts(pubs, precision=PRECISION):
                print(f"  {name}: {report}")

        job = qpu.run(pubs, precision=PRECISION)
        show("fake_nairobi (noisy 7-qubit QPU)", job.job_ids, job.result()[0], exact)
        print("    -> device noise pulls <H> towards 0; the std counts shot noise only.")

        job = simulator.run(pubs, precision=PRECISION)
        show("qoro_maestro, cutting_max_qubits=5 (noiseless)", job.job_ids, job.result()[0], exact)
        print("    -> noiseless: within a few std of the exact value.")


if __name__ == "__main__":
    main()
