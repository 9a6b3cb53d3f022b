"""Build a Qiskit :class:`~qiskit.transpiler.Target` for a Qoro system.

The Qoro API describes a system only by its QPUs (``nickname``, ``q_bits``,
``status``, ``system_kind``; ``qoro-api.md`` section 3.2); it sends no basis
gates, coupling map or calibration. The targets are therefore synthesised from
the qubit count plus the assumptions in :data:`NATIVE_GATES` below, using public
Qiskit APIs only.

Every gate of every target is one that :func:`qiskit.qasm2.dumps` writes as a
plain ``qelib1.inc`` statement, so whatever ``transpile(circuit, backend)``
produces, at any optimisation level, serialises to OpenQASM 2 the service reads.

Native gate sets, one row per ``system_kind``
=============================================

================  ==========================  ===========  ====================================
system_kind       1-qubit gates               2-qubit      connectivity
================  ==========================  ===========  ====================================
simulator         every standard gate that    (all of      all-to-all (global instructions, no
                  ``qasm2.dumps`` emits as    qelib1)      coupling map: nothing is routed)
                  a ``qelib1.inc`` statement
superconducting   rz, sx, x                   cz           from the server when it sends a
                                                           ``coupling_map``, else all-to-all
trapped_ion       rx, ry, rz                  rxx (MS)     all-to-all
neutral_atom      rx, ry, rz                  cz           from the server, else all-to-all
(anything else)   rz, sx, x                   cx           from the server, else all-to-all
================  ==========================  ===========  ====================================

A **simulator cluster** (``GET simulatorcluster/``, ``qoro-api.md`` 3.3) is a
simulator and gets the simulator row. The API sends no qubit count for a cluster, so
its width is :func:`cluster_num_qubits`: that of the simulator system of the same
name when the server lists one, else that of ``qoro_maestro`` when listed, else
:data:`FALLBACK_SIMULATOR_QUBITS`.

Every target also has ``measure``, ``reset`` and ``barrier``. ``delay`` is left
out on purpose: OpenQASM 2 cannot carry it (``qasm2.dumps`` would declare it
``opaque``), and neither can classical control flow.

Error rates and durations (:data:`NOMINAL_PROPERTIES`) are **nominal**, typical
published figures for the technology, not calibration data of any Qoro device:
the API exposes none. They only steer the transpiler's layout scoring; the
simulator target carries no properties at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qiskit.circuit import Barrier, Gate, Measure, Reset
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.transpiler import InstructionProperties, Target

from ._qasm import qasm2_statement_names
from .api.models import QPUSystem, SimulatorCluster

logger = logging.getLogger(__name__)

SIMULATOR_KIND = "simulator"
DEFAULT_KIND = "default"

SIMULATOR_SYSTEM_NAMES = frozenset({"qoro_maestro"})
"""Systems known to be simulators even when their QPU entries do not say so."""

SIMULATOR_SYNTHESIS_GATE = "cx"
"""The one two-qubit gate the transpiler may synthesise into on a simulator target."""

FALLBACK_SIMULATOR_QUBITS = 32
"""Width assumed for a simulator system that lists no QPUs (so no ``q_bits``), and for a
simulator cluster when no system tells its width."""

REFERENCE_SIMULATOR_NAME = "qoro_maestro"
"""The system whose width a simulator cluster takes when no system shares its name."""

OPERATIONAL_QPU_STATUSES = frozenset(
    {"active", "online", "available", "operational", "idle", "ready"}
)
"""QPU ``status`` values (case-insensitive) that count as able to take jobs."""


@dataclass(frozen=True)
class NativeGateSet:
    """One row of the native gate table: gate names and nominal figures."""

    one_qubit: tuple[str, ...]
    two_qubit: str


NATIVE_GATES: dict[str, NativeGateSet] = {
    "superconducting": NativeGateSet(one_qubit=("rz", "sx", "x"), two_qubit="cz"),
    "trapped_ion": NativeGateSet(one_qubit=("rx", "ry", "rz"), two_qubit="rxx"),
    "neutral_atom": NativeGateSet(one_qubit=("rx", "ry", "rz"), two_qubit="cz"),
    DEFAULT_KIND: NativeGateSet(one_qubit=("rz", "sx", "x"), two_qubit="cx"),
}
"""The native gate table of the module docstring (simulators are handled apart)."""


@dataclass(frozen=True)
class NominalProperties:
    """Nominal error rates and durations (seconds) of one technology."""

    error_1q: float
    duration_1q: float
    error_2q: float
    duration_2q: float
    error_readout: float
    duration_readout: float
    duration_reset: float


NOMINAL_PROPERTIES: dict[str, NominalProperties] = {
    # Transmons: ~35 ns single-qubit pulses, ~100 ns CZ, ~1 us readout. rz is virtual.
    "superconducting": NominalProperties(2.5e-4, 3.5e-8, 5e-3, 1e-7, 1.5e-2, 1.2e-6, 1.5e-6),
    # Trapped ions: ~10 us single-qubit, ~200 us Molmer-Sorensen, ~100 us readout.
    "trapped_ion": NominalProperties(2e-4, 1e-5, 4e-3, 2e-4, 4e-3, 1e-4, 5e-5),
    # Neutral atoms: ~1 us single-qubit, ~0.5 us CZ, ~1 ms imaging.
    "neutral_atom": NominalProperties(1e-3, 1e-6, 5e-3, 5e-7, 1e-2, 1e-3, 1e-4),
}
"""Nominal figures per kind; unknown kinds get no properties (honestly unknown)."""

VIRTUAL_GATES = frozenset({"rz"})
"""Gates implemented in software on superconducting hardware (no error, no time)."""


def qasm2_standard_gates() -> tuple[str, ...]:
    """Standard gates that ``qasm2.dumps`` writes as a plain ``qelib1.inc`` statement.

    Found once by exporting each gate of :func:`get_standard_gate_name_mapping`
    alone (:func:`qiskit_divi._qasm.qasm2_statement_names`): a gate whose export needs a
    ``gate``/``opaque`` definition (``ecr``, ``iswap``, ``rzx``, ...) or fails
    (``global_phase``, ``delay``) is left out.
    """
    return tuple(sorted(qasm2_statement_names()))


# --- reading a QPUSystem --------------------------------------------------------


def system_kinds(system: QPUSystem) -> set[str]:
    """The distinct ``system_kind`` values of a system's QPUs (lower case)."""
    return {qpu.system_kind.strip().lower() for qpu in system.qpus}


