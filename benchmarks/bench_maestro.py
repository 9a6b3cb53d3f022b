"""Maestro (Qoro's C++ simulator, the ``maestro`` extra) against qiskit-aer, side by side.

Four sections, each timing both engines in one run, alternating sides and comparing
medians (``ratio = maestro / aer``; below 1 means Maestro is faster):

* ``runners``: the ParallelSimulator workloads (a)-(d) of ``bench_parallel_simulator.py``
  (same seeded circuits, 1000 shots), ``MaestroSimulator(shots=1000)`` against
  ``ParallelSimulator(shots=1000, simulation_seed=1234)``, both ``submit_circuits({label:
  qasm})`` end to end. ParallelSimulator runs as in a parameter sweep's next iteration
  (prepared circuits forgotten, simulator and parsed shapes cached). (c) is
  ``qiskit_backend="auto"`` on the Aer side (a fake backend's noise model), which Maestro
  has no counterpart of: it runs noiseless there, so (c) is not like for like.
* ``statevector``: one random brickwork circuit (``rx``/``ry``/``rz``, ``cx``, depth 6) of
  20, 24 and 28 qubits, ``AerSimulator(method="statevector").run`` against
  ``maestro.simple_execute`` with ``SimulationType.Statevector`` (the engines themselves,
  no runner). 28 qubits is 4 GiB of amplitudes per engine: it runs once per engine, one
  after the other (never both held at once), and not under ``--quick``.
* ``mps``: a depth-10 brickwork circuit on 60 and 100 qubits, Aer's
  ``matrix_product_state`` method against Maestro's ``MatrixProductState``, both with
  bond dimension 32 (exact for this circuit: 5 ``cx`` cross each cut, rank <= 2**5).
* ``primitives``: ``SamplerV2`` / ``EstimatorV2`` on ``QoroProvider.local()`` with each
  emulator engine (``EmulatorConfig(engine="aer")`` / ``"maestro"``), 100 bindings of the
  10-qubit ``cx`` PUB of ``bench_primitives.py`` (sampler: 1000 shots per binding, each
  binding's counts checked; estimator: its 19-term observable, exact), end to end.

What every figure checks (fields of its JSON line): ``totals_ok``: every circuit came back,
in order, with exactly ``shots`` counts; ``marginals_ok``: each checked qubit's sampled
``P(1)`` is within the Hoeffding bound ``sqrt(ln(2/delta) / (2 shots))`` (``delta = 1e-9``
per qubit) of the exact value from ``qiskit.quantum_info.Statevector`` (the whole circuit up
to 16 qubits; wider, the qubit's backward light cone, when that spans at most 16 qubits:
``qubits_checked``); ``tvd_ok`` (up to 7 qubits): the whole distribution's TVD from the
exact one within the McDiarmid bound of ``tests/ground_truth.py``; ``evs_exact``: estimator
values within 1e-6 of ``Statevector``. Nothing is checked against the other simulator.

    python benchmarks/bench_maestro.py [--quick] [runners statevector mps primitives] [a b c d]
"""

from __future__ import annotations

# Maestro's C++ extension is loaded before Qiskit's (divi's advice on initialisation order).
try:
    import maestro
except ImportError:  # the benchmark needs the extra; say so instead of failing
    maestro = None

import gc
import logging
import math
import os
import resource
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import (
    SEED,
    emit,
    interleaved,
    machine,
    median,
    qasm_dict,
    quick_mode,
    random_layered_circuits,
    timed,
)
from qiskit import QuantumCircuit, qasm2
from qiskit.quantum_info import Statevector

BENCHMARK = "maestro"
SHOTS = 1000
SIMULATION_SEED = 1234
DELTA = 1e-9
"""Chance that one check of a correct sampler fails its bound."""
MAX_EXACT_QUBITS = 16
"""Widest statevector the quantum_info reference is computed on (1 MiB of amplitudes)."""
BOND_DIMENSION = 32


# --- exact references ------------------------------------------------------------------


