"""Circuit validation, serialisation and counts decoding shared by the backend and primitives.

The path of a circuit to the service and of its counts back:

1. :func:`validate_circuit` checks it against the backend's ``Target`` (width,
   instructions, bound parameters, classical bits) so a bad circuit fails
   before any job exists.
2. It is written as if :func:`flatten_registers` had rewritten it onto ONE quantum
   register ``q`` and ONE classical register ``c`` (``c[i]`` is the circuit's ``clbits[i]``), so the
   bit order of the service's counts does not depend on how it would format
   several registers (``qoro-api.md`` section 6).
3. :func:`to_qasm` serialises that as OpenQASM 2 (:mod:`._qasm.writer`, falling back
   to :func:`qiskit.qasm2.dumps`); :func:`bound_qasm` does so for every parameter
   binding of a PUB, writing the circuit's text only once.
4. :func:`experiment_header` (an :class:`ExperimentHeader`) keeps what is needed to
   split the counts back: the register layout exactly as qiskit-aer reports it (``creg_sizes``,
   ``memory_slots``, ...), so :meth:`qiskit.result.Result.get_counts` formats
   Qoro counts the way it formats Aer's.
5. :func:`counts_to_hex` turns the service's full-width bitstrings (``c[0]``
   rightmost) into the ``0x..`` memory-slot keys of a ``Result``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit, qasm2
from qiskit.circuit import ClassicalRegister, ControlFlowOp, QuantumRegister
from qiskit.transpiler import Target

from ._qasm import QasmTemplate
from .api.errors import QoroInputError, QoroProtocolError

if TYPE_CHECKING:
    from qiskit.primitives.containers.bindings_array import BindingsArray

logger = logging.getLogger(__name__)

ALWAYS_SUPPORTED = frozenset({"barrier"})
"""Directives every Qoro target accepts on any qubits."""

LABEL_PREFIX = "circuit_"
_LABEL_RE = re.compile(rf"^{LABEL_PREFIX}(\d+)$")


def circuit_label(index: int) -> str:
    """The Qoro label of the ``index``-th circuit of a job (unique within the job)."""
    return f"{LABEL_PREFIX}{index}"


def label_sort_key(label: str) -> tuple[int, int | str]:
    """Order ``circuit_<i>`` labels numerically, anything else after them by text."""
    match = _LABEL_RE.match(label)
    return (0, int(match.group(1))) if match else (1, label)


def as_circuit_list(circuits: Any, what: str = "run") -> list[QuantumCircuit]:
    """A single circuit or a sequence of them, as a non-empty list (else ``QoroInputError``)."""
    if isinstance(circuits, QuantumCircuit):
        return [circuits]
    if isinstance(circuits, (str, bytes)) or not isinstance(circuits, Sequence):
        raise QoroInputError(
            f"{what}() takes a QuantumCircuit or a list of them, got {type(circuits).__name__}."
        )
    out = list(circuits)
    if not out:
        raise QoroInputError(f"{what}() got no circuits: pass at least one QuantumCircuit.")
    for i, circuit in enumerate(out):
        if not isinstance(circuit, QuantumCircuit):
            raise QoroInputError(
                f"{what}() takes QuantumCircuits; item {i} is a {type(circuit).__name__}."
            )
    return out


def _describe(circuit: QuantumCircuit, index: int) -> str:
    return f"circuit {index} ('{circuit.name}')"


def validate_circuit(
    circuit: QuantumCircuit, index: int, target: Target, backend_name: str
) -> None:
    """Raise :class:`QoroInputError` unless ``circuit`` can run as is on ``target``.

    Checks, in order: width, unbound parameters, classical bits, then every
    instruction (name and qubits) against the target.
    """
    where = _describe(circuit, index)
    width = target.num_qubits or 0
    if circuit.num_qubits > width:
        raise QoroInputError(
            f"{where} uses {circuit.num_qubits} qubits but backend '{backend_name}' has only "
            f"{width} qubits."
        )
    if circuit.parameters:
        names = ", ".join(sorted(p.name for p in circuit.parameters)[:5])
        raise QoroInputError(
            f"{where} has unbound parameters ({names}); bind them with "
            "circuit.assign_parameters(...) before running it."
        )
    if circuit.num_clbits == 0:
        raise QoroInputError(
            f"{where} has no classical bits, so a sampling job would return nothing for it; "
            "measure it first (e.g. circuit.measure_all())."
        )
    for instruction in circuit.data:
        op = instruction.operation
        name = op.name
        if name in ALWAYS_SUPPORTED:
            continue
        if isinstance(op, ControlFlowOp):
            raise QoroInputError(
                f"{where} contains '{name}': classical control flow cannot be expressed in "
                f"OpenQASM 2, which backend '{backend_name}' runs. Remove it from the circuit."
            )
        if name == "delay":
            raise QoroInputError(
                f"{where} contains a delay, which OpenQASM 2 cannot carry and backend "
                f"'{backend_name}' does not run. Remove the delays from the circuit."
            )
        qargs = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        if not target.instruction_supported(name, qargs):
            on = f" on qubits {qargs}" if name in target.operation_names else ""
            raise QoroInputError(
                f"{where} contains '{name}'{on}, which backend '{backend_name}' does not support. "
                f"Run transpile(circuit, backend) first to rewrite it into the backend's gates "
                f"({', '.join(sorted(target.operation_names))})."
            )


def flatten_registers(circuit: QuantumCircuit) -> QuantumCircuit:
    """The same circuit on one register ``q`` and one register ``c``.

    Qubit ``i`` becomes ``q[i]`` and clbit ``i`` becomes ``c[i]`` (indices in
    ``circuit.qubits`` / ``circuit.clbits``); global phase and name are kept.
    """
    flat = QuantumCircuit(
        QuantumRegister(circuit.num_qubits, "q"),
        ClassicalRegister(circuit.num_clbits, "c"),
        name=circuit.name,
    )
    # compose() carries the global phase over.
    return flat.compose(
        circuit,
        qubits=list(range(circuit.num_qubits)),
        clbits=list(range(circuit.num_clbits)),
        copy=False,
    )


def to_qasm(circuit: QuantumCircuit, index: int = 0) -> str:
    """OpenQASM 2 text of a (validated, bound) circuit laid out by :func:`flatten_registers`.

    Export failures become input errors.
    """
    template = QasmTemplate.of(circuit)
    if template is not None and not template.num_parameters:
        return template.render()
    return _dumps(flatten_registers(circuit), index)


def _dumps(circuit: QuantumCircuit, index: int) -> str:
    try:
        return str(qasm2.dumps(circuit))
    except qasm2.QASM2ExportError as exc:
        raise QoroInputError(
            f"{_describe(circuit, index)} cannot be written as OpenQASM 2: {exc}"
        ) from exc


def bound_qasm(circuit: QuantumCircuit, bindings: BindingsArray, index: int = 0) -> list[str]:
    """OpenQASM 2 text of ``circuit`` (laid out by :func:`flatten_registers`) under each binding
    of ``bindings``, in flat (C) order."""
    template = QasmTemplate.of(circuit)
    if template is None:
        return [
            _dumps(bound, index) for bound in bindings.bind_all(flatten_registers(circuit)).flat
        ]
    if not template.num_parameters:
        return [template.render()] * bindings.size
    rows = bindings.as_array(circuit.parameters).reshape(-1, template.num_parameters).tolist()
    try:
        return [template.render(row) for row in rows]
    except ValueError as exc:
        raise QoroInputError(
            f"{_describe(circuit, index)} cannot be bound: {exc} Pass finite parameter values."
        ) from exc


def json_safe(value: Any, default: Any = None) -> Any:
    """``value`` if JSON can carry it (it is journaled), else ``default``."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return default
    return value


