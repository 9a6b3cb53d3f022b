"""``qiskit-divi jobs`` / ``qiskit-divi job``, run through ``qiskit_divi.cli.main`` with the
token, URL and journal in the environment, as a user's shell has them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from qiskit import QuantumCircuit
from test_jobs import DEAD_EMULATOR, SHOTS, ThreeJobs, deterministic_circuit, submit_three

from qiskit_divi import EstimatorV2, QoroProvider
from qiskit_divi.cli import main
from qiskit_divi.journal import JobJournal


@pytest.fixture
def shell(tmp_path, monkeypatch) -> JobJournal:
    """The environment of a user's shell: its journal (the URL and token come per server)."""
    path = tmp_path / "jobs.sqlite3"
    monkeypatch.setenv("QISKIT_DIVI_JOURNAL", str(path))
    monkeypatch.setenv("QISKIT_DIVI_PROGRESS", "0")
    return JobJournal(path)


def _point_at(monkeypatch, url: str, token: str) -> None:
    monkeypatch.setenv("QORO_API_URL", url)
    monkeypatch.setenv("QORO_API_KEY", token)


@pytest.fixture
def user(shell, emulator_server, emulator_token, monkeypatch) -> Iterator[QoroProvider]:
    """The user's provider on the session emulator, journaling where the CLI reads."""
    _point_at(monkeypatch, emulator_server.base_url, emulator_token)
    with QoroProvider(journal=shell) as provider:
        yield provider


@pytest.fixture
def three(user) -> ThreeJobs:
    return submit_three(user)


@pytest.fixture
def slow_user(shell, slow_provider, monkeypatch) -> Iterator[QoroProvider]:
    assert slow_provider.emulator is not None
    _point_at(monkeypatch, slow_provider.url, slow_provider.emulator.tokens[0])
    with QoroProvider(journal=shell) as provider:
        yield provider


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_jobs_lists_the_three_newest_first(capsys, three):
    code, out, err = run_cli(capsys, "jobs")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["JOB", "ID", "KIND", "BACKEND"]
    ids = [three.estimator.job_id(), three.sampler.job_id(), three.run.job_id()]
    assert [row.split()[0] for row in rows] == ids
    assert [row.split()[1:5] for row in rows] == [
        ["estimator", "qoro_maestro", "DONE", "COMPLETED"],
        ["sampler", "qoro_maestro", "DONE", "COMPLETED"],
        ["backend-run", "qoro_maestro", "DONE", "COMPLETED"],
    ]
    assert [row.split()[-3:] for row in rows] == [
        ["-", "1", "PUB"],
        [str(SHOTS), "2", "PUBs"],
        [str(SHOTS), "1", "circuit"],
    ]


def test_jobs_filters_and_json(capsys, user, three):
    code, out, _ = run_cli(capsys, "jobs", "--json")
    assert code == 0
    assert json.loads(out) == [r.to_json() for r in user.jobs()]

    def listed(*options: str) -> list[str]:
        code, out, err = run_cli(capsys, "jobs", "--json", *options)
        assert code == 0, err
        return [item["job_id"] for item in json.loads(out)]

    assert listed("--kind", "sampler") == [three.sampler.job_id()]
    assert listed("--limit", "1") == [three.estimator.job_id()]
    assert listed("--status", "done", "--backend", "qoro_maestro") == [
        three.estimator.job_id(),
        three.sampler.job_id(),
        three.run.job_id(),
    ]
    assert listed("--status", "CANCELLED") == []
    assert listed("--backend", "fake_ion") == []
    code, out, _ = run_cli(capsys, "jobs", "--backend", "fake_ion")
    assert code == 0 and out.startswith("No journaled jobs with backend fake_ion at ")


def test_local_emulator_jobs_are_kept_apart(capsys, shell, three):
    shell.record("dead-emulator-job", "backend-run", "qoro_maestro", {}, base_url=DEAD_EMULATOR)
    _, out, _ = run_cli(capsys, "jobs")
    assert "dead-emulator-job" not in out
    code, out, _ = run_cli(capsys, "jobs", "--all")
    assert code == 0
    assert out.splitlines()[1].split()[:5] == [
        "dead-emulator-job",
        "backend-run",
        "qoro_maestro",
        "-",
        "-",
    ]
    assert out.splitlines()[-1].startswith(f"(no status: jobs of {DEAD_EMULATOR}, not of ")


