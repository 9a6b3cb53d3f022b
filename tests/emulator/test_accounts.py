"""Credit accounts of the emulator: ``credits/``, ``credits/transactions/`` (qoro-api.md
3.11), the charging rule and INSUFFICIENT_CREDITS."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from qiskit_divi.api.circuits import pack_circuit
from qiskit_divi.emulator import EmulatorConfig
from qiskit_divi.emulator.accounts import Accounts, credit_amount, job_cost

TOKEN_B = "bob-has-his-own-account-0123"


@pytest.fixture
def funded(make_server, client):
    """A server whose tokens start with 0.10 credits, its client, and a second token's."""
    server = make_server(
        tokens=["alice-test-token-0123456789", TOKEN_B],
        config=EmulatorConfig(min_job_seconds=0, credits="0.10", seed=3),
    )
    return server, client(server), client(server, TOKEN_B)


def _flips(qasm, n: int) -> dict[str, str]:
    """``n`` one-qubit circuits that always read 1."""
    return {f"c{i}": qasm(1, "x q[0]") for i in range(n)}


def _transactions(api, query: str = "") -> dict:
    resp = api.get(f"credits/transactions/{query}")
    assert resp.status_code == 200, resp.text
    return resp.json()


# --- amounts and the charging rule -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(500, "500.00"), ("12.5", "12.50"), (0, "0.00"), (Decimal("0.019"), "0.01"), (2.25, "2.25")],
)
def test_credit_amounts_are_kept_in_cents(value, expected):
    assert credit_amount(value) == Decimal(expected)
    assert EmulatorConfig(credits=value).credits == Decimal(expected)


@pytest.mark.parametrize("bad", [-1, "-0.01", "nan", math.nan, math.inf, "Infinity", "lots", True])
def test_negative_nan_and_non_numbers_are_refused(bad):
    with pytest.raises(ValueError, match="credits"):
        EmulatorConfig(credits=bad)


def test_charging_rule():
    # 0.01 per circuit + 0.01 per 1000 shots, rounded up to the cent.
    assert job_cost(expectation=False, n_circuits=3, total_shots=3000, n_terms=0) == Decimal("0.06")
    assert job_cost(expectation=False, n_circuits=1, total_shots=100, n_terms=0) == Decimal("0.02")
    # EXPECTATION: 0.01 per circuit per term.
    assert job_cost(expectation=True, n_circuits=2, total_shots=0, n_terms=3) == Decimal("0.06")


# --- HTTP ------------------------------------------------------------------------------


def test_a_starting_balance_is_a_purchase(funded):
    _, api, _ = funded
    balance = api.get("credits/").json()
    assert (balance["balance"], balance["total_used"]) == ("0.10", "0.00")
    assert balance["created_at"].endswith("Z") and balance["updated_at"].endswith("Z")
    page = _transactions(api)
    assert (page["count"], page["total_pages"], page["next"], page["previous"]) == (
        1,
        1,
        None,
        None,
    )
    (purchase,) = page["results"]
    assert purchase["transaction_type"] == "PURCHASE"
    assert (purchase["amount"], purchase["balance_after"], purchase["job_id"]) == (
        "0.10",
        "0.10",
        None,
    )
    assert set(purchase) == {
        "id",
        "amount",
        "balance_after",
        "transaction_type",
        "description",
        "job_id",
        "created_at",
    }


def test_completed_jobs_are_charged_and_a_job_over_the_balance_never_runs(funded, qasm):
    server, api, bob = funded
    job = api.submit(_flips(qasm, 2), shots=1000)  # 0.02 + 0.02
    assert api.counts(job) == {"c0": {"1": 1000}, "c1": {"1": 1000}}
    balance = api.get("credits/").json()
    assert (balance["balance"], balance["total_used"]) == ("0.06", "0.04")
    usage = _transactions(api)["results"][0]  # newest first
    assert (usage["transaction_type"], usage["amount"], usage["balance_after"]) == (
        "USAGE",
        "-0.04",
        "0.06",
    )
    assert usage["job_id"] == job

    expensive = api.submit(_flips(qasm, 4), shots=1000)  # 0.08 > 0.06
    status = api.get(f"job/{expensive}/status/").json()  # at once: it never runs
    assert status["status"] == "INSUFFICIENT_CREDITS"
    assert "0.08" in status["reason"] and "0.06" in status["reason"]
    results = api.get(f"job/{expensive}/resultsV2/")
    assert results.status_code == 400 and "INSUFFICIENT_CREDITS" in results.json()["error"]
    assert api.post(f"job/{expensive}/cancel/").status_code == 409
    assert api.delete(f"job/{expensive}").status_code == 204
    assert api.get("credits/").json()["balance"] == "0.06"
    assert _transactions(api)["count"] == 2
    assert server.stats["jobs_refused_for_credits"] == 1

    # EXPECTATION: 1 circuit x 2 terms = 0.02.
    values = api.values(api.submit({"e": qasm(1, "x q[0]", measure=False)}, observables="Z;I"))
    assert values == {"e": {"Z": pytest.approx(-1.0, abs=1e-9), "I": pytest.approx(1.0)}}
    assert api.get("credits/").json()["balance"] == "0.04"
    # Each token has its own account.
    assert bob.get("credits/").json()["balance"] == "0.10"
    assert _transactions(bob)["count"] == 1


