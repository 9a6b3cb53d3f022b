"""Fixtures for the primitives tests.

The session's ``provider`` (tests/conftest.py) serves ``qoro_maestro`` (EXPECTATION
jobs), ``fake_nairobi`` and ``fake_ion`` (noisy, sampling only). ``noiseless`` is
``sampling_provider``'s (tests/conftest.py) noiseless simulator that does NOT run
EXPECTATION jobs, for the estimator's sampling fallback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from qiskit_divi import QoroBackend, QoroProvider
from qiskit_divi.emulator import EmulatorServer


@pytest.fixture(scope="session")
def maestro(provider: QoroProvider) -> QoroBackend:
    return provider.get_backend("qoro_maestro")


@pytest.fixture
def new_jobs(emulator_server: EmulatorServer) -> Callable[[], list[str]]:
    """Ids of the jobs the session emulator received since the test started, in order."""
    before = set(emulator_server.jobs)

    def jobs() -> list[str]:
        return [job_id for job_id in emulator_server.jobs if job_id not in before]

    return jobs


def random_ansatz(num_qubits: int, layers: int, seed: int, name: str = "ansatz") -> QuantumCircuit:
    """A random parameterised circuit in simulator gates (rx/ry/rz, cx/cz, h, s, sx), not
    symmetric."""
    rng = np.random.default_rng(seed)
    theta = ParameterVector("θ", num_qubits * layers * 2)
    circuit = QuantumCircuit(num_qubits, name=name)
    k = 0
    for _ in range(layers):
        for q in range(num_qubits):
            getattr(circuit, str(rng.choice(["rx", "ry", "rz"])))(theta[k], q)
            getattr(circuit, str(rng.choice(["h", "s", "sx"])))(q)
            getattr(circuit, str(rng.choice(["rx", "ry"])))(theta[k + 1], q)
            k += 2
        order = rng.permutation(num_qubits)
        for a, b in zip(order[:-1], order[1:], strict=True):
            getattr(circuit, str(rng.choice(["cx", "cz"])))(int(a), int(b))
    return circuit


def without_run_times(metadata: dict[str, Any]) -> dict[str, Any]:
    """A result's metadata without the servers' run times (``run_time``, ``run_times``: measured,
    pinned by tests/primitives/test_job_status.py)."""
    return {k: v for k, v in metadata.items() if k not in ("run_time", "run_times")}


@pytest.fixture
def run_fresh_process(provider: QoroProvider, emulator_token: str) -> Callable[[str], Any]:
    """Run a Python snippet in a new interpreter against the session emulator; return its JSON
    output.

    The snippet sees ``provider`` (a new ``QoroProvider()`` built from the
    environment) and must print one JSON document.
    """

    def run(code: str) -> Any:
        env = dict(os.environ, QORO_API_KEY=emulator_token, QORO_API_URL=provider.url)
        script = "from qiskit_divi import QoroProvider\nprovider = QoroProvider()\n" + code
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run
