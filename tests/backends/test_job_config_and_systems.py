"""JobConfig, the enums, QPU/QPUSystem and the systems cache (divi-runner-api.md sections 1,
4-6)."""

from __future__ import annotations

import dataclasses

import pytest

import qiskit_divi.backends as backends
from qiskit_divi.api import models
from qiskit_divi.backends import (
    QPU,
    JobConfig,
    JobStatus,
    JobType,
    QPUSystem,
    _qpu_system,
    get_available_qpu_systems,
    get_qpu_system,
    parse_qpu_systems,
    update_qpu_systems_cache,
)

SYSTEM = QPUSystem(name="qoro_maestro", supports_expval=True)


@pytest.fixture
def systems_cache():
    """Run with an empty process-wide cache and restore its content afterwards."""
    saved = _qpu_system.QPU_SYSTEMS.values()
    _qpu_system.QPU_SYSTEMS.replace([])
    yield _qpu_system.QPU_SYSTEMS
    _qpu_system.QPU_SYSTEMS.replace(saved)


# --- exports and shared objects ------------------------------------------------------------


def test_exports():
    for name in [
        "CircuitRunner", "ExecutionResult", "ParallelSimulator", "JobConfig", "JobStatus",
        "JobType", "QPU", "QPUSystem", "convert_counts_to_probs", "reverse_dict_endianness",
        "create_backend_from_properties", "parse_qpu_systems", "update_qpu_systems_cache",
        "get_qpu_system", "get_available_qpu_systems", "QoroService", "MaxRetriesReachedError",
    ]:  # fmt: skip
        assert hasattr(backends, name), name


def test_wire_types_are_defined_once():
    assert backends.JobStatus is models.JobStatus
    assert backends.JobType is models.JobType
    assert backends.QPU is models.QPU
    assert backends.QPUSystem is models.QPUSystem
    assert _qpu_system.QPUSystem is models.QPUSystem


def test_enums():
    assert [s.value for s in JobStatus] == [
        "PENDING",
        "SCHEDULED",
        "RUNNING",
        "PAUSED",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "INSUFFICIENT_CREDITS",
        "TIMED_OUT",
    ]
    assert [t.value for t in JobType] == ["EXECUTE", "SIMULATE", "EXPECTATION", "CIRCUIT_CUT"]
    assert JobStatus("RUNNING") is JobStatus.RUNNING
    assert JobStatus.RUNNING != "RUNNING"
    with pytest.raises(ValueError):
        JobStatus("cancelled")


