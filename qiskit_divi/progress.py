"""Progress displays on stderr: waits for Qoro jobs and long local simulations.

One :class:`Display` per wait or batch, drawn with ``tqdm``. How it looks depends on
``sys.stderr`` when the display is made:

* a terminal (``isatty()``): one line rewritten in place (status, ``done/total`` when
  the work is counted, elapsed time), left on screen with its last state when it closes;
* Jupyter (an IPython kernel's stderr): the same through ``tqdm.auto`` (a widget when
  ``ipywidgets`` is installed);
* anything else (CI logs, pipes, pytest's capture): one plain line per change of
  status, and for counted work at most one line per :data:`PLAIN_INTERVAL` seconds
  (through ``tqdm.write``, which keeps other bars intact).

Nothing is drawn until the work has lasted ``delay`` seconds (:data:`JOB_DELAY` for
waits, :data:`LOCAL_DELAY` for local batches), so that quick jobs (most emulator jobs,
the many small jobs of a VQE loop) stay silent, and nothing at all with the caller's
``progress=False`` or ``QISKIT_DIVI_PROGRESS=0`` (also ``false``, ``no``, ``off``).
A display shows job ids, system names and statuses: never a token or a URL.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import Any, Literal, TextIO

from tqdm import tqdm as std_tqdm

ENV_VAR = "QISKIT_DIVI_PROGRESS"
"""Set to ``0`` (``false``, ``no``, ``off``) to turn every display off."""

JOB_DELAY = 1.0
"""Seconds a wait lasts before its display appears."""

LOCAL_DELAY = 2.0
"""Seconds a local batch runs before its display appears."""

TICK = 0.5
"""Seconds between redraws of a live line while nothing else changes (elapsed time)."""

PLAIN_INTERVAL = 10.0
"""Least seconds between two plain lines of counted work (status changes always print)."""

OUTPUT: TextIO | None = None
"""Where displays are drawn; None (the default) means ``sys.stderr`` as it is when a
display is made (tests put a stand-in terminal here)."""

Mode = Literal["tty", "notebook", "plain"]

_OFF = frozenset({"0", "false", "no", "off"})


def enabled(option: bool = True) -> bool:
    """Whether a display may be drawn: the caller's option, unless ``QISKIT_DIVI_PROGRESS``
    turns displays off."""
    return bool(option) and os.environ.get(ENV_VAR, "").strip().lower() not in _OFF


def _in_notebook(stream: TextIO) -> bool:
    """Whether ``stream`` is the stderr of an IPython kernel (Jupyter)."""
    if stream is not sys.stderr or "ipykernel" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return shell is not None and hasattr(shell, "kernel")


def mode_of(stream: TextIO) -> Mode:
    """How a display on ``stream`` is drawn (see the module docstring)."""
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        tty = False
    if tty:
        return "tty"
    return "notebook" if _in_notebook(stream) else "plain"


def _terminal_width(stream: TextIO) -> int:
    """Columns of the terminal behind ``stream`` (0 when it reports none)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):  # no descriptor (a test's stream), no tty
        return 0


def _elapsed(seconds: float) -> str:
    return str(std_tqdm.format_interval(seconds))


