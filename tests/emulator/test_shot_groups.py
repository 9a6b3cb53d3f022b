"""Per-circuit shots (``shot_groups``, ``qoro-api.md`` 5.6): each circuit is sampled with
its own shots, and malformed groups are refused before anything is stored.

Distributions are checked against ``Statevector`` probabilities within
``ground_truth.tvd_bound`` (false alarm below 1e-9 per comparison).
"""

from __future__ import annotations

from typing import Any

import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from qiskit import QuantumCircuit

from qiskit_divi.api.circuits import pack_circuit
from qiskit_divi.api.histogram import decode_envelope
from qiskit_divi.api.models import JobType
from qiskit_divi.emulator import EmulatorConfig
from qiskit_divi.emulator.circuits import CircuitParser
from qiskit_divi.emulator.handlers import make_runner
from qiskit_divi.emulator.state import Job
from qiskit_divi.emulator.systems import SystemCatalogue, shot_batches
from qiskit_divi.emulator.worker import Task


def _ry(theta: float) -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def _qasm(theta: float) -> str:
    return (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
        f"ry({theta!r}) q[0];\ncx q[0],q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];\n"
    )


THETAS = [0.4, 1.3, 2.2, 0.9, 2.8]


def _body(
    thetas: list[float], groups: Any, *, finalized: bool = True, first: int = 0
) -> dict[str, Any]:
    return {
        "circuits": {f"c{first + i}": pack_circuit(_qasm(t)) for i, t in enumerate(thetas)},
        "mode": "append",
        "finalized": "true" if finalized else "false",
        "shot_groups": groups,
    }


def _integer_counts(histogram: dict[str, int]) -> dict[int, int]:
    return {int(bits, 2): n for bits, n in histogram.items()}


def test_each_circuit_is_sampled_with_its_own_shots(api):
    groups = [[0, 1, 300], [1, 4, 2000], [4, 5, 7]]
    job_id = api.init()
    resp = api.post(f"job/{job_id}/add_circuits/", _body(THETAS, groups))
    assert resp.status_code == 200, resp.text
    counts = api.counts(job_id)
    expected_shots = [300, 2000, 2000, 2000, 7]
    assert [sum(counts[f"c{i}"].values()) for i in range(5)] == expected_shots
    for i, theta in enumerate(THETAS):
        assert_sampled_from(
            _integer_counts(counts[f"c{i}"]), outcome_probabilities(_ry(theta)), f"c{i}"
        )


def test_groups_are_local_to_each_chunk(api):
    """Two chunks, each tiled by its own groups from index 0."""
    job_id = api.init()
    path = f"job/{job_id}/add_circuits/"
    first = api.post(path, _body(THETAS[:2], [[0, 1, 11], [1, 2, 22]], finalized=False))
    assert first.status_code == 200, first.text
    second = api.post(path, _body(THETAS[2:], [[0, 3, 33]], first=2))
    assert second.status_code == 200, second.text
    counts = api.counts(job_id)
    assert [sum(counts[f"c{i}"].values()) for i in range(5)] == [11, 22, 33, 33, 33]


@pytest.mark.parametrize(
    ("groups", "says"),
    [
        ({"0": [0, 2, 10]}, "list of [start, end, shots]"),
        ([[0, 2]], "Shot group 0"),
        ([[0, 2, 10, 1]], "Shot group 0"),
        ([(0, 2, 10), "x"], "Shot group 1"),
        ([[0, 1.0, 10], [1, 2, 10]], "Shot group 0"),
        ([[False, 2, 10]], "Shot group 0"),
        ([[-1, 2, 10]], "Shot group 0"),
        ([[0, 2, 0]], "must be positive"),
        ([[0, 2, -5]], "must be positive"),
        ([[0, 2, 1.5]], "must be an integer"),
        ([[0, 2, True]], "must be an integer"),
        ([[0, 2, 10**7]], "must not exceed"),
        ([], "cover circuits 0 to 0"),
        ([[0, 1, 10]], "cover circuits 0 to 1"),
        ([[1, 2, 10]], "group 0"),
        ([[0, 1, 10], [0, 2, 10]], "group 1"),
        ([[0, 1, 10], [2, 2, 10]], "group 1"),
        ([[0, 2, 10], [2, 3, 10]], "group 1"),
        ([[0, 0, 10], [0, 2, 10]], "group 0"),
        ([[0, 10**30, 10]], "group 0"),
    ],
)
def test_malformed_shot_groups_are_refused_before_anything_is_stored(server, api, groups, says):
    job_id = api.init()
    resp = api.post(f"job/{job_id}/add_circuits/", _body(THETAS[:2], groups))
    assert resp.status_code == 400, resp.text
    assert says in resp.json()["error"]
    assert server.jobs[job_id].n_circuits == 0


@pytest.mark.parametrize(
    ("extra", "says"),
    [({"shots": 10}, "Exactly one of"), ({"observables": "ZZ"}, "Exactly one of")],
)
def test_shot_groups_exclude_shots_and_observables(api, extra, says):
    job_id = api.init()
    resp = api.post(f"job/{job_id}/add_circuits/", _body(THETAS[:1], [[0, 1, 10]]) | extra)
    assert resp.status_code == 400 and says in resp.json()["error"]


def test_expectation_jobs_refuse_shot_groups(api):
    job_id = api.init("EXPECTATION")
    resp = api.post(f"job/{job_id}/add_circuits/", _body(THETAS[:1], [[0, 1, 10]]))
    assert resp.status_code == 400
    assert "EXPECTATION jobs take 'observables', not 'shot_groups'" in resp.json()["error"]


