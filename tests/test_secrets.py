"""Secrets: the token never shows in DEBUG logs, reprs, errors, tracebacks, cassettes or the
journal; TLS verification stays on off loopback; the emulator binds loopback and needs a token."""

from __future__ import annotations

import io
import logging
import re
import socket
import tokenize
import traceback
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from qiskit.quantum_info import SparsePauliOp
from sample_circuits import bell

from qiskit_divi import (
    EstimatorV2,
    QoroAmbiguousRequestError,
    QoroAuthenticationError,
    QoroConfigurationError,
    QoroConnectionError,
    QoroJobTimeoutError,
    QoroNotFoundError,
    QoroProvider,
    SamplerV2,
)
from qiskit_divi.api.client import QoroClient
from qiskit_divi.api.config import Secret
from qiskit_divi.api.retry import RetryPolicy
from qiskit_divi.emulator import EmulatorConfig, EmulatorServer, FaultConfig
from qiskit_divi.journal import JobJournal

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "tok-SECRET-9f8e7d6c5b4a39281706"
WRONG = "tok-WRONG-00112233445566778899"
FAST = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_cap=0.005)


def assert_hidden(text: str) -> None:
    for secret in (TOKEN, WRONG):
        assert secret not in text
        assert secret[4:20] not in text  # no partial echo either


def assert_error_hidden(exc: BaseException) -> None:
    assert_hidden(str(exc))
    assert_hidden(repr(exc))
    assert_hidden("".join(traceback.format_exception(exc)))
    assert_hidden(repr({k: v for k, v in vars(exc).items() if k not in ("response", "request")}))


@pytest.fixture
def faulty_server():
    """An emulator accepting TOKEN with a few faults, so retry and error paths log too."""
    faults = FaultConfig.mixed(0.25, seed=99, retry_after="0")
    with EmulatorServer(
        tokens=[TOKEN], config=EmulatorConfig(min_job_seconds=0.0, seed=3), faults=faults
    ) as server:
        yield server


def exercise_everything(server: EmulatorServer, journal: JobJournal) -> list[BaseException]:
    """Every code path that handles the token; returns the errors it provoked."""
    errors: list[BaseException] = []
    with QoroProvider(token=TOKEN, url=server.base_url, journal=journal) as provider:
        provider.client.retry_policy = RetryPolicy(
            max_attempts=10, backoff_base=0.001, backoff_cap=0.005
        )
        backend = provider.get_backend("qoro_maestro")
        jobs = [backend.run(bell(), shots=20) for _ in range(4)]
        for job in jobs:
            job.result(timeout=30)
            provider.retrieve_job(job.job_id()).result(timeout=30)
        sampler, estimator = SamplerV2(mode=backend), EstimatorV2(mode=backend)
        sampled = sampler.run([bell()], shots=20)
        template = bell().remove_final_measurements(inplace=False)
        estimated = estimator.run([(template, SparsePauliOp("ZZ"))])
        assert sampled.result(timeout=30)[0].data.c.num_shots == 20
        assert estimated.result(timeout=30)[0].data.evs == pytest.approx(1.0)
        provider.retrieve_job(estimated.job_id()).result(timeout=30)
        for thing in (
            provider,
            backend,
            jobs[0],
            provider.client,
            server,
            journal,
            provider.client._token,
            sampler,
            estimator,
            sampled,
            estimated,
        ):
            assert_hidden(repr(thing))
            assert_hidden(str(thing))
        try:
            provider.retrieve_job(str(uuid.uuid4()))
        except QoroNotFoundError as exc:
            errors.append(exc)
    with QoroProvider(token=WRONG, url=server.base_url, journal=journal) as stranger:
        stranger.client.retry_policy = FAST
        try:
            stranger.backends()
        except QoroAuthenticationError as exc:
            errors.append(exc)
    with QoroClient(TOKEN, "http://127.0.0.1:9/api", retry_policy=FAST) as unreachable:
        try:
            unreachable.list_systems()
        except QoroConnectionError as exc:
            errors.append(exc)
    return errors


