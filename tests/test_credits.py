"""Credits (``GET credits/``, ``credits/transactions/``, ``qoro-api.md`` 3.11) through
``QoroProvider`` and the divi layer's ``QoroService``, against a scripted server."""

from __future__ import annotations

import decimal
from collections.abc import Iterator

import pytest
import requests
from api.conftest import TOKEN, ScriptedServer

from qiskit_divi import QoroInputError, QoroProvider
from qiskit_divi.api.errors import QoroAuthenticationError, QoroProtocolError
from qiskit_divi.backends import QoroService

BALANCE = {
    "balance": "487.25",
    "total_used": "12.75",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-02T00:00:00Z",
}
PAGE = {
    "count": 2,
    "total_pages": 1,
    "next": None,
    "previous": None,
    "results": [
        {
            "id": 2,
            "amount": "-12.75",
            "balance_after": "487.25",
            "transaction_type": "USAGE",
            "description": "job abc",
            "job_id": "abc",
            "created_at": "2026-01-02T00:00:00Z",
        },
        {
            "id": 1,
            "amount": "500.00",
            "balance_after": "500.00",
            "transaction_type": "PURCHASE",
            "description": "top-up",
            "job_id": None,
            "created_at": "2026-01-01T00:00:00Z",
        },
    ],
}


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.on("GET", "qpusystem/", (200, {}, []))
    server.on("GET", "credits/", (200, {}, BALANCE))
    server.on("GET", "credits/transactions/", (200, {}, PAGE))
    yield server
    server.close()


@pytest.fixture
def provider(scripted) -> Iterator[QoroProvider]:
    with QoroProvider(token=TOKEN, url=scripted.base_url) as prov:
        yield prov


@pytest.fixture
def service(scripted) -> QoroService:
    return QoroService(TOKEN, url=scripted.base_url)


def queries(scripted: ScriptedServer) -> list[str]:
    return [p for m, p, _, _ in scripted.seen if p.startswith("/api/credits/transactions/")]


def test_provider_credits_is_the_exact_balance(provider):
    balance = provider.credits()
    assert balance.balance == decimal.Decimal("487.25")  # exact: no float rounding
    assert balance.total_used == decimal.Decimal("12.75")
    assert balance.updated_at == "2026-01-02T00:00:00Z"


def test_provider_credit_transactions_reads_one_page(provider, scripted):
    page = provider.credit_transactions(page=2, page_size=100)
    assert queries(scripted) == ["/api/credits/transactions/?page=2&page_size=100"]
    assert page.count == 2 and page.next is None
    usage, purchase = page.transactions
    assert (usage.amount, usage.job_id, usage.transaction_type) == (
        decimal.Decimal("-12.75"),
        "abc",
        "USAGE",
    )
    assert purchase.job_id is None and purchase.balance_after == decimal.Decimal("500.00")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"page": 0}, "page must be a positive integer"),
        ({"page_size": 101}, "maximum of 100"),
        ({"page_size": 2.5}, "page_size must be a positive integer"),
    ],
)
def test_bad_pages_are_refused_before_a_request(provider, scripted, kwargs, match):
    with pytest.raises(QoroInputError, match=match):
        provider.credit_transactions(**kwargs)
    with pytest.raises(ValueError, match="page"):
        QoroService(TOKEN, url=scripted.base_url).get_credit_transactions(**kwargs)
    assert queries(scripted) == []


def test_service_returns_the_reply_dicts_as_divi_0_15_1(service, scripted):
    assert service.get_credit_balance() == BALANCE
    assert service.get_credit_transactions() == PAGE
    assert queries(scripted) == ["/api/credits/transactions/?page=1&page_size=20"]


def test_a_malformed_balance_is_a_protocol_error(provider, service, scripted):
    scripted.on("GET", "credits/", (200, {}, {"balance": "lots", "total_used": "0"}))
    with pytest.raises(QoroProtocolError, match="'balance'.*decimal amount"):
        provider.credits()
    with pytest.raises(QoroProtocolError, match="'balance'"):
        service.get_credit_balance()


def test_a_deactivated_token_raises_without_showing_it(provider, service, scripted):
    scripted.on("GET", "credits/", (401, {}, {"detail": "Token deactivated."}))
    with pytest.raises(QoroAuthenticationError) as info:
        provider.credits()
    assert TOKEN not in str(info.value)
    with pytest.raises(requests.HTTPError, match="401") as info2:
        service.get_credit_balance()
    assert TOKEN not in str(info2.value)
