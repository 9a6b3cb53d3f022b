"""``qiskit_divi._maestro`` against exact ``qiskit.quantum_info`` references.

Sampled counts are compared by total-variation distance with
``ground_truth.tvd_bound`` (a correct sampler exceeds it with probability below 1e-9
per comparison); expectation values to 1e-9, on the statevector and on the matrix
product state (every circuit here needs a bond dimension of at most 8, or 2 for the
60-qubit ones, below :data:`MPS_BOND_DIMENSION`, so the MPS is exact).
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numpy as np
import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from hypothesis import given
from hypothesis import strategies as st
from maestro_support import METHODS, counts_by_outcome, exact_expectation, needs_maestro
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm2
from qiskit.circuit import Parameter
from random_circuits import (
    DIFFERENTIAL,
    QASM_GATES,
    TARGET_GATES,
    gate_tour,
    measured,
    observables,
    parameter_values,
    unitary_circuits,
)

from qiskit_divi import _maestro
from qiskit_divi.exceptions import QoroConfigurationError, QoroInputError

SHOTS = 4000
HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


# -- without the extra --------------------------------------------------------------


@pytest.fixture
def maestro_missing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``import maestro`` fails, as on a machine without the extra."""

    def absent() -> None:
        raise ImportError("No module named 'maestro'")

    monkeypatch.setattr(_maestro, "_import", absent)
    _maestro.available.cache_clear()
    yield
    _maestro.available.cache_clear()


def test_missing_maestro_names_the_extra(maestro_missing: None) -> None:
    assert not _maestro.available()
    with pytest.raises(QoroConfigurationError, match=r'pip install "qiskit-divi\[maestro\]"'):
        _maestro.sample(HEADER + "qreg q[1];creg c[1];measure q->c;", 10)


def test_importing_the_package_does_not_load_maestro() -> None:
    code = (
        "import sys, qiskit_divi, qiskit_divi.backends; "
        "print(sys.modules.get('maestro') is not None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the gate set -------------------------------------------------------------------


@needs_maestro
def test_accepted_gates_are_exactly_those_maestro_parses() -> None:
    """Pins Maestro's gate set: every accepted gate parses as Qiskit writes it, every
    other gate of QASM_GATES is refused (so transpiling it is needed, not a habit)."""
    import maestro

    refused = set()
    for circuit in gate_tour(QASM_GATES, measure=True):
        try:
            maestro.simple_execute(qasm2.dumps(circuit), config=maestro.SimulatorConfig(), shots=1)
        except ValueError:
            refused.add(circuit.name.removeprefix("tour_"))
    gates = {name for name in QASM_GATES if name not in ("reset", "barrier")}
    assert refused == gates - _maestro.ACCEPTED_GATES
    assert refused == {"rxx", "rzz", "rccx", "c3sx"}
    assert set(TARGET_GATES) - {"reset", "barrier"} - _maestro.ACCEPTED_GATES <= refused


def test_refused_gates_are_transpiled_without_moving_qubits() -> None:
    circuit = QuantumCircuit(3)
    circuit.rxx(0.3, 2, 0)
    circuit.rzz(0.2, 1, 2)
    circuit.rccx(0, 1, 2)
    text = _maestro.maestro_qasm(circuit)
    assert not any(f"{name}(" in text or f"{name} " in text for name in ("rxx", "rzz", "rccx"))
    from qiskit.quantum_info import Operator

    assert Operator(_parse(text)).equiv(Operator(circuit))


def _parse(text: str) -> QuantumCircuit:
    return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)


def test_accepted_circuits_travel_untranspiled_on_flat_registers() -> None:
    circuit = QuantumCircuit(QuantumRegister(1, "a"), QuantumRegister(1, "b"))
    circuit.add_register(ClassicalRegister(1, "x"))
    circuit.add_register(ClassicalRegister(1, "y"))
    circuit.ecr(0, 1)
    circuit.cp(0.25, 1, 0)
    circuit.barrier()
    circuit.measure([0, 1], [1, 0])
    text = _maestro.maestro_qasm(circuit)
    assert "gate ecr q0,q1 {" in text
    body = text.split("creg c[2];\n")[1]
    assert body == (
        "ecr q[0],q[1];\ncp(0.25) q[1],q[0];\nbarrier q[0],q[1];\n"
        "measure q[0] -> c[1];\nmeasure q[1] -> c[0];\n"
    )


