"""Shared fixtures: an isolated job journal, local emulators on loopback, providers for them.

* ``journal_path`` (session, autouse): ``QISKIT_DIVI_JOURNAL`` points into a temporary
  directory for the whole run, so no test touches the user's cache.
* ``emulator_server`` / ``provider``: one emulator for the session (jobs finish after
  ``min_job_seconds=0.05``; a fixed seed keeps the sampled counts reproducible) and a
  ``QoroProvider`` for it.
* ``slow_provider``: a second emulator whose jobs stay PENDING/RUNNING for a minute,
  for cancellation and timeouts; its ``emulator`` attribute is the server.
* ``sampling_server`` / ``sampling_provider``: an emulator whose jobs finish at once,
  serving ``qoro_maestro`` and ``noiseless_sampler`` (maestro's simulator under another
  name, without EXPECTATION jobs: the estimator's sampling fallback on exact physics).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qiskit_divi import QoroBackend, QoroProvider
from qiskit_divi.emulator import EmulatorConfig, EmulatorServer
from qiskit_divi.emulator.systems import DEFAULT_SYSTEMS

EMULATOR_TOKEN = "provider-tests-token-5b0d7c1e9a"
SLOW_TOKEN = "provider-tests-slow-token-77f2a1"
SAMPLING_TOKEN = "primitives-sampling-token-3c9e51"


@pytest.fixture(scope="session", autouse=True)
def journal_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private journal file for the test session (restores the environment afterwards)."""
    path = tmp_path_factory.mktemp("journal") / "jobs.sqlite3"
    previous = os.environ.get("QISKIT_DIVI_JOURNAL")
    os.environ["QISKIT_DIVI_JOURNAL"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("QISKIT_DIVI_JOURNAL", None)
    else:
        os.environ["QISKIT_DIVI_JOURNAL"] = previous


@pytest.fixture(scope="session")
def emulator_token() -> str:
    """The token ``emulator_server`` accepts (for tests that check it never leaks)."""
    return EMULATOR_TOKEN


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """The session's emulator: fast jobs, seeded simulators."""
    config = EmulatorConfig(min_job_seconds=0.05, seed=1234, engine="aer")
    with EmulatorServer(tokens=[EMULATOR_TOKEN], host="127.0.0.1", port=0, config=config) as server:
        yield server


@pytest.fixture(scope="session")
def provider(emulator_server: EmulatorServer) -> Iterator[QoroProvider]:
    """A provider talking to ``emulator_server`` over real HTTP."""
    with QoroProvider(token=EMULATOR_TOKEN, url=emulator_server.base_url) as prov:
        yield prov


@pytest.fixture(scope="session")
def slow_provider() -> Iterator[QoroProvider]:
    """A local provider whose emulator keeps every job non-terminal for 60 s."""
    with QoroProvider.local(token=SLOW_TOKEN, config=EmulatorConfig(min_job_seconds=60.0)) as prov:
        yield prov


@pytest.fixture(scope="session")
def sampling_server() -> Iterator[EmulatorServer]:
    """Jobs finish at once; ``qoro_maestro`` and the noiseless ``noiseless_sampler``."""
    maestro = next(s for s in DEFAULT_SYSTEMS if s.name == "qoro_maestro")
    noiseless = dataclasses.replace(
        maestro, name="noiseless_sampler", nickname="noiseless", supports_expectation=False
    )
    config = EmulatorConfig(min_job_seconds=0.0, seed=4321, systems=(maestro, noiseless))
    with EmulatorServer(tokens=[SAMPLING_TOKEN], host="127.0.0.1", port=0, config=config) as server:
        yield server


@pytest.fixture(scope="session")
def sampling_provider(sampling_server: EmulatorServer) -> Iterator[QoroProvider]:
    with QoroProvider(token=SAMPLING_TOKEN, url=sampling_server.base_url) as prov:
        yield prov


@pytest.fixture(scope="session")
def noiseless(sampling_provider: QoroProvider) -> QoroBackend:
    """``noiseless_sampler``: exact physics, but sampled (no EXPECTATION jobs)."""
    backend = sampling_provider.get_backend("noiseless_sampler")
    assert not backend.supports_expval
    return backend
