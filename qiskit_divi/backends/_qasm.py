"""OpenQASM 2.0 validation for the divi-compatible API.

divi v0.6.1 shipped its own validator that rejected valid Qiskit exports (``p``,
``cp``, scientific notation). Here Qiskit's own parser decides (through
:func:`qiskit_divi._qasm.load`, with the legacy ``qelib1.inc`` gate definitions), so
whatever ``qiskit.qasm2.dumps`` writes passes.
"""

from __future__ import annotations

from functools import lru_cache

from qiskit import QuantumCircuit

from .._qasm import load


@lru_cache(maxsize=256)
def _parse(source: str) -> QuantumCircuit | SyntaxError:
    try:
        return load(source, error=SyntaxError)
    except SyntaxError as exc:
        return SyntaxError(exc.msg)  # a fresh error: the cache keeps no traceback alive


def validate_qasm(source: str) -> None:
    """Raise ``SyntaxError`` describing the first problem of an OpenQASM 2.0 program."""
    if not isinstance(source, str):
        raise SyntaxError(f"expected OpenQASM 2.0 text, got {type(source).__name__}")
    parsed = _parse(source)
    if isinstance(parsed, SyntaxError):
        raise SyntaxError(parsed.msg)


def is_valid_qasm(source: str) -> bool:
    """Whether ``source`` is a valid OpenQASM 2.0 program."""
    try:
        validate_qasm(source)
    except SyntaxError:
        return False
    return True


def qasm_num_qubits(source: str) -> int:
    """Number of qubits declared by a (valid) OpenQASM 2.0 program."""
    parsed = _parse(source)
    if isinstance(parsed, SyntaxError):
        raise SyntaxError(parsed.msg)
    return int(parsed.num_qubits)