def test_qpu_system_value_semantics():
    assert QPUSystem(name="a") == QPUSystem(name="a")
    system = QPUSystem(name="a")
    assert (system.qpus, system.access_level, system.supports_expval) == ([], "PUBLIC", False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        system.name = "b"
    with pytest.raises(TypeError):
        hash(system)


# --- JobConfig -----------------------------------------------------------------------------


def test_job_config_defaults():
    config = JobConfig()
    assert (
        config.shots,
        config.qpu_system,
        config.use_circuit_packing,
        config.tag,
        config.force_sampling,
    ) == (None, None, None, "default", False)


@pytest.mark.parametrize("system", ["qoro_maestro", SYSTEM, None])
def test_job_config_stores_the_system_as_given(system):
    assert JobConfig(qpu_system=system).qpu_system is system


@pytest.mark.parametrize("system", [42, ["qoro_maestro"], {"name": "qoro_maestro"}])
def test_job_config_rejects_other_system_types(system):
    with pytest.raises(
        TypeError, match=f"Expected a QPUSystem instance or str, got {type(system)}"
    ):
        JobConfig(qpu_system=system)


@pytest.mark.parametrize("shots", [0, -1])
def test_job_config_rejects_non_positive_shots(shots):
    with pytest.raises(ValueError, match=f"Shots must be a positive integer. Got {shots}."):
        JobConfig(shots=shots)


@pytest.mark.parametrize("packing", ["true", 1])
def test_job_config_rejects_non_bool_packing(packing):
    with pytest.raises(TypeError, match="Expected a bool"):
        JobConfig(use_circuit_packing=packing)


def test_job_config_does_not_validate_tag_or_force_sampling():
    config = JobConfig(tag=None, force_sampling="yes")
    assert config.tag is None and config.force_sampling == "yes"


def test_job_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        JobConfig().shots = 5


def test_override_merges_non_none_fields():
    base = JobConfig(shots=100, qpu_system="qoro_maestro", use_circuit_packing=False, tag="base")
    merged = base.override(JobConfig(shots=500, tag="new"))
    assert merged == JobConfig(
        shots=500, qpu_system="qoro_maestro", use_circuit_packing=False, tag="new"
    )
    assert merged is not base
    assert base == JobConfig(
        shots=100, qpu_system="qoro_maestro", use_circuit_packing=False, tag="base"
    )


def test_override_ignores_none_and_keeps_a_string_system():
    base = JobConfig(
        shots=100, qpu_system="some_system", use_circuit_packing=True, tag="t", force_sampling=True
    )
    kept = base.override(JobConfig(tag=None, force_sampling=None))
    assert kept == base
    assert kept is not base
    assert kept.qpu_system == "some_system"


def test_override_with_a_system_object():
    merged = JobConfig(shots=10, qpu_system="a").override(JobConfig(qpu_system=SYSTEM))
    assert merged.qpu_system is SYSTEM


def test_override_false_is_a_value():
    merged = JobConfig(use_circuit_packing=True, force_sampling=True).override(
        JobConfig(use_circuit_packing=False)
    )
    assert merged.use_circuit_packing is False
    assert merged.force_sampling is False  # the default False overrides too


def test_override_with_defaults_resets_tag_and_force_sampling():
    base = JobConfig(shots=10, tag="experiment", force_sampling=True)
    merged = base.override(JobConfig(shots=20))
    assert (merged.shots, merged.tag, merged.force_sampling) == (20, "default", False)


def test_chained_overrides_compose_left_to_right():
    config = (
        JobConfig(shots=1, qpu_system="a", tag="x")
        .override(JobConfig(shots=2, tag=None))
        .override(JobConfig(qpu_system="b", tag=None))
        .override(JobConfig(use_circuit_packing=True, tag=None))
    )
    assert config == JobConfig(shots=2, qpu_system="b", use_circuit_packing=True, tag="x")


def test_override_validates_the_merged_config():
    invalid = object.__new__(JobConfig)  # bypasses __post_init__, like a config mutated in place
    for field, value in {
        "shots": 0,
        "qpu_system": None,
        "use_circuit_packing": None,
        "tag": None,
    }.items():
        object.__setattr__(invalid, field, value)
    object.__setattr__(invalid, "force_sampling", None)
    with pytest.raises(ValueError, match="Shots must be a positive integer. Got 0."):
        JobConfig(shots=10).override(invalid)


# --- systems cache -------------------------------------------------------------------------


def test_parse_qpu_systems_builds_systems_with_qpus():
    systems = parse_qpu_systems(
        [
            {
                "name": "qoro_maestro",
                "access_level": "PUBLIC",
                "qpus": [
                    {"nickname": "m1", "q_bits": 24, "status": "ONLINE", "system_kind": "simulator"}
                ],
            },
            {"name": "ibm_x", "access_level": "PRIVATE", "qpus": []},
        ]
    )
    assert [s.name for s in systems] == ["qoro_maestro", "ibm_x"]
    assert systems[0].qpus == [
        QPU(nickname="m1", q_bits=24, status="ONLINE", system_kind="simulator")
    ]
    assert systems[1].access_level == "PRIVATE"
    assert systems[1].supports_expval is False


def test_cache_forces_expval_on_maestro_only(systems_cache):
    other = QPUSystem(name="ibm_x", access_level="PRIVATE")
    update_qpu_systems_cache([QPUSystem(name="qoro_maestro"), other])
    assert get_qpu_system("qoro_maestro").supports_expval is True
    assert get_qpu_system("ibm_x") is other


def test_cache_update_replaces_the_previous_content(systems_cache):
    update_qpu_systems_cache([QPUSystem(name="old")])
    update_qpu_systems_cache([QPUSystem(name="new")])
    assert [s.name for s in get_available_qpu_systems()] == ["new"]
    with pytest.raises(ValueError, match="QPUSystem with name 'old' not found in cache."):
        get_qpu_system("old")


def test_cache_errors(systems_cache):
    with pytest.raises(
        ValueError, match=r"QPU systems cache is empty\. Call `QoroService\.fetch_qpu_systems\(\)`"
    ):
        get_qpu_system("qoro_maestro")
    update_qpu_systems_cache([QPUSystem(name="a")])
    with pytest.raises(ValueError, match="QPUSystem with name 'b' not found in cache.") as info:
        get_qpu_system("b")
    assert info.value.__suppress_context__ is True


def test_available_systems_is_a_snapshot(systems_cache):
    update_qpu_systems_cache([QPUSystem(name="a"), QPUSystem(name="b")])
    snapshot = get_available_qpu_systems()
    snapshot.clear()
    assert [s.name for s in get_available_qpu_systems()] == ["a", "b"]


def test_an_unknown_name_lists_the_cached_systems(systems_cache):
    update_qpu_systems_cache([QPUSystem(name="zeta"), QPUSystem(name="alpha")])
    with pytest.raises(ValueError) as info:
        get_qpu_system("alpah")
    message = str(info.value)
    assert message.startswith(
        "QPUSystem with name 'alpah' not found in cache. Available systems: alpha, zeta."
    )
    assert "JobConfig(qpu_system=...)" in message and "fetch_qpu_systems()" in message


# --- simulator clusters (divi 0.15.1) ------------------------------------------------------

CLUSTER = backends.SimulatorCluster(name="qoro_maestro")


@pytest.fixture
def clusters_cache():
    """Run with an empty process-wide cluster cache and restore its content afterwards."""
    saved = _qpu_system.SIMULATOR_CLUSTERS.values()
    _qpu_system.SIMULATOR_CLUSTERS.replace([])
    yield _qpu_system.SIMULATOR_CLUSTERS
    _qpu_system.SIMULATOR_CLUSTERS.replace(saved)


def test_cluster_names_are_exported_and_defined_once():
    for name in [
        "SimulatorCluster", "parse_simulator_clusters", "update_simulator_clusters_cache",
        "get_simulator_cluster", "get_available_simulator_clusters",
    ]:  # fmt: skip
        assert name in backends.__all__ and hasattr(backends, name), name
    assert backends.SimulatorCluster is models.SimulatorCluster
    assert backends.parse_simulator_clusters is models.parse_simulator_clusters


def test_a_cluster_is_expval_capable_with_0_15_1_defaults():
    (cluster,) = backends.parse_simulator_clusters([{"name": "c", "new_field": [1]}])
    assert (cluster.access_level, cluster.minimum_tier, cluster.supports_expval) == (
        "PUBLIC",
        "FREE",
        True,
    )


def test_job_config_targets_a_cluster_as_a_last_field():
    # v0.6.1 positional order unchanged: shots, qpu_system, use_circuit_packing, tag, ...
    assert [f.name for f in dataclasses.fields(JobConfig)] == [
        "shots",
        "qpu_system",
        "use_circuit_packing",
        "tag",
        "force_sampling",
        "simulator_cluster",
    ]
    assert JobConfig().simulator_cluster is None
    assert JobConfig(simulator_cluster="qoro_maestro").simulator_cluster == "qoro_maestro"
    assert JobConfig(simulator_cluster=CLUSTER).simulator_cluster is CLUSTER


def test_job_config_takes_one_target_of_a_known_type():
    with pytest.raises(ValueError, match="either 'simulator_cluster' or 'qpu_system', not both"):
        JobConfig(qpu_system=SYSTEM, simulator_cluster="qoro_maestro")
    with pytest.raises(TypeError, match="Expected a SimulatorCluster instance or str"):
        JobConfig(simulator_cluster=SYSTEM)  # type: ignore[arg-type]


def test_override_replaces_the_target_of_either_kind():
    on_system = JobConfig(shots=10, qpu_system=SYSTEM)
    on_cluster = on_system.override(JobConfig(simulator_cluster="gpu_farm", tag=None))
    assert (on_cluster.qpu_system, on_cluster.simulator_cluster, on_cluster.shots) == (
        None,
        "gpu_farm",
        10,
    )
    back = on_cluster.override(JobConfig(qpu_system="fake_ion", tag=None))
    assert (back.qpu_system, back.simulator_cluster) == ("fake_ion", None)
    kept = on_cluster.override(JobConfig(shots=5, tag=None))
    assert (kept.simulator_cluster, kept.shots) == ("gpu_farm", 5)


def test_cluster_cache(clusters_cache):
    with pytest.raises(
        ValueError,
        match=r"Simulator clusters cache is empty\. "
        r"Call `QoroService\.fetch_simulator_clusters\(\)`",
    ):
        backends.get_simulator_cluster("qoro_maestro")
    backends.update_simulator_clusters_cache([CLUSTER, backends.SimulatorCluster("gpu_farm")])
    assert backends.get_simulator_cluster("gpu_farm").name == "gpu_farm"
    with pytest.raises(
        ValueError,
        match="SimulatorCluster with name 'gpu' not found in cache. Available "
        "clusters: gpu_farm, qoro_maestro.",
    ):
        backends.get_simulator_cluster("gpu")
    snapshot = backends.get_available_simulator_clusters()
    snapshot.clear()
    assert len(backends.get_available_simulator_clusters()) == 2
    backends.update_simulator_clusters_cache([])
    assert backends.get_available_simulator_clusters() == []