def _one_gate(name: str) -> QuantumCircuit:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    gate = get_standard_gate_name_mapping()[name]
    if gate.params:
        gate = type(gate)(*[0.3 + 0.1 * k for k in range(len(gate.params))])
    circuit = QuantumCircuit(gate.num_qubits)
    circuit.append(gate, range(gate.num_qubits))
    return circuit


def test_qelib1_gates_are_exactly_those_qiskit_writes_without_a_definition() -> None:
    needs_definition = {
        name for name in _maestro.ACCEPTED_GATES if "gate " in qasm2.dumps(_one_gate(name))
    }
    assert _maestro.ACCEPTED_GATES - needs_definition == _maestro.QELIB1_GATES


@pytest.mark.parametrize("name", sorted(_maestro.ACCEPTED_GATES))
def test_every_accepted_gate_travels_as_the_same_operator(name: str) -> None:
    from qiskit.quantum_info import Operator

    circuit = _one_gate(name)
    text = _maestro.maestro_qasm(circuit)
    assert ("gate " in text) is (name not in _maestro.QELIB1_GATES)
    assert Operator(_parse(text)).equiv(Operator(circuit))


def test_bound_angles_travel_exactly() -> None:
    """Qiskit's qasm2.dumps would write pi/7 + 1e-15 as pi/7."""
    angles = [0.1, 1 / 3, math.pi / 7 + 1e-15, 1e-7, -2.718281828459045, 1.5e300]
    circuit = QuantumCircuit(1)
    theta = Parameter("theta")
    for angle in angles:
        circuit.rz(angle, 0)
    circuit.rx(theta, 0)
    bound = circuit.assign_parameters({theta: angles[2]})
    back = _parse(_maestro.maestro_qasm(bound))
    assert [float(i.operation.params[0]) for i in back.data] == [*angles, angles[2]]


@needs_maestro
def test_maestro_reads_exponents() -> None:
    circuit = QuantumCircuit(2)
    circuit.ry(2.5e-1, 0)
    circuit.ry(1e-7, 1)
    values = _maestro.estimate(circuit, ["ZI", "IX"]).values
    np.testing.assert_allclose(values, [math.cos(0.25), math.sin(1e-7)], rtol=1e-12, atol=0)


@needs_maestro
@pytest.mark.parametrize("method", METHODS)
def test_gate_tour_samples_the_exact_distribution(method: str) -> None:
    for circuit in gate_tour(QASM_GATES, measure=True):
        sampled = _maestro.sample(circuit, SHOTS, seed=7, method=method)
        assert sampled.method == method
        assert all(len(key) == circuit.num_clbits for key in sampled.counts)
        assert_sampled_from(
            counts_by_outcome(sampled.counts), outcome_probabilities(circuit), circuit.name
        )


@needs_maestro
@pytest.mark.parametrize("method", METHODS)
def test_gate_tour_expectation_values_are_exact(method: str) -> None:
    rng = np.random.default_rng(5)
    for circuit in gate_tour(QASM_GATES, measure=False):
        n = circuit.num_qubits
        terms = ["".join("IXYZ"[int(k)] for k in rng.integers(0, 4, size=n)) for _ in range(6)] + [
            "Z" + "I" * (n - 1),
            "I" * (n - 1) + "X",
        ]
        estimated = _maestro.estimate(circuit, terms, method=method)
        assert estimated.method == method
        exact = [exact_expectation(circuit, term) for term in terms]
        np.testing.assert_allclose(estimated.values, exact, atol=1e-9, err_msg=circuit.name)


@needs_maestro
@DIFFERENTIAL
@given(data=st.data())
def test_random_circuits_sample_the_exact_distribution(data: st.DataObject) -> None:
    """Random circuits over the whole gate set, 1-3 classical registers, bound parameters."""
    logical = data.draw(unitary_circuits(QASM_GATES, num_parameters=2))
    values = parameter_values(data.draw, logical)
    bound = logical if values is None else logical.assign_parameters(values[0])
    circuit = data.draw(measured(bound))
    sampled = _maestro.sample(circuit, SHOTS, seed=3)
    widths = [len(reg) for reg in reversed(circuit.cregs)]
    assert all([len(part) for part in key.split(" ")] == widths for key in sampled.counts)
    assert_sampled_from(counts_by_outcome(sampled.counts), outcome_probabilities(circuit))


