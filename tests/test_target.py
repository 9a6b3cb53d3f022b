"""Targets synthesised from Qoro systems: gate sets, connectivity, QASM 2 round trips."""

from __future__ import annotations

import time

import pytest
from qiskit import QuantumCircuit, qasm2, transpile
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Operator

from qiskit_divi.api.models import QPU, QPUSystem, SimulatorCluster
from qiskit_divi.target import (
    FALLBACK_SIMULATOR_QUBITS,
    NATIVE_GATES,
    build_cluster_target,
    build_target,
    cluster_num_qubits,
    is_operational,
    is_simulator,
    qasm2_standard_gates,
    system_kind,
    system_num_qubits,
)

DIRECTIVES = {"measure", "reset", "barrier"}


def _system(
    name: str, kind: str, q_bits: int = 5, status: str = "active", coupling_map=None
) -> QPUSystem:
    return QPUSystem(name=name, qpus=[QPU("qpu", q_bits, status, kind, coupling_map)])


def test_qasm2_gate_set_is_exactly_what_dumps_writes_as_qelib1():
    gates = set(qasm2_standard_gates())
    assert {
        "h",
        "x",
        "cx",
        "u",
        "p",
        "cp",
        "rxx",
        "rzz",
        "ccx",
        "cswap",
        "sx",
        "sxdg",
        "id",
    } <= gates
    # Need a `gate` definition, or cannot be exported at all:
    assert not gates & {
        "ecr",
        "iswap",
        "rzx",
        "ryy",
        "dcx",
        "r",
        "xx_plus_yy",
        "global_phase",
        "delay",
        "measure",
    }


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
    assert target.instruction_supported("cx", (0, 23)) and not target.instruction_supported(
        "cx", (0, 24)
    )
    assert "delay" not in target.operation_names


def test_server_coupling_map_is_used_and_made_symmetric():
    target = build_target(
        _system("dev", "superconducting", q_bits=3, coupling_map=((0, 1), (1, 2), (2, 9)))
    )
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
    assert (
        is_simulator(QPUSystem(name="qoro_maestro"))
        and system_num_qubits(QPUSystem(name="qoro_maestro")) == FALLBACK_SIMULATOR_QUBITS
    )
    assert is_simulator(_system("other_sim", "Simulator"))
    assert not is_simulator(_system("dev", "superconducting"))
    mixed = QPUSystem(
        name="mix",
        qpus=[QPU("a", 5, "active", "superconducting"), QPU("b", 7, "offline", "trapped_ion")],
    )
    assert (
        system_kind(mixed) == "default" and system_num_qubits(mixed) == 7 and is_operational(mixed)
    )
    assert not is_operational(_system("down", "trapped_ion", status="maintenance"))
    assert system_num_qubits(QPUSystem(name="empty")) == 0 and not is_operational(
        QPUSystem(name="empty")
    )
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


_TRANSPILE_IN_A_FRESH_PROCESS = """
import sys
from qiskit import QuantumCircuit, qasm2, transpile
from qiskit_divi.target import simulator_target

target = simulator_target(6)
out = []
for k in range(3):
    qc = QuantumCircuit(3)
    for q in range(3):
        qc.h(q)
        qc.rx(0.3 + 0.1 * k + q, q)
    qc.cx(0, 1); qc.ry(0.7, 1); qc.cx(1, 2); qc.rz(0.4 + k, 2); qc.cx(0, 2); qc.h(2); qc.cx(2, 0)
    for level in (1, 2, 3):
        compiled = transpile(qc, target=target, optimization_level=level, seed_transpiler=11)
        out.append(qasm2.dumps(compiled))
sys.stdout.write("\\n=====\\n".join(out))
"""


def test_seeded_transpile_gives_the_same_circuit_in_every_process():
    """Two-qubit resynthesis picks among equally good gates (crx, cry, cp, rzz, ...) in an
    order that changes per process, unless the target offers it one gate: the simulator
    target offers only cx."""
    import subprocess
    import sys

    outputs = {
        subprocess.run(
            [sys.executable, "-c", _TRANSPILE_IN_A_FRESH_PROCESS],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for _ in range(4)
    }
    assert len(outputs) == 1
    (text,) = outputs
    for gate in ("crx", "cry", "crz", "cp", "cu1", "cu3", "rzz", "rxx"):
        assert f"{gate}(" not in text


def test_simulator_target_keeps_the_two_qubit_gates_a_circuit_has():
    qc = QuantumCircuit(3)
    qc.crx(0.5, 0, 1)
    qc.cu(0.1, 0.2, 0.3, 0.4, 1, 2)
    qc.rzz(0.3, 0, 2)
    qc.swap(0, 1)
    target = build_target(_system("qoro_maestro", "simulator", q_bits=6))
    for level in (0, 1, 2, 3):
        out = transpile(qc, target=target, optimization_level=level, seed_transpiler=1)
        assert Operator.from_circuit(out).equiv(
            Operator(qc)
        )  # from_circuit: an elided swap's permutation
    assert transpile(qc, target=target, optimization_level=0).count_ops() == qc.count_ops()
    assert target.instruction_supported("crx", (0, 1), parameters=[0.25])


def test_emulated_nairobi_target_has_the_coupling_map_the_emulator_simulates():
    from qiskit_ibm_runtime.fake_provider import FakeNairobiV2

    from qiskit_divi import QoroProvider
    from qiskit_divi.emulator.systems import NAIROBI_COUPLING_MAP

    simulated = set(FakeNairobiV2().coupling_map.get_edges())
    assert set(NAIROBI_COUPLING_MAP) == simulated
    with QoroProvider.local() as provider:
        target = provider.get_backend("fake_nairobi").target
    assert set(target.build_coupling_map().get_edges()) == simulated


def test_a_cluster_takes_the_width_of_a_simulator_system_named_like_it_else_maestro():
    maestro, wide, ion = (
        _system("qoro_maestro", "simulator", 24),
        _system("farm", "simulator", 40),
        _system("farm_qpu", "trapped_ion", 50),
    )
    assert cluster_num_qubits(SimulatorCluster("farm"), [maestro, wide, ion]) == 40
    assert cluster_num_qubits(SimulatorCluster("other"), [maestro, wide, ion]) == 24
    # A QPU of the same name says nothing about a simulator cluster.
    assert cluster_num_qubits(SimulatorCluster("farm_qpu"), [ion]) == FALLBACK_SIMULATOR_QUBITS
    assert cluster_num_qubits(SimulatorCluster("qoro_maestro"), []) == FALLBACK_SIMULATOR_QUBITS


def test_a_cluster_target_is_the_simulator_target():
    cluster = build_cluster_target(SimulatorCluster("farm"), 9)
    system = build_target(_system("qoro_maestro", "simulator", 9))
    assert cluster.num_qubits == 9 and cluster.build_coupling_map() is None
    assert set(cluster.operation_names) == set(system.operation_names)
    assert cluster.description == "Qoro simulator cluster farm (simulator, 9 qubits)"
