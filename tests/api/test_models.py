import pytest

from qiskit_divi.api.errors import QoroProtocolError
from qiskit_divi.api.models import (
    QPU,
    UNKNOWN_STATUS_MEANS,
    AddCircuitsRequest,
    InitJobRequest,
    JobStatus,
    JobType,
    parse_job_id,
    parse_job_status,
    parse_qpu_systems,
    parse_results_page,
)

SYSTEMS = [
    {
        "name": "test_qpu",
        "access_level": "basic",
        "extra": 1,
        "qpus": [
            {
                "nickname": "qpu1",
                "q_bits": 5,
                "status": "active",
                "system_kind": "superconducting",
                "new": "x",
            }
        ],
    },
    {"name": "qoro_maestro", "access_level": "PUBLIC"},
    {"name": "custom", "access_level": "PUBLIC", "supports_expval": True},
]


def test_systems_parse_tolerantly():
    systems = parse_qpu_systems(SYSTEMS)
    assert systems[0].qpus == [QPU("qpu1", 5, "active", "superconducting")]
    assert [s.supports_expval for s in systems] == [False, True, True]
    assert systems[1].qpus == []


@pytest.mark.parametrize(
    "data, field",
    [
        ([{"access_level": "x"}], "'name'"),
        (
            [{"name": "a", "qpus": [{"nickname": "n", "status": "s", "system_kind": "k"}]}],
            "'q_bits'",
        ),
        (
            [
                {
                    "name": "a",
                    "qpus": [{"nickname": "n", "q_bits": "5", "status": "s", "system_kind": "k"}],
                }
            ],
            "'q_bits'",
        ),
    ],
)
def test_missing_or_mistyped_fields_name_the_field(data, field):
    with pytest.raises(QoroProtocolError, match=field):
        parse_qpu_systems(data)


def test_systems_must_be_a_list():
    with pytest.raises(QoroProtocolError, match="JSON array"):
        parse_qpu_systems({"results": []})


def test_request_bodies_match_the_wire_contract():
    assert InitJobRequest(JobType.SIMULATE, "qoro_maestro").to_json() == {
        "tag": "default",
        "job_type": "SIMULATE",
        "qpu_system_name": "qoro_maestro",
        "use_packing": False,
    }
    body = AddCircuitsRequest({"c": "H4sI"}, finalized=True, shots=1000).to_json()
    assert body == {"circuits": {"c": "H4sI"}, "mode": "append", "finalized": "true", "shots": 1000}
    body = AddCircuitsRequest({"c": "H4sI"}, finalized=False, observables="ZI").to_json()
    assert body["finalized"] == "false" and body["observables"] == "ZI" and "shots" not in body
    with pytest.raises(ValueError):
        AddCircuitsRequest({"c": "x"}, finalized=True)


def test_status_parsing_tolerates_unknown_values():
    assert parse_job_status({"status": "RUNNING", "data": 1}).status is JobStatus.RUNNING
    reply = parse_job_status({"status": "QUEUED"})
    assert reply.status is None and reply.raw_status == "QUEUED" and not reply.is_final
    assert not reply.is_known and reply.meaning is UNKNOWN_STATUS_MEANS is JobStatus.RUNNING
    failed = parse_job_status({"status": "FAILED", "reason": "boom"})
    assert failed.is_final and failed.reason == "boom"


def test_results_page_and_job_id():
    page = parse_results_page(
        {"count": 1, "next": None, "results": [{"label": "a", "results": {"ZI": 1.0}}]}
    )
    assert page.rows[0].label == "a" and page.next is None and page.count == 1
    with pytest.raises(QoroProtocolError, match="'label'"):
        parse_results_page({"results": [{"results": {}}]})
    assert parse_job_id({"job_id": "abc"}) == "abc"
    with pytest.raises(QoroProtocolError, match="'job_id'"):
        parse_job_id({"id": "abc"})
