"""create_backend_from_properties and its normalisation helpers (divi-runner-api.md section 10)."""

from __future__ import annotations

import copy
import datetime
from unittest import mock

import pytest
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit_ibm_runtime.models.backend_properties import BackendProperties

from qiskit_divi.backends import create_backend_from_properties
from qiskit_divi.backends._backend_properties_conversion import (
    _normalize_nduv,
    _normalize_properties,
)

DATE = datetime.datetime(2025, 1, 2, 3, 4, 5)
OTHER_DATE = datetime.datetime(2024, 6, 1)


def realistic_two_qubit_properties() -> dict:
    return {
        "backend_name": "lab_device",
        "backend_version": "2.1.0",
        "last_update_date": DATE,
        "qubits": [
            [
                {"name": "T1", "value": 110.5, "unit": "us", "date": DATE},
                {"name": "T2", "value": 80.2},
                {"name": "frequency", "value": 5.1},
                {"name": "readout_error", "value": 0.02},
                {"name": "readout_length", "value": 800.0},
            ],
            [
                {"name": "T1", "value": 95.0},
                {"name": "T2", "value": 60.0},
                {"name": "frequency", "value": 5.3},
                {"name": "readout_error", "value": 0.03},
            ],
        ],
        "gates": [
            {"gate": "sx", "qubits": [0], "parameters": [{"name": "gate_error", "value": 1e-4}]},
            {"gate": "sx", "qubits": [1], "parameters": [{"name": "gate_error", "value": 2e-4}]},
            {
                "gate": "cx",
                "qubits": [0, 1],
                "parameters": [
                    {"name": "gate_error", "value": 0.01},
                    {"name": "gate_length", "value": 300},
                ],
            },
        ],
        "general": [{"name": "coupling", "value": 1.0}],
    }


# --- _normalize_nduv -------------------------------------------------------------------


def test_nduv_date_added_only_when_missing():
    assert _normalize_nduv({"name": "T1", "value": 1.0}, DATE)["date"] == DATE
    assert (
        _normalize_nduv({"name": "T1", "value": 1.0, "date": OTHER_DATE}, DATE)["date"]
        == OTHER_DATE
    )


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("gate_error", ""), ("readout_error", ""), ("prob", ""),
        ("T1", "us"), ("t2", "us"),
        ("gate_length", "ns"), ("Readout_Length", "ns"),
        ("frequency", "GHz"), ("FREQ", "GHz"),
        ("anharmonicity", ""), ("", ""),
    ],
)  # fmt: skip
def test_nduv_unit_inferred_from_name(name, unit):
    assert _normalize_nduv({"name": name, "value": 1.0}, DATE)["unit"] == unit


def test_nduv_without_name_gets_empty_unit():
    assert _normalize_nduv({"value": 1.0}, DATE)["unit"] == ""


def test_nduv_explicit_unit_is_kept_and_input_untouched():
    nduv = {"name": "T1", "value": 1.0, "unit": "ms"}
    normalized = _normalize_nduv(nduv, DATE)
    assert normalized["unit"] == "ms"
    assert normalized is not nduv
    assert nduv == {"name": "T1", "value": 1.0, "unit": "ms"}


# --- _normalize_properties ---------------------------------------------------------------


def test_properties_top_level_defaults():
    normalized = _normalize_properties({}, DATE)
    assert normalized == {
        "backend_name": "custom_backend",
        "backend_version": "1.0.0",
        "last_update_date": DATE,
        "general": [],
        "gates": [],
        "qubits": [],
    }


def test_properties_default_date_is_now():
    before = datetime.datetime.now()
    normalized = _normalize_properties({"qubits": [[{"name": "T1", "value": 1.0}]]})
    after = datetime.datetime.now()
    assert before <= normalized["last_update_date"] <= after
    assert normalized["qubits"][0][0]["date"] == normalized["last_update_date"]


def test_properties_existing_fields_are_kept():
    normalized = _normalize_properties(
        {"backend_name": "mine", "backend_version": "9.9", "last_update_date": OTHER_DATE}, DATE
    )
    assert (
        normalized["backend_name"],
        normalized["backend_version"],
        normalized["last_update_date"],
    ) == ("mine", "9.9", OTHER_DATE)


