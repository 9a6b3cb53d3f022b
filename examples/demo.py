"""qiskit-divi in one minute: a Bell state on Qoro systems, fully offline.

``QoroProvider.local()`` starts the bundled Qoro API emulator on this machine, so
no account or network is needed. Against the real service, use
``QoroProvider(token=...)`` (or set ``QORO_API_KEY``) instead; the rest is the same.

Run it with ``python examples/demo.py``.
"""

from __future__ import annotations

from qiskit import QuantumCircuit, transpile

from qiskit_divi import QoroProvider


def bell_circuit() -> QuantumCircuit:
    """Two entangled qubits: measuring them gives 00 or 11, never 01 or 10."""
    bell = QuantumCircuit(2, 2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    return bell


def show_counts(counts: dict[str, int]) -> None:
    shots = sum(counts.values())
    for outcome in sorted(counts):
        share = counts[outcome] / shots
        print(f"    {outcome}: {counts[outcome]:5d}  {'#' * round(40 * share)}")


def main() -> None:
    with QoroProvider.local() as provider:
        print(f"Started a local Qoro emulator at {provider.url}\n")

        print("Available backends:")
        for backend in provider.backends():
            kind = "simulator" if backend.simulator else f"{backend.system_kind} QPU"
            print(f"    {backend.name:<14} {backend.num_qubits:3d} qubits   {kind}")

        bell = bell_circuit()
        print("\nThe circuit:")
        print(bell.draw(output="text"))

        # 1. The noiseless simulator.
        simulator = provider.get_backend("qoro_maestro")
        job = simulator.run(transpile(bell, simulator), shots=1000)
        print(f"\nJob {job.job_id()} on {simulator.name} (noiseless simulator):")
        show_counts(job.result().get_counts())
        print("    -> only 00 and 11, about half each: the qubits are entangled.")

        # 2. An emulated quantum processor: transpile rewrites the circuit into its native gates.
        qpu = provider.backends(simulator=False)[0]
        compiled = transpile(bell, qpu, optimization_level=3, seed_transpiler=1)
        gates = ", ".join(f"{name} x{n}" for name, n in compiled.count_ops().items())
        job = qpu.run(compiled, shots=1000)
        print(f"\nJob {job.job_id()} on {qpu.name} ({qpu.system_kind} QPU, native gates: {gates}):")
        counts = job.result().get_counts()
        show_counts(counts)
        errors = counts.get("01", 0) + counts.get("10", 0)
        print(f"    -> {errors / 10:.1f}% of shots read 01 or 10: that is the device's noise.")


if __name__ == "__main__":
    main()