def _unitary_part(circuit: QuantumCircuit) -> QuantumCircuit:
    return circuit.remove_final_measurements(inplace=False)


def _light_cone(circuit: QuantumCircuit, qubit: int) -> tuple[list[int], QuantumCircuit]:
    """The gates in ``qubit``'s backward light cone, on the qubits they touch: its final
    marginal is that small circuit's (gates outside the cone cannot change it)."""
    cone = {qubit}
    kept = []
    for instruction in reversed(circuit.data):
        touched = {circuit.find_bit(bit).index for bit in instruction.qubits}
        if touched & cone:
            cone |= touched
            kept.append(instruction)
    order = sorted(cone)
    index = {q: i for i, q in enumerate(order)}
    small = QuantumCircuit(len(order))
    for instruction in reversed(kept):
        small.append(
            instruction.operation, [index[circuit.find_bit(b).index] for b in instruction.qubits]
        )
    return order, small


def exact_marginals(circuit: QuantumCircuit) -> dict[int, float]:
    """``{qubit: exact P(1)}`` for every qubit whose marginal is computable here."""
    unitary = _unitary_part(circuit)
    n = unitary.num_qubits
    if n <= MAX_EXACT_QUBITS:
        probs = Statevector(unitary).probabilities()
        index = np.arange(2**n)
        return {q: float(probs[(index >> q) & 1 == 1].sum()) for q in range(n)}
    marginals = {}
    for q in range(n):
        order, small = _light_cone(unitary, q)
        if len(order) <= MAX_EXACT_QUBITS:
            marginals[q] = float(Statevector(small).probabilities([order.index(q)])[1])
    return marginals


def exact_distribution(circuit: QuantumCircuit) -> dict[int, float]:
    return {
        k: float(p)
        for k, p in enumerate(Statevector(_unitary_part(circuit)).probabilities())
        if p > 0
    }


def _counts_as_ints(counts: dict[Any, int]) -> dict[int, int]:
    return {int(str(k).replace(" ", ""), 2): int(v) for k, v in counts.items()}


def check_counts(
    circuits: list[QuantumCircuit],
    counts: list[dict[Any, int]],
    references: list[dict[int, float]] | None,
    distributions: list[dict[int, float]] | None,
) -> dict[str, Any]:
    """The fields every sampling figure carries (see the module docstring)."""
    fields: dict[str, Any] = {
        "totals_ok": len(counts) == len(circuits) and all(sum(c.values()) == SHOTS for c in counts)
    }
    if references is None:
        return fields
    hoeffding = math.sqrt(math.log(2 / DELTA) / (2 * SHOTS))
    worst, checked = 0.0, 0
    for sample, exact in zip(counts, references, strict=True):
        as_ints = _counts_as_ints(sample)
        total = sum(as_ints.values())
        for q, p1 in exact.items():
            sampled = sum(v for k, v in as_ints.items() if (k >> q) & 1) / total
            worst = max(worst, abs(sampled - p1))
            checked += 1
    fields |= {
        "marginals_ok": worst <= hoeffding,
        "max_marginal_error": worst,
        "marginal_bound": hoeffding,
        "qubits_checked": checked,
    }
    if distributions is not None:
        excess = 0.0
        for sample, p in zip(counts, distributions, strict=True):
            freq = {k: v / SHOTS for k, v in _counts_as_ints(sample).items()}
            distance = 0.5 * sum(abs(freq.get(k, 0.0) - p.get(k, 0.0)) for k in set(freq) | set(p))
            bound = 0.5 * sum(math.sqrt(x * (1 - x) / SHOTS) for x in p.values()) + math.sqrt(
                math.log(1 / DELTA) / (2 * SHOTS)
            )
            excess = max(excess, distance - bound)
        fields["tvd_ok"] = excess <= 0
    return fields


# --- engines ---------------------------------------------------------------------------


def maestro_runner(shots: int, seed: int) -> Any:
    """The issue's ``qiskit_divi.backends.MaestroSimulator``, seeded."""
    from qiskit_divi.backends import MaestroSimulator

    return MaestroSimulator(shots=shots, seed=seed)


