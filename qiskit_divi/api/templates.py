"""Circuit templates (``qoro-api.md`` 3.5 template form): validation, chunking of the
parameter sets under the request budget (5.2), and local binding for servers that refuse
the template form.

A template is QASM text with names where the angles go; the server binds each parameter
set by writing ``str(value)`` in place of each name. The names are required to be such
that no name occurs inside another, so binding by raw text and by whole identifiers agree.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .circuits import MAX_PAYLOAD_BYTES, pack_circuit
from .errors import QoroInputError
from .models import AddTemplateRequest, ParameterSet

if TYPE_CHECKING:
    from .submission import CircuitTemplate

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A parameter name: an identifier (QASM 2 identifiers, plus a leading underscore or capital)."""

_RESERVED = frozenset(
    [
        "OPENQASM",
        "include",
        "qreg",
        "creg",
        "gate",
        "opaque",
        "measure",
        "reset",
        "barrier",
        "if",
        "pi",
        "sin",
        "cos",
        "tan",
        "exp",
        "ln",
        "sqrt",
        "U",
        "CX",
    ]
)
"""Words of OpenQASM 2 itself, which a parameter name must not shadow."""


def check_template(template: CircuitTemplate, index: int = 0) -> None:
    """:class:`QoroInputError` unless ``template`` can be sent as it is: QASM text, distinct
    identifier names of which none occurs inside another and each occurs in the text, at
    least one parameter set, each with one finite real value per name, labels distinct."""
    where = f"Circuit template {index}"
    if not isinstance(template.qasm, str) or not template.qasm.strip():
        raise QoroInputError(f"{where} has no QASM text: pass the template's OpenQASM 2 program.")
    _check_names(template, where)
    _check_sets(template, where)


def _check_sets(template: CircuitTemplate, where: str) -> None:
    names = template.parameter_names
    if not template.parameter_sets:
        raise QoroInputError(f"{where} has no parameter sets: pass at least one binding.")
    labels: set[str] = set()
    for row in template.parameter_sets:
        if not isinstance(row, ParameterSet):
            raise QoroInputError(
                f"{where} has parameter set {row!r}: each set is a ParameterSet(label, values)."
            )
        if not isinstance(row.label, str) or not row.label:
            raise QoroInputError(f"{where} has a set labelled {row.label!r}: use a non-empty str.")
        if row.label in labels:
            raise QoroInputError(
                f"{where} has two parameter sets labelled '{row.label}': labels name the "
                "results, so they must be distinct."
            )
        labels.add(row.label)
        if len(row.values) != len(names):
            raise QoroInputError(
                f"{where}: parameter set '{row.label}' has {len(row.values)} values for "
                f"{len(names)} parameter names; give one value per name, in their order."
            )
        if all(type(v) is float for v in row.values) and all(map(math.isfinite, row.values)):
            continue  # the common case, checked without a call per value
        for name, value in zip(names, row.values, strict=True):
            if not _is_finite_real(value):
                raise QoroInputError(
                    f"{where}: parameter set '{row.label}' gives {name} the value {value!r}; "
                    "values must be finite real numbers."
                )


def _check_names(template: CircuitTemplate, where: str) -> None:
    names = template.parameter_names
    for name in names:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise QoroInputError(
                f"{where} has parameter name {name!r}: names must be identifiers (letters, "
                "digits, '_'), such as t0000."
            )
    if len(set(names)) != len(names):
        twice = next(name for i, name in enumerate(names) if name in names[:i])
        raise QoroInputError(f"{where} names parameter '{twice}' twice: names must be distinct.")
    _check_no_name_inside_another(names, where)
    for name in names:
        if name in _RESERVED:
            raise QoroInputError(
                f"{where} has parameter '{name}', an OpenQASM 2 word: rename it (e.g. t0000)."
            )
        occurrences = template.qasm.count(name)
        if not occurrences:
            raise QoroInputError(
                f"{where} has parameter '{name}' that occurs nowhere in its QASM text: remove it "
                "from parameter_names and from every set, or send the circuit bound."
            )
        whole = len(
            re.findall(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", template.qasm)
        )
        if whole != occurrences:
            raise QoroInputError(
                f"{where} has parameter '{name}' that also occurs inside a longer word of its "
                "QASM text, where a server substituting raw text would replace it too: rename "
                "it (e.g. t0000)."
            )


def _is_finite_real(value: Any) -> bool:
    # numbers.Real takes numpy's floats and ints; not bool, str or complex.
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(float(value))
    )


