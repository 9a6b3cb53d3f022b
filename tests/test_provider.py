"""QoroProvider: backends, lazy cached systems, local emulator, job retrieval across processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.providers import QiskitBackendNotFoundError

from qiskit_divi import (
    QoroBackendNotFoundError,
    QoroConfigurationError,
    QoroError,
    QoroJob,
    QoroJobError,
    QoroNotFoundError,
    QoroProvider,
)
from qiskit_divi.emulator import EmulatorConfig
from qiskit_divi.journal import JobJournal


def _two_register_circuit(name: str) -> QuantumCircuit:
    a, b = ClassicalRegister(1, "a"), ClassicalRegister(2, "b")
    qc = QuantumCircuit(QuantumRegister(3, "q"), a, b, name=name)
    qc.h(0)
    qc.cx(0, 2)
    qc.measure(0, b[1])
    qc.measure(2, a[0])
    return qc


def test_constructor_does_no_network_io():
    provider = QoroProvider(token="never-used-token-1234", url="http://127.0.0.1:9/api/")
    assert provider.url == "http://127.0.0.1:9/api"
    assert repr(provider) == "<QoroProvider(url='http://127.0.0.1:9/api')>"
    assert "never-used" not in repr(provider) and provider.emulator is None
    provider.close()


def test_missing_token_is_a_configuration_error(monkeypatch, tmp_path):
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here or above /tmp
    with pytest.raises(QoroConfigurationError, match="QORO_API_KEY"):
        QoroProvider(url="http://127.0.0.1:9/api")


def test_backends_match_the_emulator_systems(provider):
    systems = EmulatorConfig(engine="aer").systems  # the provider fixture's emulator
    backends = provider.backends(kind="system")
    assert [b.name for b in backends] == [s.name for s in systems]
    assert [b.num_qubits for b in backends] == [s.q_bits for s in systems]
    assert [b.supports_expval for b in backends] == [s.supports_expectation for s in systems]
    assert [b.simulator for b in backends] == [s.system_kind == "simulator" for s in systems]
    assert provider.get_backend("fake_ion") is provider.backends("fake_ion")[0]
    # Whatever clusters the emulator serves come after the systems.
    clusters = provider.backends(kind="cluster")
    assert provider.backends() == backends + clusters
    assert [b.name for b in clusters] == [c.name for c in provider.clusters()]
    assert all(b.is_cluster for b in clusters) and not any(b.is_cluster for b in backends)


def test_backend_filters(provider):
    names = lambda backends: [b.name for b in backends]  # noqa: E731
    assert names(provider.backends(simulator=True, kind="system")) == ["qoro_maestro"]
    assert names(provider.backends(simulator=False)) == ["fake_nairobi", "fake_ion"]
    assert names(provider.backends(min_num_qubits=11, kind="system")) == [
        "qoro_maestro",
        "fake_ion",
    ]
    assert names(provider.backends(operational=True, kind="system")) == [
        "qoro_maestro",
        "fake_nairobi",
        "fake_ion",
    ]
    assert provider.backends(operational=False) == []
    assert names(provider.backends("fake_nairobi", simulator=False)) == ["fake_nairobi"]
    assert provider.backends("fake_nairobi", simulator=True) == []


def test_systems_are_fetched_once_lazily(emulator_server, emulator_token):
    def fetches() -> int:
        return emulator_server.stats["requests_by_endpoint"]["qpusystem"]

    before = fetches()
    with QoroProvider(token=emulator_token, url=emulator_server.base_url) as provider:
        assert fetches() == before
        provider.backends()
        provider.get_backend("qoro_maestro")
        provider.backends(simulator=True)
        assert fetches() == before + 1
        provider.refresh()
        provider.backends()
        assert fetches() == before + 2


def test_unknown_backend_lists_the_available_ones(provider):
    with pytest.raises(QoroBackendNotFoundError) as info:
        provider.get_backend("ibm_kyiv")
    message = str(info.value)
    assert "ibm_kyiv" in message and "fake_ion, fake_nairobi, qoro_maestro" in message
    assert isinstance(info.value, QoroError) and isinstance(info.value, QiskitBackendNotFoundError)


def test_unknown_job_id_names_the_id(provider):
    with pytest.raises(QoroError, match="no-such-job-123"):
        provider.retrieve_job("no-such-job-123")


def test_local_provider_lifecycle():
    with QoroProvider.local(token="local-demo-token-42") as provider:
        server = provider.emulator
        assert server.running and server.tokens == ["local-demo-token-42"]
        assert provider.url == server.base_url and provider.url.endswith("/api")
        assert provider.url.startswith("http://127.0.0.1:")
        assert "local emulator" in repr(provider) and "local-demo-token-42" not in repr(provider)
        assert "qoro_maestro" in [b.name for b in provider.backends()]
    assert not server.running
    with QoroProvider.local() as other:  # a fresh random token
        assert len(other.emulator.tokens[0]) >= 16 and other.emulator.tokens[0] not in repr(other)


def test_retrieve_job_in_the_same_process(provider):
    circuits = [_two_register_circuit("first"), _two_register_circuit("second")]
    job = provider.get_backend("qoro_maestro").run(circuits, shots=300)
    original = job.result()
    again = provider.retrieve_job(job.job_id())
    assert isinstance(again, QoroJob) and again is not job
    assert again.backend() is provider.get_backend("qoro_maestro")
    assert again.circuit_names == ["first", "second"] and again.shots == 300
    rebuilt = again.result()
    assert rebuilt.get_counts() == original.get_counts()
    assert rebuilt.get_counts("second") == original.get_counts(1)
    assert set(original.get_counts(0)) == {"00 0", "10 1"}  # registers b a, as Aer prints them


_CHILD = """
import json, sys
from qiskit_divi import QoroProvider
with QoroProvider() as provider:  # token and URL from the environment
    job = provider.retrieve_job(sys.argv[1])
    result = job.result(timeout=60)
    print(json.dumps({
        "names": [r.header["name"] for r in result.results],
        "counts": result.get_counts(),
        "backend": result.backend_name,
        "shots": [r.shots for r in result.results],
    }))