def test_a_job_keeps_one_form_across_its_chunks(api, qasm):
    grouped = api.init()
    path = f"job/{grouped}/add_circuits/"
    assert api.post(path, _body(THETAS[:1], [[0, 1, 10]], finalized=False)).status_code == 200
    resp = api.add(grouped, {"later": qasm(1)}, shots=10)
    assert resp.status_code == 400 and "send 'shot_groups' with every" in resp.json()["error"]

    uniform = api.init()
    assert api.add(uniform, {"first": qasm(1)}, finalized=False, shots=10).status_code == 200
    resp = api.post(f"job/{uniform}/add_circuits/", _body(THETAS[:1], [[0, 1, 10]]))
    assert resp.status_code == 400 and "sent 'shots' (10)" in resp.json()["error"]


def test_the_memory_estimate_counts_the_largest_group(make_server, client):
    """2000 circuits of 12 clbits: within a 64 MiB budget at 10 shots each, over it when one
    group asks for 100 000 shots (the estimate takes the most shots for every circuit)."""
    srv = make_server(config=EmulatorConfig(max_job_memory_bytes=2**26))
    api = client(srv)
    qasm = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[12];\ncreg c[12];\nh q;\nmeasure q -> c;\n'
    circuits = {f"c{i}": pack_circuit(qasm) for i in range(2000)}
    job_id = api.init()
    body = {"circuits": circuits, "mode": "append", "finalized": "true"}
    big = body | {"shot_groups": [[0, 1, 100_000], [1, 2000, 10]]}
    resp = api.post(f"job/{job_id}/add_circuits/", big)
    assert resp.status_code == 400 and "memory budget" in resp.json()["error"]
    assert srv.jobs[job_id].n_circuits == 0
    small = body | {"finalized": "false", "shot_groups": [[0, 1, 20], [1, 2000, 10]]}
    assert api.post(f"job/{job_id}/add_circuits/", small).status_code == 200


# --- the runner and the sampler ----------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue() -> SystemCatalogue:
    return SystemCatalogue()


def test_each_circuit_runs_with_its_own_shots_in_one_job(catalogue):
    run = make_runner(catalogue, 3)
    shots = [5, 1000, 5, 3000, 1]
    job = _job(shots, shots=None, texts=[_qasm(t) for t in THETAS])
    envelopes = run(job, lambda: False)

    assert [sum(decode_envelope(e).values()) for e in envelopes] == shots
    for envelope, theta in zip(envelopes[1:4:2], THETAS[1:4:2], strict=True):
        counts = _integer_counts(decode_envelope(envelope))
        assert_sampled_from(counts, outcome_probabilities(_ry(theta)), f"ry({theta})")


def test_seeded_shot_groups_draw_independent_streams(catalogue):
    """Two copies of a 10-qubit uniform circuit in different shot groups of one seeded job:
    a shared random stream (each group restarting the seed) gives histograms equal but for
    the last shot; independent ones differ on hundreds of the 1024 outcomes."""
    n = 10
    uniform = (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n}];\ncreg c[{n}];\nh q;\nmeasure q -> c;\n'
    )
    run = make_runner(catalogue, 3)
    first, second = (
        decode_envelope(e)
        for e in run(_job([1000, 999], shots=None, texts=[uniform] * 2), lambda: False)
    )
    differing = sum(first.get(k, 0) != second.get(k, 0) for k in set(first) | set(second))
    assert differing > 100


def test_shot_batches_group_positions_by_value_in_first_appearance_order():
    assert shot_batches([5, 7, 5, 9, 7]) == [(5, [0, 2]), (7, [1, 4]), (9, [3])]
    assert shot_batches([]) == []


class _RecordingProcess:
    """Stands in for the job process: records each task, answers one row per circuit."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []

    def run(self, task: Task, abandoned: Any) -> list[Any]:
        self.tasks.append(task)
        return [{"shots": task.shots, "circuit": id(c)} for c in task.circuits]


def _job(circuit_shots: list[int], shots: int | None, texts: list[str] | None = None) -> Job:
    """A sampling job of ``texts`` (default: ry circuits), ``circuit_shots`` per circuit."""
    parser = CircuitParser()
    if texts is None:
        texts = [_qasm(0.1 * (i + 1)) for i in range(len(circuit_shots))]
    circuits = [parser.parse(text) for text in texts]
    return Job(
        id="j",
        owner="o",
        tag="t",
        job_type=JobType.SIMULATE,
        system="qoro_maestro",
        created_at=0.0,
        labels=[f"c{i}" for i in range(len(circuits))],
        circuits=circuits,
        shots=shots,
        circuit_shots=circuit_shots,
    )


def test_the_runner_keeps_one_batched_task_when_all_shots_are_equal(catalogue):
    process = _RecordingProcess()
    run = make_runner(catalogue, None, process)  # type: ignore[arg-type]
    job = _job([50, 50, 50], shots=50)
    rows = run(job, lambda: False)
    assert len(process.tasks) == 1 and process.tasks[0].shots == 50
    assert [row["circuit"] for row in rows] == [id(c) for c in job.circuits]


def test_the_runner_runs_one_task_per_shots_value_and_keeps_the_order(catalogue):
    process = _RecordingProcess()
    run = make_runner(catalogue, None, process)  # type: ignore[arg-type]
    job = _job([10, 20, 10, 30], shots=None)
    rows = run(job, lambda: False)
    assert sorted(task.shots or 0 for task in process.tasks) == [10, 20, 30]
    assert [row["shots"] for row in rows] == [10, 20, 10, 30]
    assert [row["circuit"] for row in rows] == [id(c) for c in job.circuits]
    assert sum(len(task.circuits) for task in process.tasks) == 4
    # A seeded job's tasks take disjoint seed ranges (seed + offset + i, i < 4).
    assert sorted(task.seed_offset for task in process.tasks) == [0, 4, 8]
