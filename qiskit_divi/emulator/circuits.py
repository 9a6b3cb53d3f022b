"""Uploaded circuits: parsed once per shape, bound per circuit.

The emulator parses uploads with :class:`qiskit_divi._qasm.ShapeParser` (one parse
per shape of text, see there), and the simulators then run one skeleton with all its
angle sets as Aer ``parameter_binds`` instead of parsing, assembling and running each
circuit on its own. Circuits bound from a template (:mod:`.templates`) are parsed the
same way, so they share this path and its safeguards (Aer binds only what
:func:`~.systems.binds_safely` allows).
"""

from __future__ import annotations

from functools import partial

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from .._qasm import ShapedCircuit, ShapeParser, load

JobCircuit = ShapedCircuit
"""One circuit of a job: a parsed skeleton and the angles that bind it."""


class QasmSyntaxError(ValueError):
    """A text is not valid OpenQASM 2.0 (the message is the parser's)."""


def parameter_binds(
    skeleton: QuantumCircuit, circuits: list[JobCircuit]
) -> dict[Parameter, list[float]]:
    """Aer ``parameter_binds`` of ``skeleton`` (or a copy with the same parameters).

    Maps each parameter to one value per circuit using it, in ``skeleton.parameters``
    order (which :meth:`JobCircuit.bound` uses too).
    """
    return {
        parameter: [c.values[i] for c in circuits]
        for i, parameter in enumerate(skeleton.parameters)
    }


def group_by_skeleton(circuits: list[JobCircuit]) -> list[tuple[QuantumCircuit, list[int]]]:
    """``(skeleton, positions)`` per distinct skeleton, in order of first appearance."""
    groups: dict[int, tuple[QuantumCircuit, list[int]]] = {}
    for position, circuit in enumerate(circuits):
        groups.setdefault(id(circuit.skeleton), (circuit.skeleton, []))[1].append(position)
    return list(groups.values())


class CircuitParser(ShapeParser):
    """Parses uploaded QASM, sharing skeletons among texts of one shape.

    Raises :class:`QasmSyntaxError` for invalid text.
    """

    def __init__(self, max_shapes: int = 256):
        super().__init__(partial(load, error=QasmSyntaxError), max_shapes)
