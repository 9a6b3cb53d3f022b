"""The SQLite job journal: location, round trips, failure handling."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from qiskit_divi import journal as journal_module
from qiskit_divi.journal import (
    JOURNAL_ENV,
    KIND_BACKEND_RUN,
    KIND_SAMPLER,
    JobJournal,
    JournalEntry,
    JournalError,
    default_journal_path,
    record_quietly,
)


def test_location_follows_env_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv(JOURNAL_ENV, str(tmp_path / "j.sqlite3"))
    assert default_journal_path() == tmp_path / "j.sqlite3"
    monkeypatch.setenv(JOURNAL_ENV, "off")
    assert default_journal_path() is None
    monkeypatch.delenv(JOURNAL_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_journal_path() == tmp_path / "xdg" / "qiskit_divi" / "jobs.sqlite3"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_journal_path() == tmp_path / "home" / ".cache" / "qiskit_divi" / "jobs.sqlite3"


def test_record_lookup_replace_remove(tmp_path):
    journal = JobJournal(tmp_path / "sub" / "jobs.sqlite3")
    assert journal.lookup("nope") is None  # no file yet
    payload = {
        "shots": 100,
        "circuits": [{"label": "circuit_0", "name": "bell", "creg_sizes": [["c", 2]]}],
    }
    assert journal.record(
        "job-1", KIND_BACKEND_RUN, "qoro_maestro", payload, base_url="http://h/api"
    )
    entry = journal.lookup("job-1")
    assert isinstance(entry, JournalEntry)
    assert (entry.job_id, entry.kind, entry.backend_name, entry.base_url, entry.payload) == (
        "job-1",
        KIND_BACKEND_RUN,
        "qoro_maestro",
        "http://h/api",
        payload,
    )
    assert entry.created > 0
    journal.record("job-1", KIND_SAMPLER, "fake_ion", {"pubs": 2})
    assert journal.lookup("job-1").kind == KIND_SAMPLER
    journal.record("job-2", KIND_BACKEND_RUN, "fake_ion", {})
    assert [e.job_id for e in journal.recent()] == ["job-2", "job-1"]
    assert [e.job_id for e in journal.recent(kind=KIND_SAMPLER)] == ["job-1"]
    assert journal.remove("job-1") and not journal.remove("job-1")
    assert journal.lookup("job-1") is None


def test_default_journal_follows_the_env_at_each_call(monkeypatch, tmp_path):
    monkeypatch.setenv(JOURNAL_ENV, str(tmp_path / "a.sqlite3"))
    journal_module.record("j", KIND_BACKEND_RUN, "b", {"x": 1})
    assert journal_module.lookup("j").payload == {"x": 1}
    monkeypatch.setenv(JOURNAL_ENV, str(tmp_path / "b.sqlite3"))
    assert journal_module.lookup("j") is None
    monkeypatch.setenv(JOURNAL_ENV, "off")
    assert journal_module.record("j", KIND_BACKEND_RUN, "b", {}) is False
    assert journal_module.lookup("j") is None


def test_bad_payload_and_unwritable_path_raise_journal_error(tmp_path, caplog):
    journal = JobJournal(tmp_path / "jobs.sqlite3")
    with pytest.raises(JournalError, match="not JSON-serialisable"):
        journal.record("j", KIND_BACKEND_RUN, "b", {"x": object()})
    blocked = JobJournal(tmp_path)  # a directory, not a file
    with pytest.raises(JournalError, match="Could not write job j"):
        blocked.record("j", KIND_BACKEND_RUN, "b", {})
    with caplog.at_level(logging.WARNING, logger="qiskit_divi.journal"):
        assert record_quietly(blocked, "j", KIND_BACKEND_RUN, "b", {}) is False
    assert "only retrieval from another process is affected" in caplog.text


def test_corrupt_entry_is_reported(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    journal = JobJournal(path)
    journal.record("j", KIND_BACKEND_RUN, "b", {})
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE jobs SET payload = '{broken' WHERE job_id = 'j'")
    with pytest.raises(JournalError, match="corrupt"):
        journal.lookup("j")


def test_concurrent_writers(tmp_path):
    journal = JobJournal(tmp_path / "jobs.sqlite3")

    def write(start: int) -> None:
        for i in range(start, start + 20):
            journal.record(f"job-{i}", KIND_BACKEND_RUN, "b", {"i": i})

    threads = [threading.Thread(target=write, args=(k * 20,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(journal.lookup(f"job-{i}").payload == {"i": i} for i in range(80))
    assert isinstance(journal.path, Path) and "jobs.sqlite3" in repr(journal)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    """umask 000, so a private mode can only come from the journal itself."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_recent_skips_a_corrupt_entry_with_a_warning(tmp_path, caplog):
    path = tmp_path / "jobs.sqlite3"
    journal = JobJournal(path)
    for job_id in ("good-1", "broken", "not-an-object", "good-2"):
        journal.record(job_id, KIND_SAMPLER, "b", {"id": job_id})
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE jobs SET payload = '{broken' WHERE job_id = 'broken'")
        connection.execute("UPDATE jobs SET payload = '[1]' WHERE job_id = 'not-an-object'")
    with caplog.at_level(logging.WARNING, logger="qiskit_divi.journal"):
        entries = journal.recent()
    assert sorted(e.job_id for e in entries) == ["good-1", "good-2"]
    assert f"Skipping the journal entry of job broken in {path}: it is corrupt" in caplog.text
    assert "not-an-object" in caplog.text and "not an object" in caplog.text
    with pytest.raises(JournalError, match="not an object"):
        journal.lookup("not-an-object")


