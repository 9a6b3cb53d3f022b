"""``qiskit-divi decode-histogram``: payloads, envelopes, rows and pages to counts, bad input
to a non-zero exit with a message."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from qiskit_divi.api.histogram import encode_envelope
from qiskit_divi.cli import main

WORKED_PAYLOAD = "UUgxAwSJAQQAAwIBBgQBAQEBAQIDgAE="
"""The worked example of the protocol page (docs/protocol.md, the qh1 histogram)."""
WORKED_COUNTS = {"000": 1, "011": 5, "101": 1, "110": 130}


def decode(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["decode-histogram", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_worked_example_payload(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = decode(capsys, WORKED_PAYLOAD)
    assert (code, err) == (0, "")
    assert json.loads(out) == WORKED_COUNTS


def test_envelope_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = {"encoding": "qh1", "n_bits": 3, "payload": WORKED_PAYLOAD}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(envelope) + "\n"))
    code, out, _ = decode(capsys)
    assert code == 0
    assert json.loads(out) == WORKED_COUNTS


def test_results_page_gives_counts_per_label(capsys: pytest.CaptureFixture[str]) -> None:
    wide = {format(i, "0300b"): i + 1 for i in range(0, 2**12, 97)}  # qh2: wider than 255
    page = {
        "count": 4,
        "next": None,
        "previous": None,
        "results": [
            {
                "label": "worked",
                "results": {"encoding": "qh1", "n_bits": 3, "payload": WORKED_PAYLOAD},
            },
            {"label": "wide", "results": encode_envelope(wide, 300)},
            {"label": "expval", "results": {"ZII": -1.0, "IIZ": 1.0}},
            {"label": "empty", "results": None},
        ],
    }
    code, out, _ = decode(capsys, json.dumps(page))
    assert code == 0
    assert json.loads(out) == {
        "worked": WORKED_COUNTS,
        "wide": wide,
        "expval": {"ZII": -1.0, "IIZ": 1.0},
        "empty": {},
    }


def test_one_result_row(capsys: pytest.CaptureFixture[str]) -> None:
    row = {"label": "bell", "results": encode_envelope({"00": 489, "11": 511}, 2)}
    code, out, _ = decode(capsys, json.dumps(row))
    assert code == 0
    assert json.loads(out) == {"bell": {"00": 489, "11": 511}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not base64!", "neither JSON nor a base64 payload"),
        ("{not json", "not valid JSON"),
        ('{"label": "bell"}', "not a histogram envelope"),
        ('{"results": [{"results": {}}]}', "result row 0"),
        ("QUJD", "bad magic"),  # valid base64 of b"ABC"
        ("UUgxAwSJAQQAAwIBBgQBAQEBAQID", "truncated varint"),  # the worked example, cut short
        ('{"encoding": "qh9", "n_bits": 3, "payload": "UUgx"}', "Unsupported encoding: qh9"),
        (
            '{"encoding": "qh1", "n_bits": 4, "payload": "' + WORKED_PAYLOAD + '"}',
            "n_bits=4",
        ),
        ('{"results": [{"label": "x", "results": {"a": "b"}}]}', "circuit 'x'"),
        ("   ", "no input"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(
    capsys: pytest.CaptureFixture[str], data: str, message: str
) -> None:
    code, out, err = decode(capsys, data)
    assert code == 1
    assert out == ""
    assert err.startswith("qiskit-divi decode-histogram: error: ")
    assert message in err


def test_console_entry_point_reads_a_pipe() -> None:
    """The installed dispatcher, as the walkthrough pipes into it."""
    done = subprocess.run(
        [sys.executable, "-m", "qiskit_divi.cli", "decode-histogram"],
        input=WORKED_PAYLOAD,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == WORKED_COUNTS
    bad = subprocess.run(
        [sys.executable, "-m", "qiskit_divi.cli", "decode-histogram", "QUJD"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "bad magic" in bad.stderr
