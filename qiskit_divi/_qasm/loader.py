"""The one OpenQASM 2 loader: :func:`qiskit.qasm2.loads` with the options of a named dialect.

Every reader of OpenQASM 2 text in the package calls :func:`load`. Both dialects map
each ``qelib1.inc`` gate to Qiskit's standard gate class (the legacy custom
instructions), so a text written by ``qasm2.dumps`` reads back as the circuit it came
from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qiskit import QuantumCircuit, qasm2

from .scan import included_files


@dataclass(frozen=True)
class Dialect:
    """Which include files and classical functions a text may use besides ``qelib1.inc``.

    ``legacy_include_path``: files are searched in Qiskit's legacy library folder, then
    the working directory (else the working directory only). ``legacy_classical``: the
    functions ``QuantumCircuit.from_qasm_str`` also accepts (``asin``, ``acos``, ``atan``).
    """

    legacy_include_path: bool
    legacy_classical: bool


FROM_QASM_STR = Dialect(legacy_include_path=True, legacy_classical=True)
"""Exactly what ``QuantumCircuit.from_qasm_str`` accepts (divi's ``ParallelSimulator``)."""
LEGACY_GATES = Dialect(legacy_include_path=False, legacy_classical=False)
"""``qasm2.loads`` with the legacy gate classes only (divi's validation, the emulator)."""


def load(
    text: str,
    *,
    dialect: Dialect = LEGACY_GATES,
    error: Callable[[str], Exception] | None = None,
) -> QuantumCircuit:
    """The circuit of an OpenQASM 2 program.

    Args:
        text: the program.
        dialect: what the program may use besides ``qelib1.inc``.
        error: when given, any failure of the parser (a syntax error, or a circuit it
            cannot build, such as an oversized register) is raised as
            ``error(message)``, ``message`` being the parser's own text, without its
            traceback. Otherwise the parser's exceptions propagate unchanged.
    """
    try:
        return qasm2.loads(
            text,
            include_path=_include_path(text) if dialect.legacy_include_path else (".",),
            custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
            custom_classical=qasm2.LEGACY_CUSTOM_CLASSICAL if dialect.legacy_classical else (),
            strict=False,
        )
    except Exception as exc:
        if error is None:
            raise
        raise error(parser_message(exc)) from None


def _include_path(text: str) -> tuple[object, ...]:
    """The legacy search path, only when the text includes a file other than the built-in
    ``qelib1.inc`` (building the path costs more than parsing a small circuit)."""
    if any(name != "qelib1.inc" for name in included_files(text)):
        return tuple(qasm2.LEGACY_INCLUDE_PATH)
    return ()


def parser_message(exc: BaseException) -> str:
    """What the parser said, without the quotes Qiskit's exceptions add to ``str()``."""
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) else str(exc)
    return text.strip()
