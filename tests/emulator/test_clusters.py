"""Simulator clusters of the emulator (qoro-api.md 3.3) and divi 0.15.1's ``job/init/``
settings (section 12)."""

from __future__ import annotations

import logging

import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from qiskit import QuantumCircuit, qasm2
from qiskit.quantum_info import SparsePauliOp, Statevector

from qiskit_divi.emulator import EmulatorConfig
from qiskit_divi.emulator.systems import ClusterSpec

CLUSTER_INIT = {"tag": "c", "job_type": "EXECUTE", "use_packing": False}

DIVI_0151_INIT = {
    # What divi 0.15.1's _dispatch_job sends with a MaestroConfig and a DeviceConfig.
    **CLUSTER_INIT,
    "simulator_cluster": "qoro_maestro",
    "maestro_config": {
        "max_bond_dimension": 64,
        "singular_value_threshold": 1e-10,
        "simulator_type": 1,
        "simulation_type": 1,
        "noise_seed": 5,
        "noise_realizations": 3,
        "noise_model": [
            {"method": "set_depolarizing", "args": [0.01], "kwargs": {}},
            {"method": "set_amplitude", "args": [{"__complex__": [0.5, 0.1]}], "kwargs": {}},
        ],
    },
    "device_config": {"TRANSPILE_LEVEL": 3, "DYNAMICAL_DECOUPLING": "true"},
}


def _init(api, body) -> str:
    resp = api.post("job/init/", body)
    assert resp.status_code == 201, resp.text
    return resp.json()["job_id"]