def test_job_shows_status_system_shots_and_when(capsys, three):
    code, out, err = run_cli(capsys, "job", three.run.job_id())
    assert code == 0, err
    fields = dict(line.split(None, 1) for line in out.splitlines() if not line.startswith("Run "))
    assert fields["Job"] == three.run.job_id()
    assert fields["Kind"] == "backend-run"
    assert fields["System"] == "qoro_maestro"
    assert fields["Status"] == "DONE (COMPLETED)"
    assert fields["Shots"] == str(SHOTS)
    assert fields["Circuits"] == "1"
    assert fields["Created"][:4].isdigit()
    code, out, _ = run_cli(capsys, "job", three.sampler.job_id())
    assert code == 0 and "PUBs      2" in out.splitlines()


def test_job_result_prints_counts_or_expectation_values_as_json(capsys, three):
    code, out, err = run_cli(capsys, "job", three.run.job_id(), "--result")
    assert code == 0, err
    data = json.loads(out)
    assert data["kind"] == "backend-run"
    assert [c["counts"] for c in data["results"]] == [three.counts]
    assert data["results"][0]["name"] == "deterministic"

    _, out, _ = run_cli(capsys, "job", three.sampler.job_id(), "--result")
    data = json.loads(out)
    assert data["kind"] == "sampler"
    assert [pub["counts"] for pub in data["pubs"]] == [{"c": three.counts}] * 2

    _, out, _ = run_cli(capsys, "job", three.estimator.job_id(), "--result")
    data = json.loads(out)
    assert data["kind"] == "estimator"
    assert np.array_equal(np.asarray(data["pubs"][0]["evs"]), three.evs)
    assert "cutting" not in data["pubs"][0]


def test_job_result_of_a_cut_estimate_says_what_was_cut(capsys, user):
    # A 3-qubit GHZ state, cut into pieces of 2 (one cut cx).
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    estimator = EstimatorV2(user.backend("qoro_maestro"), options={"cutting_max_qubits": 2})
    job = estimator.run([(circuit, ["ZIZ", "IZZ"])], precision=0.1)
    job.result()
    _, out, _ = run_cli(capsys, "job", job.job_id(), "--result")
    pub = json.loads(out)["pubs"][0]
    assert pub["cutting"] == job.result()[0].metadata["cutting"]
    assert pub["cutting"]["max_qubits"] == 2
    assert pub["cutting"]["sampling_overhead"] == pytest.approx(9.0)
    assert pub["evs"] == job.result()[0].data.evs.tolist()


def test_job_cancel_on_a_running_job(capsys, slow_user):
    job = slow_user.backend("qoro_maestro").run(deterministic_circuit(), shots=10, progress=False)
    code, out, err = run_cli(capsys, "job", job.job_id(), "--cancel")
    assert (code, out, err) == (0, f"Cancelled job {job.job_id()}.\n", "")
    code, out, _ = run_cli(capsys, "job", job.job_id())
    assert code == 0 and "Status    CANCELLED (CANCELLED)" in out.splitlines()
    code, out, err = run_cli(capsys, "job", job.job_id(), "--cancel")
    assert code == 1 and out == ""
    assert "was not cancelled: it has already ended (CANCELLED)" in err


def test_errors_say_what_to_do_and_exit_non_zero(capsys, user, monkeypatch):
    code, out, err = run_cli(capsys, "job", "no-such-job-42")
    assert (code, out) == (1, "")
    assert "No job with id 'no-such-job-42' exists at" in err
    code, _, err = run_cli(capsys, "jobs", "--limit", "0")
    assert code == 1 and "limit must be a positive integer" in err
    monkeypatch.delenv("QORO_API_KEY")
    monkeypatch.chdir(user.journal.path.parent)  # no .env file here either
    code, out, err = run_cli(capsys, "jobs")
    assert (code, out) == (1, "")
    assert err.startswith("qiskit-divi jobs: error: ") and "export QORO_API_KEY" in err