@dataclass(frozen=True)
class ExperimentHeader:
    """The header of one experiment of a Qiskit ``Result``, as qiskit-aer reports it, plus the
    Qoro ``label``.

    ``memory_slots`` is the number of clbits (slot ``i`` is ``clbits[i]``) and ``creg_sizes``
    the registers in circuit order: exactly what ``Result.get_counts`` needs to print several
    registers space-separated, as it does for Aer. Fields that are ``None`` are not known (a
    job retrieved without its journal entry) and are left out of :meth:`to_dict`.
    """

    name: str
    label: str
    memory_slots: int
    creg_sizes: tuple[tuple[str, int], ...]
    metadata: Mapping[str, Any]
    n_qubits: int | None = None
    qreg_sizes: tuple[tuple[str, int], ...] | None = None
    global_phase: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The header as ``Result`` and the journal take it (JSON types, Aer's key order)."""
        out: dict[str, Any] = {"name": self.name, "label": self.label}
        if self.n_qubits is not None:
            out["n_qubits"] = self.n_qubits
        if self.qreg_sizes is not None:
            out["qreg_sizes"] = [[name, size] for name, size in self.qreg_sizes]
        out["memory_slots"] = self.memory_slots
        out["creg_sizes"] = [[name, size] for name, size in self.creg_sizes]
        if self.global_phase is not None:
            out["global_phase"] = self.global_phase
        out["metadata"] = dict(self.metadata)
        return out


def experiment_header(circuit: QuantumCircuit, label: str) -> ExperimentHeader:
    """The header qiskit-aer would report for ``circuit``, plus the Qoro ``label``.

    Circuit metadata is kept when it is JSON-serialisable (it is journaled).
    """
    metadata = json_safe(dict(circuit.metadata or {}))
    if metadata is None:
        logger.debug(
            "Metadata of circuit '%s' is not JSON-serialisable; it is left out of the result.",
            circuit.name,
        )
        metadata = {}
    try:
        global_phase = float(circuit.global_phase)
    except TypeError:  # a parameterised phase: the circuit is bound before it runs
        global_phase = 0.0
    return ExperimentHeader(
        name=circuit.name,
        label=label,
        n_qubits=circuit.num_qubits,
        qreg_sizes=tuple((reg.name, reg.size) for reg in circuit.qregs),
        memory_slots=circuit.num_clbits,
        creg_sizes=tuple((reg.name, reg.size) for reg in circuit.cregs),
        global_phase=global_phase,
        metadata=metadata,
    )


def label_only_header(label: str, counts: Mapping[str, int]) -> dict[str, Any]:
    """Header (as a dict) for a result whose circuit is unknown (no journal entry): one
    register ``c`` as wide as the widest key."""
    width = max((len(key.replace(" ", "")) for key in counts), default=0)
    return ExperimentHeader(
        name=label,
        label=label,
        memory_slots=width,
        creg_sizes=(("c", width),) if width else (),
        metadata={},
    ).to_dict()


def counts_to_hex(counts: Mapping[str, int], memory_slots: int, label: str = "") -> dict[str, int]:
    """Service counts (full-width bitstrings, ``c[0]`` rightmost) as ``{"0x..": n}``.

    Spaces are ignored; a key wider than ``memory_slots`` is a protocol error.
    """
    out: dict[str, int] = {}
    limit = 1 << memory_slots
    for key, value in counts.items():
        bits = key.replace(" ", "")
        try:
            number = int(bits, 2) if bits else 0
        except ValueError:
            raise QoroProtocolError(
                f"Malformed server reply: counts of circuit '{label}' have the non-binary key "
                f"{key!r}."
            ) from None
        if number >= limit:
            raise QoroProtocolError(
                f"Malformed server reply: counts of circuit '{label}' have the key {key!r}, "
                f"wider than its {memory_slots} classical bits."
            )
        hex_key = hex(number)
        out[hex_key] = out.get(hex_key, 0) + int(value)
    return out


@dataclass(frozen=True)
class PreparedCircuit:
    """A validated circuit ready for a job: its label, QASM text and result header."""

    label: str
    qasm: str
    experiment: ExperimentHeader

    @property
    def header(self) -> dict[str, Any]:
        """:attr:`experiment` as the dict ``Result`` and the journal take."""
        return self.experiment.to_dict()


def prepare_circuits(
    circuits: Sequence[QuantumCircuit], target: Target, backend_name: str
) -> list[PreparedCircuit]:
    """Validate every circuit first, then flatten and serialise them, labelled ``circuit_<i>``.

    Nothing is sent anywhere: any :class:`QoroInputError` is raised before a job exists.
    """
    for index, circuit in enumerate(circuits):
        validate_circuit(circuit, index, target, backend_name)
    prepared = []
    for index, circuit in enumerate(circuits):
        label = circuit_label(index)
        prepared.append(
            PreparedCircuit(
                label=label,
                qasm=to_qasm(circuit, index),
                experiment=experiment_header(circuit, label),
            )
        )
    return prepared
