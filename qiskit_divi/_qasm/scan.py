"""Register sizes of an OpenQASM 2 text, read without parsing it.

Parsing allocates every declared bit, so a server that parses first lets a few bytes
(``qreg q[100000000];``) cost gigabytes. :func:`declared_register_sizes` reads the
``qreg``/``creg`` declarations with one regular-expression pass, so a caller can refuse a
text by its width before it parses anything.

The scan errs on the side of seeing too much: it skips only what the parser skips too
(``//`` comments and the one-line string of an ``include``), so every declaration the parser
would build is counted. Register declarations inside included files are not seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SKIPPED = re.compile(r'//[^\n]*|"[^"\n]*"')
"""What the parser skips or reads as one token, whichever starts first (leftmost match)."""
_DECLARATION = re.compile(r"\b(qreg|creg)\s+[A-Za-z_]\w*\s*\[\s*(\d+)\s*\]")
_MAX_DIGITS = 30
"""Longer sizes count as ``10**30``: far above any limit, and ``int()`` stays cheap."""


@dataclass(frozen=True)
class RegisterSizes:
    """The sizes of the quantum and classical registers a text declares, in text order."""

    qregs: tuple[int, ...] = ()
    cregs: tuple[int, ...] = ()

    @property
    def num_qubits(self) -> int:
        return sum(self.qregs)

    @property
    def num_clbits(self) -> int:
        return sum(self.cregs)


def declared_register_sizes(text: str) -> RegisterSizes:
    """The ``qreg`` and ``creg`` sizes declared in ``text`` (linear time, no parse).

    Tolerates comments and whitespace (line breaks included) between the tokens of a
    declaration, as the parser does. Does not check that the text is valid.
    """
    qregs: list[int] = []
    cregs: list[int] = []
    for match in _DECLARATION.finditer(_SKIPPED.sub(_blank, text)):
        digits = match.group(2)
        size = int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS
        (qregs if match.group(1) == "qreg" else cregs).append(size)
    return RegisterSizes(tuple(qregs), tuple(cregs))


def _blank(match: re.Match[str]) -> str:
    # A space keeps the tokens on either side apart, as the skipped text did.
    return " "


_COMMENT = re.compile(r"//[^\n]*")
_INCLUDE = re.compile(r'\binclude\s*"([^"\n]*)"')


def included_files(text: str) -> tuple[str, ...]:
    """The file names of the ``include`` statements of ``text``, comments skipped (no parse).

    A server refuses texts that include anything but ``qelib1.inc``: the parser would read
    the named file from the server's disk (and its declarations escape
    :func:`declared_register_sizes`).
    """
    if "include" not in text:
        return ()
    return tuple(_INCLUDE.findall(_COMMENT.sub(" ", text)))