"""


def _retrieve_in_child(provider, job_id: str, journal: str) -> dict:
    env = dict(os.environ)
    env.update(
        QORO_API_KEY=provider.client.authorization_header.split(" ", 1)[1],
        QORO_API_URL=provider.url,
        QISKIT_DIVI_JOURNAL=journal,
    )
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, job_id], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_retrieve_job_from_another_process(provider, journal_path):
    circuits = [_two_register_circuit("alpha"), _two_register_circuit("beta")]
    job = provider.get_backend("qoro_maestro").run(circuits, shots=200)
    original = job.result()

    child = _retrieve_in_child(provider, job.job_id(), str(journal_path))
    assert child["names"] == ["alpha", "beta"]
    assert child["counts"] == original.get_counts()
    assert child["backend"] == "qoro_maestro" and child["shots"] == [200, 200]

    # Without the journal entry: counts per Qoro label, one flat register.
    bare = _retrieve_in_child(provider, job.job_id(), "off")
    assert bare["names"] == ["circuit_0", "circuit_1"]
    flat = [
        {key.replace(" ", ""): n for key, n in counts.items()} for counts in original.get_counts()
    ]
    assert bare["counts"] == flat and bare["backend"] == "unknown"


def test_a_kind_this_version_does_not_know_comes_back_as_raw_counts(provider, journal_path, caplog):
    job = provider.get_backend("qoro_maestro").run(_two_register_circuit("x"), shots=10)
    JobJournal(journal_path).record(job.job_id(), "test-kind", "qoro_maestro", {"marker": 7})
    with caplog.at_level("WARNING", logger="qiskit_divi.provider"):
        again = provider.retrieve_job(job.job_id())
    assert isinstance(again, QoroJob) and again.backend() is provider.get_backend("qoro_maestro")
    assert "journaled as 'test-kind', which this version of qiskit_divi cannot rebuild" in (
        caplog.text
    )
    counts = again.raw_results()["circuit_0"]
    assert sum(counts.values()) == 10 and job.result().get_counts() is not None


_PRIMITIVE_CHILD = """
import json, sys
from qiskit_divi.provider import QoroProvider
before = "qiskit_divi.primitives" in sys.modules
with QoroProvider() as provider:
    job = provider.retrieve_job(sys.argv[1])
    result = job.result(timeout=60)
    print(json.dumps({"before": before, "type": type(job).__name__, "kind": job.kind,
                      "counts": result[0].data.c.get_counts()}))