@needs_maestro
@DIFFERENTIAL
@given(data=st.data())
def test_random_circuits_expectation_values_are_exact(data: st.DataObject) -> None:
    circuit = data.draw(unitary_circuits(QASM_GATES, resets=False))
    observable = data.draw(observables(circuit.num_qubits))
    terms = [label[::-1] for label in observable.paulis.to_labels()]  # Qiskit -> wire order
    estimated = _maestro.estimate(circuit, terms)
    exact = [exact_expectation(circuit, term) for term in terms]
    np.testing.assert_allclose(estimated.values, exact, atol=1e-9)


# -- conventions --------------------------------------------------------------------


@needs_maestro
def test_x_on_qubit_0_reads_001() -> None:
    circuit = QuantumCircuit(3, 3)
    circuit.x(0)
    circuit.measure(range(3), range(3))
    assert _maestro.sample(circuit, 50).counts == {"001": 50}
    assert _maestro.sample(qasm2.dumps(circuit), 50).counts == {"001": 50}


@needs_maestro
def test_terms_are_wire_order() -> None:
    circuit = QuantumCircuit(3)
    circuit.x(0)
    assert _maestro.estimate(circuit, ["ZII", "IIZ"]).values == [-1.0, 1.0]


@needs_maestro
def test_several_registers_are_joined_as_qiskit_joins_them() -> None:
    """a[2] then b[3]: q0 -> b[1], q2 -> a[0]; Qiskit's key is 'b2b1b0 a1a0'. Maestro cuts
    its keys after the highest measured clbit; the full width comes back."""
    circuit = QuantumCircuit(QuantumRegister(3, "q"), ClassicalRegister(2, "a"))
    circuit.add_register(ClassicalRegister(3, "b"))
    circuit.x([0, 2])
    circuit.measure(0, 3)
    circuit.measure(2, 0)
    assert _maestro.sample(circuit, 20).counts == {"010 01": 20}
    unwritten = QuantumCircuit(3, 5)
    unwritten.x(1)
    unwritten.measure(1, 1)
    assert _maestro.sample(unwritten, 20).counts == {"00010": 20}


@needs_maestro
def test_a_seed_reproduces_the_counts() -> None:
    circuit = QuantumCircuit(4, 4)
    circuit.h(range(4))
    circuit.measure(range(4), range(4))
    first = _maestro.sample(circuit, 2000, seed=11).counts
    assert _maestro.sample(circuit, 2000, seed=11).counts == first
    assert _maestro.sample(circuit, 2000, seed=12).counts != first


@needs_maestro
def test_the_method_follows_the_width() -> None:
    limit = _maestro.STATEVECTOR_MAX_QUBITS
    assert _maestro.choose_method(limit) == _maestro.STATEVECTOR
    assert _maestro.choose_method(limit + 1) == _maestro.MATRIX_PRODUCT_STATE
    wide = QuantumCircuit(limit + 1, 1)
    wide.x(limit)
    wide.measure(limit, 0)
    sampled = _maestro.sample(wide, 10)
    assert (sampled.method, sampled.counts) == (_maestro.MATRIX_PRODUCT_STATE, {"1": 10})