def maestro_execute(circuit: QuantumCircuit, simulation_type: Any, **options: Any) -> dict:
    """``maestro.simple_execute`` on the circuit's QASM, counts in Qiskit's bit order."""
    config = maestro.SimulatorConfig(
        simulation_type=simulation_type, seed=SIMULATION_SEED, **options
    )
    raw = maestro.simple_execute(qasm2.dumps(circuit), config=config, shots=SHOTS)
    return {bits[::-1]: n for bits, n in raw["counts"].items()}  # Maestro puts q[0] leftmost


def aer_execute(simulator: Any, circuit: QuantumCircuit) -> dict:
    return simulator.run(circuit, shots=SHOTS, seed_simulator=SIMULATION_SEED).result().get_counts()


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


# --- (1) the ParallelSimulator workloads -----------------------------------------------


def run_runner_workload(workload: Any, quick: bool) -> None:
    from qiskit_divi.backends import ParallelSimulator
    from qiskit_divi.backends.parallel_simulator import caches

    circuits = workload.make(quick)
    qasm = qasm_dict(circuits)
    labels = list(qasm)
    aer = ParallelSimulator(
        shots=SHOTS,
        simulation_seed=SIMULATION_SEED,
        qiskit_backend="auto" if workload.auto else None,
    )
    ours = maestro_runner(SHOTS, SIMULATION_SEED)
    outputs: dict[str, Any] = {}

    def run_aer() -> None:
        outputs["aer"] = aer.submit_circuits(qasm)

    def run_maestro() -> None:
        outputs["maestro"] = ours.submit_circuits(qasm)

    def next_iteration() -> None:  # untimed: new angles, known shapes (a sweep's next step)
        outputs.pop("aer", None)
        caches.forget_prepared_circuits()

    run_aer(), run_maestro()  # warm-up: imports, Aer's start-up, Maestro's first call
    rounds = 1 if quick else workload.rounds
    times = interleaved(
        {"aer": run_aer, "maestro": run_maestro},
        rounds,
        setups={"aer": next_iteration, "maestro": lambda: outputs.pop("maestro", None)},
    )
    references = [exact_marginals(c) for c in circuits]
    small = circuits[0].num_qubits <= 7
    distributions = [exact_distribution(c) for c in circuits] if small else None
    checks = {}
    for side in ("aer", "maestro"):
        rows = outputs[side].results
        in_order = [row["label"] for row in rows] == labels
        counts = [dict(row["results"]) for row in rows]
        noisy = side == "aer" and workload.auto  # a fake backend's noise: no exact reference
        fields = check_counts(
            circuits,
            counts,
            None if noisy else references,
            None if noisy else distributions,
        )
        fields["totals_ok"] = fields["totals_ok"] and in_order
        checks[side] = fields
    aer_seconds, maestro_seconds = median(times["aer"]), median(times["maestro"])
    emit(
        BENCHMARK,
        f"runners ({workload.key}) {workload.description}",
        seconds=maestro_seconds,
        baseline_seconds=aer_seconds,
        ratio=maestro_seconds / aer_seconds,
        maestro=type(ours).__name__ + ".submit_circuits",
        baseline="ParallelSimulator.submit_circuits, next iteration"
        + (" (fake-backend noise: not like for like)" if workload.auto else ""),
        circuits=len(labels),
        shots=SHOTS,
        rounds=rounds,
        maestro_checks=checks["maestro"],
        aer_checks=checks["aer"],
        ok=_all_ok(checks["maestro"]) and _all_ok(checks["aer"]),
        same_counts_as_aer=[dict(r["results"]) for r in outputs["aer"].results]
        == [dict(r["results"]) for r in outputs["maestro"].results],
        **machine(),
    )


def _all_ok(fields: dict[str, Any]) -> bool:
    return all(value for key, value in fields.items() if key.endswith("_ok"))


# --- (2) statevector widths, (3) MPS ---------------------------------------------------