def test_properties_nested_entries_are_normalised_without_mutating_the_input():
    properties = realistic_two_qubit_properties()
    pristine = copy.deepcopy(properties)
    normalized = _normalize_properties(properties, OTHER_DATE)
    assert properties == pristine
    assert normalized["qubits"][0][1] == {
        "name": "T2",
        "value": 80.2,
        "unit": "us",
        "date": OTHER_DATE,
    }
    assert normalized["qubits"][0][0]["date"] == DATE  # explicit date kept
    assert normalized["gates"][2]["parameters"][1] == {
        "name": "gate_length", "value": 300, "unit": "ns", "date": OTHER_DATE,
    }  # fmt: skip
    assert normalized["gates"][2]["gate"] == "cx" and normalized["gates"][2]["qubits"] == [0, 1]
    assert normalized["general"] == [
        {"name": "coupling", "value": 1.0, "unit": "", "date": OTHER_DATE}
    ]


def test_properties_gate_without_parameters():
    normalized = _normalize_properties({"gates": [{"gate": "x", "qubits": [0]}]}, DATE)
    assert normalized["gates"] == [{"gate": "x", "qubits": [0], "parameters": []}]


def test_normalised_properties_load_into_backend_properties():
    loaded = BackendProperties.from_dict(
        _normalize_properties(realistic_two_qubit_properties(), DATE)
    )
    assert loaded.backend_name == "lab_device"
    assert loaded.gate_error("cx", [0, 1]) == pytest.approx(0.01)
    assert loaded.readout_error(1) == pytest.approx(0.03)


# --- create_backend_from_properties -------------------------------------------------------


def test_backend_qubit_count_inferred():
    properties = {"qubits": [[{"name": "T1", "value": 100.0}] for _ in range(3)]}
    backend = create_backend_from_properties(properties, default_date=DATE)
    assert isinstance(backend, GenericBackendV2)
    assert backend.num_qubits == 3
    assert isinstance(backend._properties, BackendProperties)
    assert backend._properties.backend_name == "custom_backend"
    assert backend._properties.last_update_date == DATE


def test_backend_qubit_count_override():
    properties = {"qubits": [[{"name": "T1", "value": 100.0}]]}
    assert create_backend_from_properties(properties, n_qubits=6).num_qubits == 6
    with mock.patch("qiskit.providers.fake_provider.GenericBackendV2") as generic:
        backend = create_backend_from_properties(properties, n_qubits=120)
    generic.assert_called_once_with(num_qubits=120)
    assert backend is generic.return_value
    assert isinstance(backend._properties, BackendProperties)


def test_backend_from_realistic_properties_keeps_name_and_version():
    backend = create_backend_from_properties(realistic_two_qubit_properties())
    assert backend.num_qubits == 2
    assert backend._properties.backend_name == "lab_device"
    assert backend._properties.backend_version == "2.1.0"
    assert backend._properties.t1(0) == pytest.approx(110.5e-6)


def test_single_qubit_backend_builds():
    # divi v0.6.1 failed here (two-qubit default basis on one qubit); fixed.
    backend = create_backend_from_properties({"qubits": [[{"name": "T1", "value": 100.0}]]})
    assert backend.num_qubits == 1
    assert "cx" not in backend.target.operation_names


@pytest.mark.parametrize("properties", [{}, {"qubits": []}])
def test_backend_needs_a_qubit_count(properties):
    with pytest.raises(
        ValueError, match="n_qubits must be provided when properties dictionary has no qubits"
    ):
        create_backend_from_properties(properties)


@pytest.mark.parametrize("n_qubits", [0, -3])
def test_backend_rejects_non_positive_qubit_count(n_qubits):
    with pytest.raises(ValueError, match="n_qubits must be at least 1"):
        create_backend_from_properties(
            {"qubits": [[{"name": "T1", "value": 1.0}]]}, n_qubits=n_qubits
        )