def _check_no_name_inside_another(names: Sequence[str], where: str) -> None:
    # Names of one length contain one another only when equal (already refused).
    by_length = sorted(set(names), key=len)
    if not by_length or len(by_length[0]) == len(by_length[-1]):
        return
    for i, short in enumerate(by_length):
        for long in by_length[i + 1 :]:
            if len(long) > len(short) and short in long:
                raise QoroInputError(
                    f"{where} has parameter '{short}' inside parameter '{long}': how the server "
                    "substitutes names is not specified, so no name may occur inside another "
                    "(use fixed-width names such as t0000, t0001)."
                )


def template_request(
    template: CircuitTemplate,
    parameter_sets: Sequence[ParameterSet],
    *,
    finalized: bool,
    shots: int | None,
    observables: str | None,
    packed: str | None = None,
) -> AddTemplateRequest:
    """The ``add_circuits`` body sending ``parameter_sets`` of ``template``."""
    return AddTemplateRequest(
        circuit_template=pack_circuit(template.qasm) if packed is None else packed,
        parameter_names=tuple(template.parameter_names),
        parameter_sets=tuple(parameter_sets),
        finalized=finalized,
        shots=shots,
        observables=observables,
    )


_ROW_FRAME = len('{"label": , "values": []}, ')
"""The characters of one ``parameter_sets`` row besides its label and its values."""


def chunk_parameter_sets(
    template: CircuitTemplate,
    *,
    shots: int | None,
    observables: str | None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
    index: int = 0,
) -> list[AddTemplateRequest]:
    """``template``'s sets in ``add_circuits`` bodies whose JSON stays under ``max_bytes``
    (all marked not finalised; the caller finalises the job's last request).

    Sizes are measured as the JSON the client sends, as :func:`chunk_packed_circuits`
    does, rather than with the reference estimate. A set too large for a chunk of its own
    travels alone. :class:`QoroInputError` if the fixed part (packed template, names,
    shots or observables) alone reaches the budget.
    """
    packed = pack_circuit(template.qasm)
    empty = template_request(
        template, (), finalized=False, shots=shots, observables=observables, packed=packed
    )
    fixed = len(json.dumps(empty.to_json()))
    if fixed >= max_bytes:
        raise QoroInputError(
            f"Circuit template {index} takes {fixed:,} bytes without any parameter set, more "
            f"than the {max_bytes:,} bytes allowed per request: send this circuit bound."
        )
    chunks: list[list[ParameterSet]] = []
    current: list[ParameterSet] = []
    size = fixed
    for row in template.parameter_sets:
        # The row exactly as json.dumps writes it in the array (a finite float is written
        # as its repr), plus the ", " separating it from the next.
        values = ", ".join(map(repr, map(float, row.values)))
        item = len(json.dumps(row.label)) + len(values) + _ROW_FRAME
        if current and size + item > max_bytes:
            chunks.append(current)
            current, size = [], fixed
        current.append(row)
        size += item
    if current:
        chunks.append(current)
    return [
        template_request(
            template, rows, finalized=False, shots=shots, observables=observables, packed=packed
        )
        for rows in chunks
    ]


def qasm_real(value: Any) -> str:
    """``str(float(value))`` as an OpenQASM 2 real: with a decimal point (``1e-05`` ->
    ``1.0e-05``), reading back as the same double. The writer in ``qiskit_divi._qasm``
    writes the same text (the wire layer does not import it)."""
    text = repr(float(value))
    if "." in text or not math.isfinite(float(value)):
        return text
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}.0e{exponent}" if exponent else f"{mantissa}.0"


def bind_template(template: CircuitTemplate) -> dict[str, str]:
    """Label -> bound QASM of each set, by writing each value in place of its name.

    Values are written as ``str(float)`` with a decimal point added where ``str`` has
    none (``1e-05`` -> ``1.0e-05``: strict OpenQASM 2 reals need one); the number read
    back is the same double. Names are replaced as whole identifiers, which for a checked
    template is the same as replacing raw text.
    """
    names = template.parameter_names
    if not names:
        return {row.label: template.qasm for row in template.parameter_sets}
    position = {name: i for i, name in enumerate(names)}
    pattern = re.compile(
        r"(?<![A-Za-z0-9_])("
        + "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
        + r")(?![A-Za-z0-9_])"
    )
    # re.split with a group alternates literal text and names: join per set.
    pieces = pattern.split(template.qasm)
    slots = [(k, position[pieces[k]]) for k in range(1, len(pieces), 2)]
    bound: dict[str, str] = {}
    for row in template.parameter_sets:
        texts = [qasm_real(v) for v in row.values]
        for k, i in slots:
            pieces[k] = texts[i]
        bound[row.label] = "".join(pieces)
    return bound
