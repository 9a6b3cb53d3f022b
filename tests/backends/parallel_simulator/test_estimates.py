"""Run-time estimates (divi-runner-api.md sections 8.5 and 8.6) on backends with known durations."""

from __future__ import annotations

from unittest import mock

import pytest
from qiskit.circuit import Measure
from qiskit.circuit.library import CXGate, HGate, XGate
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import InstructionProperties, Target
from qiskit_ibm_runtime.fake_provider import FakeQuitoV2

from qiskit_divi.backends import ParallelSimulator
from qiskit_divi.backends.parallel_simulator import estimates


class TimedBackend(BackendV2):
    """Two qubits, h/x/cx/measure, with the given durations (None: unknown)."""

    def __init__(self, durations: dict[tuple[str, tuple[int, ...]], float | None]):
        super().__init__(name="timed")
        self._target = Target(num_qubits=2)
        gates = {"h": HGate(), "x": XGate(), "cx": CXGate(), "measure": Measure()}
        for name, gate in gates.items():
            properties = {
                qargs: InstructionProperties(duration=duration)
                for (gate_name, qargs), duration in durations.items()
                if gate_name == name
            }
            if properties:
                self._target.add_instruction(gate, properties)

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self) -> None:
        return None

    @classmethod
    def _default_options(cls) -> Options:
        return Options()

    def run(self, run_input, **options):
        raise NotImplementedError


def test_estimate_single_circuit_sums_the_longest_path(make_qasm):
    text = make_qasm("h q[0];\ncx q[0],q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];")
    backend = TimedBackend(
        {
            ("h", (0,)): 1.6e-7,
            ("h", (1,)): 1.6e-7,
            ("cx", (0, 1)): 3.2e-7,
            ("measure", (0,)): 5.0e-7,
            ("measure", (1,)): 5.0e-7,
        }
    )
    estimate = ParallelSimulator.estimate_run_time_single_circuit(
        text, qiskit_backend=backend, optimization_level=1
    )
    assert estimate == pytest.approx(9.8e-7)  # h, cx, one measure: the path with most nodes


def test_estimate_single_circuit_warns_on_unknown_durations(make_qasm):
    text = make_qasm("h q[0];\nbarrier q;\nx q[0];\nmeasure q[0] -> c[0];")
    backend = TimedBackend(
        {("h", (0,)): 2.0, ("x", (0,)): None, ("cx", (0, 1)): 1.0, ("measure", (0,)): 3.0}
    )
    with pytest.warns(UserWarning, match="Instruction duration not found: x") as caught:
        estimate = ParallelSimulator.estimate_run_time_single_circuit(
            text, qiskit_backend=backend, optimization_level=0
        )
    assert estimate == 5.0
    assert [str(w.message) for w in caught] == ["Instruction duration not found: x"]  # no barrier


def test_estimate_single_circuit_auto_is_the_fake_backend_of_the_bucket(make_qasm):
    text = make_qasm("h q[0];\ncx q[0],q[1];\nmeasure q -> c;")
    auto = ParallelSimulator.estimate_run_time_single_circuit(text, "auto", seed_transpiler=1)
    quito = ParallelSimulator.estimate_run_time_single_circuit(
        text, FakeQuitoV2(), seed_transpiler=1
    )
    assert auto == quito
    assert FakeQuitoV2().target.durations().get("measure", (0,), unit="s") < auto < 1e-4


def test_estimate_single_circuit_too_wide_for_auto(make_qasm):
    with pytest.raises(ValueError, match="No fake backend available for circuit with 30 qubits"):
        ParallelSimulator.estimate_run_time_single_circuit(make_qasm("h q[0];", 30), "auto")


@pytest.mark.parametrize(
    ("durations", "n_qpus", "expected"),
    [
        ([5, 4, 3, 3, 2], 2, 9.0),
        ([3, 3, 2, 2, 2], 2, 7.0),
        ([1, 2], 5, 2.0),
        ([], 5, 0.0),
        ([2.5], 1, 2.5),
    ],
)
def test_estimate_batch_lpt(durations, n_qpus, expected):
    estimate = ParallelSimulator.estimate_run_time_batch(
        precomputed_durations=durations, n_qpus=n_qpus
    )
    assert estimate == expected
    assert isinstance(estimate, float)


def test_estimate_batch_ignores_circuits_when_durations_are_given():
    # The circuits are not QASM: estimating them would raise.
    assert (
        ParallelSimulator.estimate_run_time_batch(
            circuits=["not qasm"], precomputed_durations=[1.0, 2.0]
        )
        == 2.0
    )


def test_estimate_batch_schedules_the_auto_estimates_of_the_circuits(make_qasm):
    texts = [
        make_qasm("h q[0];\nmeasure q -> c;"),
        make_qasm("h q[0];\ncx q[0],q[1];\ncx q[1],q[0];\nmeasure q -> c;"),
        make_qasm("x q[1];\nmeasure q -> c;"),
    ]
    singles = sorted(
        (
            ParallelSimulator.estimate_run_time_single_circuit(text, "auto", seed_transpiler=4)
            for text in texts
        ),
        reverse=True,
    )
    batch = ParallelSimulator.estimate_run_time_batch(circuits=texts, n_qpus=2, seed_transpiler=4)
    assert batch == max(singles[0], singles[1] + singles[2])  # LPT on two QPUs
    assert ParallelSimulator.estimate_run_time_batch(circuits=texts, n_qpus=3) == singles[0]


def test_estimate_batch_uses_worker_processes_for_large_batches():
    circuits = [f"c{i}" for i in range(estimates.PARALLEL_ESTIMATE_THRESHOLD)]
    with mock.patch(
        "qiskit.utils.parallel_map", return_value=[1.0] * len(circuits)
    ) as parallel_map:
        assert (
            ParallelSimulator.estimate_run_time_batch(circuits=circuits, n_qpus=len(circuits))
            == 1.0
        )
    assert parallel_map.call_args.args[:2] == (estimates.estimate_auto, circuits)


def test_estimate_batch_errors():
    with pytest.raises(TypeError):
        ParallelSimulator.estimate_run_time_batch()
    with pytest.raises(ValueError):
        ParallelSimulator.estimate_run_time_batch()
    with pytest.raises(IndexError):
        ParallelSimulator.estimate_run_time_batch(precomputed_durations=[1.0], n_qpus=0)
