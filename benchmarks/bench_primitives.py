"""``SamplerV2`` / ``EstimatorV2`` on the local emulator against qiskit-aer's own primitives.

Same PUBs on both sides, each transpiled for ``qoro_maestro`` and run with 100
parameter bindings: a 10-qubit hardware-efficient circuit (2 layers of ``ry``, ``rz``
and a ``cx`` chain, 40 parameters), and the same with parametrised controlled rotations
(``crx``/``cry``/``crz``/``cp``, 58 parameters) as entanglers, which the emulator must
bind itself because Aer's ``parameter_binds`` drops their angles. Sampler: 1000 shots per
binding (a final ``measure_all``).
Estimator: a 10-qubit Ising-like observable (``Z_i Z_{i+1}`` and ``X_i`` terms), exact
on both sides (``qoro_maestro`` runs EXPECTATION jobs; Aer's ``EstimatorV2`` with its
default ``precision=0``). Our values are checked against ``Statevector`` (Aer's own
primitives get the controlled workload wrong, so they are timed, not trusted).

qiskit_divi side: ``QoroProvider.local()`` (the bundled emulator on loopback, default
settings: a job finishes no earlier than ``min_job_seconds`` after it was finalised),
``SamplerV2(mode=backend).run(...).result()`` end to end: PUB coercion, QASM, upload,
the emulator's parse + simulation, status polling, results, decoding.
``emulator_seconds`` is the time the emulator's worker spent simulating (the emulator's
``stats["simulation_seconds"]``); ``overhead_seconds = seconds - emulator_seconds``.
Ours runs twice per round: with templates (the default: each PUB one circuit template the
emulator binds) and without (one bound circuit per binding, ``templates=False``); one figure
each (``templates`` field), both against the same Aer runs. Runs alternate (Aer, ours with
templates, ours bound) and medians are compared; the first call of each is a warm-up.
Target: ratio (ours / Aer, end to end) <= 1.5.

    python benchmarks/bench_primitives.py [--quick]
"""

from __future__ import annotations

import logging

import numpy as np
from _common import SEED, figure, interleaved, machine, median, quick_mode
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from qiskit_divi import EstimatorV2, QoroProvider, SamplerV2
from qiskit_divi.emulator import EmulatorServer

BENCHMARK = "primitives"
NUM_QUBITS = 10
SHOTS = 1000
TARGET = 1.5


CONTROLLED_ENTANGLERS = ("crx", "cry", "crz", "cp")


def ansatz(num_qubits: int, layers: int = 2, *, controlled: bool = False) -> QuantumCircuit:
    """Rotation layers and a nearest-neighbour entangler chain (``cx``, or parametrised
    controlled rotations)."""
    entanglers = layers * (num_qubits - 1) if controlled else 0
    theta = ParameterVector("θ", 2 * num_qubits * layers + entanglers)
    qc = QuantumCircuit(num_qubits)
    k = 0
    for _ in range(layers):
        for q in range(num_qubits):
            qc.ry(theta[k], q)
            qc.rz(theta[k + 1], q)
            k += 2
        for q in range(num_qubits - 1):
            if controlled:
                getattr(qc, CONTROLLED_ENTANGLERS[q % len(CONTROLLED_ENTANGLERS)])(
                    theta[k], q, q + 1
                )
                k += 1
            else:
                qc.cx(q, q + 1)
    return qc


def exact_evs(circuit: QuantumCircuit, obs: SparsePauliOp, values: np.ndarray) -> np.ndarray:
    return np.array(
        [Statevector(circuit.assign_parameters(row)).expectation_value(obs).real for row in values]
    )


def observable(num_qubits: int) -> SparsePauliOp:
    terms = [("ZZ", [q, q + 1], 1.0) for q in range(num_qubits - 1)] + [
        ("X", [q], 0.5) for q in range(num_qubits)
    ]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=num_qubits)


