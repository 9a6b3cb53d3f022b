"""The local job journal: what a fresh process needs to rebuild a job's result.

A Qoro job id alone gives counts per circuit *label*. Circuit names, register
layouts, shots and the kind of job live only on the submitting machine, so
every submission records them here, in SQLite (stdlib :mod:`sqlite3`), keyed by
job id. One row per job::

    job_id TEXT PRIMARY KEY, kind TEXT, backend_name TEXT, base_url TEXT,
    created REAL (Unix time), payload TEXT (JSON)

``kind`` says who wrote the row and how to read ``payload``:
:data:`KIND_BACKEND_RUN` (``QoroBackend.run``), :data:`KIND_SAMPLER`,
:data:`KIND_ESTIMATOR`; each writer owns the shape of its payload. The API token
is never stored.

Location: the ``QISKIT_DIVI_JOURNAL`` environment variable (a file path; ``off``
disables journaling), else ``$XDG_CACHE_HOME/qiskit_divi/jobs.sqlite3``
(``~/.cache/qiskit_divi/jobs.sqlite3``). The variable is read on every use, so a
process can redirect it at any time. Each operation opens a short-lived
connection, which keeps the journal safe to share between threads and processes.

The journal names the user's jobs and circuits, so it is private: the file is created
with mode 0600 (and its directory, when the journal creates it, 0700), and an existing
file that other users can read is made private, with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import JournalError

logger = logging.getLogger(__name__)

JOURNAL_ENV = "QISKIT_DIVI_JOURNAL"
DISABLED_VALUES = frozenset({"off", "none", "0", "false", "no"})

KIND_BACKEND_RUN = "backend-run"
KIND_SAMPLER = "sampler"
KIND_ESTIMATOR = "estimator"

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_OTHERS = 0o077
_warned_unfixable: set[Path] = set()
_PAGE = 200
"""Rows read at a time when :meth:`JobJournal.recent` filters in Python."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    backend_name TEXT NOT NULL,
    base_url TEXT,
    created REAL NOT NULL,
    payload TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class JournalEntry:
    """One journaled job."""

    job_id: str
    kind: str
    backend_name: str
    created: float
    payload: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None