def is_simulator(system: QPUSystem) -> bool:
    """Whether a system is a simulator: named as one, or every QPU says ``simulator``."""
    if system.name in SIMULATOR_SYSTEM_NAMES:
        return True
    kinds = system_kinds(system)
    return bool(kinds) and kinds == {SIMULATOR_KIND}


def system_kind(system: QPUSystem) -> str:
    """The row of :data:`NATIVE_GATES` that applies: ``simulator``, a known kind, or ``default``.

    A system whose QPUs have different kinds gets the default row (the service
    decides which QPU runs a job).
    """
    if is_simulator(system):
        return SIMULATOR_KIND
    kinds = system_kinds(system)
    if len(kinds) == 1:
        (kind,) = kinds
        if kind in NATIVE_GATES:
            return kind
    return DEFAULT_KIND


def system_num_qubits(system: QPUSystem) -> int:
    """Widest QPU of the system (the service routes a job to a QPU that fits)."""
    if system.qpus:
        return max(qpu.q_bits for qpu in system.qpus)
    return FALLBACK_SIMULATOR_QUBITS if is_simulator(system) else 0


def is_operational(system: QPUSystem) -> bool:
    """True when at least one QPU reports an operational status (simulators without QPUs too)."""
    if not system.qpus:
        return is_simulator(system)
    return any(qpu.status.strip().lower() in OPERATIONAL_QPU_STATUSES for qpu in system.qpus)


def system_coupling_map(system: QPUSystem) -> list[tuple[int, int]] | None:
    """Directed edges the server sent for the system, when every QPU agrees on one; else None."""
    maps = {qpu.coupling_map for qpu in system.qpus}
    if len(maps) != 1:
        return None
    (edges,) = maps
    return [(a, b) for a, b in edges] if edges else None


# --- building targets -----------------------------------------------------------


def _gate(name: str) -> Gate:
    return get_standard_gate_name_mapping()[name]


def _all_pairs(num_qubits: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(num_qubits) for b in range(num_qubits) if a != b]


def simulator_target(num_qubits: int, *, description: str | None = None) -> Target:
    """Every ``qelib1.inc`` standard gate, measure, reset, barrier; all-to-all.

    Instructions are global (no qargs), so the target has no coupling map and
    the transpiler neither routes nor widens circuits: building it and
    transpiling for it stay fast for any width. Two-qubit blocks that the
    optimiser resynthesises become :data:`SIMULATOR_SYNTHESIS_GATE` gates, so
    ``transpile(circuit, backend, seed_transpiler=s)`` gives the same circuit in
    every process; two-qubit gates the circuit already has are kept.
    """
    target = Target(description=description, num_qubits=num_qubits)
    for name in qasm2_standard_gates():
        gate = _gate(name)
        if gate.num_qubits == 2 and name != SIMULATOR_SYNTHESIS_GATE:
            # Registered as a class (any parameters): supported wherever a circuit uses it, but
            # never a candidate of two-qubit synthesis, which otherwise picks among equally good
            # gates in an order that changes from process to process.
            target.add_instruction(type(gate), name=name)
        else:
            target.add_instruction(gate, name=name)
    target.add_instruction(Measure())
    target.add_instruction(Reset())
    target.add_instruction(Barrier, name="barrier")
    return target


