"""Which circuits may run untranspiled, and the preparation of a batch.

A noiseless circuit that the simulator can run as it is skips transpilation when
:func:`structural_verdict` and the checks after it prove that the counts are those
``transpile(circuits, AerSimulator())`` would give with the same seed (the skipped
transpilation could only have changed the simulated state by floating-point
rounding). ``ParallelSimulator(transpile_skip=False)`` turns the skip off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from qiskit import QuantumCircuit

from ..._qasm import ShapedCircuit
from .caches import Prepared, SimulatorEntry, shapes
from .internals import PERMUTATION_GATES, STABILIZER_GATES, probe_probabilities, with_probe

SKIP_MAX_QUBITS = 16
"""Wider circuits are always transpiled: simulation cost doubles per qubit, and the
optimiser's gate cancellation then saves more time than transpiling costs."""
PROBE_MAX_QUBITS = 6
"""The probe records the marginal of at most this many measured qubits."""


class SkipPlan(NamedTuple):
    """What :func:`structural_verdict` allows: skip with these probe qubits, after the
    ``init``-stage check on the bound circuit if ``check_init_stage``."""

    probe_qubits: tuple[int, ...]
    check_init_stage: bool


class _Scan(NamedTuple):
    """What the skip decision needs to know of a circuit's instructions."""

    gate_qubits: set[int]
    measured: set[int]
    busiest_pair: int
    stabilizer_only: bool


def skip_verdict(circuit: QuantumCircuit, entry: SimulatorEntry) -> tuple[int, ...] | None:
    """The qubits to probe when ``circuit`` may run untranspiled, None when it may not."""
    return confirmed_skip(structural_verdict(circuit, entry), circuit, entry)


def confirmed_skip(
    plan: SkipPlan | None, circuit: QuantumCircuit, entry: SimulatorEntry
) -> tuple[int, ...] | None:
    """The probe qubits of ``plan`` for ``circuit`` (bound), or None if it must be transpiled."""
    if plan is None or (plan.check_init_stage and entry.init_stage_permutes(circuit)):
        return None
    return plan.probe_qubits


def structural_verdict(circuit: QuantumCircuit, entry: SimulatorEntry) -> SkipPlan | None:
    """The skip decision as far as the circuit's structure decides it (gate names,
    qubits, measurements; not angles), so one verdict serves every binding of a skeleton.

    Returns a plan when transpilation can be skipped, None when it cannot.
    Skipping is allowed only if all of the following hold, which together pin down
    everything Aer's sampling depends on besides floating-point rounding:

    1. The simulator is a noiseless ``AerSimulator``.
    2. Every instruction is a barrier, a measurement, or a standard gate the
       simulator's target supports natively (so transpilation is not needed to make
       the circuit runnable); no control flow, no reset, no swap or permutation
       (the transpiler elides those by relabelling qubits, which changes the order
       in which Aer samples), and no more qubits than the target or than
       :data:`SKIP_MAX_QUBITS`.
    3. Measurements are terminal and measure every qubit a gate acts on, so Aer's
       qubit truncation keeps the same operations in both circuits.
    4. No qubit pair carries three or more two-qubit gates, or else the transpiler's
       ``init`` stage, run on the bound circuit (the plan's ``check_init_stage``,
       since it depends on angles), reports no virtual permutation (a
       two-qubit block equivalent to a swap is also elided by relabelling; three
       gates of the controlled/XX families are the minimum for a swap).
    5. The circuit is not made only of stabilizer gates (Aer would pick a different
       method for it than for its transpiled copy). The converse risk, transpilation
       turning a non-Clifford-looking circuit into a Clifford one, is excluded at run
       time: the probe's marginal distribution must not be that of a stabilizer state
       (see :func:`is_stabilizer_like`); otherwise the circuit is transpiled and run again.
    """
    native = entry.native_support() if entry.noiseless else None
    if native is None:
        return None
    supported, max_qubits = native
    if circuit.num_qubits > min(max_qubits, SKIP_MAX_QUBITS) or circuit.num_qubits == 0:
        return None
    scan = _scan(circuit, supported)
    if scan is None or scan.stabilizer_only:
        return None
    if not scan.measured or not scan.gate_qubits <= scan.measured:
        return None
    return SkipPlan(tuple(sorted(scan.measured))[:PROBE_MAX_QUBITS], scan.busiest_pair >= 3)