class _EmulatorClock:
    """The time the emulator's worker spent simulating since the last :meth:`take`
    (``EmulatorServer.stats["simulation_seconds"]``)."""

    def __init__(self, server: EmulatorServer) -> None:
        self._server = server
        self._seen = server.stats["simulation_seconds"]

    def take(self) -> float:
        now = self._server.stats["simulation_seconds"]
        seconds, self._seen = now - self._seen, now
        return float(seconds)


def main() -> None:
    logging.getLogger("qiskit_divi").setLevel(logging.WARNING)
    quick = quick_mode()
    bindings = 10 if quick else 100
    rounds = 1 if quick else 5
    rng = np.random.default_rng(SEED)
    with QoroProvider.local() as provider:
        assert provider.emulator is not None
        clock = _EmulatorClock(provider.emulator)
        backend = provider.get_backend("qoro_maestro")
        for controlled in (False, True):
            circuit = transpile(
                ansatz(NUM_QUBITS, controlled=controlled),
                backend,
                optimization_level=1,
                seed_transpiler=SEED,
            )
            values = rng.uniform(0, 2 * np.pi, (bindings, circuit.num_parameters))
            kind = "controlled-rotation" if controlled else "cx"
            _compare(backend, clock, circuit, values, kind, rounds)


def _compare(
    backend,
    clock: _EmulatorClock,
    circuit: QuantumCircuit,
    values: np.ndarray,
    kind: str,
    rounds: int,
) -> None:
    bindings = len(values)
    measured = circuit.copy()
    measured.measure_all()
    obs = observable(NUM_QUBITS).apply_layout(circuit.layout)

    def sampler(templates: bool):
        options = {"templates": templates}
        return lambda: (
            SamplerV2(mode=backend, options=options).run([(measured, values)], shots=SHOTS).result()
        )

    def estimator(templates: bool):
        options = {"templates": templates}
        return lambda: (
            EstimatorV2(mode=backend, options=options).run([(circuit, obs, values)]).result()
        )

    cases = {
        "SamplerV2": (
            sampler,
            lambda: AerSamplerV2(seed=SEED).run([(measured, values)], shots=SHOTS).result(),
        ),
        "EstimatorV2": (estimator, lambda: AerEstimatorV2().run([(circuit, obs, values)]).result()),
    }
    for name, (ours_of, aers) in cases.items():
        variants = {"ours_templates": ours_of(True), "ours_bound": ours_of(False)}
        for ours in variants.values():
            ours()  # warm-up: imports, the emulator's simulator
        aers()  # warm-up: Aer's start-up
        clock.take()
        emulator: dict[str, list[float]] = {key: [] for key in variants}

        def with_clock(key, ours, emulator=emulator):
            def run():
                result = ours()
                emulator[key].append(clock.take())
                return result

            return run

        runs = {"aer": aers} | {key: with_clock(key, ours) for key, ours in variants.items()}
        times = interleaved(runs, rounds)
        for key, ours in variants.items():
            result = ours()
            clock.take()
            if name == "SamplerV2":
                counts = result[0].data.meas.get_counts()
                check = {"total_shots_ok": sum(counts.values()) == SHOTS * bindings}
            else:
                gap = float(np.max(np.abs(result[0].data.evs - exact_evs(circuit, obs, values))))
                check = {"max_abs_ev_error_vs_statevector": gap, "evs_exact": gap < 1e-6}
            seconds = median(times[key])
            figure(
                BENCHMARK,
                f"{name}: {bindings} bindings of a {NUM_QUBITS}-qubit {kind} circuit"
                + (f", {SHOTS} shots" if name == "SamplerV2" else ", exact")
                + (", templates" if key == "ours_templates" else ", bound"),
                seconds=seconds,
                baseline_seconds=median(times["aer"]),
                target=TARGET,
                baseline="qiskit_aer.primitives." + name,
                templates=key == "ours_templates",
                emulator_seconds=median(emulator[key]),
                overhead_seconds=seconds - median(emulator[key]),
                rounds=rounds,
                **check,
                **machine(),
            )


if __name__ == "__main__":
    main()
