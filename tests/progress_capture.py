"""Capturing the progress display: a stand-in stderr that is (or is not) a terminal.

``capture(monkeypatch, tty=True)`` sends displays to a :class:`Stream` instead of
``sys.stderr`` (``progress.OUTPUT``: pytest puts its own ``sys.stderr`` back between a
fixture and the test),
shows displays at once (no delay) and stops the timed redraws, so that every frame on
the stream comes from one report of the caller (one poll, one finished sub-batch).
"""

from __future__ import annotations

import io
import re

import pytest

from qiskit_divi import progress

# What tqdm writes to move about a line; removed before reading the text.
_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Stream(io.StringIO):
    """A text stream that says whether it is a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    def frames(self) -> list[str]:
        """Each state drawn, in order: the text between carriage returns and newlines."""
        text = _ESCAPES.sub("", self.getvalue())
        return [part.strip() for part in re.split(r"[\r\n]", text) if part.strip()]

    def lines(self) -> list[str]:
        """The newline-terminated lines written (plain mode: one per change)."""
        return [line for line in self.getvalue().splitlines() if line.strip()]


def capture(monkeypatch: pytest.MonkeyPatch, *, tty: bool) -> Stream:
    """Route displays to a fresh :class:`Stream` standing in for ``sys.stderr``."""
    stream = Stream(tty)
    monkeypatch.setattr(progress, "OUTPUT", stream)
    monkeypatch.setattr(progress, "JOB_DELAY", 0.0)
    monkeypatch.setattr(progress, "LOCAL_DELAY", 0.0)
    monkeypatch.setattr(progress, "TICK", 3600.0)  # no timed redraws: frames are reports
    monkeypatch.delenv(progress.ENV_VAR, raising=False)
    return stream


def statuses(frames: list[str], prefix: str) -> list[str]:
    """The status shown in each frame that starts with ``prefix`` (``prefix: STATUS [..]``)."""
    out = []
    for frame in frames:
        if frame.startswith(prefix + ": "):
            out.append(frame[len(prefix) + 2 :].rsplit(" [", 1)[0])
    return out