def test_recent_filters_by_backend_and_a_predicate_across_pages(tmp_path, monkeypatch):
    journal = JobJournal(tmp_path / "jobs.sqlite3")
    monkeypatch.setattr(journal_module.time, "time", lambda: 1000.0)  # every `created` ties
    for index in range(9):
        backend = "b" if index % 3 else "other"
        journal.record(f"job-{index}", KIND_SAMPLER, backend, {"index": index})
    # Ties are broken by insertion, newest first.
    assert [e.job_id for e in journal.recent(4)] == ["job-8", "job-7", "job-6", "job-5"]
    assert [e.job_id for e in journal.recent(10, backend_name="other")] == [
        "job-6",
        "job-3",
        "job-0",
    ]
    monkeypatch.setattr(journal_module, "_PAGE", 2)  # so the predicate needs several pages
    even = journal.recent(3, backend_name="b", accept=lambda e: e.payload["index"] % 2 == 0)
    assert [e.job_id for e in even] == ["job-8", "job-4", "job-2"]
    assert journal.recent(3, accept=lambda e: False) == []
    assert journal.recent(0) == []


def test_the_journal_is_created_private(tmp_path, permissive_umask):
    path = tmp_path / "cache" / "qiskit_divi" / "jobs.sqlite3"
    JobJournal(path).record("j", KIND_BACKEND_RUN, "b", {"circuits": ["secret-circuit"]})
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    existing = tmp_path / "mine"
    existing.mkdir(mode=0o755)
    JobJournal(existing / "jobs.sqlite3").record("j", KIND_BACKEND_RUN, "b", {})
    assert _mode(existing) == 0o755  # a directory the journal did not create is left alone
    assert _mode(existing / "jobs.sqlite3") == 0o600


def test_a_journal_readable_by_others_is_made_private_with_a_warning(tmp_path, caplog):
    path = tmp_path / "jobs.sqlite3"
    journal = JobJournal(path)
    journal.record("j", KIND_BACKEND_RUN, "b", {})
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="qiskit_divi.journal"):
        assert journal.lookup("j") is not None
    assert _mode(path) == 0o600
    assert f"The job journal {path} was readable by other users (mode 644)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qiskit_divi.journal"):
        journal.lookup("j")
    assert caplog.text == ""  # private now: nothing more to say
