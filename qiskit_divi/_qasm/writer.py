"""OpenQASM 2 text of flattened circuits, written once and filled in per parameter binding.

The primitives write one circuit per parameter binding, and :func:`qiskit.qasm2.dumps`
re-walks the whole circuit (and rounds every angle through ``pi_check``) each time. A
:class:`QasmTemplate` walks a circuit once, keeps every statement as text with a
slot where a gate argument depends on a parameter, and renders a binding by
formatting only those arguments.

Circuits are written as if flattened onto one register ``q`` and one register
``c`` (qubit ``i`` is ``q[i]``, clbit ``i`` is ``c[i]``). Only circuits whose every
statement ``qasm2.dumps`` would write as a plain ``qelib1.inc`` line are
templated (standard gates, ``measure``, ``reset``, ``barrier``);
:meth:`QasmTemplate.of` returns ``None`` for anything else and callers fall back
to ``qasm2.dumps``.
Numbers are written as ``repr(float)``, which reads back as exactly the same
double: the parsed circuit carries the very angles of the original, where
``qasm2.dumps`` rounds them through ``pi_check``.

:func:`symbolic_qasm` writes the same text with a name in each slot instead (the
template form of ``qoro-api.md`` 3.5, bound by the server).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from typing import NamedTuple

from qiskit import QuantumCircuit, qasm2
from qiskit.circuit import Parameter, ParameterExpression
from qiskit.circuit.library import get_standard_gate_name_mapping

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
_DIRECTIVES = frozenset({"measure", "reset", "barrier"})


@functools.cache
def qasm2_statement_names() -> dict[str, tuple[type, str]]:
    """Qiskit gate name -> (gate class, the statement name ``qasm2.dumps`` writes for it).

    Found by exporting each standard gate alone; gates that need a ``gate`` or
    ``opaque`` definition, or cannot be exported, are left out.
    """
    names: dict[str, tuple[type, str]] = {}
    for name, op in get_standard_gate_name_mapping().items():
        if name in _DIRECTIVES or name in ("delay", "global_phase") or op.num_clbits:
            continue
        probe = QuantumCircuit(op.num_qubits)
        try:
            probe.append(
                op.base_class(*[0.5] * len(op.params)) if op.params else op, range(op.num_qubits)
            )
            lines = qasm2.dumps(probe).splitlines()
        except Exception:  # noqa: BLE001 - any export failure means "not expressible"
            continue
        if any(line.startswith(("gate ", "opaque ")) for line in lines):
            continue
        names[name] = (op.base_class, lines[-1].split("(")[0].split(" ")[0])
    return names


def format_real(value: float) -> str:
    """A finite float as an OpenQASM 2 real literal that reads back as the same double."""
    text = repr(float(value))
    if "." in text:
        return text
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite angle.")
    mantissa, _, exponent = text.partition("e")  # "1e-05": OpenQASM 2 reals need a point
    return f"{mantissa}.0e{exponent}" if exponent else f"{mantissa}.0"


class QasmTemplate:
    """The OpenQASM 2 text of one circuit, with a slot per parameter-dependent gate argument.

    A slot holds the index of a bare parameter in ``circuit.parameters``, or a
    ``(expression, [(parameter, index), ...])`` pair for a parameter expression.
    """

    __slots__ = ("_format", "_slots", "_pick", "num_parameters")

    def __init__(self, format_string: str, slots: list[_Slot], num_parameters: int):
        self._format = format_string
        self._slots = slots
        self.num_parameters = num_parameters
        # When every slot is a bare parameter, a binding's texts are picked by index in one call.
        direct = len(slots) > 1 and all(isinstance(slot, int) for slot in slots)
        self._pick = operator.itemgetter(*slots) if direct else None

    @classmethod
    def of(cls, circuit: QuantumCircuit) -> QasmTemplate | None:
        """The template of ``circuit``, with its bits flattened onto ``q`` and ``c``.

        Qubit ``i`` is written ``q[i]`` and clbit ``i`` ``c[i]`` whatever the circuit's
        registers, as :func:`~qiskit_divi._circuits.flatten_registers` lays them out.
        ``None`` if a statement needs ``qasm2.dumps``.
        """
        known = qasm2_statement_names()
        position = {parameter: i for i, parameter in enumerate(circuit.parameters)}
        qubit = {bit: f"q[{i}]" for i, bit in enumerate(circuit.qubits)}
        clbit = {bit: f"c[{i}]" for i, bit in enumerate(circuit.clbits)}
        slots: list[_Slot] = []
        lines = [HEADER, f"qreg q[{circuit.num_qubits}];\n"]
        if circuit.num_clbits:
            lines.append(f"creg c[{circuit.num_clbits}];\n")
        for instruction in circuit.data:
            # name/params/is_standard_gate() avoid materialising the Python gate object.
            name = instruction.name
            if name == "measure":
                lines.append(
                    f"measure {qubit[instruction.qubits[0]]} -> {clbit[instruction.clbits[0]]};\n"
                )
                continue
            if name in ("reset", "barrier"):
                lines.append(f"{name} {','.join([qubit[q] for q in instruction.qubits])};\n")
                continue
            entry = known.get(name)
            if entry is None:
                return None
            if not instruction.is_standard_gate() and (
                not isinstance(instruction.operation, entry[0]) or instruction.clbits
            ):
                return None
            arguments = [_argument(param, position, slots) for param in instruction.params]
            if None in arguments:
                return None
            texts = [argument for argument in arguments if argument is not None]
            call = f"{entry[1]}({','.join(texts)})" if texts else entry[1]
            lines.append(f"{call} {','.join([qubit[q] for q in instruction.qubits])};\n")
        # Nothing written above contains a brace except the "{}" slots.
        return cls("".join(lines).rstrip("\n"), slots, len(position))

    def render(self, values: Sequence[float] = ()) -> str:
        """The text with ``values`` (one per parameter, in ``circuit.parameters`` order) filled in.

        Raises ``ValueError`` for a wrong number of values or a non-finite angle.
        """
        if len(values) != self.num_parameters:
            raise ValueError(f"Expected {self.num_parameters} parameter values, got {len(values)}.")
        if not self._slots:
            return self._format
        if self._pick is not None:
            texts = list(map(repr, map(float, values)))
            # Every repr with a point is format_real's own answer; others ("1e-05", "inf")
            # take the long way.
            if "".join(texts).count(".") == len(texts):
                return self._format.format(*self._pick(texts))
        return self._format.format(*[format_real(_evaluate(slot, values)) for slot in self._slots])


_Slot = int | tuple[ParameterExpression, list[tuple[Parameter, int]]]


class SymbolicQasm(NamedTuple):
    """A circuit's OpenQASM 2 text with a name where each parameter goes (the template form
    of ``qoro-api.md`` 3.5): not valid QASM until every name is replaced by a number."""

    qasm: str
    parameter_names: tuple[str, ...]
    """The name of each of ``circuit.parameters``, in that order."""


def template_parameter_names(count: int) -> tuple[str, ...]:
    """``t0000``, ``t0001``, ...: fixed width, so no name is a prefix or a part of another
    and a server substituting raw text or whole identifiers reads the same program; no
    QASM word, gate or register name has this shape."""
    width = max(4, len(str(count - 1)))
    return tuple(f"t{i:0{width}d}" for i in range(count))


def symbolic_qasm(circuit: QuantumCircuit) -> SymbolicQasm | None:
    """``circuit`` (flattened as for :meth:`QasmTemplate.of`) as a template: replacing each
    name by ``str(float(value))`` reads back as the circuit ``QasmTemplate.render(values)``
    writes (the same text when every value's ``str`` has a decimal point and every angle
    is a bare parameter).

    An affine parameter expression (``2*theta + 1``, ``a - b/3``) is written as QASM
    arithmetic of the names. ``None`` (callers send the circuit bound) when
    :meth:`QasmTemplate.of` is, when an angle is any other expression, or when a
    parameter appears in no gate argument (only in the global phase, which OpenQASM 2
    cannot write): every name of the template then occurs in its text.
    """
    template = QasmTemplate.of(circuit)
    if template is None:
        return None
    names = template_parameter_names(template.num_parameters)
    texts: list[str] = []
    used: set[int] = set()
    for slot in template._slots:
        if isinstance(slot, int):
            texts.append(names[slot])
            used.add(slot)
            continue
        text = _affine_text(slot, names)
        if text is None:
            return None
        texts.append(text)
        used.update(index for _, index in slot[1])
    if len(used) != len(names):
        return None
    return SymbolicQasm(template._format.format(*texts), names)


def _affine_text(
    slot: tuple[ParameterExpression, list[tuple[Parameter, int]]], names: Sequence[str]
) -> str | None:
    """``c0 + c1*(name1) + ...`` for an expression affine in its parameters, else ``None``.

    Each name is parenthesised so that a substituted negative number stays one operand.
    """
    expression, unordered = slot
    parameters = sorted(unordered, key=lambda pair: pair[1])  # the same text on every run
    terms: list[str] = []
    try:
        origin = _real(expression.bind({p: 0.0 for p, _ in parameters}))
        coefficients = []
        for parameter, index in parameters:
            gradient = expression.gradient(parameter)
            if isinstance(gradient, ParameterExpression):
                if gradient.parameters:
                    return None  # the angle is not affine in this parameter
                gradient = gradient.numeric()
            coefficients.append(_real(gradient))
            factor = coefficients[-1]
            terms.append(
                f"({names[index]})" if factor == 1 else f"{_operand(factor)}*({names[index]})"
            )
        # Defensive: the affine form must reproduce the expression away from the origin.
        probe = {p: 0.5 + 0.25 * k for k, (p, _) in enumerate(parameters)}
        expected = _real(expression.bind(probe))
        got = origin + sum(c * v for c, v in zip(coefficients, probe.values(), strict=True))
        if not math.isclose(expected, got, rel_tol=1e-12, abs_tol=1e-12):
            return None
        if origin:
            terms.insert(0, format_real(origin))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return "+".join(terms)


def _real(value: object) -> float:
    """A finite real number, else ``ValueError``."""
    if isinstance(value, ParameterExpression):
        value = value.numeric()
    if isinstance(value, complex):
        if value.imag:
            raise ValueError("complex")
        value = value.real
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


def _operand(value: float) -> str:
    """A literal usable as one factor: negative ones in parentheses."""
    text = format_real(value)
    return f"({text})" if value < 0 else text


def _argument(param: object, position: dict[Parameter, int], slots: list[_Slot]) -> str | None:
    """A gate argument's text: a literal, or ``{}`` with its slot appended.

    ``None`` if the argument cannot be written as an OpenQASM 2 real.
    """
    if isinstance(param, ParameterExpression):
        if param.parameters:
            if isinstance(param, Parameter):
                slots.append(position[param])
            else:
                slots.append((param, [(p, position[p]) for p in param.parameters]))
            return "{}"
        param = param.numeric()
    try:
        return format_real(param)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # complex, non-finite, not a number: qasm2.dumps decides
        return None


def _evaluate(slot: _Slot, values: Sequence[float]) -> float:
    if isinstance(slot, int):
        return values[slot]
    expression, parameters = slot
    value = expression.bind({parameter: values[index] for parameter, index in parameters}).numeric()
    if isinstance(value, complex):
        if value.imag:
            raise ValueError(
                f"Parameter expression {expression} is complex ({value}) for these values."
            )
        value = value.real
    return float(value)