def _scan(circuit: QuantumCircuit, supported: frozenset[str]) -> _Scan | None:
    """The qubits and gates of ``circuit``; None if an instruction rules the skip out."""
    index = {qubit: i for i, qubit in enumerate(circuit.qubits)}
    gate_qubits: set[int] = set()
    measured: set[int] = set()
    pair_counts: dict[tuple[int, int], int] = {}
    stabilizer_only = True
    for instruction in circuit.data:
        name = instruction.name
        if name == "measure":
            measured.add(index[instruction.qubits[0]])
            continue
        if name == "barrier":
            continue
        if measured or not instruction.is_standard_gate():
            return None  # a gate after a measurement, or a non-gate such as reset or if_else
        if name not in supported or name in PERMUTATION_GATES:
            return None
        stabilizer_only = stabilizer_only and name in STABILIZER_GATES
        indices = [index[q] for q in instruction.qubits]
        gate_qubits.update(indices)
        if len(indices) == 2:
            pair = (min(indices), max(indices))
            pair_counts[pair] = pair_counts.get(pair, 0) + 1
    return _Scan(gate_qubits, measured, max(pair_counts.values(), default=0), stabilizer_only)


def is_stabilizer_like(probabilities: np.ndarray) -> bool:
    """Whether a marginal distribution could come from a stabilizer state.

    A stabilizer state's marginal on any qubit subset is uniform over an affine
    subspace: its non-zero probabilities are all equal to ``1 / 2**k``. A distribution
    that is not of that form (up to rounding) proves the state is not a stabilizer
    state, hence that no transpiled copy of the circuit is a Clifford circuit.
    """
    probabilities = np.asarray(probabilities, dtype=float).ravel()
    nonzero = probabilities[probabilities > 1e-10]
    size = nonzero.size
    if size == 0 or size & (size - 1):
        return bool(size == 0)
    return bool(np.all(np.abs(nonzero - 1.0 / size) < 1e-8))


def probe_passed(result: object, index: int) -> bool:
    """Whether experiment ``index`` carries probe data proving a non-stabilizer state."""
    probabilities = probe_probabilities(result, index)
    return probabilities is not None and not is_stabilizer_like(probabilities)


def prepare(
    qasm_strings: Sequence[str],
    entry: SimulatorEntry,
    parsed: dict[str, ShapedCircuit],
    *,
    seed: int | None,
    skip: bool,
) -> list[Prepared]:
    """One prepared circuit per QASM text: cached, or parsed and transpiled if needed.

    ``parsed`` holds circuits already parsed from their QASM text. Texts of one
    shape share their skeleton's skip verdict and, when transpilation is skipped,
    its probed copy, which each text then binds to its own angles. Without ``skip``
    every circuit is transpiled.
    """
    prepared: dict[str, Prepared] = {}
    to_transpile: dict[str, QuantumCircuit] = {}
    # Keyed by id(skeleton); each value holds its skeleton, so the id stays unique here.
    plans: dict[int, tuple[QuantumCircuit, SkipPlan | None, QuantumCircuit | None]] = {}
    for qasm in qasm_strings:
        if qasm in prepared or qasm in to_transpile:
            continue
        cached = entry.get(qasm, seed, skip=skip)
        if cached is not None:
            prepared[qasm] = cached
            continue
        shaped = parsed.get(qasm) or shapes.parse(qasm)
        if not skip:
            to_transpile[qasm] = shaped.bound()
            continue
        skeleton = shaped.skeleton
        known = plans.get(id(skeleton))
        if known is None:
            plan = structural_verdict(skeleton, entry)
            probed = None if plan is None else with_probe(skeleton.copy(), plan.probe_qubits)
            known = plans[id(skeleton)] = (skeleton, plan, probed)
        _, plan, probed = known
        circuit = shaped.bound()
        probe_qubits = confirmed_skip(plan, circuit, entry)
        if probe_qubits is None:
            to_transpile[qasm] = circuit
        else:
            item = prepared[qasm] = Prepared(
                ShapedCircuit(probed, shaped.values).bound(), probe_qubits
            )
            entry.put(qasm, seed, item, skip=skip)
    if to_transpile:
        transpiled = entry.transpile(list(to_transpile.values()), seed)
        for qasm, circuit in zip(to_transpile, transpiled, strict=True):
            item = prepared[qasm] = Prepared(circuit)
            entry.put(qasm, seed, item, skip=skip)
    return [prepared[qasm] for qasm in qasm_strings]
