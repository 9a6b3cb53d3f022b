"""Aer's ``parameter_binds`` is used only for the gates it is proven to bind right.

Every parametrised standard gate Aer runs natively goes through the emulator's bind
path (with every gate allowed, and with the allow-list and its definition rewrite in
force) (:func:`run_batched` with a shared skeleton and three angle sets, as the shape
parser builds it) on both of Aer's uses: sampling (counts checked against
``Statevector`` probabilities within ``ground_truth.tvd_bound``) and statevectors
(checked to 1e-9). The gates that pass must be exactly
:data:`PARAMETER_BINDS_SAFE_GATES`: a future Aer fix or regression fails here.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from ground_truth import frequencies, outcome_probabilities, tvd, tvd_bound
from qiskit import QuantumCircuit
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Statevector

from qiskit_divi._qasm_shapes import ShapedCircuit, skeleton_of
from qiskit_divi.emulator.circuits import group_by_skeleton
from qiskit_divi.emulator.systems import (
    PARAMETER_BINDS_SAFE_GATES,
    SystemCatalogue,
    _bindable_by_aer,
    _saving_statevector,
    _statevector_backend,
    _statevector_target,
    run_batched,
)

SHOTS = 20_000
BINDINGS = 3


def _aer_parametrised_gates() -> list[str]:
    native = set(_statevector_target().operation_names)
    return sorted(
        name
        for name, gate in get_standard_gate_name_mapping().items()
        if gate.params and name in native and name not in {"delay", "global_phase"}
    )


PARAMETRISED = _aer_parametrised_gates()
ALL_GATES = frozenset(PARAMETRISED)


def _job(name: str, measure: bool) -> tuple[list[ShapedCircuit], list[QuantumCircuit]]:
    """Three circuits of one shape (a generic state, then ``name`` with random angles), as
    the emulator holds them and as built with literal angles (the reference)."""
    gate = get_standard_gate_name_mapping()[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    jobs, originals = [], []
    skeleton = None
    for _ in range(BINDINGS):
        circuit = QuantumCircuit(gate.num_qubits, gate.num_qubits)
        prefix = rng.uniform(0.3, 1.2, gate.num_qubits)
        for qubit, angle in enumerate(prefix):
            circuit.h(qubit)
            circuit.ry(float(angle), qubit)
        angles = rng.uniform(0.5, 2.6, len(gate.params))
        circuit.append(type(gate)(*map(float, angles)), range(gate.num_qubits))
        if measure:
            circuit.measure(range(gate.num_qubits), range(gate.num_qubits))
        values = tuple(map(float, prefix)) + tuple(map(float, angles))
        if skeleton is None:
            skeleton = skeleton_of(circuit, values)
            assert skeleton is not None
        jobs.append(ShapedCircuit(skeleton, values))
        originals.append(circuit)
    return jobs, originals


@functools.cache
def _sampled_right(name: str, safe_gates: frozenset[str]) -> bool:
    circuits, originals = _job(name, measure=True)
    backend = SystemCatalogue().simulator("qoro_maestro").backend
    result, order = run_batched(
        backend, circuits, group_by_skeleton(circuits), safe_gates=safe_gates, shots=SHOTS
    )
    if len(result.results) != len(circuits):
        return False
    for i, position in enumerate(order):
        counts = {int(k, 16): v for k, v in result.results[i].data.counts.items()}
        exact = outcome_probabilities(originals[position])
        if tvd(frequencies(counts), exact) > tvd_bound(exact, SHOTS):
            return False
    return True


@functools.cache
def _statevectors_right(name: str, safe_gates: frozenset[str]) -> bool:
    circuits, originals = _job(name, measure=False)
    result, order = run_batched(
        _statevector_backend(),
        circuits,
        group_by_skeleton(circuits),
        safe_gates=safe_gates,
        prepare=_saving_statevector,
        shots=1,
    )
    if len(result.results) != len(circuits):
        return False
    for i, position in enumerate(order):
        state = np.asarray(result.data(i)["statevector"])
        exact = Statevector(originals[position]).data
        if not np.allclose(state, exact, atol=1e-9):
            return False
    return True


def test_allow_list_is_exactly_the_gates_aer_binds_right():
    right = {
        name
        for name in PARAMETRISED
        if _sampled_right(name, ALL_GATES) and _statevectors_right(name, ALL_GATES)
    }
    assert right == set(PARAMETER_BINDS_SAFE_GATES), (
        f"Aer's parameter_binds now binds {sorted(right - PARAMETER_BINDS_SAFE_GATES)} right and "
        f"{sorted(PARAMETER_BINDS_SAFE_GATES - right)} wrong: update PARAMETER_BINDS_SAFE_GATES"
    )
    # Controlled rotations are the known Aer bug: if they pass, the check itself is broken.
    assert {"crx", "cry", "crz", "cp"} <= set(PARAMETRISED) - right


@pytest.mark.parametrize("name", PARAMETRISED)
def test_emulator_bind_path_is_right_for_every_gate(name):
    """With the allow-list in force (unsafe gates rewritten into their definitions), every
    gate samples and gives statevectors right."""
    assert _sampled_right(name, PARAMETER_BINDS_SAFE_GATES)
    assert _statevectors_right(name, PARAMETER_BINDS_SAFE_GATES)


@pytest.mark.parametrize("name", PARAMETRISED)
def test_sweeps_of_every_gate_stay_one_experiment(name):
    """Unsafe gates are rewritten into safe ones (checked above), not bound circuit by circuit."""
    (first, *_), _ = _job(name, measure=True)
    bindable = _bindable_by_aer(first.skeleton, PARAMETER_BINDS_SAFE_GATES)
    assert bindable is not None
    assert set(bindable.parameters) == set(first.skeleton.parameters)