"""


def test_a_fresh_process_rebuilds_a_primitive_job_without_importing_the_primitives(
    provider, journal_path
):
    from qiskit_divi import SamplerV2

    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    call = SamplerV2(mode=provider.get_backend("qoro_maestro")).run([(circuit, None, 7)])
    env = dict(
        os.environ,
        QORO_API_KEY=provider.client.authorization_header.split(" ", 1)[1],
        QORO_API_URL=provider.url,
        QISKIT_DIVI_JOURNAL=str(journal_path),
    )
    done = subprocess.run(
        [sys.executable, "-c", _PRIMITIVE_CHILD, call.job_id()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert child == {
        "before": False,
        "type": "QoroPrimitiveJob",
        "kind": "sampler",
        "counts": {"1": 7},
    }


def test_readme_demo_runs(journal_path):
    demo = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "demo.py")
    env = dict(os.environ, QISKIT_DIVI_JOURNAL=str(journal_path))
    done = subprocess.run(
        [sys.executable, demo], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "qoro_maestro" in done.stdout and "the qubits are entangled" in done.stdout
    assert "that is the device's noise" in done.stdout


def test_a_url_without_the_api_root_says_to_check_the_url(emulator_server, emulator_token):
    root = emulator_server.base_url.removesuffix("/api")
    with QoroProvider(token=emulator_token, url=root) as wrong:
        with pytest.raises(
            QoroNotFoundError,
            match=r"check the API URL \(try .*/api\), given as url=\.\.\. or QORO_API_URL",
        ):
            wrong.get_backend("qoro_maestro")
        with pytest.raises(
            QoroNotFoundError, match="check the API URL"
        ) as info:  # 404 on status/ too
            wrong.retrieve_job("some-job-id")
        assert "job id" not in str(info.value) and "No job with id" not in str(info.value)


# --- retrieving a primitive job whose journal entry is gone ------------------------------


@pytest.fixture
def estimator_job(provider):
    """A finished EXPECTATION job of EstimatorV2 (journaled as ``estimator``)."""
    from qiskit_divi import EstimatorV2

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    job = EstimatorV2(mode=provider.get_backend("qoro_maestro"), options={"progress": False}).run(
        [(circuit, "XX")]
    )
    assert job.result()[0].data.evs == pytest.approx(1.0)
    return job


def test_retrieving_by_kind_checks_the_journal_kind(provider, estimator_job):
    job_id = estimator_job.job_id()
    assert provider.retrieve_job(job_id, kind="estimator").result()[0].data.evs == pytest.approx(
        1.0
    )
    with pytest.raises(
        QoroJobError,
        match=rf"Job {job_id} was submitted by EstimatorV2, not by SamplerV2: retrieve it with "
        rf"EstimatorV2\.retrieve\('{job_id}', provider\)",
    ):
        provider.retrieve_job(job_id, kind="sampler")
    run = provider.get_backend("qoro_maestro").run(_two_register_circuit("r"), shots=5)
    with pytest.raises(
        QoroJobError,
        match=rf"submitted by backend.run\(\), not by SamplerV2: retrieve it with "
        rf"provider\.retrieve_job\('{run.job_id()}'\)",
    ):
        provider.retrieve_job(run.job_id(), kind="sampler")


def test_a_missing_journal_entry_is_named_and_the_raw_results_stay_readable(
    provider, estimator_job, journal_path
):
    job_id = estimator_job.job_id()
    assert provider.journal.remove(job_id)
    with pytest.raises(QoroJobError) as info:
        provider.retrieve_job(job_id, kind="estimator")
    message = str(info.value)
    assert (
        f"Job {job_id} exists at {provider.url}, but the local job journal ({journal_path}) "
        "has no entry for it" in message
    )
    assert "submitted from another machine" in message and "its entry was deleted" in message
    assert "set QISKIT_DIVI_JOURNAL to the journal file" in message
    assert f"provider.retrieve_job('{job_id}').raw_results()" in message
    assert "SamplerV2.retrieve" not in message and info.value.job_id == job_id

    bare = provider.retrieve_job(job_id)  # what the message says works
    assert isinstance(bare, QoroJob) and bare.raw_results() == {"p0_0": {"XX": pytest.approx(1.0)}}
    with pytest.raises(
        QoroJobError
    ) as info:  # and result() points there too, not back to the primitive
        bare.result()
    message = str(info.value)
    assert "retrieved without a journal entry" in message and "job.raw_results()" in message
    assert "use the primitive" not in message


def test_journaling_off_is_named(provider, estimator_job, monkeypatch):
    monkeypatch.setenv("QISKIT_DIVI_JOURNAL", "off")
    with pytest.raises(
        QoroJobError, match=r"journaling is off \(QISKIT_DIVI_JOURNAL='off'\), so there is no entry"
    ):
        provider.retrieve_job(estimator_job.job_id(), kind="estimator")


def test_a_call_whose_first_entry_is_gone_says_so(provider, journal_path):
    from qiskit_divi import SamplerV2

    theta = Parameter("theta")
    circuit = QuantumCircuit(1, 1)
    circuit.rx(theta, 0)
    circuit.measure(0, 0)
    values = np.linspace(0, np.pi, 40)[:, None]
    # Two shots values of a parametric sweep: one template job per shots value (fewer bytes
    # than one bound job with shot groups), so the call has two jobs.
    call = SamplerV2(mode=provider.get_backend("qoro_maestro"), options={"progress": False}).run(
        [(circuit, values, 10), (circuit, values, 20)]
    )
    call.result()
    first, second = call.job_ids
    assert provider.journal.remove(first)
    with pytest.raises(QoroJobError) as info:
        provider.retrieve_job(second)
    message = str(info.value)
    assert (
        f"a sampler call whose first job is {first}, and the local job journal ({journal_path}) "
        "has no entry" in message
    )
    assert f"QoroJob(None, '{second}', provider=provider).raw_results()" in message
    raw = QoroJob(None, second, provider=provider).raw_results()
    assert sorted(raw) == sorted(f"p1_{i}" for i in range(40))
    assert all(sum(counts.values()) == 20 for counts in raw.values())
    # rx(0) and rx(pi) are exact basis states: their counts are exact.
    assert (raw["p1_0"], raw["p1_39"]) == ({"0": 20}, {"1": 20})


# --- an unreadable journal ---------------------------------------------------------------


@pytest.fixture
def corrupt_journal_provider(emulator_server, emulator_token, tmp_path):
    """A provider whose journal file is not a database at all."""
    path = tmp_path / "jobs.sqlite3"
    path.write_bytes(b"not a database " * 100)
    with QoroProvider(
        token=emulator_token, url=emulator_server.base_url, journal=JobJournal(path)
    ) as prov:
        yield prov


def test_a_corrupt_journal_file_falls_back_to_the_raw_counts(
    provider, corrupt_journal_provider, caplog
):
    job = provider.get_backend("qoro_maestro").run(_two_register_circuit("x"), shots=10)
    job.result()
    path = corrupt_journal_provider.journal.path
    with caplog.at_level("WARNING", logger="qiskit_divi.provider"):
        again = corrupt_journal_provider.retrieve_job(job.job_id())
    assert isinstance(again, QoroJob) and again.job_id() == job.job_id()
    assert [r.header["name"] for r in again.result().results] == ["circuit_0"]
    assert sum(again.raw_results()["circuit_0"].values()) == 10
    assert f"Could not read the journal {path}" in caplog.text
    assert f"Retrieving job {job.job_id()} without its journal entry" in caplog.text
    with pytest.raises(QoroJobError, match="its entry in the local job journal cannot be read"):
        corrupt_journal_provider.retrieve_job(job.job_id(), kind="backend-run")


def test_a_corrupt_journal_entry_falls_back_to_the_raw_counts(provider, journal_path, caplog):
    job = provider.get_backend("qoro_maestro").run(_two_register_circuit("y"), shots=10)
    job.result()
    with sqlite3.connect(journal_path) as connection:
        connection.execute("UPDATE jobs SET payload = '{broken' WHERE job_id = ?", (job.job_id(),))
    with caplog.at_level("WARNING", logger="qiskit_divi.provider"):
        again = provider.retrieve_job(job.job_id())
    assert isinstance(again, QoroJob)
    assert [r.header["name"] for r in again.result().results] == ["circuit_0"]  # not "y"
    assert sum(again.raw_results()["circuit_0"].values()) == 10
    assert f"The journal entry of job {job.job_id()} in {journal_path} is corrupt" in caplog.text
