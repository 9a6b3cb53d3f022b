"""ParallelSimulator's progress display: a long batch shows its elapsed time, a split one
its sub-batches done / total (counted as they finish, on any executor); none with
progress=False, and none for a batch shorter than progress.LOCAL_DELAY."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from progress_capture import Stream, capture, statuses

from qiskit_divi import progress
from qiskit_divi.backends import ParallelSimulator

BELL = "h q[0];\ncx q[0],q[1];\nmeasure q -> c;"
PREFIX = "ParallelSimulator: 3 circuits x 50 shots"


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> Stream:
    return capture(monkeypatch, tty=True)


@pytest.fixture
def circuits(make_qasm) -> dict[str, str]:
    return {f"c{i}": make_qasm(f"x q[{i % 2}];\n{BELL}") for i in range(3)}


def test_a_whole_batch_shows_simulating_then_done(tty, circuits):
    result = ParallelSimulator(shots=50, simulation_seed=3).submit_circuits(circuits)
    assert [row["label"] for row in result.results] == list(circuits)
    shown = statuses(tty.frames(), PREFIX)
    assert shown[0] == "simulating" and shown[-1] == "done"
    assert tty.getvalue().endswith("\n")


def test_sub_batches_are_counted_as_they_finish(tty, circuits):
    with ThreadPoolExecutor(2) as pool:
        simulator = ParallelSimulator(shots=50, simulation_seed=3, executor=pool, max_job_size=1)
        split = simulator.submit_circuits(circuits).results
    whole = ParallelSimulator(shots=50, simulation_seed=3, progress=False)
    assert split == whole.submit_circuits(circuits).results  # the display changes nothing
    frames = [f for f in tty.frames() if f.startswith(PREFIX)]
    assert "done, 3/3 sub-batches" in frames[-1]
    counts = [int(f.split(", ")[1].split("/")[0]) for f in frames if "sub-batches" in f]
    assert counts == sorted(counts) and counts[-1] == 3


def test_a_local_split_counts_too(tty, circuits):
    ParallelSimulator(shots=50, max_job_size=2).submit_circuits(circuits)
    assert "done, 2/2 sub-batches" in tty.frames()[-1]


def test_no_display_when_off_or_quick(tty, circuits, monkeypatch):
    ParallelSimulator(shots=50, progress=False).submit_circuits(circuits)
    monkeypatch.setattr(progress, "LOCAL_DELAY", 60.0)
    ParallelSimulator(shots=50).submit_circuits(circuits)
    assert tty.getvalue() == ""
    with pytest.raises(TypeError, match="progress"):
        ParallelSimulator(progress="yes")


def test_dask_tasks_are_counted_done_of_total(tty, circuits):
    distributed = pytest.importorskip(
        "distributed", reason="the dask extra is not installed (pip install -e '.[dask]')"
    )
    # In-process workers and scheduler (inproc://): fast to start.
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=False,
            dashboard_address="127.0.0.1:0",  # loopback, any free port: no clash
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ParallelSimulator(shots=50, executor=client, max_job_size=1).submit_circuits(circuits)
    assert "done, 3/3 sub-batches" in tty.frames()[-1]


class _RepeatingCallbackExecutor:
    """An executor whose futures call each done callback twice (as some Dask versions do)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(2)

    def submit(self, fn, *args):
        future = self._pool.submit(fn, *args)
        add = future.add_done_callback

        def add_twice(callback):
            add(callback)
            add(callback)

        future.add_done_callback = add_twice  # type: ignore[method-assign]
        return future

    def shutdown(self) -> None:
        self._pool.shutdown()


def test_a_future_that_reports_twice_counts_once(tty, circuits, monkeypatch):
    advances: list[int] = []
    original = progress.Display.advance

    def counting(self, n: int = 1) -> None:
        advances.append(n)
        original(self, n)

    monkeypatch.setattr(progress.Display, "advance", counting)
    executor = _RepeatingCallbackExecutor()
    try:
        ParallelSimulator(
            shots=50, simulation_seed=3, executor=executor, max_job_size=1
        ).submit_circuits(circuits)
    finally:
        executor.shutdown()
    assert advances == [1, 1, 1]  # one per sub-batch, though each reported twice
    frames = [f for f in tty.frames() if f.startswith(PREFIX)]
    assert "done, 3/3 sub-batches" in frames[-1]
