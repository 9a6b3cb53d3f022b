"""Targets synthesised from Qoro systems: gate sets, connectivity, QASM 2 round trips."""

from __future__ import annotations

import time

import pytest
from qiskit import QuantumCircuit, qasm2, transpile
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Operator

from qiskit_divi.api.models import QPU, QPUSystem
from qiskit_divi.target import (
    FALLBACK_SIMULATOR_QUBITS,
    NATIVE_GATES,
    build_target,
    is_operational,
    is_simulator,
    qasm2_standard_gates,
    system_kind,
    system_num_qubits,
)

DIRECTIVES = {"measure", "reset", "barrier"}


def _system(name: str, kind: str, q_bits: int = 5, status: str = "active", coupling_map=None) -> QPUSystem:
    return QPUSystem(name=name, qpus=[QPU("qpu", q_bits, status, kind, coupling_map)])


def test_qasm2_gate_set_is_exactly_what_dumps_writes_as_qelib1():
    gates = set(qasm2_standard_gates())
    assert {"h", "x", "cx", "u", "p", "cp", "rxx", "rzz", "ccx", "cswap", "sx", "sxdg", "id"} <= gates
    # Need a `gate` definition, or cannot be exported at all:
    assert not gates & {"ecr", "iswap", "rzx", "ryy", "dcx", "r", "xx_plus_yy", "global_phase", "delay", "measure"}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("superconducting", {"rz", "sx", "x", "cz"}),
        ("trapped_ion", {"rx", "ry", "rz", "rxx"}),
        ("neutral_atom", {"rx", "ry", "rz", "cz"}),
        ("photonic_or_anything_else", {"rz", "sx", "x", "cx"}),
    ],
)
def test_qpu_native_gate_sets_follow_the_table(kind, expected):
    target = build_target(_system("dev", kind, q_bits=4))
    assert set(target.operation_names) == expected | DIRECTIVES
    assert target.num_qubits == 4
    # no coupling map from the server: every ordered pair is connected
    edges = set(target.build_coupling_map().get_edges())
    assert edges == {(a, b) for a in range(4) for b in range(4) if a != b}


def test_simulator_target_has_every_qelib1_gate_and_no_coupling_map():
    target = build_target(_system("sim", "simulator", q_bits=24))
    assert set(target.operation_names) == set(qasm2_standard_gates()) | DIRECTIVES
    assert target.build_coupling_map() is None
    assert target.instruction_supported("cx", (0, 23)) and not target.instruction_supported("cx", (0, 24))
    assert "delay" not in target.operation_names


def test_server_coupling_map_is_used_and_made_symmetric():
    target = build_target(_system("dev", "superconducting", q_bits=3, coupling_map=((0, 1), (1, 2), (2, 9))))
    assert set(target.build_coupling_map().get_edges()) == {(0, 1), (1, 0), (1, 2), (2, 1)}
    assert not target.instruction_supported("cz", (0, 2))


def test_nominal_properties_are_plausible_and_absent_for_unknown_kinds():
    sc = build_target(_system("sc", "superconducting"))
    assert sc["rz"][(0,)].error == 0.0 and sc["rz"][(0,)].duration == 0.0  # virtual Z
    assert 0 < sc["sx"][(0,)].error < sc["cz"][(0, 1)].error < 0.1
    ion = build_target(_system("ion", "trapped_ion"))
    assert ion["rxx"][(0, 1)].duration > ion["rx"][(0,)].duration > 0
    unknown = build_target(_system("x", "mystery"))
    assert unknown["cx"][(0, 1)] is None


def test_system_classification():
    assert is_simulator(QPUSystem(name="qoro_maestro")) and system_num_qubits(QPUSystem(name="qoro_maestro")) == FALLBACK_SIMULATOR_QUBITS
    assert is_simulator(_system("other_sim", "Simulator"))
    assert not is_simulator(_system("dev", "superconducting"))
    mixed = QPUSystem(name="mix", qpus=[QPU("a", 5, "active", "superconducting"), QPU("b", 7, "offline", "trapped_ion")])
    assert system_kind(mixed) == "default" and system_num_qubits(mixed) == 7 and is_operational(mixed)
    assert not is_operational(_system("down", "trapped_ion", status="maintenance"))
    assert system_num_qubits(QPUSystem(name="empty")) == 0 and not is_operational(QPUSystem(name="empty"))
    assert set(NATIVE_GATES) >= {"superconducting", "trapped_ion", "default"}


KINDS = ["simulator", "superconducting", "trapped_ion", "unknown_kind"]


@pytest.mark.parametrize("kind", KINDS)
def test_transpile_at_every_level_gives_equivalent_qelib1_qasm(kind):
    target = build_target(_system("dev", kind, q_bits=5))
    allowed = set(target.operation_names)
    for seed in range(2):
        circuit = random_circuit(5, 4, max_operands=3, seed=seed)  # full width: no ancillas
        for level in range(4):
            out = transpile(circuit, target=target, optimization_level=level, seed_transpiler=seed)
            assert set(out.count_ops()) <= allowed
            text = qasm2.dumps(out)
            assert not any(line.startswith(("gate ", "opaque ")) for line in text.splitlines())
            back = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
            assert Operator.from_circuit(out).equiv(Operator(circuit)), (kind, seed, level)
            assert Operator(back).equiv(Operator(out)), (kind, seed, level)


def test_wide_simulator_target_is_cheap_and_transpile_does_not_widen():
    start = time.perf_counter()
    target = build_target(_system("sim", "simulator", q_bits=64))
    circuit = QuantumCircuit(20, 20)
    circuit.h(0)
    for q in range(19):
        circuit.cx(q, q + 1)
    circuit.measure(range(20), range(20))
    for level in range(4):
        out = transpile(circuit, target=target, optimization_level=level)
        assert out.num_qubits == 20
    assert time.perf_counter() - start < 10
