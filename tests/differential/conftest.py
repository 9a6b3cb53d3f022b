"""The differential suite: every entry point against exact ``qiskit.quantum_info`` references.

It runs on ``sampling_provider`` (tests/conftest.py): ``qoro_maestro`` (EXPECTATION
jobs) and ``noiseless`` (the same simulator without EXPECTATION jobs, for the
estimator's sampling fallback). The tests' hypothesis settings are
``random_circuits.DIFFERENTIAL``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from qiskit_divi import QoroBackend, QoroProvider
from qiskit_divi.backends import QoroService


@pytest.fixture(scope="session")
def exact_backend(sampling_provider: QoroProvider) -> QoroBackend:
    backend = sampling_provider.get_backend("qoro_maestro")
    assert backend.supports_expval
    return backend


@pytest.fixture(scope="session")
def service(sampling_provider: QoroProvider) -> QoroService:
    return QoroService(client=sampling_provider.client, polling_interval=0.01, max_retries=100_000)


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
