"""``ParallelSimulator.submit_circuits`` end to end against plain ``AerSimulator.run``.

For each workload, the same QASM circuits are run, in the same process, by

* the limit: ``simulator.run(pre_transpiled, shots=1000, **same_options).result()``,
  timed run-only; the circuits were parsed from the QASM text and transpiled for the
  same simulator beforehand (noiseless ``AerSimulator()``, or for ``"auto"``
  ``AerSimulator.from_backend`` of the fake backend ``ParallelSimulator`` picks) with
  the Aer options of ``ParallelSimulator._run_options`` and the same seed;
* ``ParallelSimulator(shots=1000, simulation_seed=...).submit_circuits({label: qasm})``,
  everything included (parse, transpile when needed, run, counts).

``cold``: the module's caches (fake backends, simulators, prepared circuits) are
cleared before every ParallelSimulator run, so it pays everything a first call pays
(qiskit_ibm_runtime is already imported, by the limit's own setup). This is the
figure the targets apply to. ``warm``: the same call repeated with the caches hot.
Runs alternate (limit, cold, ...) and medians are compared. ``next iteration``: the
prepared circuits are forgotten but the simulator and the parsed shapes are kept,
which is what each iteration of a parameter sweep pays (new angles: new texts of
known shapes). ``bit_identical``: every counts dict equals ``result.get_counts(i)``
of the limit.

Workloads (seeded): (a) 200 QAOA MaxCut circuits, 12 qubits, p=2; (b) 2000 four-qubit
two-layer hardware-efficient circuits; (c) 100 seven-qubit circuits with
``qiskit_backend="auto"``; (d) 10 random 24-qubit circuits of depth 10.
Targets: ratio <= 1.3 on (a), (b), (c); <= 1.05 on (d).

    python benchmarks/bench_parallel_simulator.py [--quick] [workload ...]
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _common import (
    emit,
    figure,
    hardware_efficient_circuits,
    interleaved,
    machine,
    median,
    qaoa_maxcut_circuits,
    qasm_dict,
    quick_mode,
    random_layered_circuits,
    timed,
)
from qiskit import QuantumCircuit, transpile
from qiskit_aer import AerSimulator

from qiskit_divi.backends import ParallelSimulator
from qiskit_divi.backends.parallel_simulator import caches
from qiskit_divi.backends.parallel_simulator.fake_backends import find_best_fake_backend

BENCHMARK = "parallel_simulator"
SHOTS = 1000
SIMULATION_SEED = 1234


@dataclass
class Workload:
    key: str
    description: str
    make: Callable[[bool], list[QuantumCircuit]]
    target: float
    auto: bool = False
    rounds: int = 3


WORKLOADS = [
    Workload(
        "a",
        "200 QAOA MaxCut circuits, 12 qubits, p=2",
        lambda q: qaoa_maxcut_circuits(10 if q else 200),
        1.3,
    ),
    Workload(
        "b",
        "2000 hardware-efficient circuits, 4 qubits, 2 layers",
        lambda q: hardware_efficient_circuits(40 if q else 2000),
        1.3,
    ),
    Workload(
        "c",
        "100 circuits, 7 qubits, qiskit_backend='auto'",
        lambda q: hardware_efficient_circuits(10 if q else 100, num_qubits=7, layers=2),
        1.3,
        auto=True,
    ),
    Workload(
        "d",
        "10 random circuits, 24 qubits, depth 10",
        lambda q: (
            random_layered_circuits(2, 14, depth=10)
            if q
            else random_layered_circuits(10, 24, depth=10)
        ),
        1.05,
        rounds=2,
    ),
]


def limit_simulator(workload: Workload, circuits: list[QuantumCircuit]) -> Any:
    """The simulator ``ParallelSimulator`` uses for this workload, built the same way."""
    if not workload.auto:
        return AerSimulator()
    widest = max(circuits, key=lambda c: c.num_qubits)
    backend_class = find_best_fake_backend(widest)[-1]
    return AerSimulator.from_backend(backend_class())


def run_workload(workload: Workload, quick: bool) -> None:
    qasm = qasm_dict(workload.make(quick))
    labels = list(qasm)
    parsed = [QuantumCircuit.from_qasm_str(text) for text in qasm.values()]
    simulator = limit_simulator(workload, parsed)
    prepare_seconds, prepared = timed(
        lambda: transpile(parsed, simulator, num_processes=1, seed_transpiler=SIMULATION_SEED)
    )
    runner = ParallelSimulator(
        shots=SHOTS,
        simulation_seed=SIMULATION_SEED,
        qiskit_backend="auto" if workload.auto else None,
    )
    options = runner._run_options(len(prepared))
    simulator.run(
        prepared[:1], shots=10, **options
    ).result()  # Aer's one-off start-up, for neither side

    outputs: dict[str, Any] = {}

    def limit() -> Any:
        outputs["limit"] = simulator.run(prepared, shots=SHOTS, **options).result()

    def cold() -> Any:
        outputs["cold"] = runner.submit_circuits(qasm)

    def warm() -> Any:
        outputs["warm"] = runner.submit_circuits(qasm)

    def forget(name: str, clear_caches: bool = False) -> Callable[[], None]:
        def setup() -> None:
            # untimed: free the previous result (and empty the caches for a cold run)
            outputs.pop(name, None)
            if clear_caches:
                caches.clear()

        return setup

    rounds = 1 if quick else workload.rounds
    times = interleaved(
        {"limit": limit, "cold": cold},
        rounds,
        setups={"limit": forget("limit"), "cold": forget("cold", True)},
    )

    def next_iteration() -> None:  # untimed: as if the angles changed (new texts of known shapes)
        outputs.pop("next", None)
        caches.forget_prepared_circuits()

    def next_run() -> Any:
        outputs["next"] = runner.submit_circuits(qasm)

    warm_times = interleaved({"warm": warm}, rounds, setups={"warm": forget("warm")})["warm"]
    next_times = interleaved({"next": next_run}, rounds, setups={"next": next_iteration})["next"]

    expected = [outputs["limit"].get_counts(i) for i in range(len(labels))]
    identical = {
        name: [row["label"] for row in outputs[name].results] == labels
        and all(
            dict(row["results"]) == dict(counts)
            for row, counts in zip(outputs[name].results, expected, strict=True)
        )
        for name in ("cold", "warm", "next")
    }
    diagnosis = (
        {}
        if identical["cold"]
        else _diagnose(workload, qasm, parsed, prepared, expected, outputs["warm"])
    )
    limit_seconds = median(times["limit"])
    common = {
        "circuits": len(labels),
        "shots": SHOTS,
        "n_processes": runner.n_processes,
        "aer_options": options,
        "limit": "AerSimulator.run on pre-transpiled circuits, run only",
        "limit_transpile_seconds": prepare_seconds,
        "rounds": rounds,
    }
    figure(
        BENCHMARK,
        f"({workload.key}) {workload.description}",
        seconds=median(times["cold"]),
        baseline_seconds=limit_seconds,
        target=workload.target,
        run="cold (caches cleared)",
        bit_identical=identical["cold"],
        **diagnosis,
        **common,
        **machine(),
    )
    emit(
        BENCHMARK,
        f"({workload.key}) {workload.description}",
        run="warm (repeat, caches hot)",
        seconds=median(warm_times),
        baseline_seconds=limit_seconds,
        ratio=median(warm_times) / limit_seconds,
        bit_identical=identical["warm"],
    )
    emit(
        BENCHMARK,
        f"({workload.key}) {workload.description}",
        run="next iteration (prepared circuits forgotten; simulator and parsed shapes cached)",
        seconds=median(next_times),
        baseline_seconds=limit_seconds,
        ratio=median(next_times) / limit_seconds,
        bit_identical=identical["next"],
    )


def _diagnose(
    workload: Workload,
    qasm: dict[str, str],
    parsed: list[QuantumCircuit],
    prepared: list[QuantumCircuit],
    expected: list[Any],
    result: Any,
) -> dict[str, Any]:
    """Why counts differ: compare the circuits ParallelSimulator prepared (its cache, after
    the warm run) with the limit's transpiled ones."""
    try:
        if workload.auto:
            widest = max(parsed, key=lambda c: c.num_qubits)
            entry = caches.auto_entry(find_best_fake_backend(widest)[-1])
        else:
            entry = caches.noiseless_entry()
        theirs = [entry.get(text, SIMULATION_SEED) for text in qasm.values()]
        same = [
            item is not None and item.circuit == mine
            for item, mine in zip(theirs, prepared, strict=True)
        ]
        equal = [
            dict(row["results"]) == dict(counts)
            for row, counts in zip(result.results, expected, strict=True)
        ]
        return {
            "differing_counts": equal.count(False),
            "differing_transpiled_circuits": same.count(False),
            "counts_differ_only_where_circuits_differ": all(
                e or not s for e, s in zip(equal, same, strict=True)
            ),
        }
    except Exception as exc:  # a diagnosis must not break the benchmark
        return {"diagnosis_error": repr(exc)}


def main() -> None:
    # The "parallel execution" notice, once per run, would interleave with the figures.
    logging.getLogger("qiskit_divi").setLevel(logging.ERROR)
    quick = quick_mode()
    wanted = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    for workload in WORKLOADS:
        if not wanted or workload.key in wanted:
            run_workload(workload, quick)


if __name__ == "__main__":
    main()
