"""Wire models of today's protocol (qoro-api.md 3.3, 3.5, 3.6, 3.11, 5.6)."""

import decimal

import pytest

from qiskit_divi.api.errors import QoroInputError, QoroProtocolError
from qiskit_divi.api.models import (
    AddCircuitsRequest,
    AddTemplateRequest,
    InitJobRequest,
    JobStatus,
    JobType,
    ParameterSet,
    SimulatorCluster,
    parse_credit_balance,
    parse_credit_transactions,
    parse_job_status,
    parse_simulator_clusters,
)
from qiskit_divi.api.submission import JobSpec, check_shot_groups, shot_groups_of_chunk


def test_final_and_unsuccessful_statuses_follow_the_contract():
    assert {s for s in JobStatus if s.is_final} == {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.INSUFFICIENT_CREDITS,
        JobStatus.TIMED_OUT,
    }
    assert {s for s in JobStatus if s.is_unsuccessful} == {
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.INSUFFICIENT_CREDITS,
        JobStatus.TIMED_OUT,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1.5, 1.5),
        (0, 0.0),
        (None, None),
        ("3", None),
        (-1, None),
        (float("nan"), None),
        (True, None),
    ],
)
def test_run_time_is_read_when_it_is_a_sane_number(raw, expected):
    reply = {"status": "COMPLETED"} if raw is None else {"status": "COMPLETED", "run_time": raw}
    assert parse_job_status(reply).run_time == expected


def test_clusters_parse_with_the_reference_defaults_and_ignore_unknown_keys():
    clusters = parse_simulator_clusters(
        [
            {"name": "qoro_maestro", "access_level": "PUBLIC", "minimum_tier": "FREE", "new": 1},
            {"name": "big"},
            {"name": "sampling_only", "supports_expval": False},
        ]
    )
    assert clusters == [
        SimulatorCluster("qoro_maestro", "PUBLIC", "FREE"),
        SimulatorCluster("big", "PUBLIC", "FREE"),
        SimulatorCluster("sampling_only", supports_expval=False),
    ]
    assert [c.supports_expval for c in clusters] == [True, True, False]


@pytest.mark.parametrize(
    "bad", [{}, [{"access_level": "PUBLIC"}], [{"name": 3}], [{"name": "a", "minimum_tier": 2}]]
)
def test_malformed_cluster_listings_name_the_field(bad):
    with pytest.raises(QoroProtocolError, match="Malformed server reply"):
        parse_simulator_clusters(bad)


def test_credit_amounts_are_exact_decimals():
    balance = parse_credit_balance(
        {"balance": "500.10", "total_used": "0", "created_at": "2026-01-01T00:00:00Z"}
    )
    assert balance.balance == decimal.Decimal("500.10")
    assert balance.total_used == 0
    assert balance.created_at == "2026-01-01T00:00:00Z" and balance.updated_at is None
    for bad in ({"balance": "lots", "total_used": "0"}, {"balance": "NaN", "total_used": "0"}, {}):
        with pytest.raises(QoroProtocolError):
            parse_credit_balance(bad)


def test_credit_transactions_parse_one_page():
    page = parse_credit_transactions(
        {
            "count": 2,
            "total_pages": 1,
            "next": None,
            "previous": None,
            "results": [
                {
                    "id": 1,
                    "amount": "500.00",
                    "balance_after": "500.00",
                    "transaction_type": "PURCHASE",
                    "description": "starting balance",
                    "job_id": None,
                    "created_at": "2026-01-01T00:00:00Z",
                },
                {"id": 2, "amount": "-1.5", "balance_after": "498.5", "job_id": "j-1"},
            ],
        }
    )
    assert page.count == 2 and page.total_pages == 1 and page.next is None
    assert [t.amount for t in page.transactions] == [
        decimal.Decimal("500.00"),
        decimal.Decimal("-1.5"),
    ]
    assert page.transactions[1].job_id == "j-1" and page.transactions[0].job_id is None
    with pytest.raises(QoroProtocolError, match="credit transaction 0"):
        parse_credit_transactions({"count": 1, "results": [{"amount": "1"}]})


def test_init_names_a_system_or_a_cluster_never_both():
    assert InitJobRequest(JobType.EXECUTE, simulator_cluster="qoro_maestro").to_json() == {
        "tag": "default",
        "job_type": "EXECUTE",
        "simulator_cluster": "qoro_maestro",
        "use_packing": False,
    }
    for kwargs in ({}, {"qpu_system_name": "a", "simulator_cluster": "b"}):
        with pytest.raises(ValueError, match="exactly one"):
            InitJobRequest(JobType.EXECUTE, **kwargs)
    spec = JobSpec("qoro_maestro", JobType.EXECUTE, {"c": "x"}, shots=5, cluster=True)
    assert spec.init_request().simulator_cluster == "qoro_maestro"
    assert spec.init_request().qpu_system_name is None


def test_uploads_carry_exactly_one_way_of_measuring():
    body = AddCircuitsRequest(
        {"a": "x", "b": "y"}, finalized=True, shot_groups=((0, 1, 5), (1, 2, 7))
    )
    assert body.to_json()["shot_groups"] == [[0, 1, 5], [1, 2, 7]]
    assert "shots" not in body.to_json()
    with pytest.raises(ValueError, match="exactly one"):
        AddCircuitsRequest({"a": "x"}, finalized=True, shots=5, shot_groups=((0, 1, 5),))


def test_template_bodies_follow_the_contract():
    request = AddTemplateRequest(
        "H4sI",
        ("t0", "t1"),
        (ParameterSet("p0_0", (0.5, 1)), ParameterSet("p0_1", (2.0, -1.0))),
        finalized=False,
        shots=100,
    )
    assert request.to_json() == {
        "circuit_template": "H4sI",
        "parameter_names": ["t0", "t1"],
        "parameter_sets": [
            {"label": "p0_0", "values": [0.5, 1.0]},
            {"label": "p0_1", "values": [2.0, -1.0]},
        ],
        "mode": "append",
        "finalized": "false",
        "shots": 100,
    }
    with pytest.raises(ValueError, match="1 values for 2 parameter names"):
        AddTemplateRequest("H4sI", ("t0", "t1"), (ParameterSet("a", (1.0,)),), True, shots=1)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([(0, 2, 10)], "cover every circuit"),
        ([(0, 1, 10), (2, 3, 10)], "must start at 1"),
        ([(0, 2, 10), (1, 3, 10)], "must start at 2"),
        ([(0, 0, 10), (0, 3, 10)], "must start at 0 and end after it"),
        ([(0, 3, 0)], "Shots must be a positive integer"),
        ([(0, 3)], "each group is"),
        ([(0, 3, 1.5)], "each group is"),
        ([5], "each group is"),
        (["abc"], "each group is"),
    ],
)
def test_shot_groups_that_do_not_tile_are_refused_before_any_job(groups, message):
    with pytest.raises(QoroInputError, match=message):
        check_shot_groups(groups, 3)
    with pytest.raises(QoroInputError, match=message):
        JobSpec("s", JobType.EXECUTE, {"a": "x", "b": "y", "c": "z"}, shot_groups=tuple(groups))


def test_shot_groups_are_rebased_to_each_upload():
    groups = ((0, 3, 10), (3, 4, 20), (4, 10, 30))
    assert shot_groups_of_chunk(groups, 0, 2) == ((0, 2, 10),)
    assert shot_groups_of_chunk(groups, 2, 5) == ((0, 1, 10), (1, 2, 20), (2, 3, 30))
    assert shot_groups_of_chunk(groups, 5, 10) == ((0, 5, 30),)