def engine_figure(
    section: str,
    circuit: QuantumCircuit,
    *,
    aer: Callable[[], dict],
    ours: Callable[[], dict],
    rounds: int,
    **fields: Any,
) -> None:
    """Time both engines on one circuit (alternating; one round: Aer then Maestro, each
    result checked and dropped before the other engine runs)."""
    results: dict[str, Any] = {}

    def keep(name: str, fn: Callable[[], dict]) -> Callable[[], None]:
        def run() -> None:
            results[name] = fn()

        return run

    def drop(name: str) -> Callable[[], None]:
        return lambda: results.pop(name, None)

    references = [exact_marginals(circuit)]
    times: dict[str, list[float]] = {"aer": [], "maestro": []}
    checks: dict[str, Any] = {}
    digests: dict[str, int] = {}  # not a check: whether both engines drew the same samples
    for _ in range(rounds):
        for name, fn in (("aer", aer), ("maestro", ours)):
            drop(name)()
            gc.collect()
            seconds, _ = timed(keep(name, fn))
            times[name].append(seconds)
            counts = results.pop(name)
            checks[name] = check_counts([circuit], [counts], references, None)
            digests[name] = hash(frozenset(counts.items()))
    aer_seconds, maestro_seconds = median(times["aer"]), median(times["maestro"])
    emit(
        BENCHMARK,
        section,
        seconds=maestro_seconds,
        baseline_seconds=aer_seconds,
        ratio=maestro_seconds / aer_seconds,
        shots=SHOTS,
        rounds=rounds,
        maestro_checks=checks["maestro"],
        aer_checks=checks["aer"],
        ok=_all_ok(checks["maestro"]) and _all_ok(checks["aer"]),
        same_counts_as_aer=digests["aer"] == digests["maestro"],
        peak_rss_gib=peak_rss_gib(),
        **fields,
        **machine(),
    )


def run_statevector(quick: bool) -> None:
    from qiskit_aer import AerSimulator

    simulator = AerSimulator(method="statevector")
    widths = (10, 12) if quick else (20, 24, 28)
    for width in widths:
        circuit = random_layered_circuits(1, width, depth=6)[0]
        engine_figure(
            f"statevector: random brickwork circuit, {width} qubits, depth 6",
            circuit,
            aer=lambda c=circuit: aer_execute(simulator, c),
            ours=lambda c=circuit: maestro_execute(c, maestro.SimulationType.Statevector),
            rounds=1 if quick or width >= 28 else (3 if width <= 20 else 2),
            maestro="simple_execute, SimulationType.Statevector",
            baseline='AerSimulator(method="statevector").run',
            amplitude_gib=2**width * 16 / 1024**3,
        )


def run_mps(quick: bool) -> None:
    from qiskit_aer import AerSimulator

    simulator = AerSimulator(
        method="matrix_product_state", matrix_product_state_max_bond_dimension=BOND_DIMENSION
    )
    for width in (20, 30) if quick else (60, 100):
        circuit = random_layered_circuits(1, width, depth=10, seed=SEED + width)[0]
        engine_figure(
            f"mps: random brickwork circuit, {width} qubits, depth 10, bond dimension "
            f"{BOND_DIMENSION}",
            circuit,
            aer=lambda c=circuit: aer_execute(simulator, c),
            ours=lambda c=circuit: maestro_execute(
                c, maestro.SimulationType.MatrixProductState, max_bond_dimension=BOND_DIMENSION
            ),
            rounds=1 if quick else 3,
            maestro="simple_execute, SimulationType.MatrixProductState",
            baseline='AerSimulator(method="matrix_product_state").run',
        )


# --- (4) the primitives on QoroProvider.local() with each engine -------------------------


