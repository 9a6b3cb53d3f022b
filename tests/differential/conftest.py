"""The differential suite: every entry point against exact ``qiskit.quantum_info`` references.

It runs on ``engine_provider``, the systems of tests/conftest.py's ``sampling_provider``:
``qoro_maestro`` (EXPECTATION jobs) and ``noiseless`` (the same simulator without
EXPECTATION jobs, for the estimator's sampling fallback). Every test runs once per engine
of those systems (``[aer]`` and ``[maestro]``, ``EmulatorConfig(engine=...)``; the latter
skips, with the reason, without the ``maestro`` extra). The tests' hypothesis settings are
``random_circuits.DIFFERENTIAL``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator

import pytest
from maestro_support import needs_maestro

from qiskit_divi import QoroBackend, QoroProvider
from qiskit_divi.backends import QoroService
from qiskit_divi.emulator import DEFAULT_SYSTEMS, EmulatorConfig, EmulatorServer

ENGINES = [
    pytest.param("aer", id="aer"),
    pytest.param("maestro", id="maestro", marks=needs_maestro),
]


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The engine simulating ``qoro_maestro`` and ``noiseless_sampler`` (``EmulatorConfig``)."""
    return str(request.param)


@pytest.fixture(scope="session")
def engine_server(engine: str) -> Iterator[EmulatorServer]:
    """tests/conftest.py's ``sampling_server`` (the same systems and seed) on ``engine``.

    The fixtures built on it have names of their own (or are overridden here, ``noiseless``):
    a session fixture of tests/conftest.py that the differential tests requested would
    otherwise keep this server's backend for every later test.
    """
    maestro = next(s for s in DEFAULT_SYSTEMS if s.name == "qoro_maestro")
    noiseless = dataclasses.replace(
        maestro, name="noiseless_sampler", nickname="noiseless", supports_expectation=False
    )
    config = EmulatorConfig(
        min_job_seconds=0.0, seed=4321, systems=(maestro, noiseless), engine=engine
    )
    with EmulatorServer(host="127.0.0.1", port=0, config=config) as server:
        assert server.engine == engine
        yield server


@pytest.fixture(scope="session")
def engine_provider(engine_server: EmulatorServer) -> Iterator[QoroProvider]:
    with QoroProvider(token=engine_server.tokens[0], url=engine_server.base_url) as prov:
        yield prov


@pytest.fixture(scope="session")
def exact_backend(engine_provider: QoroProvider) -> QoroBackend:
    backend = engine_provider.get_backend("qoro_maestro")
    assert backend.supports_expval
    return backend


@pytest.fixture(scope="session")
def noiseless(engine_provider: QoroProvider) -> QoroBackend:
    """``noiseless_sampler``: exact physics, but sampled (no EXPECTATION jobs)."""
    backend = engine_provider.get_backend("noiseless_sampler")
    assert not backend.supports_expval
    return backend


@pytest.fixture(scope="session")
def service(engine_provider: QoroProvider) -> QoroService:
    return QoroService(client=engine_provider.client, polling_interval=0.01, max_retries=100_000)


@pytest.fixture(autouse=True)
def templates_reach_the_server(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test whose template uploads the emulator refused: the client would send them
    bound instead (qiskit_divi.api.submission), and the template path would go untested."""
    caplog.set_level(logging.WARNING, logger="qiskit_divi.api.submission")
    yield
    refused = [
        r.getMessage() for r in caplog.records if "refused the template form" in r.getMessage()
    ]
    assert not refused, refused
