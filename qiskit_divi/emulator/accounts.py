"""Credit accounts of the emulated service (``qoro-api.md`` 3.11).

Every token has one account. With ``EmulatorConfig(credits=AMOUNT)`` it starts with
``AMOUNT`` credits, shown as a ``PURCHASE`` transaction; with ``credits=None`` (the
default) it is unlimited: nothing is ever refused, ``balance`` always reads ``"0.00"``
and ``total_used`` still grows, so a workload's cost can be read either way.

Charging rule (all amounts in credits, kept in cents; a job's cost is rounded *up* to
the cent):

* sampling jobs (SIMULATE, EXECUTE, CIRCUIT_CUT): ``0.01`` per circuit plus ``0.01`` per
  1000 shots summed over the circuits;
* EXPECTATION jobs: ``0.01`` per circuit per Pauli term.

A finalised job's cost is reserved against the balance; a job whose cost exceeds what
is left (balance minus the reservations of other unfinished jobs) ends
``INSUFFICIENT_CREDITS`` without running. A job that ends COMPLETED is charged (a
``USAGE`` transaction with a negative ``amount`` and the job's ``job_id``); a job that
fails, times out, is cancelled or deleted is not charged and its reservation is released.
"""

from __future__ import annotations

import datetime
import decimal
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
CREDITS_PER_CIRCUIT = Decimal("0.01")
CREDITS_PER_1000_SHOTS = Decimal("0.01")
CREDITS_PER_TERM = Decimal("0.01")
"""EXPECTATION jobs: per circuit per Pauli term."""
DEFAULT_TRANSACTIONS_PAGE_SIZE = 20
MAX_TRANSACTIONS_PAGE_SIZE = 100


def credit_amount(value: object, name: str = "credits") -> Decimal:
    """``value`` as a non-negative finite amount in cents (rounded down); ValueError if it
    is negative, NaN, infinite or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(
            f"{name} must be a non-negative number of credits such as 500 or '12.50', "
            f"got {value!r}."
        )
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except decimal.InvalidOperation:
        raise ValueError(
            f"{name} must be a non-negative number of credits such as 500 or '12.50', "
            f"got {value!r}."
        ) from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(
            f"{name} must be a finite, non-negative number of credits, got {value!r} "
            "(None means unlimited)."
        )
    return amount.quantize(CENT, rounding=decimal.ROUND_DOWN)


def job_cost(*, expectation: bool, n_circuits: int, total_shots: int, n_terms: int) -> Decimal:
    """A job's price by the rule of the module docstring."""
    if expectation:
        raw = CREDITS_PER_TERM * n_circuits * n_terms
    else:
        raw = CREDITS_PER_CIRCUIT * n_circuits + CREDITS_PER_1000_SHOTS * total_shots / 1000
    return raw.quantize(CENT, rounding=decimal.ROUND_UP)


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _text(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


@dataclass
class _Transaction:
    id: int
    amount: Decimal
    balance_after: Decimal
    transaction_type: str
    description: str
    job_id: str | None
    created_at: float

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "amount": _text(self.amount),
            "balance_after": _text(self.balance_after),
            "transaction_type": self.transaction_type,
            "description": self.description,
            "job_id": self.job_id,
            "created_at": _iso(self.created_at),
        }


@dataclass
class _Account:
    balance: Decimal | None
    """None: unlimited."""
    created_at: float
    updated_at: float
    total_used: Decimal = Decimal("0.00")
    transactions: list[_Transaction] = field(default_factory=list)
    holds: dict[str, Decimal] = field(default_factory=dict)
    """Cost reserved per unfinished finalised job."""


class PageError(ValueError):
    """A bad ``page`` / ``page_size`` query; ``str(exc)`` says what to send."""