def test_unfinished_jobs_hold_their_cost(make_server, client, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0.4, credits="0.06"))
    api = client(server)
    first = api.submit(_flips(qasm, 2), shots=1000)  # reserves 0.04
    second = api.submit(_flips(qasm, 2), shots=1000)  # 0.04 > 0.06 - 0.04
    assert api.status(second) == "INSUFFICIENT_CREDITS"
    assert api.status(first) != "COMPLETED"
    assert api.get("credits/").json()["balance"] == "0.06"  # reserved, not yet charged
    assert api.wait(first)[-1] == "COMPLETED"
    assert api.get("credits/").json()["balance"] == "0.02"


def test_cancelled_jobs_are_not_charged_and_release_their_hold(make_server, client, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0.3, credits="0.04"))
    api = client(server)
    job = api.submit(_flips(qasm, 2), shots=1000)
    assert api.post(f"job/{job}/cancel/").status_code == 200
    again = api.submit(_flips(qasm, 2), shots=1000)  # the whole balance is free again
    assert api.wait(again)[-1] == "COMPLETED"
    assert api.status(job) == "CANCELLED"
    page = _transactions(api)
    assert [tx["job_id"] for tx in page["results"]] == [again, None]
    assert api.get("credits/").json()["balance"] == "0.00"


def test_unlimited_accounts_report_usage(make_server, client, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0))
    api = client(server)
    assert api.get("credits/").json()["balance"] == "0.00"
    assert _transactions(api)["count"] == 0
    jobs = [api.submit(_flips(qasm, 2), shots=1000) for _ in range(3)]
    for job in jobs:
        assert api.wait(job)[-1] == "COMPLETED"  # never refused
    balance = api.get("credits/").json()
    assert (balance["balance"], balance["total_used"]) == ("0.00", "0.12")
    page = _transactions(api)
    assert [tx["job_id"] for tx in page["results"]] == jobs[::-1]
    assert {(tx["amount"], tx["balance_after"]) for tx in page["results"]} == {("-0.04", "0.00")}


@pytest.mark.parametrize(
    "query", ["?page=0", "?page=-1", "?page=x", "?page=2", "?page_size=0", "?page_size=abc"]
)
def test_a_bad_page_is_400(funded, query):
    _, api, _ = funded
    resp = api.get(f"credits/transactions/{query}")
    assert resp.status_code == 400
    assert "page" in resp.json()["error"]


def test_page_size_is_capped_at_100(funded):
    _, api, _ = funded
    page = _transactions(api, "?page=1&page_size=1000")
    assert page["count"] == 1 and page["next"] is None


def test_pages_are_newest_first_with_absolute_links():
    accounts = Accounts(Decimal("1.00"), wall_clock=lambda: 1_767_225_600.0)
    for n in range(5):
        assert accounts.reserve("me", f"job-{n}", Decimal("0.10")) is None
        accounts.charge("me", f"job-{n}")
    assert accounts.reserve("me", "big", Decimal("0.60")) == Decimal("0.50")

    def url(page: int) -> str:
        return f"http://h/api/credits/transactions/?page={page}&page_size=2"

    pages = [accounts.transactions_page("me", n, 2, url) for n in (1, 2, 3)]
    assert [p["count"] for p in pages] == [6, 6, 6]
    assert [p["total_pages"] for p in pages] == [3, 3, 3]
    assert [p["next"] for p in pages] == [url(2), url(3), None]
    assert [p["previous"] for p in pages] == [None, url(1), url(2)]
    rows = [row for p in pages for row in p["results"]]
    assert [row["job_id"] for row in rows] == [f"job-{n}" for n in range(4, -1, -1)] + [None]
    assert [row["balance_after"] for row in rows] == [
        "0.50",
        "0.60",
        "0.70",
        "0.80",
        "0.90",
        "1.00",
    ]
    assert rows[0]["created_at"] == "2026-01-01T00:00:00.000000Z"
    assert accounts.balance_reply("me")["total_used"] == "0.50"


def test_shot_groups_are_charged_by_their_shots(funded, qasm):
    _, api, _ = funded
    job = api.init()
    body = {
        "circuits": {label: pack_circuit(text) for label, text in _flips(qasm, 2).items()},
        "mode": "append",
        "finalized": "true",
        "shot_groups": [[0, 1, 1000], [1, 2, 3000]],
    }
    assert api.post(f"job/{job}/add_circuits/", body).status_code == 200
    assert api.counts(job) == {"c0": {"1": 1000}, "c1": {"1": 3000}}
    # 2 circuits x 0.01 + 4000 shots x 0.01 / 1000
    assert api.get("credits/").json()["balance"] == "0.04"
