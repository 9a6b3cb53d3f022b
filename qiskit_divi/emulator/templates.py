"""Circuit templates: the template form of ``add_circuits`` (``qoro-api.md`` 3.5).

A template is OpenQASM 2 text in which symbolic parameter names stand for numbers;
each parameter set binds it into one circuit. The contract says the server substitutes
``str(value)`` of each JSON float and leaves the tokenisation open. Names are matched
verbatim, not as OpenQASM identifiers, as the real service and divi 0.15.1 do: a
``ParameterVector`` element is ``β[0]`` or ``w_0[3]``. The emulator's rule:

* A name is at most :data:`MAX_NAME_CHARS` characters, starts with a Unicode letter or
  ``_``, and contains no whitespace, control character, quote (``"`` ``'``), ``;``,
  ``(``, ``)``, ``,`` or ``//``. Its *base* is its leading run of identifier characters
  (Unicode letters, digits and ``_``: ``\\w``), ``w_0`` in ``w_0[3]``.
* The text is read as comments (``//`` to the end of the line), string literals (the file
  name of an ``include``), numeric literals and runs of identifier characters; comments
  and strings are never touched, and the ``e5`` of ``1e5`` or ``1.e5`` is part of a
  number. A name matches where a run equal to its base starts and the text goes on
  with the rest of the name; a name ending in an identifier character must not be
  followed by one or by ``[``. So ``theta_1`` never hits ``theta_10``, ``w_0[1]`` never
  ``w_0[10]``, ``β[0]`` never ``xβ[0]``, and ``w_0`` never the ``w_0`` of ``w_0[3]``.
  Where several names match at one place the longest wins; one pass, so a value is never
  matched again.
* Names are distinct. A name must not change the program: it is none of the OpenQASM 2
  keywords and built-in functions (``pi``, ``sin``, ``U``, ``CX``, ...) and ``qelib1.inc``
  gates, nor one of those followed by anything but ``[`` (``pi/2`` is refused, ``x[0]``
  is not: no valid text has a gate name before ``[``); and its base is no identifier the
  template declares (a register, a gate, a gate's parameters and qubit arguments), so
  ``q[0]`` is refused when the template declares ``qreg q``: binding it would replace a
  qubit reference. A name the template does not use is allowed (its values are ignored).
* A value is written as :func:`~qiskit_divi._qasm.format_real` of the float: Python's
  ``repr``, which is ``str(value)``, except that ``.0`` is added where Python omits the
  point (``1e-05`` -> ``1.0e-05``), because an OpenQASM 2 real needs one; it reads back
  as the same double. A negative value is parenthesised unless it is a whole gate
  argument (between ``(`` or ``,`` and ``)`` or ``,``), so ``-theta`` and ``theta^2``
  keep their meaning (``rz(-w_0[3]/2)`` binds to ``rz(-(-0.93)/2)``). A value always has
  a point, so it can never become a register size or an index: a name used there makes
  the bound text invalid.

Matching walks a trie of each base's rests, so a template is cut in time linear in its
length (times at most :data:`MAX_NAME_CHARS`), however many names are sent.

Bound texts are parsed like uploaded circuits (one parse per shape; see
:mod:`.circuits`), so they run exactly as bound uploads do, Aer's ``parameter_binds``
used only where :func:`~.systems.binds_safely` allows.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from qiskit import qasm2

from .._qasm import format_real

_TOKENS = re.compile(
    r'(//[^\n]*|"[^"\n]*")'  # skipped: comments and strings
    r"|(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?"  # numbers (exponent included)
    r"|(?<!\w)(\w+)"  # a run of identifier characters: where a name's base may start
)
_WORD = re.compile(r"\w")
_BASE = re.compile(r"\w+")
_IDENTIFIER = re.compile(r"[^\W\d]\w*")
_REGISTER = re.compile(r"\b(?:qreg|creg)\s+([^\W\d]\w*)")
_GATE = re.compile(r"\b(?:gate|opaque)\s+([^\W\d]\w*)\s*(?:\(([^)]*)\))?\s*([^{;]*)")
_BLANKED = re.compile(r'//[^\n]*|"[^"\n]*"')
_FORBIDDEN = frozenset("\"';(),")
_KEYWORDS = frozenset(
    {"OPENQASM", "include", "qreg", "creg", "gate", "opaque", "measure", "reset", "barrier"}
    | {"if", "pi", "U", "CX", "sin", "cos", "tan", "exp", "ln", "sqrt", "asin", "acos", "atan"}
)
MAX_NAME_CHARS = 128
"""Longest parameter name accepted (bounds the work of matching one occurrence)."""
SHORTEST_VALUE_BYTES = 3
"""``format_real`` never writes fewer characters (``0.0``): the floor of a bound size."""
_NAME_RULE = (
    "a parameter name starts with a letter or '_', has at most "
    f"{MAX_NAME_CHARS} characters and no whitespace, control character, quote, ';', '(', "
    "')', ',' or '//' (e.g. 'theta_0', 'β[0]', 'w_0[3]')"
)


class TemplateError(ValueError):
    """A template upload is malformed; the message says what to send instead."""


@cache
def reserved_names() -> frozenset[str]:
    """Identifiers no parameter may take: OpenQASM 2 keywords, built-in functions and the
    ``qelib1.inc`` gates (those of Qiskit's legacy library included)."""
    gates = {instruction.name for instruction in qasm2.LEGACY_CUSTOM_INSTRUCTIONS}
    return _KEYWORDS | gates


def _is_word(char: str) -> bool:
    return _WORD.match(char) is not None


def _name_error(name: str) -> str | None:
    """Why ``name`` breaks the character rule of the module docstring, or None."""
    if not name or len(name) > MAX_NAME_CHARS:
        return f"has {len(name)} characters"
    if not (name[0] == "_" or name[0].isalpha()):
        return f"starts with {name[0]!r}"
    for char in name:
        if char.isspace() or char in _FORBIDDEN or unicodedata.category(char) == "Cc":
            return f"contains {char!r}"
    if "//" in name:
        return "contains '//' (a comment)"
    return None


def base_of(name: str) -> str:
    """The leading run of identifier characters of a valid name (``w_0`` of ``w_0[3]``)."""
    match = _BASE.match(name)
    assert match is not None  # a valid name starts with a letter or '_'
    return match.group()


def parameter_names(raw: Any) -> tuple[str, ...]:
    """``parameter_names`` checked: a list of distinct names (see the module docstring)
    that are not reserved."""
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise TemplateError("'parameter_names' must be a list of strings (e.g. 'theta_0').")
    seen: set[str] = set()
    for name in raw:
        why = _name_error(name)
        if why is not None:
            raise TemplateError(
                f"Parameter name {name[:MAX_NAME_CHARS]!r} is not a valid parameter name "
                f"({why}): {_NAME_RULE}."
            )
        base = base_of(name)
        if base in reserved_names() and not name[len(base) :].startswith("["):
            raise TemplateError(
                f"Parameter name {name!r} is or starts with the OpenQASM 2 keyword or "
                f"qelib1.inc gate {base!r}, so binding it would change the program; rename "
                "the parameter (e.g. 'theta_0')."
            )
        if name in seen:
            raise TemplateError(f"Parameter name {name!r} is repeated; names must be distinct.")
        seen.add(name)
    return tuple(raw)


def declared_identifiers(text: str) -> frozenset[str]:
    """Registers, gates and gate arguments that ``text`` declares (comments skipped)."""
    code = _BLANKED.sub(" ", text)
    found = set(_REGISTER.findall(code))
    for name, params, qubits in _GATE.findall(code):
        found.add(name)
        found.update(_IDENTIFIER.findall(params))
        found.update(_IDENTIFIER.findall(qubits))
    return frozenset(found)


_Trie = dict[str, Any]
"""Character -> child node; the key ``""`` holds the slot of the name ending there."""


def _tries(names: Sequence[str]) -> dict[str, _Trie]:
    """For each base, a trie of the rests of the names with that base."""
    tries: dict[str, _Trie] = {}
    for slot, name in enumerate(names):
        base = base_of(name)
        node = tries.setdefault(base, {})
        for char in name[len(base) :]:
            node = node.setdefault(char, {})
        node[""] = slot
    return tries


def _ends_name(text: str, end: int) -> bool:
    """Whether a name whose last character is ``text[end - 1]`` may end at ``end``."""
    if end >= len(text) or not _is_word(text[end - 1]):
        return True
    return text[end] != "[" and not _is_word(text[end])


def _longest_name(text: str, start: int, node: _Trie) -> tuple[int, int] | None:
    """The slot and end of the longest name matching at ``start`` (``node``: the trie of
    the base ``text[start:...]`` ends with), or None."""
    best = None
    end = start
    while True:
        slot = node.get("")
        if slot is not None and _ends_name(text, end):
            best = (slot, end)
        if end >= len(text):
            return best
        child = node.get(text[end])
        if child is None:
            return best
        node, end = child, end + 1


@dataclass(frozen=True)
class CircuitTemplate:
    """A template cut at each occurrence of a parameter name, ready to bind.

    ``pieces`` has one more entry than ``slots``; slot ``k`` (the index of a name in
    ``names``) sits between ``pieces[k]`` and ``pieces[k + 1]``; ``bare[k]`` says it is a
    whole gate argument (a negative value needs no parentheses there).
    """

    names: tuple[str, ...]
    pieces: tuple[str, ...]
    slots: tuple[int, ...]
    bare: tuple[bool, ...]
    static_bytes: int
    """UTF-8 bytes of the text without its parameter names."""

    @classmethod
    def of(cls, text: str, names: Sequence[str]) -> CircuitTemplate:
        """Cut ``text`` at its names (see the module docstring); ``names`` as
        :func:`parameter_names` returns them. Raises :class:`TemplateError` for a name
        whose base the template declares."""
        declared = declared_identifiers(text)
        for name in names:
            base = base_of(name)
            if base in declared:
                what = "is" if base == name else f"starts with {base!r}, which is"
                raise TemplateError(
                    f"Parameter name {name!r} {what} declared by the template itself (a "
                    "register, gate or gate argument), so binding it would replace a "
                    "reference to it; give the parameter a name the template does not use."
                )
        tries = _tries(names)
        pieces: list[str] = []
        slots: list[int] = []
        bare: list[bool] = []
        start = 0
        search = _TOKENS.search
        match = search(text)
        while match is not None:
            node = tries.get(match.group(2)) if match.group(2) is not None else None
            found = None if node is None else _longest_name(text, match.end(), node)
            if found is None:
                match = search(text, match.end())
                continue
            slot, end = found
            pieces.append(text[start : match.start()])
            slots.append(slot)
            bare.append(_whole_argument(text, match.start(), end))
            start = end
            match = search(text, end)  # one pass: go on after the name
        pieces.append(text[start:])
        static = sum(len(p) if p.isascii() else len(p.encode("utf-8")) for p in pieces)
        return cls(tuple(names), tuple(pieces), tuple(slots), tuple(bare), static)

    @property
    def min_bound_bytes(self) -> int:
        """No bound circuit of this template is shorter (values take 3 bytes or more)."""
        return self.static_bytes + SHORTEST_VALUE_BYTES * len(self.slots)

    def bound_bytes(self, texts: Sequence[str]) -> int:
        """Size of :meth:`bind`'s text for these value texts, without building it."""
        size = self.static_bytes
        for slot, bare in zip(self.slots, self.bare, strict=True):
            text = texts[slot]
            size += len(text) + (2 if not bare and text[0] == "-" else 0)
        return size

    def bind(self, texts: Sequence[str]) -> str:
        """The template with each name replaced by its value text (:func:`value_texts`)."""
        out = [self.pieces[0]]
        for k, (slot, bare) in enumerate(zip(self.slots, self.bare, strict=True)):
            text = texts[slot]
            out.append(text if bare or text[0] != "-" else f"({text})")
            out.append(self.pieces[k + 1])
        return "".join(out)


def _whole_argument(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` stands alone between ``(``/``,`` and ``)``/``,``."""
    # Walk over whitespace only (slicing and stripping would make tokenising quadratic).
    before = start - 1
    while before >= 0 and text[before].isspace():
        before -= 1
    after = end
    while after < len(text) and text[after].isspace():
        after += 1
    return before >= 0 and text[before] in "(," and after < len(text) and text[after] in "),"


@dataclass(frozen=True)
class ParameterSet:
    """One checked parameter set: its label and its values as OpenQASM reals."""

    label: str
    texts: tuple[str, ...]


def parameter_sets(raw: Any, num_names: int) -> list[ParameterSet]:
    """``parameter_sets`` checked: a non-empty list of ``{"label", "values"}`` objects with
    distinct non-empty labels and ``num_names`` finite numbers each (booleans refused)."""
    if not isinstance(raw, list) or not raw:
        raise TemplateError(
            '\'parameter_sets\' must be a non-empty list of {"label": str, "values": '
            "[number, ...]} objects."
        )
    out: list[ParameterSet] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"label", "values"}:
            raise TemplateError(
                f"Parameter set {i} must be an object with exactly the keys 'label' and 'values'."
            )
        label, values = item["label"], item["values"]
        if not isinstance(label, str) or not label:
            raise TemplateError(f"Parameter set {i} needs a non-empty string 'label'.")
        if label in seen:
            raise TemplateError(f"Duplicate circuit label '{label}' in 'parameter_sets'.")
        seen.add(label)
        if not isinstance(values, list) or len(values) != num_names:
            got = len(values) if isinstance(values, list) else type(values).__name__
            raise TemplateError(
                f"Parameter set '{label}' must have 'values' with one number per parameter "
                f"name ({num_names}), got {got}."
            )
        out.append(ParameterSet(label, value_texts(values, label)))
    return out


def value_texts(values: Sequence[Any], label: str) -> tuple[str, ...]:
    """Each value as an OpenQASM 2 real reading back as the same double."""
    texts = []
    for value in values:
        number: float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an integer beyond any double
                number = None
        if number is None or not math.isfinite(number):
            raise TemplateError(
                f"Parameter set '{label}' has the value {value!r}; values must be finite numbers."
            )
        texts.append(format_real(number))
    return tuple(texts)