class Display:
    """A live display of one piece of work: a status and, optionally, ``done / total``.

    Thread-safe (counted work may be advanced from executor callbacks). Use as a context
    manager, or call :meth:`close` in a ``finally``: a display never outlives its work.
    """

    def __init__(
        self,
        desc: str,
        *,
        total: int | None = None,
        unit: str = "",
        delay: float = JOB_DELAY,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self._desc = desc
        self._total = total
        self._unit = unit
        self._delay = delay
        self._enabled = enabled
        self._stream: TextIO = stream or OUTPUT or sys.stderr
        self._mode: Mode = mode_of(self._stream) if enabled else "plain"
        self._started = time.monotonic()
        self._lock = threading.RLock()
        self._status: str | None = None
        self._done = 0
        self._bar: Any = None  # the tqdm bar, once a live display appears
        self._shown = False
        self._closed = False
        self._printed: tuple[str | None, int] | None = None  # last plain line's (status, done)
        self._printed_at = 0.0
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        if enabled and self._mode != "plain":
            self._ticker = threading.Thread(target=self._tick, name="qiskit-divi-progress")
            self._ticker.daemon = True
            self._ticker.start()

    # --- what callers report --------------------------------------------------------

    @property
    def shown(self) -> bool:
        """Whether anything has been drawn."""
        return self._shown

    def update(self, status: str | None = None, *, done: int | None = None) -> None:
        """Report the current status and/or the work done so far (of ``total``)."""
        with self._lock:
            if status is not None:
                self._status = status
            if done is not None:
                self._done = done
            self._draw()

    def set_total(self, total: int, unit: str | None = None) -> None:
        """Count the work in ``total`` units (``unit`` names them) from now on."""
        with self._lock:
            self._total = total
            if unit is not None:
                self._unit = unit

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units of work done (never more than ``total``, when set)."""
        with self._lock:
            self._done += n
            if self._total is not None:
                self._done = min(self._done, self._total)
            self._draw()

    def close(self, status: str | None = None) -> None:
        """Draw the last state (``status`` if given) if anything was shown, and stop."""
        self._stop.set()
        ticker = self._ticker
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join()
        with self._lock:
            if self._closed:
                return
            if status is not None:
                self._status = status
            if self._shown:
                self._render(final=True)
            if self._bar is not None:
                self._bar.close()
            self._closed = True

    def __enter__(self) -> Display:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.stopped(exc)

    def stopped(self, exc: BaseException, reason: str | None = None) -> None:
        """Close after ``exc`` ended the work (a timeout, an error, Ctrl-C): the last state
        stays on screen with ``reason`` (default: ``interrupted``, or the error's type)."""
        if reason is None:
            interrupted = isinstance(exc, KeyboardInterrupt)
            reason = "interrupted" if interrupted else f"stopped ({type(exc).__name__})"
        self.close(f"{self._status or 'waiting'}, {reason}")

    # --- drawing --------------------------------------------------------------------

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            with self._lock:
                self._draw()

    def _text(self) -> str:
        parts = [self._desc]
        if self._status is not None:
            parts.append(f": {self._status}")
        if self._total is not None:
            parts.append(f", {self._done}/{self._total} {self._unit}".rstrip())
        parts.append(f" [{_elapsed(time.monotonic() - self._started)}]")
        return "".join(parts)

    def _draw(self) -> None:
        if not self._enabled or self._closed:
            return
        if not self._shown and time.monotonic() - self._started < self._delay:
            return
        self._shown = True
        self._render(final=False)

    def _render(self, *, final: bool) -> None:
        if self._mode == "plain":
            self._print_plain(final=final)
            return
        if self._bar is None:
            self._bar = self._new_bar()
        bar = self._bar
        bar.set_description_str(self._text(), refresh=True)

    def _new_bar(self) -> Any:
        cls: Any = std_tqdm
        if self._mode == "notebook":
            # The widget when ipywidgets is installed, else the terminal bar.
            from tqdm.auto import tqdm as auto_tqdm

            cls = auto_tqdm
        sized = _terminal_width(self._stream) > 0
        return cls(
            # No total: with one, tqdm draws its own counts and drops bar_format on a
            # terminal of unknown width; "done / total" is in the description instead.
            total=None,
            file=self._stream,
            leave=True,
            # Follow resizes. A pseudo-terminal that reports no size (script, some CI
            # runners) gets uncut lines (ncols=0) and 24 rows: from its 0 rows tqdm
            # would draw nothing.
            dynamic_ncols=sized,
            ncols=None if sized else 0,
            nrows=None if sized else 24,
            mininterval=0,
            bar_format="{desc}",
        )

    def _print_plain(self, *, final: bool) -> None:
        now = time.monotonic()
        key = (self._status, self._done)
        if self._printed == key:
            return
        status_changed = self._printed is None or self._printed[0] != self._status
        if not (final or status_changed or now - self._printed_at >= PLAIN_INTERVAL):
            return
        self._printed, self._printed_at = key, now
        std_tqdm.write(self._text(), file=self._stream)


def job_display(job_id: str, system: str | None, *, enabled: bool = True) -> Display:
    """The display of a wait for Qoro job ``job_id`` on ``system``."""
    where = f" on {system}" if system else ""
    return Display(f"Qoro job {job_id}{where}", delay=JOB_DELAY, enabled=_enabled(enabled))


def local_display(
    desc: str, *, total: int | None = None, unit: str = "", enabled: bool = True
) -> Display:
    """The display of local work (a simulator batch; ``total`` parts when it is split)."""
    return Display(desc, total=total, unit=unit, delay=LOCAL_DELAY, enabled=_enabled(enabled))


_enabled = enabled  # the factories' keyword shadows the function's name
