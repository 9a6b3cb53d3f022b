"""Aer's ``parameter_binds`` is used only for the gates it is proven to bind right.

Every parametrised standard gate Aer runs natively is run as three circuits of one shape
(a shared skeleton and three angle sets, as the shape parser builds them) on both of
Aer's uses, sampling (counts checked against ``Statevector`` probabilities within
``ground_truth.tvd_bound``) and statevectors (checked to 1e-9):

* through :func:`run_batched` with every gate allowed: the gates Aer binds right must be
  exactly :data:`PARAMETER_BINDS_SAFE_GATES`, so a future Aer fix or regression fails here;
* through the emulator's own paths (a system's ``sample`` and :func:`expectation_job`,
  checked on every Pauli term, which pins the state), with the allow-list in force.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from ground_truth import frequencies, outcome_probabilities, tvd, tvd_bound
from qiskit import QuantumCircuit
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Pauli, Statevector
from qiskit_aer import AerSimulator

from qiskit_divi._qasm import ShapedCircuit, skeleton_of
from qiskit_divi.emulator.circuits import group_by_skeleton
from qiskit_divi.emulator.systems import (
    PARAMETER_BINDS_SAFE_GATES,
    SystemCatalogue,
    bind_method,
    expectation_job,
    run_batched,
)

SHOTS = 20_000
BINDINGS = 3
CONTROLLED_ROTATIONS = frozenset({"crx", "cry", "crz", "cp"})
"""The gates of the known Aer bug (their angle stays at its placeholder)."""


@functools.cache
def _statevector_backend() -> AerSimulator:
    return AerSimulator(method="statevector")


def _aer_parametrised_gates() -> list[str]:
    native = set(_statevector_backend().target.operation_names)
    return sorted(
        name
        for name, gate in get_standard_gate_name_mapping().items()
        if gate.params and name in native and name not in {"delay", "global_phase"}
    )


PARAMETRISED = _aer_parametrised_gates()
ALL_GATES = frozenset(PARAMETRISED)


@functools.cache
def _maestro():
    return SystemCatalogue().simulator("qoro_maestro")


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


def _counts_right(counts: list[dict[int, int]], originals: list[QuantumCircuit]) -> bool:
    for got, original in zip(counts, originals, strict=True):
        exact = outcome_probabilities(original)
        if tvd(frequencies(got), exact) > tvd_bound(exact, SHOTS):
            return False
    return True


def _with_saved_statevector(circuit: QuantumCircuit) -> QuantumCircuit:
    out = circuit.copy()
    out.save_statevector()
    return out


@functools.cache
def _aer_samples_right(name: str) -> bool:
    """Aer binding every gate itself (safe_gates = all), sampled."""
    circuits, originals = _job(name, measure=True)
    result, order = run_batched(
        _maestro().backend,
        circuits,
        group_by_skeleton(circuits),
        safe_gates=ALL_GATES,
        shots=SHOTS,
    )
    if len(result.results) != len(circuits):
        return False
    counts = [{} for _ in circuits]
    for i, position in enumerate(order):
        counts[position] = {int(k, 16): v for k, v in result.results[i].data.counts.items()}
    return _counts_right(counts, originals)


@functools.cache
def _aer_statevectors_right(name: str) -> bool:
    """Aer binding every gate itself (safe_gates = all), statevectors."""
    circuits, originals = _job(name, measure=False)
    result, order = run_batched(
        _statevector_backend(),
        circuits,
        group_by_skeleton(circuits),
        safe_gates=ALL_GATES,
        prepare=_with_saved_statevector,
        shots=1,
    )
    if len(result.results) != len(circuits):
        return False
    for i, position in enumerate(order):
        state = np.asarray(result.data(i)["statevector"])
        if not np.allclose(state, Statevector(originals[position]).data, atol=1e-9):
            return False
    return True


def test_allow_list_is_exactly_the_gates_aer_binds_right():
    right = {
        name for name in PARAMETRISED if _aer_samples_right(name) and _aer_statevectors_right(name)
    }
    assert right == set(PARAMETER_BINDS_SAFE_GATES), (
        f"Aer's parameter_binds now binds {sorted(right - PARAMETER_BINDS_SAFE_GATES)} right and "
        f"{sorted(PARAMETER_BINDS_SAFE_GATES - right)} wrong: update PARAMETER_BINDS_SAFE_GATES"
    )
    # Controlled rotations are the known Aer bug: if they pass, the check itself is broken.
    assert set(PARAMETRISED) - right >= CONTROLLED_ROTATIONS


@pytest.mark.parametrize("name", PARAMETRISED)
def test_emulator_samples_every_gate_right(name):
    circuits, originals = _job(name, measure=True)
    simulator = _maestro()
    assert simulator.runs_natively(group_by_skeleton(circuits)), "must take the bind path"
    counts = simulator.sample(circuits, SHOTS, seed=11)
    assert _counts_right(counts, originals)


@pytest.mark.parametrize("name", PARAMETRISED)
def test_emulator_expectation_values_of_every_gate_are_exact(name):
    """Every Pauli expectation of every circuit, which together fix its state. The circuits
    are made of gates Aer runs natively, so they take the bind path (:func:`run_batched`)."""
    circuits, originals = _job(name, measure=False)
    width = originals[0].num_qubits
    terms = ["".join(letters) for letters in itertools.product("IXYZ", repeat=width)]
    rows = expectation_job(circuits, terms)
    for row, original in zip(rows, originals, strict=True):
        state = Statevector(original)
        # Wire terms have qubit 0 leftmost; Pauli labels have it rightmost.
        exact = {term: state.expectation_value(Pauli(term[::-1])).real for term in terms}
        assert row == pytest.approx(exact, abs=1e-9)


@pytest.mark.parametrize("name", PARAMETRISED)
def test_sweeps_of_every_gate_stay_one_experiment(name):
    """Safe gates are bound by Aer as they are; the others are rewritten into their
    definitions (whose results are checked above), never bound circuit by circuit."""
    (first, *_), _ = _job(name, measure=True)
    expected = "aer" if name in PARAMETER_BINDS_SAFE_GATES else "rewritten"
    assert bind_method(first.skeleton) == expected
    assert bind_method(first.skeleton, ALL_GATES) == "aer"


def test_bind_method_of_a_skeleton_without_parameters_or_definitions():
    fixed = QuantumCircuit(1)
    fixed.h(0)
    assert bind_method(fixed) == "none"
    (first, *_), _ = _job("crx", measure=True)
    # Nothing is safe and the rewrite still carries parameters: each circuit is assigned.
    assert bind_method(first.skeleton, frozenset()) == "assign"
