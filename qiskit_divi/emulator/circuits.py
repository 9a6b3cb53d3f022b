"""Uploaded circuits: parsed once per shape, bound per circuit.

Clients sweeping parameters upload many QASM texts that differ only in their
gate angles (a primitive with 100 parameter bindings uploads 100 of them).
:class:`CircuitParser` parses the first text of each *shape* (the text with its
real literals taken out) with ``qiskit.qasm2.loads``, turns the parsed circuit
into a *skeleton* whose angles are parameters, and represents every later text of
that shape as the skeleton plus its angles. The simulators then run one skeleton
with all its angle sets as Aer ``parameter_binds`` instead of parsing, assembling
and running each circuit on its own.

A shape is only shared when the parse proves it safe: the parsed circuit's
instruction parameters, in order, must be exactly the literals of the text, in
order (one gate per statement, no ``gate`` definitions, no expressions such as
``pi/2``). Anything else is parsed text by text, as before.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from qiskit import QuantumCircuit, qasm2
from qiskit.circuit import ParameterVector

_ARGUMENTS = re.compile(r"\(([^()]*)\)")
_REAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")


class QasmSyntaxError(ValueError):
    """A text is not valid OpenQASM 2.0 (the message is the parser's)."""


@dataclass(frozen=True, eq=False)
class JobCircuit:
    """One circuit of a job: a parsed skeleton and the angles that bind it (none if it has no parameters)."""

    skeleton: QuantumCircuit
    values: tuple[float, ...] = ()

    @property
    def num_qubits(self) -> int:
        return self.skeleton.num_qubits

    @property
    def num_clbits(self) -> int:
        return self.skeleton.num_clbits

    def bound(self) -> QuantumCircuit:
        """The circuit with its angles in place (the skeleton itself when it has no parameters)."""
        if not self.values:
            return self.skeleton
        return self.skeleton.assign_parameters(self.values)


def parameter_binds(skeleton: QuantumCircuit, circuits: list[JobCircuit]) -> dict[Any, list[float]]:
    """Aer ``parameter_binds`` of ``skeleton`` (or a copy with the same parameters) for the
    circuits using it: parameter -> one value per circuit, in ``skeleton.parameters`` order
    (which :meth:`JobCircuit.bound` uses too)."""
    return {parameter: [c.values[i] for c in circuits] for i, parameter in enumerate(skeleton.parameters)}


def group_by_skeleton(circuits: list[JobCircuit]) -> list[tuple[QuantumCircuit, list[int]]]:
    """``(skeleton, positions)`` per distinct skeleton, in order of first appearance."""
    groups: dict[int, tuple[QuantumCircuit, list[int]]] = {}
    for position, circuit in enumerate(circuits):
        groups.setdefault(id(circuit.skeleton), (circuit.skeleton, []))[1].append(position)
    return list(groups.values())


def _load(qasm: str) -> QuantumCircuit:
    try:
        return qasm2.loads(qasm, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:  # QASM2ParseError, and anything else the parser raises on odd input
        raise QasmSyntaxError(str(exc).strip().strip('"')) from None


def _shape_of(qasm: str) -> tuple[str, tuple[float, ...]] | None:
    """The text with its argument literals cut out, and those literals; ``None`` if an argument is not a literal."""
    pieces = _ARGUMENTS.split(qasm)
    values: list[float] = []
    for i in range(1, len(pieces), 2):
        arguments = pieces[i].split(",")
        for argument in arguments:
            literal = argument.strip()
            if not _REAL.fullmatch(literal):
                return None
            values.append(float(literal))
        pieces[i] = str(len(arguments))
    return "\0".join(pieces), tuple(values)


def _skeleton(circuit: QuantumCircuit, values: tuple[float, ...]) -> QuantumCircuit | None:
    """``circuit`` with its instruction parameters replaced by fresh ones, if they are exactly ``values``."""
    angles = ParameterVector("a", len(values))
    skeleton = circuit.copy_empty_like()
    k = 0
    for instruction in circuit.data:
        op = instruction.operation
        if op.params:
            if k + len(op.params) > len(values):
                return None
            for param in op.params:
                if not isinstance(param, float) or param != values[k]:
                    return None
                k += 1
            op = op.to_mutable()
            op.params = list(angles[k - len(op.params) : k])
        skeleton.append(op, instruction.qubits, instruction.clbits, copy=False)
    return skeleton if k == len(values) else None


class CircuitParser:
    """Parses uploaded QASM, sharing skeletons among texts of one shape (bounded LRU, thread-safe)."""

    def __init__(self, max_shapes: int = 256):
        self._max_shapes = max_shapes
        self._skeletons: OrderedDict[str, QuantumCircuit | None] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, qasm: str) -> JobCircuit:
        """The circuit of a QASM text; raises :class:`QasmSyntaxError` for invalid text."""
        shape = _shape_of(qasm)
        if shape is None:
            return JobCircuit(_load(qasm))
        key, values = shape
        with self._lock:
            known = key in self._skeletons
            skeleton = self._skeletons.get(key)
            if known:
                self._skeletons.move_to_end(key)
        if known:
            return JobCircuit(_load(qasm)) if skeleton is None else JobCircuit(skeleton, values)
        circuit = _load(qasm)
        skeleton = _skeleton(circuit, values) if values else circuit
        with self._lock:
            self._skeletons[key] = skeleton
            if len(self._skeletons) > self._max_shapes:
                self._skeletons.popitem(last=False)
        if skeleton is None or skeleton is circuit:
            return JobCircuit(circuit)
        return JobCircuit(skeleton, values)
