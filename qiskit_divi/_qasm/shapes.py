"""OpenQASM 2 texts parsed once per *shape*, bound per text.

Parameter sweeps (a primitive's bindings, a VQE iteration's circuits) produce many
QASM texts that differ only in their gate angles. :class:`ShapeParser` parses the
first text of each shape (the text with its real literals taken out), turns the
parsed circuit into a *skeleton* whose angles are parameters, and represents every
later text of that shape as the skeleton plus its angles: binding them costs a
fraction of a parse.

A shape is only shared when the parse proves it safe: the parsed circuit's
instruction parameters, in order, must be exactly the literals of the text, in
order (one gate per statement, no ``gate`` definitions, no expressions such as
``pi/2``). Anything else is parsed text by text. Used by the emulator and by
``ParallelSimulator``, each with its own :func:`~qiskit_divi._qasm.loader.load` options.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

_ARGUMENTS = re.compile(r"\(([^()]*)\)")
_GATE_NAME_END = re.compile(r"(?:^|[;{}\s])[A-Za-z_][A-Za-z0-9_]*\s*$")
"""What must precede an argument list: a statement's gate name (an identifier that starts
the statement), maybe followed by spaces; not a function such as ``sin``."""
_REAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True, eq=False)
class ShapedCircuit:
    """A parsed skeleton and the angles that bind it (none if it has no parameters)."""

    skeleton: QuantumCircuit
    values: tuple[float, ...] = ()

    @property
    def num_qubits(self) -> int:
        return int(self.skeleton.num_qubits)

    @property
    def num_clbits(self) -> int:
        return int(self.skeleton.num_clbits)

    def bound(self) -> QuantumCircuit:
        """The circuit with its angles in place (the skeleton itself when it has no parameters)."""
        if not self.values:
            return self.skeleton
        return self.skeleton.assign_parameters(self.values)


def shape_of(qasm: str) -> tuple[str, tuple[float, ...]] | None:
    """The text with its argument literals cut out, and those literals.

    ``None`` if an argument is not a literal, or if a parenthesised group is not a gate's
    whole argument list (``rx(2*(0.5))``, ``rx(-(0.5))``): a literal inside an expression
    is not the gate's parameter, and the parse check of :func:`skeleton_of` cannot tell
    them apart when the expression happens to equal it (``2*(0.0)`` is ``0.0``).
    """
    pieces = _ARGUMENTS.split(qasm)
    values: list[float] = []
    for i in range(1, len(pieces), 2):
        if not _GATE_NAME_END.search(pieces[i - 1]):
            return None
        arguments = pieces[i].split(",")
        for argument in arguments:
            literal = argument.strip()
            if not _REAL.fullmatch(literal):
                return None
            values.append(float(literal))
        pieces[i] = str(len(arguments))
    return "\0".join(pieces), tuple(values)


def skeleton_of(circuit: QuantumCircuit, values: tuple[float, ...]) -> QuantumCircuit | None:
    """``circuit`` with its instruction parameters replaced by fresh ones.

    ``None`` unless those parameters are exactly ``values``, in order.
    """
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


class ShapeParser:
    """Parses QASM with ``load``, sharing skeletons among texts of one shape.

    The skeletons are a bounded LRU cache, safe to share between threads. ``load`` is
    called once per shape (and once per text for texts that cannot share); whatever it
    raises propagates, and invalid texts are not cached. :attr:`loads` counts the calls.
    """

    def __init__(self, load: Callable[[str], QuantumCircuit], max_shapes: int = 256):
        self._parse_text = load
        self._max_shapes = max_shapes
        self._skeletons: OrderedDict[str, QuantumCircuit | None] = OrderedDict()
        self._lock = threading.Lock()
        self._loads = 0

    @property
    def loads(self) -> int:
        """How many times ``load`` has been called (what sharing a shape saves is visible)."""
        return self._loads

    def _load(self, qasm: str) -> QuantumCircuit:
        with self._lock:
            self._loads += 1
        return self._parse_text(qasm)

    def parse(self, qasm: str) -> ShapedCircuit:
        """The circuit of a QASM text, as a skeleton and its angles."""
        shape = shape_of(qasm)
        if shape is None:
            return ShapedCircuit(self._load(qasm))
        key, values = shape
        with self._lock:
            known = key in self._skeletons
            skeleton = self._skeletons.get(key)
            if known:
                self._skeletons.move_to_end(key)
        if known:
            return (
                ShapedCircuit(self._load(qasm))
                if skeleton is None
                else ShapedCircuit(skeleton, values)
            )
        circuit = self._load(qasm)
        skeleton = skeleton_of(circuit, values) if values else circuit
        with self._lock:
            self._skeletons[key] = skeleton
            if len(self._skeletons) > self._max_shapes:
                self._skeletons.popitem(last=False)
        if skeleton is None or skeleton is circuit:
            return ShapedCircuit(circuit)
        return ShapedCircuit(skeleton, values)

    def clear(self) -> None:
        """Forget every shape."""
        with self._lock:
            self._skeletons.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._skeletons)