def run_primitives(quick: bool) -> None:
    from bench_primitives import NUM_QUBITS, ansatz, exact_evs, observable
    from qiskit import transpile

    from qiskit_divi import EstimatorV2, QoroProvider, SamplerV2
    from qiskit_divi.emulator import EmulatorConfig

    if "engine" not in getattr(EmulatorConfig, "__dataclass_fields__", {}):
        emit(BENCHMARK, "primitives: skipped", reason="EmulatorConfig has no engine option yet")
        return
    bindings = 10 if quick else 100
    rounds = 1 if quick else 5
    rng = np.random.default_rng(SEED)
    providers = {
        engine: QoroProvider.local(config=EmulatorConfig(engine=engine))
        for engine in ("aer", "maestro")
    }
    try:
        backends = {e: p.get_backend("qoro_maestro") for e, p in providers.items()}
        circuit = transpile(
            ansatz(NUM_QUBITS), backends["aer"], optimization_level=1, seed_transpiler=SEED
        )
        values = rng.uniform(0, 2 * np.pi, (bindings, circuit.num_parameters))
        measured = circuit.copy()
        measured.measure_all()
        obs = observable(NUM_QUBITS).apply_layout(circuit.layout)
        exact = exact_evs(circuit, obs, values)
        bound = [measured.assign_parameters(row) for row in values]
        sampler_references = [exact_marginals(c) for c in bound]
        calls = {
            "SamplerV2": lambda b: SamplerV2(mode=b).run([(measured, values)], shots=SHOTS),
            "EstimatorV2": lambda b: EstimatorV2(mode=b).run([(circuit, obs, values)]),
        }
        for name, call in calls.items():
            runs = {e: (lambda b=b, call=call: call(b).result()) for e, b in backends.items()}
            for run in runs.values():
                run()  # warm-up: imports, each engine's first simulation
            times = interleaved(runs, rounds)
            checks = {}
            for engine, run in runs.items():
                result = run()
                if name == "SamplerV2":
                    counts = [result[0].data.meas[i].get_counts() for i in range(bindings)]
                    checks[engine] = check_counts(bound, counts, sampler_references, None)
                else:
                    gap = float(np.max(np.abs(result[0].data.evs - exact)))
                    checks[engine] = {"max_abs_ev_error": gap, "evs_exact": gap < 1e-6}
            aer_seconds, maestro_seconds = median(times["aer"]), median(times["maestro"])
            emit(
                BENCHMARK,
                f"primitives: {name} on QoroProvider.local(), {bindings} bindings of a "
                f"{NUM_QUBITS}-qubit circuit" + (f", {SHOTS} shots" if name == "SamplerV2" else ""),
                seconds=maestro_seconds,
                baseline_seconds=aer_seconds,
                ratio=maestro_seconds / aer_seconds,
                maestro='EmulatorConfig(engine="maestro")',
                baseline='EmulatorConfig(engine="aer")',
                rounds=rounds,
                maestro_checks=checks["maestro"],
                aer_checks=checks["aer"],
                ok=all(v is True for c in checks.values() for v in c.values() if type(v) is bool),
                **machine(),
            )
    finally:
        for provider in providers.values():
            provider.close()


# --- main ------------------------------------------------------------------------------


SECTIONS = ("runners", "statevector", "mps", "primitives")


def main() -> None:
    if maestro is None:
        emit(
            BENCHMARK,
            "skipped",
            reason="maestro is not installed: pip install 'qiskit-divi[maestro]'",
        )
        return
    logging.getLogger("qiskit_divi").setLevel(logging.ERROR)
    os.environ.setdefault("QISKIT_DIVI_PROGRESS", "0")  # no progress lines among the figures
    from bench_parallel_simulator import WORKLOADS

    quick = quick_mode()
    args = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    sections = [a for a in args if a in SECTIONS] or list(SECTIONS)
    keys = [a for a in args if a not in SECTIONS]
    emit(
        BENCHMARK,
        "versions",
        maestro=_version("qoro-maestro"),
        qiskit=_version("qiskit"),
        qiskit_aer=_version("qiskit-aer"),
        **machine(),
    )
    if "runners" in sections:
        for workload in WORKLOADS:
            if not keys or workload.key in keys:
                run_runner_workload(workload, quick)
    if "statevector" in sections:
        run_statevector(quick)
    if "mps" in sections:
        run_mps(quick)
    if "primitives" in sections:
        run_primitives(quick)


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


if __name__ == "__main__":
    main()
