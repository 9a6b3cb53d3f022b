"""Exact references from ``qiskit.quantum_info`` and the statistics to compare samples with them.

Importable from every test module (``pythonpath = ["tests"]`` in ``pyproject.toml``).

Sampled counts are compared with an exact distribution ``p`` by total-variation
distance. For ``N`` shots, ``E[TVD] <= 1/2 sum_i sqrt(p_i (1 - p_i) / N)`` (Jensen on
each ``|p̂_i - p_i|``), and TVD changes by at most ``1/N`` when one shot changes, so
McDiarmid's inequality gives ``P(TVD > E[TVD] + eps) <= exp(-2 N eps^2)``. With
``eps = sqrt(ln(1/delta) / (2N))`` a correct sampler exceeds :func:`tvd_bound` with
probability below ``delta`` (default ``1e-9`` per comparison).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import XGate
from qiskit.quantum_info import Statevector

FALSE_ALARM_PROBABILITY = 1e-9
"""Chance that one comparison of a correct sampler fails its bound."""


def tvd(p: Mapping[int, float], q: Mapping[int, float]) -> float:
    """Total-variation distance of two distributions over outcomes."""
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def tvd_bound(p: Mapping[int, float], shots: int, delta: float = FALSE_ALARM_PROBABILITY) -> float:
    """A TVD that ``shots`` samples of ``p`` exceed with probability below ``delta`` (see the
    module docstring)."""
    expected = 0.5 * sum(math.sqrt(max(x * (1.0 - x), 0.0) / shots) for x in p.values())
    return expected + math.sqrt(math.log(1.0 / delta) / (2.0 * shots))


def frequencies(counts: Mapping[int, int]) -> dict[int, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def assert_sampled_from(counts: Mapping[int, int], p: Mapping[int, float], label: str = "") -> None:
    """Fail when ``counts`` (outcome -> count) are not plausibly samples of ``p``."""
    shots = sum(counts.values())
    distance, bound = tvd(frequencies(counts), p), tvd_bound(p, shots)
    assert distance <= bound, (
        f"{label}: TVD {distance:.4f} from the exact distribution exceeds the bound {bound:.4f} "
        f"for {shots} shots; counts {dict(counts)}, exact {p}"
    )


def _final_measurements(circuit: QuantumCircuit) -> tuple[QuantumCircuit, dict[int, int]]:
    """The circuit without its measurements, and clbit -> qubit for each of them.

    Every measurement must be final (nothing acts on its qubit afterwards), resets
    may only act on fresh qubits, and nothing may be classically conditioned: the
    reference is one statevector.
    """
    unitary = circuit.copy_empty_like()
    clbit_to_qubit: dict[int, int] = {}
    measured: set[int] = set()
    touched: set[int] = set()
    for instruction in circuit.data:
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        name = instruction.operation.name
        if name == "measure":
            clbit_to_qubit[circuit.find_bit(instruction.clbits[0]).index] = qubits[0]
            measured.add(qubits[0])
            continue
        if name != "barrier" and measured.intersection(qubits):
            raise ValueError(f"{name} acts on a measured qubit: no single statevector reference")
        if instruction.clbits:
            raise ValueError(f"{name} uses classical bits: no single statevector reference")
        if name == "reset":
            if touched.intersection(qubits):
                raise ValueError("reset after a gate on its qubit: no single statevector reference")
            continue  # a reset of a fresh qubit leaves |0>
        if name != "barrier":
            touched.update(qubits)
        unitary.append(instruction)
    return unitary, clbit_to_qubit


def outcome_probabilities(circuit: QuantumCircuit) -> dict[int, float]:
    """Exact distribution of the classical register (bit ``i`` of an outcome is clbit ``i``).

    Clbits that no measurement writes read 0. Outcomes below 1e-12 are dropped.
    """
    unitary, clbit_to_qubit = _final_measurements(circuit)
    probabilities = Statevector(unitary).probabilities()
    out: dict[int, float] = {}
    qubit_of = sorted(clbit_to_qubit.items())
    for index in np.flatnonzero(probabilities > 1e-12):
        outcome = 0
        for clbit, qubit in qubit_of:
            if index >> qubit & 1:
                outcome |= 1 << clbit
        out[outcome] = out.get(outcome, 0.0) + float(probabilities[index])
    return out


def without_measurements(circuit: QuantumCircuit) -> QuantumCircuit:
    """The unitary part of a circuit whose measurements are all final."""
    return _final_measurements(circuit)[0]


MAX_BRANCHES = 4096
"""The most branches :func:`midcircuit_outcome_probabilities` follows (2 per measure/reset)."""


def midcircuit_outcome_probabilities(
    circuit: QuantumCircuit, max_branches: int = MAX_BRANCHES
) -> dict[int, float]:
    """Exact distribution of the classical register of a circuit with mid-circuit
    measurements and resets (bit ``i`` of an outcome is clbit ``i``; unwritten clbits read 0).

    Exact, not sampled: one :class:`Statevector` per branch, evolved gate by gate; a
    ``measure`` splits each branch into its two projections, weighted by their Born
    probabilities, and a ``reset`` likewise (the ``|1>`` projection then flipped to
    ``|0>``), so the branches are the terms of the mixed state. Branches below 1e-15 are
    dropped; more than ``max_branches`` raise ``ValueError``, as does classical conditioning.
    """
    # (weight, normalised state, outcome so far)
    branches: list[tuple[float, Statevector, int]] = [
        (1.0, Statevector.from_int(0, 2**circuit.num_qubits), 0)
    ]
    indices = np.arange(2**circuit.num_qubits)
    for instruction in circuit.data:
        operation = instruction.operation
        name = operation.name
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if getattr(operation, "condition", None) is not None or (
            instruction.clbits and name != "measure"
        ):
            raise ValueError(f"{name} is classically conditioned: not supported here")
        if name == "barrier":
            continue
        if name not in ("measure", "reset"):
            branches = [(w, state.evolve(operation, qubits), k) for w, state, k in branches]
            continue
        one = (indices >> qubits[0] & 1).astype(bool)
        clbit = circuit.find_bit(instruction.clbits[0]).index if name == "measure" else None
        split: list[tuple[float, Statevector, int]] = []
        for weight, state, outcome in branches:
            for bit in (0, 1):
                projected = np.where(one == bool(bit), state.data, 0)
                probability = float(np.vdot(projected, projected).real)
                if weight * probability < 1e-15:
                    continue
                branch = Statevector(projected / math.sqrt(probability))
                if clbit is None:
                    if bit:
                        branch = branch.evolve(XGate(), qubits)
                    split.append((weight * probability, branch, outcome))
                else:
                    written = outcome & ~(1 << clbit) | bit << clbit
                    split.append((weight * probability, branch, written))
        if len(split) > max_branches:
            raise ValueError(
                f"{len(split)} branches after a {name}, more than max_branches={max_branches}"
            )
        branches = split
    out: dict[int, float] = {}
    for weight, _, outcome in branches:
        out[outcome] = out.get(outcome, 0.0) + weight
    return out
