"""Token and base-URL resolution: argument, then environment, then a ``.env`` file."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from typing import NoReturn
from urllib.parse import urlparse

from dotenv import dotenv_values, find_dotenv

from .errors import QoroConfigurationError
from .redaction import register_secret

PRODUCTION_URL = "https://app.qoroquantum.net/api"
TOKEN_ENV = "QORO_API_KEY"
URL_ENV = "QORO_API_URL"

MISSING_TOKEN_MESSAGE = (
    "Qoro API key not provided nor found in a .env file or QORO_API_KEY environment variable. "
    "Pass the key as an argument (token=... / auth_token=...), export QORO_API_KEY, "
    "or put QORO_API_KEY=<key> in a .env file in the working directory or above."
)


class Secret:
    """A string that never shows itself in ``repr``/``str``/logs, and is redacted from the
    package's errors while it lives (:mod:`~qiskit_divi.api.redaction`)."""

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        check_token_characters(value)
        self._value = value
        register_secret(self, value)

    def reveal(self) -> str:
        """The real value, for the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:  # never pickle a token by accident
        raise TypeError("Secret values cannot be pickled.")


def _describe(char: str) -> str:
    if char in "\r\n":
        return "a line break (CR/LF)"
    if char.isspace():
        return "whitespace"
    if char.isprintable():
        return "a non-ASCII character"
    return "a control character"


def check_token_characters(token: str) -> None:
    """Refuse a token that is not visible ASCII: it could not travel in an HTTP header, and
    the header error would quote it. The message never includes the token."""
    for position, char in enumerate(token):
        if not "!" <= char <= "~":
            raise QoroConfigurationError(
                f"The Qoro API key contains {_describe(char)} at position {position + 1} of "
                f"{len(token)}; API keys are visible ASCII only. Check for a stray space or "
                f"newline pasted with it (token=..., {TOKEN_ENV} or the .env file)."
            )


DotenvReader = Callable[[], Mapping[str, str | None]]
"""Returns the variables of the ``.env`` file in effect (an empty mapping if none)."""


def read_dotenv() -> Mapping[str, str | None]:
    """The ``.env`` file found from the working directory upwards, as a mapping."""
    path = find_dotenv(usecwd=True)
    return dotenv_values(path) if path else {}


def _from_dotenv(key: str) -> str | None:
    return read_dotenv().get(key) or None


def normalise_token(token: str) -> str:
    """Strip whitespace and a ``Bearer`` prefix the user may have included."""
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return token


def resolve_token(token: str | None = None, *, dotenv: DotenvReader = read_dotenv) -> Secret:
    """Argument, else ``QORO_API_KEY`` from the environment, else from a ``.env`` file.

    Raises :class:`QoroConfigurationError` when it is missing or holds whitespace or
    control characters inside (:func:`check_token_characters`). ``dotenv`` reads the
    ``.env`` file; it is only called when the first two are absent.
    """
    if token is not None:
        if normalise_token(token):
            return Secret(normalise_token(token))
        raise QoroConfigurationError(MISSING_TOKEN_MESSAGE)  # an explicit empty argument
    value = normalise_token(os.environ.get(TOKEN_ENV) or "")
    if not value:
        value = normalise_token(dotenv().get(TOKEN_ENV) or "")
    if value:
        return Secret(value)
    raise QoroConfigurationError(MISSING_TOKEN_MESSAGE)


def resolve_base_url(url: str | None = None) -> str:
    """Argument, else ``QORO_API_URL`` from the environment or ``.env``, else production."""
    resolved = url or os.environ.get(URL_ENV) or _from_dotenv(URL_ENV) or PRODUCTION_URL
    resolved = resolved.strip().rstrip("/")
    if not resolved.startswith(("http://", "https://")):
        raise QoroConfigurationError(
            f"Qoro API URL {resolved!r} must start with http:// or https:// "
            f"(set it with url=... or {URL_ENV})."
        )
    return resolved


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an IP address, IPv6 maybe in brackets) is this machine:
    ``localhost``, 127.0.0.0/8 or ``::1``."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str | None) -> bool:
    """Whether ``url`` points at this machine (see :func:`is_loopback_host`)."""
    return is_loopback_host(urlparse(url or "").hostname or "")
