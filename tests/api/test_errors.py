"""The error tree redacts live tokens: from messages, server messages and echoed bodies."""

from __future__ import annotations

import base64
import gc
import traceback
from urllib.parse import quote

import pytest

from qiskit_divi.api.config import Secret
from qiskit_divi.api.errors import (
    QoroBadRequestError,
    QoroError,
    QoroProtocolError,
    api_error_for,
)
from qiskit_divi.api.redaction import MIN_REDACTED_LENGTH, REDACTED, redact, redact_exception

LIVE = "errors-test-token-5e1f0a9c8b7d"


def _spellings(token: str) -> list[str]:
    raw = token.encode()
    return [
        token,
        quote(token, safe=""),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


def _everything(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + repr(vars(exc))


@pytest.fixture
def live_secret():
    secret = Secret(LIVE)
    yield secret
    del secret


def test_a_server_echoing_the_authorization_header_gets_it_redacted(scripted, client, token):
    def echo():
        auth = scripted.seen[-1][2]["Authorization"]
        encoded = base64.b64encode(auth[len("Bearer ") :].encode()).decode()
        return 400, {}, {"error": f"bad credentials {auth!r} (b64 {encoded}, url {quote(auth)})"}

    scripted.on("GET", "qpusystem/", echo)
    with pytest.raises(QoroBadRequestError) as info:
        client.list_systems()
    exc = info.value
    assert scripted.seen[-1][2]["Authorization"] == f"Bearer {token}"  # it was echoed
    for spelling in _spellings(token):
        assert spelling not in _everything(exc)
        assert spelling not in exc.server_message
    assert f"bad credentials 'Bearer {REDACTED}'" in str(exc)
    assert exc.status_code == 400 and "Fix the request" in str(exc)


def test_every_error_message_is_redacted_while_the_secret_lives(live_secret):
    for spelling in _spellings(LIVE):
        errors = [
            QoroError(f"said {spelling}"),
            QoroProtocolError(f"said {spelling}"),
            api_error_for(502, f"echo {spelling}", method="get", endpoint=f"job/{spelling}/"),
        ]
        for exc in errors:
            assert spelling not in _everything(exc)
            assert REDACTED in str(exc)


def test_redaction_forgets_a_collected_secret():
    secret = Secret("short-lived-token-0123456789")
    assert redact("x short-lived-token-0123456789 y") == f"x {REDACTED} y"
    del secret
    gc.collect()
    assert redact("x short-lived-token-0123456789 y") == "x short-lived-token-0123456789 y"


def test_short_values_are_not_redacted_from_ordinary_words():
    short = Secret("t" * (MIN_REDACTED_LENGTH - 1))
    assert str(QoroError("the test tttttt passed")) == "the test tttttt passed"
    assert short.reveal()


def test_redact_exception_rewrites_a_third_party_cause(live_secret):
    cause = redact_exception(ValueError(f"header value 'Bearer {LIVE}'", 7))
    assert LIVE not in str(cause) and cause.args[1] == 7


def test_a_secret_collected_while_the_registry_is_locked_does_not_deadlock():
    """The collector may run a Secret's finalizer inside an allocation made while this very
    thread holds the registry's lock (seen: the suite hung in register_secret)."""
    import gc
    import threading

    from qiskit_divi.api import redaction
    from qiskit_divi.api.config import Secret

    def collect_under_the_lock() -> None:
        doomed = Secret("tok-doomed-0123456789")
        with redaction._lock:
            del doomed
            gc.collect()  # runs the finalizer here, with the lock held

    worker = threading.Thread(target=collect_under_the_lock, daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "a finalizer blocked on the registry lock"
    kept = Secret("tok-kept-0123456789")
    assert redaction.redact("x tok-doomed-0123456789 tok-kept-0123456789") == (
        "x tok-doomed-0123456789 ***"
    )
    del kept
