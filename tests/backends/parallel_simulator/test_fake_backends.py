"""The ``"auto"`` fake-backend table (divi-runner-api.md section 8.3), served lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest
from qiskit import QuantumCircuit

from qiskit_divi.backends import parallel_simulator
from qiskit_divi.backends.parallel_simulator.fake_backends import (
    FAKE_BACKENDS,
    find_best_fake_backend,
)


def test_find_best_fake_backend_buckets():
    assert find_best_fake_backend(QuantumCircuit(3)) == FAKE_BACKENDS[5]
    assert find_best_fake_backend(QuantumCircuit(20)) == FAKE_BACKENDS[20]
    assert find_best_fake_backend(QuantumCircuit(100)) is None


def test_fake_backend_table():
    expected = {
        5: ["FakeManilaV2", "FakeBelemV2", "FakeLimaV2", "FakeQuitoV2"],
        7: ["FakeOslo", "FakePerth", "FakeLagosV2", "FakeNairobiV2"],
        15: ["FakeMelbourneV2"],
        16: ["FakeGuadalupeV2"],
        20: ["FakeAlmadenV2", "FakeJohannesburgV2", "FakeSingaporeV2", "FakeBoeblingenV2"],
        27: ["FakeGeneva", "FakePeekskill", "FakeAuckland", "FakeCairoV2"],
    }
    assert {
        size: [cls.__name__ for cls in classes] for size, classes in FAKE_BACKENDS.items()
    } == expected
    for size, classes in FAKE_BACKENDS.items():
        assert classes[-1]().num_qubits == size
    for n, size in [
        (0, 5),
        (5, 5),
        (6, 7),
        (7, 7),
        (8, 15),
        (15, 15),
        (16, 16),
        (17, 20),
        (21, 27),
        (27, 27),
    ]:
        assert find_best_fake_backend(QuantumCircuit(n)) is FAKE_BACKENDS[size], n


def test_the_package_serves_the_same_table():
    assert parallel_simulator.FAKE_BACKENDS is FAKE_BACKENDS


def test_importing_the_package_does_not_import_the_fake_provider():
    code = (
        "import sys, qiskit_divi.backends\n"
        "import qiskit_divi.backends.parallel_simulator as m\n"
        "assert not any(n.startswith('qiskit_ibm_runtime') for n in sys.modules), 'eager import'\n"
        "assert 5 in m.FAKE_BACKENDS\n"
        "assert 'qiskit_ibm_runtime.fake_provider' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_unknown_module_attribute():
    with pytest.raises(AttributeError, match="NOT_THERE"):
        parallel_simulator.NOT_THERE  # noqa: B018
    with pytest.raises(AttributeError, match="NOT_THERE"):
        parallel_simulator.fake_backends.NOT_THERE  # noqa: B018
