"""Redaction of live secrets from the text of the errors the package builds.

:class:`~qiskit_divi.api.config.Secret` registers its value here for as long as it
lives; :func:`redact` replaces each registered value (and its URL-encoded and base64
forms) with ``***``. Every :class:`~qiskit_divi.api.errors.QoroError` message passes
through it, so a server that echoes the token in an error body cannot get it printed.
"""

from __future__ import annotations

import base64
import itertools
import threading
import weakref
from urllib.parse import quote

REDACTED = "***"
MIN_REDACTED_LENGTH = 8
"""Shorter values are not redacted: replacing them would mangle ordinary words of a message
(no real API key is that short)."""

_lock = threading.Lock()
_keys = itertools.count()
_forms: dict[int, tuple[str, ...]] = {}
_dead: list[int] = []
"""Keys of collected secrets, dropped from ``_forms`` at the next registration or redaction."""


def _forms_of(value: str) -> tuple[str, ...]:
    """The spellings of ``value`` an echo may use, longest first."""
    raw = value.encode("utf-8")
    encoded = {base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode("ascii")}
    forms = {value, quote(value, safe=""), *encoded, *(form.rstrip("=") for form in encoded)}
    return tuple(sorted(forms, key=len, reverse=True))


def _forget(key: int) -> None:
    # A weakref finalizer: it runs from the garbage collector, which may fire inside any
    # allocation, including one made while this thread holds ``_lock``. So it takes no lock
    # and touches no dict; list.append is atomic.
    _dead.append(key)


def _purge() -> None:
    """Drop the forms of collected secrets (``_lock`` held)."""
    while _dead:
        _forms.pop(_dead.pop(), None)


def register_secret(owner: object, value: str) -> None:
    """Redact ``value`` from package errors until ``owner`` is garbage-collected."""
    if len(value) < MIN_REDACTED_LENGTH:
        return
    key = next(_keys)
    forms = _forms_of(value)
    with _lock:
        _purge()
        _forms[key] = forms
    weakref.finalize(owner, _forget, key)


def redact(text: str) -> str:
    """``text`` with every live secret replaced by ``***``."""
    with _lock:
        _purge()
        registered = list(_forms.values())
    for forms in registered:
        for form in forms:
            if form in text:
                text = text.replace(form, REDACTED)
    return text


def redact_exception(exc: BaseException) -> BaseException:
    """Redact the string arguments of ``exc`` in place (for a third-party exception about
    to become a ``__cause__``) and return it."""
    exc.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in exc.args)
    return exc
