"""OpenQASM 2 in one place: the loader, the shape parser and the fast writer.

* :mod:`.loader`: :func:`load`, the one reader of OpenQASM 2 text, with its dialects;
* :mod:`.shapes`: :class:`ShapeParser`, which parses texts that differ only in their
  angles once and binds the rest;
* :mod:`.writer`: :class:`QasmTemplate`, which writes a circuit once and renders each
  parameter binding.
"""

from .loader import FROM_QASM_STR, LEGACY_GATES, Dialect, load, parser_message
from .shapes import ShapedCircuit, ShapeParser, shape_of, skeleton_of
from .writer import HEADER, QasmTemplate, format_real, qasm2_statement_names

__all__ = [
    "FROM_QASM_STR",
    "HEADER",
    "LEGACY_GATES",
    "Dialect",
    "QasmTemplate",
    "ShapeParser",
    "ShapedCircuit",
    "format_real",
    "load",
    "parser_message",
    "qasm2_statement_names",
    "shape_of",
    "skeleton_of",
]
