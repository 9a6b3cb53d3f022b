"""The one retry policy of the wire client, as a pure decision.

Idempotent requests (GET, DELETE) are retried on 429, 502, 503, 504 and
connection failures with capped exponential backoff and full jitter, honouring
``Retry-After``, as long as the caller's remaining time allows the delay. A
state-changing POST is retried only when the server cannot have acted on it: the
connection was never established, or the server refused it outright (429, 503).
When its fate is unknown (the reply was lost, or a gateway answered 502/504), it is
re-sent with the same ``Idempotency-Key`` only to a server that honours the key;
otherwise the caller is told it is ambiguous.

:meth:`RetryPolicy.decide` holds the whole rule; ``QoroClient.send`` only acts on
its :class:`Decision`.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

IDEMPOTENT_METHODS = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})


class Failure(enum.Enum):
    """A transport failure of one attempt (no HTTP status arrived)."""

    NOT_SENT = "not sent"
    """The connection was never established: the server cannot have seen the request."""
    NO_REPLY = "no reply"
    """The request was (or may have been) sent and the reply was lost: reset, read timeout."""


class Action(enum.Enum):
    """What the client does after one attempt."""

    ACCEPT = "accept"
    """Return the response: a success, or a DELETE answered 404 after an earlier attempt
    that may have deleted it."""
    RETRY = "retry"
    """Send again after the delay: nothing can happen twice."""
    RESEND = "resend"
    """Send again after the delay with the same ``Idempotency-Key``: the server may have
    acted, and it has said it replays the stored response for a repeated key."""
    PROBE = "probe"
    """Ask the server whether it honours ``Idempotency-Key``, then decide again."""
    FAIL = "fail"
    """Give up with the error of this outcome (the HTTP error, or a connection error)."""
    AMBIGUOUS = "ambiguous"
    """Give up: the request may have acted and cannot safely be sent again."""


@dataclass(frozen=True)
class Decision:
    """The outcome of :meth:`RetryPolicy.decide`."""

    action: Action
    delay: float = 0.0
    """Seconds to sleep before a RETRY or RESEND (with ``out_of_time``: the delay that
    did not fit)."""
    may_have_acted: bool = False
    """Whether this or an earlier attempt may have reached the server and acted; pass it
    to the next :meth:`RetryPolicy.decide` of the same call."""
    out_of_time: bool = False
    """The FAIL or AMBIGUOUS is because the retry delay would outlast the caller's
    remaining time (``remaining`` of :meth:`RetryPolicy.decide`)."""


@dataclass
class RetryPolicy:
    """How often and how long to retry; see the module docstring for *what*."""

    max_attempts: int = 6
    backoff_base: float = 0.2
    backoff_cap: float = 10.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    not_processed_statuses: frozenset[int] = frozenset({429, 503})
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def status_is_retriable(self, method: str, status: int) -> bool:
        """Whether ``status`` may be retried for ``method`` without risk of acting twice."""
        if method.upper() in IDEMPOTENT_METHODS:
            return status in self.retry_statuses
        return status in self.not_processed_statuses

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)

    def decide(
        self,
        method: str,
        attempt: int,
        outcome: int | Failure,
        *,
        may_have_acted: bool = False,
        idempotency_supported: bool | None = None,
        retry_after: str | None = None,
        remaining: float | None = None,
    ) -> Decision:
        """What to do after attempt number ``attempt`` (1-based) of a ``method`` request.

        Args:
            outcome: the HTTP status that arrived, or the transport :class:`Failure`.
            may_have_acted: whether an earlier attempt of the same call may have acted
                (the previous decision's ``may_have_acted``).
            idempotency_supported: whether the server honours ``Idempotency-Key``
                (None: not known yet; the decision may then be PROBE).
            retry_after: the response's ``Retry-After`` header, if any.
            remaining: seconds left before the caller's deadline (None: no deadline). A
                RETRY or RESEND whose delay would use them up becomes FAIL (AMBIGUOUS
                when a state-changing request may have acted) with ``out_of_time``.

        The only impurity is the jitter of the delay, drawn from ``rng``.
        """
        method = method.upper()
        if isinstance(outcome, Failure):
            decision = self._after_failure(
                method, attempt, outcome, may_have_acted, idempotency_supported
            )
        else:
            decision = self._after_status(
                method, attempt, outcome, may_have_acted, idempotency_supported, retry_after
            )
        if (
            remaining is not None
            and decision.action in (Action.RETRY, Action.RESEND)
            and decision.delay >= remaining
        ):
            acted = decision.may_have_acted
            ambiguous = acted and method not in IDEMPOTENT_METHODS
            action = Action.AMBIGUOUS if ambiguous else Action.FAIL
            return Decision(action, decision.delay, acted, out_of_time=True)
        return decision

    def _after_failure(
        self,
        method: str,
        attempt: int,
        failure: Failure,
        earlier_acted: bool,
        supported: bool | None,
    ) -> Decision:
        acted = earlier_acted or failure is Failure.NO_REPLY
        idempotent = method in IDEMPOTENT_METHODS
        can_retry = attempt < self.max_attempts
        if idempotent or failure is Failure.NOT_SENT:
            if can_retry:
                return Decision(Action.RETRY, self.delay(attempt), acted)
            # Out of attempts: a state-changing request that may have acted is ambiguous.
            return Decision(Action.AMBIGUOUS if acted and not idempotent else Action.FAIL, 0, acted)
        if supported is None:
            return Decision(Action.PROBE, 0, acted)
        if supported and can_retry:
            return Decision(Action.RESEND, self.delay(attempt), acted)
        return Decision(Action.AMBIGUOUS, 0, acted)

    def _after_status(
        self,
        method: str,
        attempt: int,
        status: int,
        acted: bool,
        supported: bool | None,
        retry_after: str | None,
    ) -> Decision:
        idempotent = method in IDEMPOTENT_METHODS
        can_retry = attempt < self.max_attempts
        if status < 400 or (method == "DELETE" and status == 404 and acted):
            return Decision(Action.ACCEPT, 0, acted)
        if self.status_is_retriable(method, status):
            if can_retry:
                return Decision(Action.RETRY, self.delay(attempt, retry_after), acted)
            gateway = status in self.retry_statuses
            return Decision(
                Action.AMBIGUOUS if acted and not idempotent and gateway else Action.FAIL, 0, acted
            )
        if not idempotent and status in self.retry_statuses:
            # A gateway error (502, 504) on a state-changing request: the server may have acted.
            if can_retry and supported is None:
                return Decision(Action.PROBE, 0, True)
            if can_retry and supported:
                return Decision(Action.RESEND, self.delay(attempt, retry_after), True)
            return Decision(Action.AMBIGUOUS, 0, True)
        return Decision(Action.FAIL, 0, acted)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
