"""The differential suite: every entry point against exact ``qiskit.quantum_info`` references.

It runs on ``sampling_provider`` (tests/conftest.py): ``qoro_maestro`` (EXPECTATION
jobs) and ``noiseless`` (the same simulator without EXPECTATION jobs, for the
estimator's sampling fallback). The tests' hypothesis settings are
``random_circuits.DIFFERENTIAL``.
"""

from __future__ import annotations

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
