"""Where the emulator simulates: a child process, so a job never starves the HTTP threads.

qiskit-aer holds the GIL for the whole of ``AerSimulator.run`` (measured: a 2 s run
blocks every other thread of the process for 2 s), so a job simulated in the
server's process makes pings and status polls wait as long as the job. The
:class:`ProcessRunner` runs jobs in one child Python process instead: started on
the first job (the Qiskit import costs about a second), reused for every later one,
killed when its job is cancelled or deleted (and started afresh for the next job),
and stopped with the server. The child says when a job's simulation starts (Qiskit
imported, the system's simulator built), so a job's execution limit
(:class:`~.state.RunControl`) counts simulation only: past it the child is killed like a
cancelled job's, and the job ends TIMED_OUT.

The child is started with :mod:`subprocess` (``python -m qiskit_divi.emulator.worker``)
rather than :mod:`multiprocessing`'s ``spawn``, which would re-run the parent's main
script (a user script without an ``if __name__ == "__main__"`` guard would start
servers recursively). Tasks and results travel as pickles over a socket pair, so
process isolation needs a POSIX system; elsewhere, or when the systems cannot be
pickled (e.g. a simulator factory that is a lambda), jobs run in the worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from typing import Any

from qiskit_divi.api.models import JobType

from .circuits import JobCircuit
from .state import JobAbandoned, RunControl
from .systems import SystemCatalogue, SystemSpec, sample_job

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.02
"""How often a waiting job checks whether it was cancelled."""
STOP_SECONDS = 2.0
"""How long a stopping child gets to exit before it is killed."""
_STARTED = "started"
_CHILD_MAIN = "import sys; from qiskit_divi.emulator.worker import serve; serve(int(sys.argv[1]))"
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _child_environment() -> dict[str, str]:
    """The parent's environment, with this copy of qiskit_divi first on the child's path."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _PACKAGE_ROOT if not path else _PACKAGE_ROOT + os.pathsep + path
    return env


@dataclass(frozen=True)
class Task:
    """What the child needs to run one job."""

    job_type: JobType
    system: str
    circuits: Sequence[JobCircuit]
    shots: int | None
    observables: Sequence[str] | None
    seed_offset: int = 0
    """Added to a seeded emulator's seed: the tasks of one job (one per shots value) draw
    distinct streams, as the circuits of one task do."""


def execute(catalogue: SystemCatalogue, seed: int | None, task: Task) -> list[Any]:
    """One result payload per circuit of ``task``, in submission order."""
    if task.job_type is JobType.EXPECTATION:
        assert task.observables is not None
        # The system's engine computes them: Aer's statevectors or Maestro's estimator.
        return list(catalogue.simulator(task.system).expectation(task.circuits, task.observables))
    assert task.shots is not None
    task_seed = None if seed is None else seed + task.seed_offset
    return list(sample_job(catalogue, task.system, task.circuits, task.shots, task_seed))


def process_isolation_available(systems: Sequence[SystemSpec]) -> bool:
    """Whether jobs on ``systems`` can run in a child process here."""
    if os.name != "posix":
        return False
    try:
        pickle.dumps(tuple(systems))
    except (pickle.PicklingError, TypeError, AttributeError):
        logger.info("Emulator systems cannot be pickled: jobs run in the server's process.")
        return False
    return True


class ProcessRunner:
    """Runs one job at a time in a reusable child process (see the module docstring)."""

    def __init__(self, systems: Sequence[SystemSpec], seed: int | None):
        self._setup = pickle.dumps((tuple(systems), seed))
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._closed = False
        self._busy = False
        self.starts = 0
        """Child processes started so far (a cancelled running job costs a restart)."""

    def run(self, task: Task, abandoned: Callable[[], bool]) -> list[Any]:
        """The task's rows; raises what the simulation raised, or :class:`JobAbandoned`
        (:class:`~.state.JobTimedOut` past a :class:`~.state.RunControl`'s limit)."""
        conn = self._connection()
        control = abandoned if isinstance(abandoned, RunControl) else None
        # Only this thread uses the connection while busy: closing a socket another thread
        # is writing to could let that write land in whatever reuses the descriptor.
        try:
            conn.send(task)
            self._wait(conn, abandoned, None)  # the child starts up: not timed
            if conn.recv() != _STARTED:
                raise EOFError("the job process sent no start signal")
            if control is not None:
                control.start()
            self._wait(conn, abandoned, control)
            ok, payload = conn.recv()
        except (EOFError, OSError) as exc:
            code = self._discard()
            if self._closed or abandoned():
                raise JobAbandoned from None
            raise RuntimeError(
                f"The emulator's job process exited (code {code}) while running the job; "
                "retry it, and run fewer or narrower circuits per job if it happens again."
            ) from exc
        except JobAbandoned:
            self._discard()
            raise
        with self._lock:
            self._busy = False
        if ok:
            return list(payload)
        raise payload

    def _wait(
        self, conn: Connection, abandoned: Callable[[], bool], control: RunControl | None
    ) -> None:
        """Until the child has something to say; :class:`JobAbandoned` if the job is
        abandoned or (with ``control``) out of time first."""
        while not conn.poll(POLL_SECONDS):
            if abandoned() or self._closed:
                raise JobAbandoned
            if control is not None:
                control.check()

    def _connection(self) -> Connection:
        with self._lock:
            if self._closed:
                raise JobAbandoned
            self._busy = True
            if self._conn is not None:
                return self._conn
            parent, child = Pipe(duplex=True)
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", _CHILD_MAIN, str(child.fileno())],
                    stdin=subprocess.DEVNULL,
                    pass_fds=(child.fileno(),),
                    env=_child_environment(),
                )
            finally:
                child.close()
            self.starts += 1
            self._conn = parent
            logger.debug("Emulator job process %d started.", self._process.pid)
        parent.send_bytes(self._setup)
        return parent

    def _discard(self) -> int | None:
        """Kill the child and drop the connection (called by the running thread only); the
        next job starts a new child."""
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
            self._busy = False
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()
        if conn is not None:
            conn.close()
        return None if process is None else process.wait()

    def close(self) -> None:
        """Stop the child; a job still running is abandoned. Idempotent."""
        with self._lock:
            self._closed = True
            if self._busy:
                # Killing the child ends the running thread's wait; that thread then drops
                # the connection itself (see run).
                if self._process is not None:
                    with contextlib.suppress(OSError):
                        self._process.kill()
                return
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        if process is None:
            return
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(fd: int) -> None:
    """The child's loop: run tasks received on the socket ``fd`` until told to stop."""
    conn = Connection(fd)
    systems, seed = pickle.loads(conn.recv_bytes())
    catalogue = SystemCatalogue(systems)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        # Built before the start signal, so a job's time limit counts simulation only; a
        # failure here is raised again by execute, into the reply.
        with contextlib.suppress(Exception):
            catalogue.simulator(task.system)
        conn.send(_STARTED)
        try:
            reply: tuple[bool, Any] = (True, execute(catalogue, seed, task))
        except Exception as exc:  # the parent fails the job with this exception
            reply = (False, exc)
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError):
            conn.send((False, RuntimeError(str(reply[1]))))
