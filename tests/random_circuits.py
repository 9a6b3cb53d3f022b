"""Random circuits over whole gate sets, as hypothesis strategies and as fixed gate tours.

Importable from every test module (``pythonpath = ["tests"]`` in ``pyproject.toml``).

Gate pools:

* :data:`TARGET_GATES`: the gates of a noiseless Qoro system's Target (what an ISA
  circuit for ``qoro_maestro`` may hold), plus ``reset`` and ``barrier``;
* :data:`QASM_GATES`: every standard gate OpenQASM 2 can express (``qasm2.dumps``
  writes a ``gate`` definition for those outside ``qelib1.inc``), the input of the
  QASM entry points and of ``transpile``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Gate, Parameter, ParameterExpression, ParameterVector
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import SparsePauliOp

from qiskit_divi.target import qasm2_standard_gates

MAX_QUBITS = 6

DIFFERENTIAL = settings(
    max_examples=int(os.environ.get("QISKIT_DIVI_DIFFERENTIAL_EXAMPLES", "10")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
"""Settings of the differential tests: derandomised, so every run draws the same seeded
examples; ``QISKIT_DIVI_DIFFERENTIAL_EXAMPLES`` sets how many per test (default 10, CI's
budget; e.g. 200 for a long hunt)."""
NON_UNITARY = ("reset", "barrier")

_STANDARD = get_standard_gate_name_mapping()
TARGET_GATES: tuple[str, ...] = tuple(qasm2_standard_gates()) + NON_UNITARY
QASM_GATES: tuple[str, ...] = (
    tuple(
        sorted(
            name
            for name, op in _STANDARD.items()
            if isinstance(op, Gate) and name != "global_phase"
        )
    )
    + NON_UNITARY
)

_ANGLES = st.floats(
    min_value=-2 * math.pi, max_value=2 * math.pi, allow_nan=False, allow_infinity=False
)


def num_qubits_of(name: str) -> int:
    return 1 if name in NON_UNITARY else _STANDARD[name].num_qubits


def gate(name: str, params: Sequence[float | ParameterExpression]) -> Gate:
    return type(_STANDARD[name])(*params)


@st.composite
def _angle(draw: st.DrawFn, parameters: Sequence[Parameter]) -> float | ParameterExpression:
    """A literal angle, or (with parameters) a parameter or a small expression of them."""
    if not parameters or draw(st.booleans()):
        return draw(_ANGLES)
    a = draw(st.sampled_from(parameters))
    form = draw(st.integers(0, 3))
    if form == 0:
        return a
    if form == 1:
        return draw(st.sampled_from((-2.0, 0.5, 3.0))) * a + draw(_ANGLES)
    b = draw(st.sampled_from(parameters))
    return a + b if form == 2 else a - 0.5 * b


@st.composite
def unitary_circuits(
    draw: st.DrawFn,
    gates: Sequence[str],
    *,
    max_qubits: int = MAX_QUBITS,
    max_gates: int = 10,
    num_parameters: int = 0,
    resets: bool = True,
) -> QuantumCircuit:
    """1 to ``max_qubits`` qubits, up to ``max_gates`` operations drawn from ``gates``.

    With ``num_parameters``, angles may be parameters ``θ[i]`` or expressions of them.
    ``reset`` (only with ``resets``) acts before any gate on its qubit, so the state
    stays pure, yet the operation is exercised.
    """
    n = draw(st.integers(1, max_qubits))
    parameters = list(ParameterVector("θ", num_parameters)) if num_parameters else []
    pool = [g for g in gates if num_qubits_of(g) <= n and (resets or g != "reset")]
    circuit = QuantumCircuit(QuantumRegister(n, "q"))
    touched: set[int] = set()
    for _ in range(draw(st.integers(1, max_gates))):
        name = draw(st.sampled_from(pool))
        if name == "barrier":
            circuit.barrier()
            continue
        width = num_qubits_of(name)
        qubits = draw(st.permutations(range(n)))[:width]
        if name == "reset":
            fresh = [q for q in range(n) if q not in touched]
            if fresh:
                circuit.reset(draw(st.sampled_from(fresh)))
            continue
        params = [draw(_angle(parameters)) for _ in _STANDARD[name].params]
        circuit.append(gate(name, params), qubits)
        touched.update(qubits)
    return circuit


@st.composite
def measured(draw: st.DrawFn, circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with 1-3 classical registers and final measurements of a random,
    non-empty subset of its qubits into distinct random clbits (some clbits may stay unwritten)."""
    n = circuit.num_qubits
    num_clbits = draw(st.integers(1, n + 1))
    sizes: list[int] = []
    left = num_clbits
    while left:
        size = draw(st.integers(1, left)) if len(sizes) < 2 else left
        sizes.append(size)
        left -= size
    out = QuantumCircuit(
        *circuit.qregs, *[ClassicalRegister(s, f"c{i}") for i, s in enumerate(sizes)]
    )
    out.compose(circuit, inplace=True)
    qubits = draw(st.permutations(range(n)))[: draw(st.integers(1, min(n, num_clbits)))]
    clbits = draw(st.permutations(range(num_clbits)))[: len(qubits)]
    for q, c in zip(qubits, clbits, strict=True):
        out.measure(q, c)
    return out


