"""``qiskit-divi decode-histogram``: a ``qh1``/``qh2`` histogram as counts in JSON.

Reads, from the argument or standard input (no argument, or ``-``):

- a bare base64 payload (``UUgxAwSJAQQAAwIBBgQBAQEBAQIDgAE=``);
- a histogram envelope (``{"encoding": "qh1", "n_bits": 3, "payload": "..."}``);
- a result row (``{"label": ..., "results": ...}``) or a whole ``resultsV2`` page
  (``{"count", "next", "results": [rows]}``), printed as ``{label: counts}``; the rows of
  an EXPECTATION job (``{term: value}``) are printed as they are.

Counts print as one JSON object, keys in Qiskit order (the rightmost character is
classical bit 0). Bad input exits with status 1 and a message on standard error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Mapping
from typing import Any

from .api.errors import QoroProtocolError
from .api.histogram import decode_envelope, decode_histogram
from .api.submission import decode_result_payload

EXIT_BAD_INPUT = 1


class DecodeInputError(ValueError):
    """The input is none of the shapes this command reads."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's arguments."""
    parser.description = (
        "Decode a qh1/qh2 histogram (a base64 payload, an envelope, a result row or a "
        "resultsV2 page) and print its counts as JSON."
    )
    parser.add_argument(
        "data",
        nargs="?",
        default="-",
        metavar="PAYLOAD_OR_JSON",
        help="base64 payload or JSON text; '-' or nothing reads standard input",
    )


def decode_text(text: str) -> dict[str, Any]:
    """The counts (or ``{label: counts}`` for rows and pages) that ``text`` holds.

    Raises :class:`DecodeInputError`, or :class:`QoroProtocolError` (a corrupt payload, an
    unknown encoding, a row that is neither counts nor expectation values).
    """
    text = text.strip()
    if not text:
        raise DecodeInputError(
            "no input: pass a base64 payload or JSON, as an argument or on stdin"
        )
    if text[0] in "{[":
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise DecodeInputError(
                f"the input starts like JSON but is not valid JSON ({exc})"
            ) from None
        return _decode_json(obj)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeInputError(
            f"the input is neither JSON nor a base64 payload ({exc}); pass the 'payload' string "
            "of an envelope, the envelope itself or a resultsV2 page"
        ) from None
    return decode_histogram(raw)


def _decode_json(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        if "payload" in obj and "encoding" in obj:
            return decode_envelope(obj)
        if "label" in obj and "results" in obj:
            return _decode_rows([obj])
        if isinstance(obj.get("results"), list):
            return _decode_rows(obj["results"])
    elif isinstance(obj, list):
        return _decode_rows(obj)
    raise DecodeInputError(
        'the JSON is not a histogram envelope ({"encoding", "n_bits", "payload"}), a result '
        'row ({"label", "results"}) or a resultsV2 page ({"results": [rows]})'
    )


def _decode_rows(rows: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, row in enumerate(rows):
        if not (
            isinstance(row, Mapping) and isinstance(row.get("label"), str) and "results" in row
        ):
            raise DecodeInputError(f"result row {i} is not an object with 'label' and 'results'")
        out[row["label"]] = decode_result_payload(row["label"], row["results"])
    return out


def run(args: argparse.Namespace) -> int:
    """Decode ``args.data`` (or standard input) and print the counts."""
    text = sys.stdin.read() if args.data == "-" else args.data
    try:
        decoded = decode_text(text)
    except (DecodeInputError, QoroProtocolError) as exc:
        sys.stderr.write(f"qiskit-divi decode-histogram: error: {exc}\n")
        return EXIT_BAD_INPUT
    sys.stdout.write(json.dumps(decoded) + "\n")
    return 0