def _ghz(n: int, flipped: tuple[int, ...]) -> QuantumCircuit:
    circuit = QuantumCircuit(n, n)
    circuit.h(0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    circuit.x(list(flipped))
    circuit.measure(range(n), range(n))
    return circuit


@needs_maestro
def test_60_qubit_ghz_runs_on_mps_and_matches_its_closed_form() -> None:
    """(|0..0> + |1..1>)/sqrt(2) with qubits 3 and 41 flipped: two outcomes, 1/2 each."""
    n, flipped = 60, (3, 41)
    circuit = _ghz(n, flipped)
    low = sum(1 << q for q in flipped)
    sampled = _maestro.sample(circuit, SHOTS, seed=2)
    assert sampled.method == _maestro.MATRIX_PRODUCT_STATE
    assert_sampled_from(counts_by_outcome(sampled.counts), {low: 0.5, ((1 << n) - 1) ^ low: 0.5})
    unitary = circuit.remove_final_measurements(inplace=False)
    z = ["I" * n for _ in range(4)]
    z[0] = "Z" + "I" * (n - 1)  # qubit 0 alone: 0
    z[1] = "ZZ" + "I" * (n - 2)  # qubits 0, 1 agree: 1
    z[2] = "Z" + "I" * 2 + "Z" + "I" * (n - 4)  # qubit 3 flipped: -1
    z[3] = "X" * n  # GHZ parity: 1
    estimated = _maestro.estimate(unitary, z)
    np.testing.assert_allclose(estimated.values, [0.0, 1.0, -1.0, 1.0], atol=1e-9)


@needs_maestro
def test_60_qubit_product_state_on_mps_is_exact() -> None:
    """ry(t_i) on each qubit: <Z_i> = cos t_i, <X_i> = sin t_i, <Z_i Z_j> = cos t_i cos t_j."""
    n = 60
    angles = np.linspace(0.1, 3.0, n)
    circuit = QuantumCircuit(n)
    for q, t in enumerate(angles):
        circuit.ry(float(t), q)
    terms, exact = [], []
    for q in (0, 17, 59):
        for letter, f in (("Z", np.cos), ("X", np.sin)):
            terms.append("I" * q + letter + "I" * (n - q - 1))
            exact.append(float(f(angles[q])))
    terms.append("Z" + "I" * 30 + "Z" + "I" * (n - 32))
    exact.append(float(np.cos(angles[0]) * np.cos(angles[31])))
    estimated = _maestro.estimate(circuit, terms)
    assert estimated.method == _maestro.MATRIX_PRODUCT_STATE
    np.testing.assert_allclose(estimated.values, exact, atol=1e-9)


# -- bad input ----------------------------------------------------------------------


def test_unbound_parameters_are_refused() -> None:
    circuit = QuantumCircuit(1)
    circuit.rx(Parameter("theta"), 0)
    with pytest.raises(QoroInputError, match="unbound parameters.*theta.*assign_parameters"):
        _maestro.sample(circuit, 10)


def test_invalid_qasm_is_refused() -> None:
    with pytest.raises(QoroInputError, match="Not valid OpenQASM 2"):
        _maestro.sample("OPENQASM 2.0; qreg q[1]; nosuchgate q[0];", 10)


@pytest.mark.parametrize("shots", [0, -3, 2.5, True])
def test_shots_must_be_positive_integers(shots: object) -> None:
    with pytest.raises(QoroInputError, match="shots must be a positive integer"):
        _maestro.sample(QuantumCircuit(1, 1), shots)  # type: ignore[arg-type]


@needs_maestro
@pytest.mark.parametrize(
    ("terms", "match"),
    [
        (["ZZ"], "circuit .* has 3 qubits"),
        (["ZZA"], "only I, X, Y, Z"),
        (["ZZZ", "ZZ"], "same length"),
        ([], "At least one"),
    ],
)
def test_bad_terms_are_refused(terms: list[str], match: str) -> None:
    with pytest.raises(QoroInputError, match=match):
        _maestro.estimate(QuantumCircuit(3), terms)


@needs_maestro
def test_estimating_a_mid_circuit_measurement_is_refused() -> None:
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.h(0)
    with pytest.raises(QoroInputError, match="measures before its end"):
        _maestro.estimate(circuit, ["Z"])


@needs_maestro
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"options": {"bond": 3}}, "Unknown Maestro options"),
        ({"method": "Fast"}, "Unknown Maestro simulation method"),
        ({"options": {"simulator_type": "Quantum"}}, "Unknown Maestro simulator_type"),
    ],
)
def test_unknown_options_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(QoroInputError, match=match):
        _maestro.sample(QuantumCircuit(1, 1), 10, **kwargs)  # type: ignore[arg-type]


# -- loading order ------------------------------------------------------------------


@needs_maestro
@pytest.mark.parametrize("first", ["qiskit", "maestro"])
def test_maestro_loads_before_or_after_qiskit_and_aer(first: str) -> None:
    """divi loads Maestro's extension before Qiskit's; here either order works."""
    aer = """
        from qiskit import QuantumCircuit
        from qiskit_aer import AerSimulator
        c = QuantumCircuit(2, 2); c.x(0); c.measure([0, 1], [0, 1])
        assert AerSimulator().run(c, shots=5).result().get_counts() == {"01": 5}
    """
    native = """
        import maestro
        r = maestro.simple_execute('OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2];'
                                   ' x q[0]; measure q -> c;', shots=5)
        assert r["counts"] == {"10": 5}, r
    """
    parts = [aer, native] if first == "qiskit" else [native, aer]
    code = "".join(textwrap.dedent(p) for p in parts) + "print('ok')\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