@st.composite
def observables(draw: st.DrawFn, num_qubits: int, max_terms: int = 4) -> SparsePauliOp:
    """A Hermitian sum of 1-``max_terms`` Pauli terms, real coefficients of size 0.1 to 1
    (a zero coefficient would make Qiskit drop the observable as empty)."""
    labels = draw(
        st.lists(
            st.text("IXYZ", min_size=num_qubits, max_size=num_qubits),
            min_size=1,
            max_size=max_terms,
            unique=True,
        )
    )
    coefficients = [draw(st.sampled_from((-1.0, 1.0))) * draw(st.floats(0.1, 1.0)) for _ in labels]
    return SparsePauliOp(labels, coefficients)


def parameter_values(draw: st.DrawFn, circuit: QuantumCircuit) -> np.ndarray | None:
    """1-3 bindings of ``circuit``'s parameters (one row each), or None when it has none."""
    if not circuit.num_parameters:
        return None
    bindings = draw(st.integers(1, 3))
    return np.array(
        [[draw(_ANGLES) for _ in range(circuit.num_parameters)] for _ in range(bindings)],
        dtype=float,
    ).reshape(bindings, circuit.num_parameters)


def gate_tour(gates: Sequence[str], *, measure: bool, seed: int = 11) -> list[QuantumCircuit]:
    """One circuit per gate of ``gates`` (resets and barriers aside): a generic entangled
    state on the gate's qubits plus one spectator, then the gate with random angles."""
    rng = np.random.default_rng(seed)
    circuits = []
    for name in gates:
        if name in NON_UNITARY:
            continue
        width = num_qubits_of(name)
        n = width + 1
        circuit = QuantumCircuit(n, n if measure else 0, name=f"tour_{name}")
        for q in range(n):
            circuit.ry(float(rng.uniform(0.3, 1.3)), q)
            circuit.rz(float(rng.uniform(0.3, 1.3)), q)
        for q in range(n - 1):
            circuit.cx(q, q + 1)
        params = [float(rng.uniform(0.4, 2.7)) for _ in _STANDARD[name].params]
        circuit.append(gate(name, params), [int(q) for q in rng.permutation(n)[:width]])
        if measure:
            circuit.measure(range(n), range(n))
        circuits.append(circuit)
    return circuits


def values_for(
    isa: QuantumCircuit, logical: QuantumCircuit, values: np.ndarray | None
) -> np.ndarray | None:
    """The columns of ``values`` (one per parameter of ``logical``) that ``isa`` still has:
    the transpiler may optimise a parameter away. Keeps one row per binding."""
    if values is None:
        return None
    index = {parameter.name: i for i, parameter in enumerate(logical.parameters)}
    return values[:, [index[parameter.name] for parameter in isa.parameters]]