def _make_private(path: Path) -> None:
    """Create ``path`` private, or make an existing regular file of it private."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=PRIVATE_DIR_MODE, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(descriptor)  # SQLite takes an empty file as an empty database
        return
    if os.name != "posix":
        return  # POSIX modes only; elsewhere the user profile's ACLs apply
    try:
        info = path.stat()
    except OSError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode) or not mode & _OTHERS:
        return
    try:
        os.chmod(path, mode & ~_OTHERS)
    except OSError as exc:
        if path not in _warned_unfixable:
            _warned_unfixable.add(path)
            logger.warning(
                "The job journal %s is readable by other users (mode %o) and could not be made "
                "private (%s); it names your jobs and circuits: run chmod 600 on it.",
                path,
                mode,
                exc,
            )
        return
    logger.warning(
        "The job journal %s was readable by other users (mode %o); made it private (mode %o), "
        "as it names your jobs and circuits.",
        path,
        mode,
        mode & ~_OTHERS,
    )


def _payload(text: object) -> dict[str, Any]:
    """The JSON object a row stores; ValueError when it is not one."""
    if not isinstance(text, str):
        raise ValueError(f"the payload is {type(text).__name__}, not JSON text")
    payload = json.loads(text)
    if not isinstance(payload, dict):
        raise ValueError(f"the payload is a JSON {type(payload).__name__}, not an object")
    return payload


def default_journal_path() -> Path | None:
    """Where the journal lives now (``None`` when disabled), per the module docstring."""
    configured = os.environ.get(JOURNAL_ENV, "").strip()
    if configured.lower() in DISABLED_VALUES:
        return None
    if configured:
        return Path(configured).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache_home).expanduser() if cache_home else Path.home() / ".cache"
    return base / "qiskit_divi" / "jobs.sqlite3"


class JobJournal:
    """A journal file. ``path=None`` follows :func:`default_journal_path` at each call."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(path).expanduser() if path is not None else None

    @property
    def path(self) -> Path | None:
        """The file in use (``None`` when journaling is disabled)."""
        return self._path if self._path is not None else default_journal_path()

    def __repr__(self) -> str:
        return f"JobJournal(path={str(self.path) if self.path else None!r})"

    def _connect(self, path: Path) -> sqlite3.Connection:
        _make_private(path)
        connection = sqlite3.connect(path, timeout=30.0)
        connection.execute(_SCHEMA)
        return connection

    def record(
        self,
        job_id: str,
        kind: str,
        backend_name: str,
        payload: dict[str, Any],
        *,
        base_url: str | None = None,
    ) -> bool:
        """Store (or replace) the entry of ``job_id``; False when journaling is disabled.

        ``payload`` must be JSON-serialisable; raises :class:`JournalError` when
        the file cannot be written.
        """
        path = self.path
        if path is None:
            return False
        try:
            text = json.dumps(payload, separators=(",", ":"), allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise JournalError(
                f"Journal payload of job {job_id} is not JSON-serialisable: {exc}"
            ) from exc
        try:
            connection = self._connect(path)
            try:
                with connection:
                    connection.execute(
                        "INSERT OR REPLACE INTO jobs "
                        "(job_id, kind, backend_name, base_url, created, payload) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (str(job_id), kind, backend_name, base_url, time.time(), text),
                    )
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(
                f"Could not write job {job_id} to the journal {path}: {exc}."
            ) from exc
        logger.debug("Journaled job %s (%s on %s) in %s", job_id, kind, backend_name, path)
        return True

    def lookup(self, job_id: str) -> JournalEntry | None:
        """The entry of ``job_id``, or None (also when the journal is missing or disabled)."""
        path = self.path
        if path is None or not path.exists():
            return None
        try:
            connection = self._connect(path)
            try:
                row = connection.execute(
                    "SELECT job_id, kind, backend_name, base_url, created, payload FROM jobs "
                    "WHERE job_id = ?",
                    (str(job_id),),
                ).fetchone()
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"Could not read the journal {path}: {exc}.") from exc
        if row is None:
            return None
        try:
            payload = _payload(row[5])
        except ValueError as exc:
            raise JournalError(
                f"The journal entry of job {job_id} in {path} is corrupt: {exc}."
            ) from exc
        return _entry(row, payload)

    def remove(self, job_id: str) -> bool:
        """Delete the entry of ``job_id``; True when there was one."""
        path = self.path
        if path is None or not path.exists():
            return False
        try:
            connection = self._connect(path)
            try:
                with connection:
                    cursor = connection.execute("DELETE FROM jobs WHERE job_id = ?", (str(job_id),))
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"Could not update the journal {path}: {exc}.") from exc
        return cursor.rowcount > 0

    def recent(
        self,
        limit: int = 20,
        *,
        kind: str | None = None,
        backend_name: str | None = None,
        accept: Callable[[JournalEntry], bool] | None = None,
    ) -> list[JournalEntry]:
        """The newest ``limit`` entries first, of one ``kind`` and ``backend_name`` when given,
        and for which ``accept(entry)`` is true (a filter SQL cannot apply, e.g. on the
        payload). A corrupt entry is skipped with a warning."""
        path = self.path
        if path is None or not path.exists() or limit <= 0:
            return []
        query = "SELECT job_id, kind, backend_name, base_url, created, payload FROM jobs"
        conditions = []
        args: list[Any] = []
        if kind is not None:
            conditions.append("kind = ?")
            args.append(kind)
        if backend_name is not None:
            conditions.append("backend_name = ?")
            args.append(backend_name)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        # rowid breaks ties of `created`: a replaced row gets a new one, as it is new.
        query += " ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?"
        # Without `accept`, one page of `limit` rows; with it, pages until `limit` pass.
        page = int(limit) if accept is None else max(int(limit), _PAGE)
        entries: list[JournalEntry] = []
        offset = 0
        while len(entries) < limit:
            rows = self._rows(path, query, (*args, page, offset))
            for entry in self._entries(path, rows):
                if accept is None or accept(entry):
                    entries.append(entry)
                    if len(entries) == limit:
                        break
            if len(rows) < page or accept is None:
                break
            offset += page
        return entries

    def _rows(self, path: Path, query: str, args: Sequence[Any]) -> list[Any]:
        try:
            connection = self._connect(path)
            try:
                return connection.execute(query, tuple(args)).fetchall()
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"Could not read the journal {path}: {exc}.") from exc

    @staticmethod
    def _entries(path: Path, rows: Sequence[Sequence[Any]]) -> Iterator[JournalEntry]:
        for r in rows:
            try:
                payload = _payload(r[5])
            except ValueError as exc:
                logger.warning(
                    "Skipping the journal entry of job %s in %s: it is corrupt (%s).",
                    r[0],
                    path,
                    exc,
                )
                continue
            yield _entry(r, payload)


def default_journal() -> JobJournal:
    """The journal at the configured location (resolved at each operation)."""
    return JobJournal()


def record(
    job_id: str,
    kind: str,
    backend_name: str,
    payload: dict[str, Any],
    *,
    base_url: str | None = None,
) -> bool:
    """:meth:`JobJournal.record` on the default journal."""
    return default_journal().record(job_id, kind, backend_name, payload, base_url=base_url)


def lookup(job_id: str) -> JournalEntry | None:
    """:meth:`JobJournal.lookup` on the default journal."""
    return default_journal().lookup(job_id)


def record_quietly(
    journal: JobJournal,
    job_id: str,
    kind: str,
    backend_name: str,
    payload: dict[str, Any],
    *,
    base_url: str | None = None,
) -> bool:
    """Like :meth:`JobJournal.record` but a failure is logged, not raised.

    For callers that have already created the job: losing the journal entry
    only costs re-attachment from another process, never the job itself.
    """
    try:
        return journal.record(job_id, kind, backend_name, payload, base_url=base_url)
    except JournalError as exc:
        logger.warning(
            "%s The job itself is fine; only retrieval from another process is affected.", exc
        )
        return False


def _entry(row: Sequence[Any], payload: dict[str, Any]) -> JournalEntry:
    """The entry of a ``(job_id, kind, backend_name, base_url, created, ...)`` row."""
    return JournalEntry(
        job_id=row[0],
        kind=row[1],
        backend_name=row[2],
        base_url=row[3],
        created=row[4],
        payload=payload,
    )
