"""``SamplerV2`` / ``EstimatorV2`` on the local emulator against qiskit-aer's own primitives.

Same PUBs on both sides: a 10-qubit hardware-efficient circuit (2 layers of ``ry``,
``rz`` and a ``cx`` chain, 40 parameters) transpiled for ``qoro_maestro``, with 100
parameter bindings. Sampler: 1000 shots per binding (a final ``measure_all``).
Estimator: a 10-qubit Ising-like observable (``Z_i Z_{i+1}`` and ``X_i`` terms), exact
on both sides (``qoro_maestro`` runs EXPECTATION jobs; Aer's ``EstimatorV2`` with its
default ``precision=0``).

qiskit_divi side: ``QoroProvider.local()`` (the bundled emulator on loopback, default
settings: a job finishes no earlier than ``min_job_seconds`` after it was finalised),
``SamplerV2(mode=backend).run(...).result()`` end to end: PUB coercion, QASM, upload,
the emulator's parse + simulation, status polling, results, decoding.
``emulator_seconds`` is the time the emulator's worker spent simulating (timed around
its job runner); ``overhead_seconds = seconds - emulator_seconds``.
Runs alternate (Aer, ours) and medians are compared; the first call of each is a
warm-up. Target: ratio (ours / Aer, end to end) <= 1.5.

    python benchmarks/bench_primitives.py [--quick]
"""

from __future__ import annotations

import logging
import time

import numpy as np
from _common import SEED, figure, interleaved, machine, median, quick_mode
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from qiskit_divi import EstimatorV2, QoroProvider, SamplerV2
from qiskit_divi.emulator import handlers as emulator_handlers

BENCHMARK = "primitives"
NUM_QUBITS = 10
SHOTS = 1000
TARGET = 1.5


def ansatz(num_qubits: int, layers: int = 2) -> QuantumCircuit:
    theta = ParameterVector("θ", 2 * num_qubits * layers)
    qc = QuantumCircuit(num_qubits)
    k = 0
    for _ in range(layers):
        for q in range(num_qubits):
            qc.ry(theta[k], q)
            qc.rz(theta[k + 1], q)
            k += 2
        for q in range(num_qubits - 1):
            qc.cx(q, q + 1)
    return qc


def observable(num_qubits: int) -> SparsePauliOp:
    terms = [("ZZ", [q, q + 1], 1.0) for q in range(num_qubits - 1)] + [("X", [q], 0.5) for q in range(num_qubits)]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=num_qubits)


class _EmulatorClock:
    """Accumulates the time the emulator's worker spends in its job runners."""

    def __init__(self) -> None:
        self.seconds = 0.0
        for name in ("sample_job", "expectation_job"):
            setattr(emulator_handlers, name, self._timed(getattr(emulator_handlers, name)))

    def _timed(self, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return wrapper

    def take(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def main() -> None:
    logging.getLogger("qiskit_divi").setLevel(logging.WARNING)
    quick = quick_mode()
    bindings = 10 if quick else 100
    rounds = 1 if quick else 5
    clock = _EmulatorClock()
    rng = np.random.default_rng(SEED)
    with QoroProvider.local() as provider:
        backend = provider.get_backend("qoro_maestro")
        circuit = transpile(ansatz(NUM_QUBITS), backend, optimization_level=1, seed_transpiler=SEED)
        values = rng.uniform(0, 2 * np.pi, (bindings, circuit.num_parameters))
        measured = circuit.copy()
        measured.measure_all()
        obs = observable(NUM_QUBITS).apply_layout(circuit.layout)

        cases = {
            "SamplerV2": (
                lambda: SamplerV2(mode=backend).run([(measured, values)], shots=SHOTS).result(),
                lambda: AerSamplerV2(seed=SEED).run([(measured, values)], shots=SHOTS).result(),
            ),
            "EstimatorV2": (
                lambda: EstimatorV2(mode=backend).run([(circuit, obs, values)]).result(),
                lambda: AerEstimatorV2().run([(circuit, obs, values)]).result(),
            ),
        }
        for name, (ours, aers) in cases.items():
            ours(), aers()  # warm-up: imports, the emulator's simulator, Aer's start-up
            clock.take()
            emulator = []

            def ours_timed(ours=ours):
                result = ours()
                emulator.append(clock.take())
                return result

            times = interleaved({"aer": aers, "ours": ours_timed}, rounds)
            result, reference = ours(), aers()
            clock.take()
            if name == "SamplerV2":
                counts = result[0].data.meas.get_counts()
                check = {"total_shots_ok": sum(counts.values()) == SHOTS * bindings}
            else:
                gap = float(np.max(np.abs(result[0].data.evs - reference[0].data.evs)))
                check = {"max_abs_ev_difference": gap, "evs_match": gap < 1e-6}
            seconds = median(times["ours"])
            figure(
                BENCHMARK,
                f"{name}: {bindings} bindings of a {NUM_QUBITS}-qubit circuit"
                + (f", {SHOTS} shots" if name == "SamplerV2" else ", exact"),
                seconds=seconds,
                baseline_seconds=median(times["aer"]),
                target=TARGET,
                baseline="qiskit_aer.primitives." + name,
                emulator_seconds=median(emulator),
                overhead_seconds=seconds - median(emulator),
                rounds=rounds,
                **check,
                **machine(),
            )


if __name__ == "__main__":
    main()
