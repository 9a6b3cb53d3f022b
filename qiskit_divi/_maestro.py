"""The one place that talks to Maestro, Qoro's C++ simulator (``qoro-maestro``, the
``maestro`` extra: ``pip install "qiskit-divi[maestro]"``, GPL-3.0).

``maestro`` is imported lazily, on the first call that needs it, so that importing
``qiskit_divi`` (or ``qiskit_divi.backends``) never loads it. Importing it after Qiskit
and Aer is harmless here (``tests/test_maestro.py`` runs both orders in a child process;
divi's note that it must load first did not reproduce).

What this module settles once, so that callers never see Maestro's conventions:

* **Counts** come back with Qiskit's ``get_counts`` keys: the full classical width
  (Maestro drops the clbits above the highest one measured), clbit 0 rightmost (Maestro
  puts it leftmost), several registers joined by spaces, the last declared leftmost.
* **Expectation terms** are wire order (big-endian: qubit 0 is the *leftmost*
  character), as Maestro and the Qoro wire's ``ham_ops`` take them; reverse a Qiskit
  ``Pauli`` label to get one.
* **Gates** Maestro does not parse (``rxx``, ``rzz``, ``rccx``, ``c3sx``, custom gates)
  are transpiled to gates it does, without optimisation or layout, never refused.
* **Parameters** must be bound before a circuit gets here (Maestro has no binding); the
  QASM handed over writes each angle as its ``repr``, so binding is exact.
* **Method**: statevector up to :data:`STATEVECTOR_MAX_QUBITS`, matrix product state
  (bond dimension :data:`MPS_BOND_DIMENSION`) above; every result says which ran.
* **Seed**: Maestro honours ``seed`` (same seed, same circuit: same counts; measured).
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qiskit import QuantumCircuit, qasm2

from .api.errors import QoroConfigurationError, QoroInputError
from .api.observables import check_terms

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "qiskit-divi[maestro]"'

STATEVECTOR_MAX_QUBITS = 26
"""Widest circuit simulated as a statevector: 1 GiB of amplitudes, 6.4 s for a 26-qubit,
5-layer circuit on 2 cores (24 qubits: 1.7 s; 28 would take 4 GiB and about 25 s).
Wider circuits run as a matrix product state."""

MPS_BOND_DIMENSION = 64
"""Largest bond dimension of the matrix product state: exact for any circuit of up to 12
qubits and for any circuit whose entanglement across every cut needs at most 64 Schmidt
values (product, GHZ-like and shallow nearest-neighbour circuits); truncated, so
approximate, beyond that. A 100-qubit, 5-layer circuit runs in 0.02 s."""

MAX_QUBITS = 128
"""Widest circuit accepted (a Qoro system's width on Maestro)."""

ACCEPTED_GATES = frozenset(
    (
        *("ccx", "ccz", "ch", "cp", "crx", "cry", "crz", "cs", "csdg", "cswap", "csx", "cu"),
        *("cu1", "cu3", "cx", "cy", "cz", "dcx", "ecr", "h", "id", "iswap", "p", "r"),
        *("rcccx", "rx", "ry", "ryy", "rz", "rzx", "s", "sdg", "swap", "sx", "sxdg", "t"),
        *("tdg", "u", "u1", "u2", "u3", "x", "xx_minus_yy", "xx_plus_yy", "y", "z"),
    )
)
"""Qiskit standard gates whose ``qasm2.dumps`` form Maestro parses and simulates exactly
(every gate of ``tests/random_circuits.py``'s ``QASM_GATES`` was tried; it refuses
``rxx``, ``rzz``, ``rccx`` and ``c3sx``)."""

_OPERATIONS = ACCEPTED_GATES | {"measure", "reset", "barrier"}

QELIB1_GATES = frozenset(
    (
        *("ccx", "ch", "cp", "crx", "cry", "crz", "cswap", "csx", "cu", "cu1", "cu3", "cx"),
        *("cy", "cz", "h", "id", "p", "rx", "ry", "rz", "s", "sdg", "swap", "sx", "sxdg"),
        *("t", "tdg", "u", "u1", "u2", "u3", "x", "y", "z"),
    )
)
"""The accepted gates ``qasm2.dumps`` writes without a ``gate`` definition (they are in
``qelib1.inc``): a circuit of only these needs no export to learn its definitions."""
STATEVECTOR = "Statevector"
MATRIX_PRODUCT_STATE = "MatrixProductState"


@dataclass(frozen=True)
class MaestroSample:
    """Counts of one sampled circuit (Qiskit keys), the method that ran and its time."""

    counts: dict[str, int]
    method: str
    time_taken: float


@dataclass(frozen=True)
class MaestroEstimate:
    """Expectation values, in the order of the terms asked for, the method and time."""

    values: list[float]
    method: str
    time_taken: float


@functools.cache
def available() -> bool:
    """Whether ``maestro`` (the ``maestro`` extra) can be imported."""
    try:
        _import()
    except ImportError:
        return False
    return True


def _import() -> Any:
    # importlib, not `import maestro`: the extra may be absent where mypy runs.
    return importlib.import_module("maestro")


def _module() -> Any:
    require()
    return _import()


def require() -> None:
    """Raise :class:`QoroConfigurationError` unless Maestro is installed."""
    if not available():
        raise QoroConfigurationError(
            "Maestro (the qoro-maestro package) is not installed: install the extra with "
            f"`{INSTALL_HINT}` (Maestro is GPL-3.0), or use the Aer engine instead."
        )


def choose_method(num_qubits: int) -> str:
    """The ``maestro.SimulationType`` name a circuit of ``num_qubits`` runs with."""
    return STATEVECTOR if num_qubits <= STATEVECTOR_MAX_QUBITS else MATRIX_PRODUCT_STATE


def bound_circuit(circuit: QuantumCircuit | str) -> QuantumCircuit:
    """The circuit (OpenQASM 2 text parsed as ``QuantumCircuit.from_qasm_str`` does),
    checked to be bound and at most :data:`MAX_QUBITS` wide (``QoroInputError``)."""
    if isinstance(circuit, QuantumCircuit):
        out = circuit
    else:
        try:
            out = qasm2.loads(circuit, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        except qasm2.QASM2ParseError as exc:
            raise QoroInputError(f"Not valid OpenQASM 2 for Maestro: {exc}") from exc
    if out.parameters:
        names = ", ".join(sorted(p.name for p in out.parameters))
        raise QoroInputError(
            f"Circuit {out.name!r} has unbound parameters ({names}); Maestro has no "
            "parameter binding: bind them first (QuantumCircuit.assign_parameters)."
        )
    if out.num_qubits > MAX_QUBITS:
        raise QoroInputError(
            f"Circuit {out.name!r} has {out.num_qubits} qubits; Maestro runs at most "
            f"{MAX_QUBITS} here. Use a narrower circuit."
        )
    return out


def maestro_qasm(circuit: QuantumCircuit) -> str:
    """OpenQASM 2 that Maestro parses, with one ``q`` and one ``c`` register (qubit and
    clbit indices unchanged) and every angle written as its ``repr`` (exact; Qiskit's
    ``qasm2.dumps`` rounds angles within 1e-12 of a fraction of pi to that fraction).

    A circuit with an operation outside :data:`ACCEPTED_GATES` (plus measure, reset,
    barrier) is transpiled to them first, without optimisation or layout.
    """
    if not circuit.count_ops().keys() <= _OPERATIONS:
        from qiskit import transpile

        circuit = transpile(
            # Barriers are kept without being named (Qiskit refuses them in basis_gates).
            circuit,
            basis_gates=sorted(_OPERATIONS - {"barrier"}),
            optimization_level=0,
            seed_transpiler=0,
        )
    operations = circuit.count_ops().keys()
    if operations <= QELIB1_GATES | {"measure", "reset", "barrier"}:
        lines = ["OPENQASM 2.0;", 'include "qelib1.inc";']  # nothing to define
    else:
        text = str(qasm2.dumps(circuit))
        if not operations <= _OPERATIONS:  # control flow: as Qiskit writes it
            return text
        # Qiskit's definitions of the gates outside qelib1.inc (one line each).
        lines = [
            *text.splitlines()[:2],
            *(line for line in text.splitlines() if line.startswith("gate ")),
        ]
    lines.append(f"qreg q[{circuit.num_qubits}];")
    if circuit.num_clbits:
        lines.append(f"creg c[{circuit.num_clbits}];")
    for instruction in circuit.data:
        operation = instruction.operation
        qubits = ",".join(f"q[{circuit.find_bit(q).index}]" for q in instruction.qubits)
        if operation.name == "measure":
            clbit = circuit.find_bit(instruction.clbits[0]).index
            lines.append(f"measure {qubits} -> c[{clbit}];")
        elif operation.params:
            angles = ",".join(repr(float(p)) for p in operation.params)
            lines.append(f"{operation.name}({angles}) {qubits};")
        else:
            lines.append(f"{operation.name} {qubits};")
    return "\n".join(lines) + "\n"


def simulator_config(
    method: str | None, num_qubits: int, seed: int | None, options: Mapping[str, Any]
) -> tuple[str, Any]:
    """The method name and the ``maestro.SimulatorConfig`` a circuit of ``num_qubits``
    runs with; ``options`` are further ``SimulatorConfig`` fields by name (enums by
    member name).

    Raises:
        QoroInputError: an unknown option or method, or one Maestro rejects.
    """
    maestro = _module()
    name = method or choose_method(num_qubits)
    fields = dict(options)
    unknown = sorted(set(fields) - set(maestro.SimulatorConfig._fields))
    if unknown:
        raise QoroInputError(
            f"Unknown Maestro options {unknown}: use maestro.SimulatorConfig's fields, "
            f"{sorted(maestro.SimulatorConfig._fields)}."
        )
    if name not in maestro.SimulationType.__members__:
        raise QoroInputError(
            f"Unknown Maestro simulation method {name!r}: use one of "
            f"{sorted(maestro.SimulationType.__members__)}."
        )
    fields["simulation_type"] = maestro.SimulationType.__members__[name]
    if name == MATRIX_PRODUCT_STATE:
        fields.setdefault("max_bond_dimension", MPS_BOND_DIMENSION)
    for field, enum in (("simulator_type", maestro.SimulatorType),):
        if isinstance(fields.get(field), str):
            if fields[field] not in enum.__members__:
                raise QoroInputError(
                    f"Unknown Maestro {field} {fields[field]!r}: use one of "
                    f"{sorted(enum.__members__)}."
                )
            fields[field] = enum.__members__[fields[field]]
    if seed is not None:
        fields["seed"] = seed
    try:
        return name, maestro.SimulatorConfig(**fields)
    except (TypeError, ValueError) as exc:
        raise QoroInputError(f"Maestro rejected the options {fields}: {exc}") from exc


def qiskit_counts(raw: Mapping[str, int], circuit: QuantumCircuit) -> dict[str, int]:
    """Maestro's counts with the keys ``Result.get_counts`` gives for ``circuit``.

    Maestro's keys put clbit 0 leftmost and are one character longer than the highest
    qubit or clbit index any measurement names (``measure q[4] -> c[0]`` on ``creg
    c[1]`` reads ``'10000'``): cut or padded with zeros to the classical width.
    """
    width = circuit.num_clbits
    registers = [[circuit.find_bit(bit).index for bit in reg] for reg in circuit.cregs]
    covered = sorted(i for reg in registers for i in reg)
    if covered != list(range(width)):  # loose or aliased clbits: one plain bit string
        registers = [list(range(width))]
    out: dict[str, int] = {}
    for key, count in raw.items():
        # Maestro's keys are as wide as the highest qubit or clbit a measurement names.
        if "1" in key[width:]:
            raise RuntimeError(f"Maestro returned {key!r} for {width} classical bits")
        bits = key[:width].ljust(width, "0")
        joined = " ".join(
            "".join(bits[i] for i in reversed(reg)) for reg in reversed(registers) if reg
        )
        out[joined] = out.get(joined, 0) + count
    return out


def sample(
    circuit: QuantumCircuit | str,
    shots: int,
    *,
    seed: int | None = None,
    method: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> MaestroSample:
    """Sample ``shots`` shots of a bound circuit (or OpenQASM 2 text) on Maestro.

    Raises:
        QoroConfigurationError: Maestro is not installed.
        QoroInputError: invalid QASM, unbound parameters, too wide, non-positive shots,
            unknown options or method.
    """
    if isinstance(shots, bool) or not isinstance(shots, int) or shots <= 0:
        raise QoroInputError(f"shots must be a positive integer, got {shots!r}.")
    parsed = bound_circuit(circuit)
    name, config = simulator_config(method, parsed.num_qubits, seed, options or {})
    raw = _module().simple_execute(maestro_qasm(parsed), config=config, shots=shots)
    if not raw or "counts" not in raw:
        raise RuntimeError(f"Maestro returned no counts for circuit {parsed.name!r}: {raw!r}")
    logger.debug("Maestro sampled %r (%d qubits) with %s", parsed.name, parsed.num_qubits, name)
    return MaestroSample(qiskit_counts(raw["counts"], parsed), name, float(raw["time_taken"]))


def estimate(
    circuit: QuantumCircuit | str,
    terms: Sequence[str],
    *,
    seed: int | None = None,
    method: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> MaestroEstimate:
    """Exact expectation values of wire-order ``terms`` (qubit 0 leftmost) on the state
    a bound circuit prepares; its final measurements are dropped.

    Raises:
        QoroConfigurationError: Maestro is not installed.
        QoroInputError: as :func:`sample`, plus terms that are not I/X/Y/Z strings of the
            circuit's width, or a measurement that is not final.
    """
    terms = list(terms)
    try:
        check_terms(terms)
    except ValueError as exc:
        raise QoroInputError(str(exc)) from exc
    parsed = bound_circuit(circuit).remove_final_measurements(inplace=False)
    if len(terms[0]) != parsed.num_qubits:
        raise QoroInputError(
            f"Terms have {len(terms[0])} letters; circuit {parsed.name!r} has "
            f"{parsed.num_qubits} qubits: give one letter per qubit, qubit 0 leftmost."
        )
    if "measure" in parsed.count_ops():
        raise QoroInputError(
            f"Circuit {parsed.name!r} measures before its end: its state has no single "
            "expectation value. Move the measurements to the end or drop them."
        )
    name, config = simulator_config(method, parsed.num_qubits, seed, options or {})
    raw = _module().simple_estimate(maestro_qasm(parsed), ";".join(terms), config)
    values = raw.get("expectation_values") if raw else None
    if values is None or len(values) != len(terms):
        raise RuntimeError(f"Maestro returned no expectation values for {parsed.name!r}: {raw!r}")
    logger.debug("Maestro estimated %r (%d qubits) with %s", parsed.name, parsed.num_qubits, name)
    return MaestroEstimate([float(v) for v in values], name, float(raw["time_taken"]))