def test_token_never_logged_shown_or_stored(faulty_server, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # the root logger: urllib3, requests, qiskit_divi, the emulator
    for name in ("urllib3", "qiskit_divi"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    journal = JobJournal(tmp_path / "jobs.sqlite3")
    errors = exercise_everything(faulty_server, journal)

    kinds = {type(e).__name__ for e in errors}
    assert {"QoroNotFoundError", "QoroAuthenticationError", "QoroConnectionError"} <= kinds
    assert len(errors) >= 3
    for exc in errors:
        assert_error_hidden(exc)

    assert any(r.name.startswith("urllib3") for r in caplog.records), (
        "urllib3 DEBUG records expected"
    )
    assert any("Retrying" in r.getMessage() for r in caplog.records), "retry logging expected"
    assert any(r.name.startswith("qiskit_divi.emulator") for r in caplog.records)
    assert_hidden(caplog.text)
    assert_hidden("\n".join(f"{r.args!r} {r.__dict__!r}" for r in caplog.records))
    out, err = capfd.readouterr()
    assert_hidden(out + err)

    raw = (tmp_path / "jobs.sqlite3").read_bytes()
    assert TOKEN.encode() not in raw and b"Bearer" not in raw
    assert b"circuit_0" in raw  # the journal was written


def test_package_errors_hide_the_token(tmp_path, monkeypatch):
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(QoroConfigurationError) as missing:
        QoroProvider(url="http://127.0.0.1:9/api")
    assert_error_hidden(missing.value)
    with pytest.raises(QoroConfigurationError) as bad_url:
        QoroClient(TOKEN, "ftp://example.com/api")
    assert_error_hidden(bad_url.value)
    with (
        EmulatorServer(
            tokens=[TOKEN],
            config=EmulatorConfig(min_job_seconds=60, idempotency=False),
            faults=FaultConfig(reset_after_rate=1.0, endpoints=frozenset({"job_init"})),
        ) as server,
        QoroProvider(token=TOKEN, url=server.base_url) as provider,
    ):
        backend = provider.get_backend("qoro_maestro")
        with pytest.raises(QoroAmbiguousRequestError) as ambiguous:
            backend.run(bell(), shots=5)
        assert_error_hidden(ambiguous.value)
    with QoroProvider.local(token=TOKEN, config=EmulatorConfig(min_job_seconds=60)) as provider:
        job = provider.get_backend("qoro_maestro").run(bell(), shots=5)
        with pytest.raises(QoroJobTimeoutError) as timeout:
            job.result(timeout=0.05)
        assert_error_hidden(timeout.value)
        job.cancel()
        assert_hidden(repr(provider) + repr(provider.emulator))


def test_a_token_with_a_line_break_is_refused_before_any_request(monkeypatch, tmp_path):
    crlf = TOKEN + "\r\nX-Injected: 1"
    monkeypatch.chdir(tmp_path)
    with EmulatorServer(tokens=[TOKEN]) as server:
        attempts = [
            lambda: QoroClient(crlf, server.base_url, retry_policy=FAST).list_systems(),
            lambda: QoroProvider(token=crlf, url=server.base_url).backends(),
            lambda: QoroClient(Secret(crlf), server.base_url).list_systems(),
        ]
        monkeypatch.setenv("QORO_API_KEY", crlf)
        attempts.append(lambda: QoroProvider(url=server.base_url).backends())
        for attempt in attempts:
            with pytest.raises(QoroConfigurationError, match="line break") as info:
                attempt()
            assert_error_hidden(info.value)
            assert info.value.__cause__ is None
        assert requests.get(server.base_url + "/", timeout=10).status_code == 401  # still up


def test_secret_wrapper():
    secret = Secret(TOKEN)
    assert_hidden(repr(secret) + str(secret) + f"{secret}" + "%s" % (secret,))  # noqa: UP031 (%-formatting is the case tested)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)
    client = QoroClient(TOKEN, "https://app.example.com/api")
    assert_hidden(repr(client) + repr(vars(client)))


def test_cassettes_hold_no_credentials():
    cassettes = sorted((ROOT / "cassettes").glob("*.yaml"))
    assert cassettes
    for path in cassettes:
        text = path.read_text()
        assert not re.search(r"Bearer (?!realm=)", text), (
            path.name
        )  # WWW-Authenticate challenges are fine
        for token in (
            "replay-token-not-a-secret",
            "wrong-token-xyz",
        ):  # the tokens the cassette tests use
            assert token not in text, path.name
        for interaction in yaml.safe_load(text)["interactions"]:
            headers = {k.lower() for k in interaction["request"]["headers"]}
            assert "authorization" not in headers, path.name


# --- TLS -------------------------------------------------------------------------------


_TEXT_TOKENS = frozenset({"STRING", "COMMENT", "FSTRING_MIDDLE"})


def _code_lines(source: str) -> dict[int, str]:
    """Each line's code without its strings and comments (an error message may name
    ``verify=False``; only code can turn verification off)."""
    lines: dict[int, list[str]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if tokenize.tok_name[token.type] not in _TEXT_TOKENS:
            lines.setdefault(token.start[0], []).append(token.string)
    return {n: " ".join(parts) for n, parts in lines.items()}


def test_no_code_turns_tls_verification_off():
    pattern = re.compile(
        r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context|disable_warnings"
    )
    assert pattern.search(_code_lines("session.verify=False  # off\n")[1])
    assert not any(
        pattern.search(c) for c in _code_lines('x = "verify=False"  # verify=False\n').values()
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "qiskit_divi").rglob("*.py")
        for n, code in _code_lines(path.read_text()).items()
        if pattern.search(code)
    ]
    assert offenders == []


def test_https_sessions_verify_certificates():
    client = QoroClient(TOKEN, "https://app.qoroquantum.net/api")
    assert client._session.verify is True
    with QoroProvider(token=TOKEN, url="https://app.qoroquantum.net/api") as provider:
        assert provider.client._session.verify is True
    custom = requests.Session()
    custom.verify = "/etc/ssl/certs/ca-certificates.crt"  # a CA bundle is kept
    assert (
        QoroClient(TOKEN, "https://qoro.example.com/api", session=custom)._session.verify
        == custom.verify
    )
    insecure = requests.Session()
    insecure.verify = False
    with pytest.raises(QoroConfigurationError, match="cannot be turned off"):
        QoroClient(TOKEN, "https://qoro.example.com/api", session=insecure)
    assert (
        QoroClient(TOKEN, "https://127.0.0.1:8443/api", session=insecure)._session.verify is False
    )  # loopback


# --- the emulator ------------------------------------------------------------------------


def test_emulator_binds_loopback_and_requires_a_token():
    with EmulatorServer() as server:  # defaults: loopback, one random token
        assert server.host == "127.0.0.1" and server._httpd.server_address[0] == "127.0.0.1"
        (token,) = server.tokens
        assert len(token) >= 24
        url = server.base_url + "/qpusystem/"
        assert requests.get(url, timeout=10).status_code == 401
        assert (
            requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10).status_code
            == 401
        )
        assert (
            requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code
            == 200
        )
        assert_hidden(repr(server))
        assert token not in repr(server)
        # Not reachable on another interface of this machine.
        other = _non_loopback_address()
        if other is not None:
            with pytest.raises(requests.ConnectionError):
                requests.get(f"http://{other}:{server.port}/api/", timeout=2)
    with pytest.raises(ValueError, match="non-loopback"):
        EmulatorServer(tokens=[TOKEN], host="0.0.0.0")
    with pytest.raises(ValueError, match="At least one token"):
        EmulatorServer(tokens=[])
    with QoroProvider.local() as provider:
        assert provider.emulator is not None and provider.emulator.host == "127.0.0.1"


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address