class Accounts:
    """Thread-safe credit accounts by owner (a token hash), created on first use."""

    def __init__(self, credits: Decimal | None, wall_clock: Callable[[], float] = time.time):
        self._credits = credits
        self._clock = wall_clock
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.Lock()
        self._next_id = 1

    @property
    def unlimited(self) -> bool:
        return self._credits is None

    def _account(self, owner: str) -> _Account:
        """The owner's account (lock held)."""
        account = self._accounts.get(owner)
        if account is None:
            now = self._clock()
            account = _Account(balance=self._credits, created_at=now, updated_at=now)
            if self._credits is not None:
                account.transactions.append(
                    self._transaction(
                        self._credits,
                        self._credits,
                        "PURCHASE",
                        "Starting balance (EmulatorConfig.credits, --credits).",
                        None,
                        now,
                    )
                )
            self._accounts[owner] = account
        return account

    def _transaction(
        self,
        amount: Decimal,
        balance_after: Decimal,
        kind: str,
        description: str,
        job_id: str | None,
        now: float,
    ) -> _Transaction:
        tx = _Transaction(self._next_id, amount, balance_after, kind, description, job_id, now)
        self._next_id += 1
        return tx

    def reserve(self, owner: str, job_id: str, cost: Decimal) -> Decimal | None:
        """Reserve ``cost`` for a finalised job; None if it fits, else the credits left
        (balance minus other reservations) that it exceeds."""
        with self._lock:
            account = self._account(owner)
            if account.balance is not None:
                available = account.balance - sum(account.holds.values(), Decimal("0"))
                if cost > available:
                    return available
            account.holds[job_id] = cost
            return None

    def charge(self, owner: str, job_id: str) -> None:
        """Charge a COMPLETED job its reserved cost (once; no-op without a reservation)."""
        with self._lock:
            account = self._account(owner)
            cost = account.holds.pop(job_id, None)
            if cost is None:
                return
            now = self._clock()
            account.total_used += cost
            if account.balance is not None:
                account.balance -= cost
            account.updated_at = now
            after = account.balance if account.balance is not None else Decimal("0")
            account.transactions.append(
                self._transaction(-cost, after, "USAGE", f"Job {job_id} completed.", job_id, now)
            )
        logger.debug("Job %s charged %s credits.", job_id, cost)

    def release(self, owner: str, job_id: str) -> None:
        """Drop a job's reservation (it ended without completing, or was deleted)."""
        with self._lock:
            account = self._accounts.get(owner)
            if account is not None:
                account.holds.pop(job_id, None)

    def balance_reply(self, owner: str) -> dict[str, Any]:
        """The body of ``GET credits/``."""
        with self._lock:
            account = self._account(owner)
            balance = account.balance if account.balance is not None else Decimal("0")
            return {
                "balance": _text(balance),
                "total_used": _text(account.total_used),
                "created_at": _iso(account.created_at),
                "updated_at": _iso(account.updated_at),
            }

    def transactions_page(
        self, owner: str, page: int, page_size: int, url: Callable[[int], str]
    ) -> dict[str, Any]:
        """One page of ``GET credits/transactions/`` (newest first); :class:`PageError`
        past the last page. ``url(n)`` is the absolute URL of page ``n``."""
        with self._lock:
            rows = list(reversed(self._account(owner).transactions))
        count = len(rows)
        total_pages = max(1, math.ceil(count / page_size))
        if page > total_pages:
            raise PageError(
                f"Invalid page {page}: there are {total_pages} page(s) of {page_size} "
                f"transactions; ask for a page from 1 to {total_pages}."
            )
        start = (page - 1) * page_size
        return {
            "count": count,
            "total_pages": total_pages,
            "next": url(page + 1) if page < total_pages else None,
            "previous": url(page - 1) if page > 1 else None,
            "results": [tx.to_wire() for tx in rows[start : start + page_size]],
        }


def page_query(values: list[str] | None, name: str, default: int) -> int:
    """A positive integer query parameter (``default`` when absent); :class:`PageError`
    otherwise."""
    if not values:
        return default
    text = values[-1].strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12 or int(text) < 1:
        raise PageError(f"'{name}' must be a positive integer, got {values[-1]!r}.")
    return int(text)