def qpu_target(
    num_qubits: int,
    kind: str,
    *,
    coupling_map: Sequence[tuple[int, int]] | None = None,
    description: str | None = None,
) -> Target:
    """The native gates of ``kind`` (a key of :data:`NATIVE_GATES`) on explicit qubits.

    Two-qubit gates act on ``coupling_map`` edges (made symmetric, since the
    native gates listed are symmetric or cheaply reversible) or on every pair.
    """
    gates = NATIVE_GATES.get(kind, NATIVE_GATES[DEFAULT_KIND])
    nominal = NOMINAL_PROPERTIES.get(kind)
    edges = _valid_edges(coupling_map, num_qubits) if coupling_map else _all_pairs(num_qubits)
    qubits = [(q,) for q in range(num_qubits)]

    def props(error: float, duration: float) -> InstructionProperties | None:
        return InstructionProperties(error=error, duration=duration) if nominal else None

    target = Target(description=description, num_qubits=num_qubits)
    for name in gates.one_qubit:
        if nominal and kind == "superconducting" and name in VIRTUAL_GATES:
            one = {q: InstructionProperties(error=0.0, duration=0.0) for q in qubits}
        else:
            one = {
                q: props(nominal.error_1q, nominal.duration_1q) if nominal else None for q in qubits
            }
        target.add_instruction(_gate(name), one, name=name)
    target.add_instruction(
        _gate(gates.two_qubit),
        {edge: props(nominal.error_2q, nominal.duration_2q) if nominal else None for edge in edges},
        name=gates.two_qubit,
    )
    target.add_instruction(
        Measure(),
        {
            q: props(nominal.error_readout, nominal.duration_readout) if nominal else None
            for q in qubits
        },
    )
    target.add_instruction(
        Reset(), {q: props(0.0, nominal.duration_reset) if nominal else None for q in qubits}
    )
    target.add_instruction(Barrier, name="barrier")
    return target


def _valid_edges(coupling_map: Iterable[tuple[int, int]], num_qubits: int) -> list[tuple[int, int]]:
    edges: set[tuple[int, int]] = set()
    for a, b in coupling_map:
        if 0 <= a < num_qubits and 0 <= b < num_qubits and a != b:
            edges.add((a, b))
            edges.add((b, a))
        else:
            logger.warning(
                "Ignoring coupling-map edge (%s, %s) outside a %d-qubit system.", a, b, num_qubits
            )
    return sorted(edges)


def cluster_num_qubits(cluster: SimulatorCluster, systems: Sequence[QPUSystem]) -> int:
    """Width of a simulator cluster: clusters carry no ``q_bits`` on the wire, so the width
    of the simulator system of the same name, else of ``qoro_maestro``, else
    :data:`FALLBACK_SIMULATOR_QUBITS`."""
    by_name = {s.name: s for s in systems if is_simulator(s)}
    for name in (cluster.name, REFERENCE_SIMULATOR_NAME):
        if name in by_name:
            return system_num_qubits(by_name[name])
    return FALLBACK_SIMULATOR_QUBITS


def build_cluster_target(cluster: SimulatorCluster, num_qubits: int) -> Target:
    """The :class:`Target` of a simulator cluster: the simulator row, ``num_qubits`` wide."""
    description = f"Qoro simulator cluster {cluster.name} ({SIMULATOR_KIND}, {num_qubits} qubits)"
    return simulator_target(num_qubits, description=description)


def build_target(system: QPUSystem) -> Target:
    """The :class:`Target` of a Qoro system (see the module docstring for the rules)."""
    num_qubits = system_num_qubits(system)
    kind = system_kind(system)
    description = f"Qoro system {system.name} ({kind}, {num_qubits} qubits)"
    if kind == SIMULATOR_KIND:
        return simulator_target(num_qubits, description=description)
    return qpu_target(
        num_qubits, kind, coupling_map=system_coupling_map(system), description=description
    )


__all__ = [
    "FALLBACK_SIMULATOR_QUBITS",
    "NATIVE_GATES",
    "NOMINAL_PROPERTIES",
    "NativeGateSet",
    "NominalProperties",
    "build_cluster_target",
    "build_target",
    "cluster_num_qubits",
    "is_operational",
    "is_simulator",
    "qasm2_standard_gates",
    "qpu_target",
    "simulator_target",
    "system_coupling_map",
    "system_kind",
    "system_num_qubits",
]
