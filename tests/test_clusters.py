"""Simulator clusters as backends (``GET simulatorcluster/``, ``qoro-api.md`` 3.3, 3.4):
listing, naming, targets, and a cluster job end to end (init body, journal, retrieval).

A scripted server on loopback plays the service, so the wire bodies are read exactly;
the last test runs the emulator's cluster against exact ``Statevector`` distributions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from api.conftest import TOKEN, ScriptedServer
from ground_truth import assert_sampled_from, outcome_probabilities
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import Statevector
from random_circuits import QASM_GATES, gate_tour

from qiskit_divi import QoroBackendNotFoundError, QoroInputError, QoroJob, QoroProvider
from qiskit_divi.api.histogram import encode_envelope
from qiskit_divi.api.models import JobType, SimulatorCluster
from qiskit_divi.journal import KIND_BACKEND_RUN, JobJournal
from qiskit_divi.target import FALLBACK_SIMULATOR_QUBITS

MAESTRO = {
    "name": "qoro_maestro",
    "qpus": [{"nickname": "m", "q_bits": 24, "status": "active", "system_kind": "simulator"}],
    "supports_expval": True,
}
ION = {
    "name": "fake_ion",
    "qpus": [{"nickname": "i", "q_bits": 11, "status": "active", "system_kind": "trapped_ion"}],
}
CLUSTERS = [
    {"name": "qoro_maestro", "access_level": "PUBLIC", "minimum_tier": "FREE"},
    {"name": "gpu_farm", "access_level": "ADMIN", "minimum_tier": "PRO", "future_field": 1},
]


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.on("GET", "qpusystem/", (200, {}, [MAESTRO, ION]))
    server.on("GET", "simulatorcluster/", (200, {}, CLUSTERS))
    yield server
    server.close()


@pytest.fixture
def journal(tmp_path) -> JobJournal:
    return JobJournal(tmp_path / "jobs.sqlite3")


@pytest.fixture
def provider(scripted, journal) -> Iterator[QoroProvider]:
    with QoroProvider(token=TOKEN, url=scripted.base_url, journal=journal) as prov:
        yield prov


def names(backends) -> list[str]:
    return [b.name for b in backends]


# --- listing and naming --------------------------------------------------------------


def test_clusters_are_listed_after_the_systems(provider, scripted):
    assert names(provider.backends()) == ["qoro_maestro", "fake_ion", "qoro_maestro", "gpu_farm"]
    assert [b.is_cluster for b in provider.backends()] == [False, False, True, True]
    assert names(provider.backends(kind="system")) == ["qoro_maestro", "fake_ion"]
    assert names(provider.backends(kind="cluster")) == ["qoro_maestro", "gpu_farm"]
    assert names(provider.backends(simulator=False)) == ["fake_ion"]
    assert names(provider.backends("gpu_farm")) == ["gpu_farm"]
    assert provider.clusters() == [
        SimulatorCluster("qoro_maestro"),
        SimulatorCluster("gpu_farm", access_level="ADMIN", minimum_tier="PRO"),
    ]
    # Fetched once, with the systems.
    assert scripted.count("GET", "simulatorcluster/") == 1
    assert scripted.count("GET", "qpusystem/") == 1
    provider.refresh()
    provider.backends(kind="cluster")
    assert scripted.count("GET", "simulatorcluster/") == 2


def test_a_name_that_is_both_gives_the_system_unless_asked_for_the_cluster(provider):
    system = provider.get_backend("qoro_maestro")
    cluster = provider.get_backend("qoro_maestro", kind="cluster")
    assert not system.is_cluster and cluster.is_cluster
    assert provider.get_backend("qoro_maestro", kind="system") is system
    assert provider.get_backend("gpu_farm") is provider.get_backend("gpu_farm", kind="cluster")
    assert provider.backends(kind="cluster")[0] is cluster  # one object per backend
    assert repr(cluster) == "<QoroBackend('qoro_maestro', 24 qubits, simulator cluster)>"


def test_unknown_names_and_kinds_say_what_exists(provider, scripted):
    with pytest.raises(QoroBackendNotFoundError) as info:
        provider.get_backend("fake_ion", kind="cluster")
    message = str(info.value)
    assert "No Qoro simulator cluster named 'fake_ion'" in message
    assert (
        "Available backends: fake_ion, qoro_maestro; simulator clusters: gpu_farm, qoro_maestro."
        in message
    )
    with pytest.raises(QoroBackendNotFoundError, match="No Qoro system named 'gpu_farm'"):
        provider.get_backend("gpu_farm", kind="system")
    before = len(scripted.seen)
    with pytest.raises(QoroInputError, match="'system'.*'cluster'.*None"):
        provider.backends(kind="clusters")
    with pytest.raises(QoroInputError, match="kind='qpu'"):
        provider.get_backend("fake_ion", kind="qpu")
    assert len(scripted.seen) == before  # refused before any request


def test_a_server_without_the_endpoint_has_no_clusters(scripted, journal):
    scripted.on("GET", "simulatorcluster/", (404, {}, {"detail": "Not found."}))
    with QoroProvider(token=TOKEN, url=scripted.base_url, journal=journal) as provider:
        assert names(provider.backends()) == ["qoro_maestro", "fake_ion"]
        assert provider.clusters() == []
        with pytest.raises(QoroBackendNotFoundError, match="simulator clusters: none"):
            provider.get_backend("gpu_farm")


# --- what a cluster backend is ----------------------------------------------------------


def test_a_cluster_is_an_expectation_capable_simulator_with_the_simulator_target(provider):
    system = provider.get_backend("qoro_maestro")
    for cluster in provider.backends(kind="cluster"):
        assert (cluster.simulator, cluster.supports_expval, cluster.operational) == (True,) * 3
        assert cluster.job_type is JobType.SIMULATE and cluster.system_kind == "simulator"
        assert isinstance(cluster.system, SimulatorCluster)
        # No q_bits on the wire: the width of the qoro_maestro system.
        assert cluster.num_qubits == cluster.target.num_qubits == system.num_qubits == 24
        assert set(cluster.target.operation_names) == set(system.target.operation_names)
        assert cluster.coupling_map is None or cluster.coupling_map.size() == 0
        assert "simulator cluster" in cluster.target.description


def test_without_a_maestro_system_a_cluster_has_the_documented_default_width(scripted, journal):
    scripted.on("GET", "qpusystem/", (200, {}, [ION]))
    with QoroProvider(token=TOKEN, url=scripted.base_url, journal=journal) as provider:
        cluster = provider.get_backend("qoro_maestro")
        assert cluster.is_cluster and cluster.num_qubits == FALLBACK_SIMULATOR_QUBITS == 32


# --- a job on a cluster ----------------------------------------------------------------


def basis_state_circuit() -> QuantumCircuit:
    """Deterministic: the exact distribution has one outcome, so counts are exact too."""
    circuit = QuantumCircuit(3, 3)
    circuit.x([0, 2])
    circuit.measure(range(3), range(3))
    return circuit


def script_job(scripted: ScriptedServer, counts: dict[str, int]) -> None:
    scripted.on("POST", "job/init/", (201, {}, {"job_id": "cluster-job-1"}))
    scripted.on("POST", "job/cluster-job-1/add_circuits/", (200, {}, {"status": "ok"}))
    scripted.on(
        "GET", "job/cluster-job-1/status/", (200, {}, {"status": "COMPLETED", "run_time": 0.5})
    )
    row = {"label": "circuit_0", "results": encode_envelope(counts, 3)}
    page = {"count": 1, "next": None, "previous": None, "results": [row]}
    scripted.on("GET", "job/cluster-job-1/resultsV2/", (200, {}, page))


def bodies(scripted: ScriptedServer, path: str) -> list[dict]:
    return [json.loads(body) for m, p, _, body in scripted.seen if p == f"/api/{path}"]


def test_a_cluster_job_names_the_cluster_and_is_retrievable(provider, scripted, journal):
    circuit = basis_state_circuit()
    probabilities = Statevector(circuit.remove_final_measurements(False)).probabilities_dict()
    exact = {k: round(p * 100) for k, p in probabilities.items()}
    assert exact == {"101": 100}
    script_job(scripted, exact)
    cluster = provider.get_backend("qoro_maestro", kind="cluster")
    job = cluster.run(circuit, shots=100)
    assert job.result().get_counts() == exact
    (init,) = bodies(scripted, "job/init/")
    assert init == {
        "tag": "qiskit_divi",
        "job_type": "SIMULATE",
        "simulator_cluster": "qoro_maestro",
        "use_packing": False,
    }
    (upload,) = bodies(scripted, "job/cluster-job-1/add_circuits/")
    assert upload["shots"] == 100 and "qpu_system_name" not in upload

    entry = journal.lookup("cluster-job-1")
    assert entry is not None and entry.kind == KIND_BACKEND_RUN
    assert entry.payload["cluster"] is True
    retrieved = provider.retrieve_job("cluster-job-1")
    assert isinstance(retrieved, QoroJob) and retrieved.backend() is cluster
    assert retrieved.result().get_counts() == exact


def test_a_system_job_keeps_its_init_body_and_journal_payload(provider, scripted, journal):
    script_job(scripted, {"101": 10})
    provider.get_backend("qoro_maestro").run(basis_state_circuit(), shots=10).result()
    (init,) = bodies(scripted, "job/init/")
    assert init == {
        "tag": "qiskit_divi",
        "job_type": "SIMULATE",
        "qpu_system_name": "qoro_maestro",
        "use_packing": False,
    }
    assert "cluster" not in journal.lookup("cluster-job-1").payload
    assert not provider.retrieve_job("cluster-job-1").backend().is_cluster


# --- against the emulator's cluster: exact physics ----------------------------------------


@pytest.fixture
def emulated(emulator_server, emulator_token) -> Iterator[QoroProvider]:
    with QoroProvider(token=emulator_token, url=emulator_server.base_url) as prov:
        yield prov


def test_the_emulators_cluster_samples_every_gate_from_its_exact_distribution(emulated):
    """Each gate of the whole set, on a generic entangled state, run on the cluster: counts
    within the TVD bound of ``ground_truth`` (false alarm below 1e-9 per circuit)."""
    cluster = emulated.get_backend("qoro_maestro", kind="cluster")
    system = emulated.get_backend("qoro_maestro")
    assert cluster.is_cluster and cluster.num_qubits == system.num_qubits
    circuits = gate_tour(QASM_GATES, measure=True)
    shots = 3000
    job = cluster.run(transpile(circuits, cluster, seed_transpiler=3), shots=shots)
    result = job.result()
    for i, circuit in enumerate(circuits):
        counts = {int(bits, 2): n for bits, n in result.get_counts(i).items()}
        assert_sampled_from(counts, outcome_probabilities(circuit), circuit.name)
    retrieved = emulated.retrieve_job(job.job_id())
    assert retrieved.backend() is cluster
    assert [retrieved.result().get_counts(i) for i in range(len(circuits))] == [
        result.get_counts(i) for i in range(len(circuits))
    ]


def test_the_primitives_run_on_the_cluster_they_are_given(emulated, emulator_server):
    """SamplerV2 and EstimatorV2 on a cluster backend create cluster jobs (``simulator_cluster``
    in ``job/init/``), with results equal to the exact values of ``quantum_info``."""
    from qiskit.circuit import Parameter
    from qiskit.quantum_info import SparsePauliOp

    from qiskit_divi import EstimatorV2, SamplerV2

    cluster = emulated.get_backend("qoro_maestro", kind="cluster")
    before = set(emulator_server.jobs)
    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    observable = SparsePauliOp(["ZZ", "XI"], [1.0, 0.5])
    values = [0.3, 1.2]
    estimate = EstimatorV2(cluster).run([(circuit, observable, values)]).result()[0]
    for value, got in zip(values, estimate.data.evs, strict=True):
        exact = Statevector(circuit.assign_parameters([value])).expectation_value(observable)
        assert abs(got - exact.real) < 1e-9
    basis = basis_state_circuit()
    counts = SamplerV2(cluster).run([basis], shots=50).result()[0].data.c.get_counts()
    assert counts == {"101": 50}
    jobs = [job for job_id, job in emulator_server.jobs.items() if job_id not in before]
    assert len(jobs) == 2 and {job.cluster for job in jobs} == {"qoro_maestro"}
    assert {job.system for job in jobs} <= {None, "qoro_maestro"}
