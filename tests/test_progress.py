"""The progress display (qiskit_divi.progress) and the waits that show it: QoroJob.result(),
wait_for_final_state() and the primitives' result(), on a stand-in terminal and on a plain
stream (CI logs), switched off by the option or QISKIT_DIVI_PROGRESS."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest
from progress_capture import Stream, capture, statuses
from qiskit import transpile
from qiskit.providers import JobStatus as QiskitJobStatus
from sample_circuits import bell

from qiskit_divi import QoroJobTimeoutError, QoroProvider, SamplerV2, progress
from qiskit_divi.emulator import EmulatorConfig

TOKEN = "progress-tests-token-0f3b9d27c4"


@pytest.fixture(scope="module")
def timed_provider() -> Iterator[QoroProvider]:
    """Jobs stay PENDING/RUNNING for 0.3 s: a first poll is never final, a wait is short."""
    with QoroProvider.local(token=TOKEN, config=EmulatorConfig(min_job_seconds=0.3)) as prov:
        yield prov


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> Stream:
    return capture(monkeypatch, tty=True)


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> Stream:
    return capture(monkeypatch, tty=False)


def _no_display_threads() -> bool:
    return not any(t.name == "qiskit-divi-progress" for t in threading.enumerate())


# --- the display itself --------------------------------------------------------------


def test_a_terminal_line_is_redrawn_in_place_once_per_update(tty):
    display = progress.Display("Qoro job j1 on sys", delay=0.0)
    for status in ("PENDING", "PENDING", "RUNNING"):
        display.update(status)
    display.close("COMPLETED")
    text = tty.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1  # one line, rewritten in place
    shown = statuses(tty.frames(), "Qoro job j1 on sys")
    assert shown[:3] == ["PENDING", "PENDING", "RUNNING"]
    assert shown[3:] and set(shown[3:]) == {"COMPLETED"}  # the last state stays on screen
    assert tty.frames()[-1].endswith("[00:00]")  # the elapsed time


def test_plain_output_is_one_line_per_status_change(plain):
    display = progress.Display("Qoro job j2", delay=0.0)
    for status in ("PENDING", "PENDING", "SCHEDULED", "RUNNING", "RUNNING"):
        display.update(status)
    display.close("COMPLETED")
    assert "\r" not in plain.getvalue()
    assert statuses(plain.lines(), "Qoro job j2") == [
        "PENDING",
        "SCHEDULED",
        "RUNNING",
        "COMPLETED",
    ]


def test_nothing_is_drawn_before_the_delay_nor_after_close(tty):
    quick = progress.Display("quick", delay=60.0)
    quick.update("PENDING")
    quick.close("COMPLETED")
    late = progress.Display("late", delay=0.0)
    late.close()
    late.update("RUNNING")
    assert tty.getvalue() == ""


def test_counted_work_shows_done_of_total_from_any_thread(plain):
    display = progress.Display("batch", delay=0.0)
    display.set_total(8, "sub-batches")
    workers = [threading.Thread(target=display.advance) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    display.close("done")
    # Plain lines of counted work are throttled: the first and the final state print.
    assert plain.lines()[-1].startswith("batch: done, 8/8 sub-batches [")
    assert len(plain.lines()) == 2


def test_an_error_closes_the_display_with_what_stopped_it(tty):
    with pytest.raises(RuntimeError), progress.Display("work", delay=0.0) as display:
        display.update("RUNNING")
        raise RuntimeError("boom")
    assert statuses(tty.frames(), "work")[-1] == "RUNNING, stopped (RuntimeError)"
    assert tty.getvalue().endswith("\n")


def test_the_ticker_redraws_the_elapsed_time_and_stops_on_close(tty, monkeypatch):
    monkeypatch.setattr(progress, "TICK", 0.02)
    display = progress.Display("ticking", delay=0.0)
    display.update("RUNNING")
    frames_after_update = len(tty.frames())
    for _ in range(200):  # up to 2 s on a loaded machine; usually a few ms
        if len(tty.frames()) >= frames_after_update + 2:
            break
        threading.Event().wait(0.01)
    display.close()
    assert len(tty.frames()) >= frames_after_update + 2
    assert _no_display_threads()


@pytest.mark.parametrize(
    ("value", "on"),
    [("0", False), ("false", False), (" No ", False), ("OFF", False), ("1", True), ("", True)],
)
def test_the_environment_variable_turns_every_display_off(tty, monkeypatch, value, on):
    monkeypatch.setenv(progress.ENV_VAR, value)
    assert progress.enabled() is on and progress.enabled(False) is False
    for display in (progress.job_display("j3", "sys"), progress.local_display("local")):
        display.update("RUNNING")
        display.close("COMPLETED")
    assert bool(tty.getvalue()) is on
    assert progress.mode_of(tty) == "tty" and progress.mode_of(io.StringIO()) == "plain"


def test_a_disabled_display_writes_nothing_even_on_a_terminal(tty):
    display = progress.Display("off", delay=0.0, enabled=False)
    display.update("RUNNING")
    display.close("COMPLETED")
    assert tty.getvalue() == "" and not display.shown and _no_display_threads()


# --- QoroJob ---------------------------------------------------------------------------


def test_result_shows_the_job_on_a_terminal_and_updates_per_poll(tty, timed_provider):
    job = timed_provider.get_backend("qoro_maestro").run(bell(), shots=20)
    polls: list[QiskitJobStatus] = []
    job.result(wait=0.05, callback=lambda job_id, status, j: polls.append(status))
    prefix = f"Qoro job {job.job_id()} on qoro_maestro"
    shown = statuses(tty.frames(), prefix)
    non_final = [s for s in shown if s != "COMPLETED"]
    assert len(polls) >= 2 and polls[-1] is QiskitJobStatus.DONE
    assert len(non_final) == len(polls) - 1  # one redraw per poll that was not final
    assert set(non_final) <= {"PENDING", "SCHEDULED", "RUNNING"} and shown[-1] == "COMPLETED"
    assert tty.getvalue().count("\n") == 1 and _no_display_threads()
    assert TOKEN not in tty.getvalue() and "token" not in tty.getvalue().lower()


def test_wait_without_a_terminal_prints_one_line_per_status_change(plain, timed_provider):
    job = timed_provider.get_backend("qoro_maestro").run(bell(), shots=20)
    assert job.wait_for_final_state(wait=0.02) is QiskitJobStatus.DONE
    shown = statuses(plain.lines(), f"Qoro job {job.job_id()} on qoro_maestro")
    assert shown[-1] == "COMPLETED" and shown[0] in ("PENDING", "SCHEDULED", "RUNNING")
    assert all(a != b for a, b in zip(shown, shown[1:], strict=False))  # changes only
    assert TOKEN not in plain.getvalue()


def test_a_final_job_and_a_cached_result_show_nothing(tty, timed_provider):
    job = timed_provider.get_backend("qoro_maestro").run(bell(), shots=20, progress=False)
    job.result()
    again = timed_provider.retrieve_job(job.job_id())  # its first poll is final
    again.result()
    again.result()
    assert tty.getvalue() == ""


def test_progress_false_and_the_environment_variable_silence_the_wait(
    tty, timed_provider, monkeypatch
):
    backend = timed_provider.get_backend("qoro_maestro")
    backend.run(bell(), shots=20, progress=False).result()
    backend.run(bell(), shots=20).result(progress=False)
    monkeypatch.setenv(progress.ENV_VAR, "0")
    backend.run(bell(), shots=20).wait_for_final_state()
    assert tty.getvalue() == "" and _no_display_threads()


def test_a_timeout_closes_the_display_with_the_last_status(tty, slow_provider):
    job = slow_provider.get_backend("qoro_maestro").run(bell(), shots=10)
    try:
        with pytest.raises(QoroJobTimeoutError):
            job.result(timeout=0.3, wait=0.05)
    finally:
        job.cancel()
    shown = statuses(tty.frames(), f"Qoro job {job.job_id()} on qoro_maestro")
    assert len(shown) >= 2
    assert shown[-1] in ("PENDING, wait timed out", "RUNNING, wait timed out")
    assert tty.getvalue().endswith("\n") and _no_display_threads()


# --- primitives -------------------------------------------------------------------------


def test_the_primitive_result_shows_its_qoro_job_unless_progress_is_off(tty, timed_provider):
    backend = timed_provider.get_backend("qoro_maestro")
    circuit = transpile(bell(), backend)
    quiet = SamplerV2(mode=backend, options={"progress": False}).run([circuit], shots=20)
    quiet.result()
    assert tty.getvalue() == ""
    job = SamplerV2(mode=backend).run([circuit], shots=20)
    job.result()
    shown = statuses(tty.frames(), f"Qoro job {job.job_id()} on qoro_maestro")
    assert shown and shown[0] != "COMPLETED" and shown[-1] == "COMPLETED"