def _ghz() -> QuantumCircuit:
    circuit = QuantumCircuit(3, 3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.ry(0.7, 2)
    circuit.cx(1, 2)
    circuit.measure(range(3), range(3))
    return circuit


def test_the_cluster_listing(api):
    assert api.get("simulatorcluster/").json() == [
        {"name": "qoro_maestro", "access_level": "PUBLIC", "minimum_tier": "FREE"}
    ]
    # v0.6.1 clients still find qoro_maestro among the systems.
    assert "qoro_maestro" in [system["name"] for system in api.get("qpusystem/").json()]


def test_a_sampling_job_on_the_cluster_matches_the_exact_distribution(server, api):
    circuit = _ghz()
    job = _init(api, {**CLUSTER_INIT, "simulator_cluster": "qoro_maestro"})
    assert api.add(job, {"ghz": qasm2.dumps(circuit)}, shots=4000).status_code == 200
    counts = api.counts(job)["ghz"]
    # TVD bound of tests/ground_truth.py (a correct sampler fails it with p < 1e-9).
    assert_sampled_from(
        {int(key, 2): n for key, n in counts.items()}, outcome_probabilities(circuit), "cluster"
    )
    snapshot = server.jobs[job]
    assert (snapshot.cluster, snapshot.system) == ("qoro_maestro", "qoro_maestro")


def test_an_expectation_job_on_the_cluster_is_exact(api):
    circuit = _ghz().remove_final_measurements(inplace=False)
    terms = ["ZZI", "XXX", "IYZ", "III"]
    job = _init(
        api, {**CLUSTER_INIT, "job_type": "EXPECTATION", "simulator_cluster": "qoro_maestro"}
    )
    measured = circuit.copy()
    measured.add_register(_ghz().cregs[0])
    resp = api.add(job, {"e": qasm2.dumps(measured)}, observables=";".join(terms))
    assert resp.status_code == 200, resp.text
    values = api.values(job)["e"]
    state = Statevector(circuit)
    for term in terms:
        # ham_ops terms are big-endian (qubit 0 leftmost, qoro-api.md 6); Qiskit's reversed.
        exact = state.expectation_value(SparsePauliOp(term[::-1])).real
        assert values[term] == pytest.approx(exact, abs=1e-6), term


@pytest.mark.parametrize(
    ("targets", "needle"),
    [
        ({}, "neither"),
        ({"qpu_system_name": None, "simulator_cluster": None}, "neither"),
        ({"qpu_system_name": "qoro_maestro", "simulator_cluster": "qoro_maestro"}, "both"),
        ({"simulator_cluster": "no_such_cluster"}, "no_such_cluster"),
        ({"simulator_cluster": 7}, "Unknown simulator cluster"),
    ],
)
def test_exactly_one_known_target(server, api, targets, needle):
    created = server.stats["jobs_created"]
    resp = api.post("job/init/", {**CLUSTER_INIT, **targets})
    assert resp.status_code == 400
    message = resp.json()["error"]
    assert needle in message
    assert "'qpu_system_name'" in message and "'simulator_cluster'" in message
    assert server.stats["jobs_created"] == created


def test_divi_0151_settings_are_accepted_and_said_to_be_ignored(api, qasm, caplog):
    with caplog.at_level(logging.INFO, logger="qiskit_divi.emulator.handlers"):
        job = _init(api, DIVI_0151_INIT)
    ignored = [r.getMessage() for r in caplog.records if "does not model" in r.getMessage()]
    assert len(ignored) == 1
    assert "maestro_config.max_bond_dimension" in ignored[0]
    assert "device_config.TRANSPILE_LEVEL" in ignored[0]
    # Settings change nothing: the job simulates exactly.
    assert api.add(job, {"a": qasm(2, "x q[1]")}).status_code == 200
    assert api.counts(job) == {"a": {"10": 100}}


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"maestro_config": []}, "maestro_config"),
        ({"maestro_config": {"simulator_type": "MPS"}}, "simulator_type"),
        ({"maestro_config": {"noise_realizations": 0}}, "noise_realizations"),
        ({"maestro_config": {"noise_seed": 1.5}}, "noise_seed"),
        ({"maestro_config": {"noise_model": {"method": "x"}}}, "noise_model"),
        ({"maestro_config": {"noise_model": [{"args": []}]}}, "noise_model[0]"),
        ({"maestro_config": {"max_bond_dimension": [1]}}, "max_bond_dimension"),
        ({"device_config": "fast"}, "device_config"),
        ({"device_config": {"TRANSPILE_LEVEL": {"x": 1}}}, "TRANSPILE_LEVEL"),
    ],
)
def test_malformed_divi_0151_settings_are_400(server, api, settings, needle):
    created = server.stats["jobs_created"]
    resp = api.post("job/init/", {**CLUSTER_INIT, "simulator_cluster": "qoro_maestro", **settings})
    assert resp.status_code == 400
    assert needle in resp.json()["error"]
    assert server.stats["jobs_created"] == created


def test_configured_clusters(make_server, client):
    clusters = (
        ClusterSpec("fast_lane", access_level="ADMIN", minimum_tier="PRO"),
        ClusterSpec("noisy_lane", system="fake_nairobi"),
    )
    server = make_server(config=EmulatorConfig(clusters=clusters))
    api = client(server)
    assert [c["name"] for c in api.get("simulatorcluster/").json()] == ["fast_lane", "noisy_lane"]
    job = _init(api, {**CLUSTER_INIT, "simulator_cluster": "noisy_lane"})
    assert server.jobs[job].system == "fake_nairobi"
    resp = api.post("job/init/", {**CLUSTER_INIT, "simulator_cluster": "qoro_maestro"})
    assert resp.status_code == 400 and "fast_lane" in resp.json()["error"]
    assert make_server(config=EmulatorConfig(clusters=())).running


@pytest.mark.parametrize(
    ("clusters", "needle"),
    [
        ((ClusterSpec("x", system="no_such_system"),), "no_such_system"),
        ((ClusterSpec("x"), ClusterSpec("x")), "Duplicate"),
    ],
)
def test_cluster_configuration_is_checked(clusters, needle):
    with pytest.raises(ValueError, match=needle):
        EmulatorConfig(clusters=clusters)
