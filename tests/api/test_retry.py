"""``RetryPolicy.decide``: the whole retry rule as a table, one row per branch."""

from __future__ import annotations

import random

import pytest

from qiskit_divi.api.retry import Action, Decision, Failure, RetryPolicy, parse_retry_after

NOT_SENT, NO_REPLY = Failure.NOT_SENT, Failure.NO_REPLY
RETRY, RESEND, PROBE = Action.RETRY, Action.RESEND, Action.PROBE
ACCEPT, FAIL, AMBIGUOUS = Action.ACCEPT, Action.FAIL, Action.AMBIGUOUS
LAST = 3  # the policy below allows 3 attempts


def policy() -> RetryPolicy:
    return RetryPolicy(max_attempts=LAST, backoff_base=1.0, backoff_cap=8.0, rng=random.Random(5))


# (method, attempt, outcome, earlier attempt may have acted, idempotency support, Retry-After)
#   -> (action, may_have_acted afterwards)
TABLE = [
    # successes, and the one accepted error: a DELETE whose earlier attempt may have deleted
    ("GET", 1, 200, False, None, None, ACCEPT, False),
    ("POST", 1, 201, False, None, None, ACCEPT, False),
    ("POST", 2, 200, True, True, None, ACCEPT, True),
    ("DELETE", 2, 404, True, None, None, ACCEPT, True),
    ("DELETE", 1, 404, False, None, None, FAIL, False),
    # errors no retry can fix
    ("GET", 1, 400, False, None, None, FAIL, False),
    ("GET", 1, 500, False, None, None, FAIL, False),
    ("POST", 1, 401, False, None, None, FAIL, False),
    ("POST", 2, 500, True, True, None, FAIL, True),
    # GET and DELETE: 429, 502, 503, 504 retried until the attempts run out
    ("GET", 1, 429, False, None, None, RETRY, False),
    ("GET", 1, 502, False, None, None, RETRY, False),
    ("GET", 2, 503, False, None, None, RETRY, False),
    ("DELETE", 1, 504, False, None, None, RETRY, False),
    ("GET", LAST, 503, False, None, None, FAIL, False),
    # POST refused outright (429, 503): the server did not act, so it is retried
    ("POST", 1, 429, False, None, None, RETRY, False),
    ("POST", 1, 503, False, False, None, RETRY, False),
    ("POST", LAST, 503, False, None, None, FAIL, False),
    ("POST", LAST, 503, True, True, None, AMBIGUOUS, True),  # an earlier attempt may have acted
    # POST through a gateway error (502, 504): it may have acted
    ("POST", 1, 502, False, None, None, PROBE, True),
    ("POST", 1, 502, False, True, None, RESEND, True),
    ("POST", 1, 504, False, False, None, AMBIGUOUS, True),
    ("POST", LAST, 502, False, True, None, AMBIGUOUS, True),
    ("POST", LAST, 504, False, None, None, AMBIGUOUS, True),  # no attempt left: no probe
    # transport failures: a request never sent is always retried
    ("GET", 1, NOT_SENT, False, None, None, RETRY, False),
    ("POST", 1, NOT_SENT, False, None, None, RETRY, False),
    ("POST", 2, NOT_SENT, True, True, None, RETRY, True),
    ("GET", LAST, NOT_SENT, False, None, None, FAIL, False),
    ("POST", LAST, NOT_SENT, False, None, None, FAIL, False),
    ("POST", LAST, NOT_SENT, True, True, None, AMBIGUOUS, True),
    # ... a lost reply (reset after sending, read timeout) is safe to repeat only when idempotent
    ("GET", 1, NO_REPLY, False, None, None, RETRY, True),
    ("DELETE", 1, NO_REPLY, False, False, None, RETRY, True),
    ("GET", LAST, NO_REPLY, False, None, None, FAIL, True),
    ("POST", 1, NO_REPLY, False, None, None, PROBE, True),
    ("POST", 1, NO_REPLY, False, True, None, RESEND, True),
    ("POST", 1, NO_REPLY, False, False, None, AMBIGUOUS, True),
    ("POST", LAST, NO_REPLY, False, True, None, AMBIGUOUS, True),
    ("POST", LAST, NO_REPLY, False, None, None, PROBE, True),  # asks even on the last attempt
    ("PATCH", 1, NO_REPLY, False, True, None, RESEND, True),
]


@pytest.mark.parametrize(
    "method, attempt, outcome, acted, supported, retry_after, action, acted_after", TABLE
)
def test_decide(method, attempt, outcome, acted, supported, retry_after, action, acted_after):
    decision = policy().decide(
        method,
        attempt,
        outcome,
        may_have_acted=acted,
        idempotency_supported=supported,
        retry_after=retry_after,
    )
    assert (decision.action, decision.may_have_acted) == (action, acted_after)
    if action in (RETRY, RESEND):
        ceiling = min(8.0, 2.0 ** (attempt - 1))  # full jitter in [ceiling / 2, ceiling]
        assert ceiling / 2 <= decision.delay <= ceiling
    else:
        assert decision.delay == 0


def test_the_method_may_be_lower_case():
    assert policy().decide("post", 1, 502, idempotency_supported=True).action is RESEND
    assert policy().decide("get", 1, NO_REPLY).action is RETRY


@pytest.mark.parametrize(
    "method, status, supported, action",
    [("GET", 429, None, RETRY), ("POST", 503, None, RETRY), ("POST", 502, True, RESEND)],
)
def test_retry_after_sets_the_delay_within_its_cap(method, status, supported, action):
    decide = policy().decide
    assert decide(
        method, 1, status, idempotency_supported=supported, retry_after="2.5"
    ) == Decision(action, 2.5, status == 502)
    capped = decide(method, 1, status, idempotency_supported=supported, retry_after="3600")
    assert capped.delay == RetryPolicy().max_retry_after
    # a header that says nothing falls back to the jittered backoff
    fallback = decide(method, 1, status, idempotency_supported=supported, retry_after="soon")
    assert 0.5 <= fallback.delay <= 1.0


def test_every_action_is_reachable():
    reached = {row[6] for row in TABLE}
    assert reached == set(Action)


def test_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert parse_retry_after(None) is None and parse_retry_after("later") is None


@pytest.mark.parametrize(
    ("method", "outcome", "acted", "action"),
    [
        ("GET", 503, False, Action.FAIL),
        ("POST", 503, False, Action.FAIL),
        ("GET", Failure.NO_REPLY, False, Action.FAIL),
        ("POST", 502, False, Action.AMBIGUOUS),
    ],
)
def test_a_delay_past_the_remaining_time_gives_up(method, outcome, acted, action):
    policy = RetryPolicy()
    decision = policy.decide(
        method,
        1,
        outcome,
        may_have_acted=acted,
        idempotency_supported=True,
        retry_after="8",
        remaining=0.05,
    )
    assert (decision.action, decision.out_of_time) == (action, True)
    roomy = policy.decide(
        method, 1, outcome, idempotency_supported=True, retry_after="8", remaining=9.0
    )
    assert roomy.action in (Action.RETRY, Action.RESEND) and not roomy.out_of_time
