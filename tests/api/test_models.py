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


FINAL = {"COMPLETED", "FAILED", "CANCELLED", "INSUFFICIENT_CREDITS", "TIMED_OUT"}


@pytest.mark.parametrize("value", [s.value for s in JobStatus])
def test_all_nine_statuses_parse_with_their_finality(value):
    reply = parse_job_status({"status": value})
    assert reply.status is JobStatus(value) and reply.is_known
    assert reply.is_final is (value in FINAL)
    assert JobStatus(value).is_unsuccessful is (value in FINAL - {"COMPLETED"})
    assert parse_job_status({"status": value.lower()}).status is JobStatus(value)


def test_the_vocabulary_is_the_contracts_nine():
    assert {s.value for s in JobStatus} == FINAL | {"PENDING", "SCHEDULED", "RUNNING", "PAUSED"}


@pytest.mark.parametrize(
    ("sent", "parsed"), [(12.5, 12.5), (3, 3.0), (0, 0.0), (None, None), ("absent", None)]
)
def test_run_time_is_read_from_the_status_reply(sent, parsed):
    body = (
        {"status": "COMPLETED"} if sent == "absent" else {"status": "COMPLETED", "run_time": sent}
    )
    run_time = parse_job_status(body).run_time
    assert run_time == parsed and (run_time is None or isinstance(run_time, float))


@pytest.mark.parametrize("sent", ["12", -1.0, float("nan"), float("inf"), True, [1]])
def test_a_malformed_run_time_is_ignored_not_fatal(sent, caplog):
    reply = parse_job_status({"status": "COMPLETED", "run_time": sent})
    assert reply.status is JobStatus.COMPLETED and reply.run_time is None
    assert "Ignoring the malformed 'run_time'" in caplog.text


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
