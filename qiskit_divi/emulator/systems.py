"""The emulator's system catalogue and the simulators behind it.

Three systems, listed by ``GET qpusystem/`` in the wire shape of
``qoro-api.md`` section 3.2:

=================  =====  ===============  ======================================================
name               qubits system_kind      simulator
=================  =====  ===============  ======================================================
``qoro_maestro``   24     ``simulator``    noiseless Aer (or Maestro, 100 qubits: see below); the
                                           only system running EXPECTATION jobs
``fake_nairobi``   7      superconducting  Aer with the noise, basis gates and coupling map of
                                           qiskit-ibm-runtime's ``FakeNairobiV2``
``fake_ion``       11     trapped_ion      Aer, all-to-all ``rx``/``ry``/``rz``/``rxx`` with
                                           depolarising gate noise and readout errors
=================  =====  ===============  ======================================================

qiskit-aer and qiskit-ibm-runtime are imported lazily, when a system first runs
a job, so importing the emulator stays cheap.

The noiseless system runs on one of two engines (:func:`systems_for_engine`, chosen by
``EmulatorConfig.engine``): Aer, or Qoro's Maestro (the ``maestro`` extra) through
:mod:`qiskit_divi._maestro`, statevector up to its width limit and matrix-product state
above, so the system then lists :data:`MAESTRO_Q_BITS` qubits.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterExpression

from qiskit_divi.api.histogram import encode_envelope

from .circuits import JobCircuit, group_by_skeleton, parameter_binds

Engine = Literal["aer", "maestro"]
"""What simulates the noiseless system (``EmulatorConfig.engine`` resolves ``"auto"``)."""
ENGINE_CHOICES: tuple[str, ...] = ("auto", "aer", "maestro")

AER_NOISELESS_Q_BITS = 24
"""Width of the noiseless system on Aer: one 24-qubit EXPECTATION statevector batch takes
about 1.7 GiB, within the default memory budget."""
MAESTRO_Q_BITS = 100
"""Width of the noiseless system on Maestro. Above its statevector limit Maestro runs
matrix-product states (bond dimension capped, see :mod:`qiskit_divi._maestro`), whose memory
grows linearly in the width: 100 qubits at bond dimension 64 hold about 13 MiB per state.
Below the adapter's widest accepted circuit, and exact for circuits of low entanglement
(shallow or nearest-neighbour ones); a deep, highly entangled 100-qubit circuit is truncated."""

# Trapped-ion noise: typical published figures for current ion traps.
ION_1Q_DEPOLARIZING = 1e-3
ION_2Q_DEPOLARIZING = 1e-2
ION_READOUT_P1_GIVEN_0 = 2e-3
ION_READOUT_P0_GIVEN_1 = 5e-3
ION_BASIS_GATES = ("rx", "ry", "rz", "rxx")


@dataclass(frozen=True)
class SystemSpec:
    """One system of the catalogue (a single QPU per system)."""

    name: str
    nickname: str
    q_bits: int
    system_kind: str
    supports_expectation: bool
    simulator_factory: Callable[[], _Simulator | _MaestroEngine] = field(repr=False, compare=False)
    access_level: str = "PUBLIC"
    status: str = "active"
    coupling_map: tuple[tuple[int, int], ...] | None = None
    """Directed edges the simulator routes circuits onto (None: all-to-all)."""
    engine: Engine = "aer"
    """What runs its jobs (not on the wire: ``GET qpusystem/`` is the same for both)."""

    def to_wire(self) -> dict[str, Any]:
        """The system object of ``GET qpusystem/``.

        QPU objects carry exactly four keys (the reference client refuses any other);
        the coupling map travels as a system-level key, which it ignores.
        """
        wire: dict[str, Any] = {"name": self.name, "access_level": self.access_level}
        if self.coupling_map is not None:
            wire["coupling_map"] = [list(edge) for edge in self.coupling_map]
        return wire | {
            "qpus": [
                {
                    "nickname": self.nickname,
                    "q_bits": self.q_bits,
                    "status": self.status,
                    "system_kind": self.system_kind,
                }
            ],
        }


NAIROBI_COUPLING_MAP: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 0), (1, 2), (1, 3), (2, 1), (3, 1), (3, 5), (4, 5), (5, 3), (5, 4), (5, 6), (6, 5),
)  # fmt: skip
"""``FakeNairobiV2().coupling_map`` (a test keeps the two equal), known without importing it."""

NATIVE_RUN_MAX_QUBITS = 16
"""Wider circuits are always transpiled: the optimiser saves more simulation than it costs."""


class _Simulator:
    """An Aer simulator plus the transpile options that make circuits run on it.

    With ``run_native`` (noiseless simulators only), circuits whose every
    operation the simulator supports, and no wider than
    :data:`NATIVE_RUN_MAX_QUBITS`, run as uploaded (see :func:`run_batched`: one
    experiment per skeleton where Aer is proven to bind it right, else one per
    circuit). Everything else is bound, transpiled and run circuit by circuit. A
    circuit that measures nothing reads all-zero classical bits.
    """

    engine: Engine = "aer"

    def __init__(
        self, backend: Any, transpile_options: dict[str, Any], *, run_native: bool = False
    ):
        self.backend = backend
        self.run_native = run_native
        self.transpile_options = dict(transpile_options)
        if "backend" in self.transpile_options:
            # AerSimulator rebuilds its Target on every access, which would cost every
            # transpile call; transpiling against one snapshot gives the same circuits.
            self.transpile_options["target"] = self.transpile_options.pop("backend").target

    @functools.cached_property
    def _native_operations(self) -> frozenset[str]:
        target = self.transpile_options.get("target")
        return _aer_operations(target) if target is not None else frozenset()

    def runs_natively(self, groups: Sequence[tuple[QuantumCircuit, list[int]]]) -> bool:
        """Whether circuits grouped by :func:`group_by_skeleton` run as uploaded."""
        if not self.run_native:
            return False
        native = self._native_operations
        return all(
            skeleton.num_qubits <= NATIVE_RUN_MAX_QUBITS and skeleton.count_ops().keys() <= native
            for skeleton, _ in groups
        )

    def expectation(
        self, circuits: Sequence[JobCircuit], terms: Sequence[str]
    ) -> list[dict[str, float]]:
        """Exact ``{wire_term: <P>}`` per circuit (:func:`expectation_job`)."""
        return expectation_job(circuits, terms)

    def sample(
        self, circuits: Sequence[JobCircuit], shots: int, seed: int | None
    ) -> list[dict[int, int]]:
        """Counts per circuit, keyed by outcome: the integer whose bit ``i`` is clbit ``i``."""
        run_options: dict[str, Any] = {"shots": shots}
        if seed is not None:
            run_options["seed_simulator"] = seed
        groups = group_by_skeleton(list(circuits))
        if self.runs_natively(groups):
            result, order = run_batched(self.backend, circuits, groups, **run_options)
        else:
            from qiskit import transpile

            compiled = transpile(
                [circuit.bound() for circuit in circuits],
                seed_transpiler=seed,
                num_processes=1,
                **self.transpile_options,
            )
            result, order = (
                self.backend.run(compiled, **run_options).result(),
                list(range(len(circuits))),
            )
        if not result.success:
            raise RuntimeError(f"Aer run failed: {result.status}")
        out: list[dict[int, int]] = [{} for _ in circuits]
        for i, (position, experiment) in enumerate(zip(order, result.results, strict=True)):
            raw = getattr(
                experiment.data, "counts", None
            )  # Aer's {"0x5": count}: memory slots as an integer
            if not raw and "measure" not in circuits[position].skeleton.count_ops():
                out[position] = {0: shots}  # nothing writes the classical bits: they all read 0
                continue
            if not raw or not next(iter(raw)).startswith("0x"):
                raw = result.get_counts(i)  # raises Qiskit's own "No counts" error
            counts = out[position]
            for key, value in raw.items():
                index = int(key, 16) if key.startswith("0x") else int(key.replace(" ", ""), 2)
                counts[index] = counts.get(index, 0) + int(value)
        return out


PARAMETER_BINDS_SAFE_GATES: frozenset[str] = frozenset(
    {"p", "r", "rx", "rxx", "ry", "ryy", "rz", "rzx", "rzz", "u", "u1", "u2", "u3"}
)
"""Parametrised gates whose angles qiskit-aer's ``parameter_binds`` sets correctly.

Aer leaves the angle of a controlled rotation (``cp``, ``crx``, ``cry``, ``crz``,
``cu1``, ``cu3``) at its placeholder, since a controlled gate keeps its angles on its
``base_gate`` (qiskit-aer issues 2323, 2391, 2403), and it writes its placeholders into
a ``cu`` gate's shared parameter list. A skeleton with any parametrised gate outside
this set is rewritten into those gates' definitions (:func:`_bindable_by_aer`), or else
bound with ``assign_parameters`` before Aer sees it.
``tests/emulator/test_parameter_binds.py`` runs every parametrised standard gate through
:func:`run_batched` against ``Statevector`` and fails as soon as this set is no longer
exactly the gates Aer binds right (a fix or a regression in Aer).
"""


def _left_to_aer_unsafely(op: Any, safe_gates: frozenset[str]) -> bool:
    """Whether ``op`` carries a parameter that Aer would not bind right."""
    return op.name not in safe_gates and any(isinstance(p, ParameterExpression) for p in op.params)


def binds_safely(
    skeleton: QuantumCircuit, safe_gates: frozenset[str] = PARAMETER_BINDS_SAFE_GATES
) -> bool:
    """Whether Aer may bind ``skeleton``'s parameters itself: every gate carrying one is in
    ``safe_gates``."""
    return not any(
        _left_to_aer_unsafely(instruction.operation, safe_gates) for instruction in skeleton.data
    )


_MAX_DEFINITION_DEPTH = 4


def _bindable_by_aer(skeleton: QuantumCircuit, safe_gates: frozenset[str]) -> QuantumCircuit | None:
    """``skeleton``, or an equivalent circuit with the same parameters whose parametrised gates
    are all in ``safe_gates`` (unsafe gates replaced by their definitions, which Qiskit
    states exactly); None if none is found within :data:`_MAX_DEFINITION_DEPTH` rewrites.

    A controlled rotation's definition is made of ``u``/``p``/``cx`` gates whose angles are
    expressions of the rotation's, which Aer binds right, so parameter sweeps over them
    stay one experiment. ``tests/emulator/test_parameter_binds.py`` checks the result of
    this rewrite for every parametrised gate against ``Statevector``.
    """
    current = skeleton
    for _ in range(_MAX_DEFINITION_DEPTH + 1):
        if binds_safely(current, safe_gates):
            return current if set(current.parameters) == set(skeleton.parameters) else None
        rewritten = current.copy_empty_like()
        for instruction in current.data:
            if not _left_to_aer_unsafely(instruction.operation, safe_gates):
                rewritten.append(instruction)
            elif instruction.operation.definition is None:
                return None
            else:
                rewritten.compose(
                    instruction.operation.definition,
                    instruction.qubits,
                    instruction.clbits,
                    inplace=True,
                )
        current = rewritten
    return None


BindMethod = Literal["none", "aer", "rewritten", "assign"]
"""How :func:`run_batched` binds the circuits of one skeleton (see :func:`bind_method`)."""


def bind_method(
    skeleton: QuantumCircuit, safe_gates: frozenset[str] = PARAMETER_BINDS_SAFE_GATES
) -> BindMethod:
    """How :func:`run_batched` binds the circuits that share ``skeleton``.

    ``"none"``: the skeleton has no parameters, it runs as it is. ``"aer"``: one experiment,
    bound by Aer's ``parameter_binds`` (every parametrised gate is in ``safe_gates``).
    ``"rewritten"``: one experiment bound by Aer, after the unsafe gates were replaced by
    their definitions. ``"assign"``: each circuit is bound with ``assign_parameters``
    before Aer sees it, one experiment per circuit.
    """
    return _bind_plan(skeleton, safe_gates)[0]


def _bind_plan(
    skeleton: QuantumCircuit, safe_gates: frozenset[str]
) -> tuple[BindMethod, QuantumCircuit | None]:
    """:func:`bind_method` and, when Aer binds, the experiment it binds."""
    if not skeleton.num_parameters:
        return "none", None
    bindable = _bindable_by_aer(skeleton, safe_gates)
    if bindable is None:
        return "assign", None
    return ("aer" if bindable is skeleton else "rewritten"), bindable


def run_batched(
    backend: Any,
    circuits: Sequence[JobCircuit],
    groups: Sequence[tuple[QuantumCircuit, list[int]]],
    *,
    safe_gates: frozenset[str] = PARAMETER_BINDS_SAFE_GATES,
    prepare: Callable[[QuantumCircuit], QuantumCircuit] = lambda circuit: circuit,
    **run_options: Any,
) -> tuple[Any, list[int]]:
    """Run circuits as one Aer job; returns the Aer result and, per result experiment,
    the position of its circuit in ``circuits``.

    ``groups`` is ``group_by_skeleton(circuits)``. A skeleton whose parametrised gates
    are all in ``safe_gates``, or become so when the others are replaced by their
    definitions, runs as one experiment bound by Aer's ``parameter_binds``; any other is
    bound circuit by circuit first (:func:`bind_method` says which). ``prepare`` turns a
    skeleton or a bound circuit into the experiment Aer runs (e.g. one that saves its
    statevector).
    """
    experiments: list[QuantumCircuit] = []
    binds: list[dict[Any, list[float]]] = []
    order: list[int] = []
    for skeleton, positions in groups:
        method, bindable = _bind_plan(skeleton, safe_gates)
        if bindable is not None:
            experiments.append(prepare(bindable))
            binds.append(parameter_binds(skeleton, [circuits[i] for i in positions]))
            order.extend(positions)
        elif method == "assign":
            for position in positions:
                experiments.append(prepare(circuits[position].bound()))
                binds.append({})
                order.append(position)
        else:
            experiment = prepare(skeleton)
            for position in positions:
                experiments.append(experiment)
                binds.append({})
                order.append(position)
    return backend.run(experiments, parameter_binds=binds, **run_options).result(), order


def _maestro_simulator() -> _Simulator:
    from qiskit_aer import AerSimulator

    backend = AerSimulator()
    return _Simulator(backend, {"backend": backend, "optimization_level": 1}, run_native=True)


class _MaestroEngine:
    """The noiseless system on Maestro (:mod:`qiskit_divi._maestro`), one circuit at a time.

    Maestro binds no parameters, so every circuit is bound by Qiskit first
    (:meth:`JobCircuit.bound`, exact ``assign_parameters``) and only bound circuits reach
    it; the adapter translates gates Maestro does not parse, picks statevector or
    matrix-product state by width and returns Qiskit-ordered counts.
    """

    engine: Engine = "maestro"

    def sample(
        self, circuits: Sequence[JobCircuit], shots: int, seed: int | None
    ) -> list[dict[int, int]]:
        """Counts per circuit, keyed like :meth:`_Simulator.sample`. Circuit ``i`` of a job
        takes the seed ``seed + i``, so seeded jobs repeat and its circuits stay independent."""
        from .._maestro import sample

        out: list[dict[int, int]] = []
        for position, circuit in enumerate(circuits):
            if "measure" not in circuit.skeleton.count_ops():
                out.append({0: shots})  # nothing writes the classical bits: they all read 0
                continue
            result = sample(circuit.bound(), shots, seed=None if seed is None else seed + position)
            counts: dict[int, int] = {}
            for key, value in result.counts.items():
                index = int(key.replace(" ", ""), 2)
                counts[index] = counts.get(index, 0) + int(value)
            out.append(counts)
        return out

    def expectation(
        self, circuits: Sequence[JobCircuit], terms: Sequence[str]
    ) -> list[dict[str, float]]:
        """``{wire_term: <P>}`` per circuit, from Maestro's estimator (exact on statevector;
        on matrix-product states exact unless the bond dimension truncates)."""
        from .._maestro import estimate

        distinct = list(dict.fromkeys(terms))
        out: list[dict[str, float]] = []
        for circuit in circuits:
            # The same refusal as on Aer: a mid-circuit measurement leaves no pure state.
            stripped = _without_final_measurements(circuit.bound())
            result = estimate(stripped, distinct)
            out.append(dict(zip(distinct, (float(v) for v in result.values), strict=True)))
        return out


def _maestro_engine() -> _MaestroEngine:
    from .._maestro import require

    require()
    return _MaestroEngine()


def resolve_engine(engine: str) -> Engine:
    """``"aer"`` or ``"maestro"`` for an ``EmulatorConfig.engine`` value: ``"auto"`` is
    Maestro when the ``maestro`` extra is installed. ``"maestro"`` without the extra raises
    :class:`~qiskit_divi.exceptions.QoroConfigurationError` (a ``ValueError``)."""
    from .._maestro import available
    from ..api.errors import QoroConfigurationError

    if engine not in ENGINE_CHOICES:
        raise QoroConfigurationError(
            f"engine must be one of {', '.join(map(repr, ENGINE_CHOICES))}, got {engine!r}."
        )
    if engine == "aer":
        return "aer"
    if engine == "maestro":
        if not available():
            raise QoroConfigurationError(
                "engine='maestro' needs Qoro's Maestro simulator, which is not installed: "
                'pip install "qiskit-divi[maestro]" (GPL-3.0, see the README), or use '
                "engine='aer' (or 'auto': Maestro when installed, else Aer)."
            )
        return "maestro"
    return "maestro" if available() else "aer"


def systems_for_engine(systems: Sequence[SystemSpec], engine: Engine) -> tuple[SystemSpec, ...]:
    """``systems`` with the noiseless ones (the default factories) on ``engine``.

    On Maestro such a system listed at :data:`AER_NOISELESS_Q_BITS` takes
    :data:`MAESTRO_Q_BITS`, so ``GET qpusystem/`` and the client's ``Target`` show the wider
    width (and back on Aer); one given another width keeps it. Noisy systems and custom
    simulators stay as they are.
    """
    widths = {"aer": AER_NOISELESS_Q_BITS, "maestro": MAESTRO_Q_BITS}
    factories: dict[Engine, Callable[[], _Simulator | _MaestroEngine]] = {
        "aer": _maestro_simulator,
        "maestro": _maestro_engine,
    }
    out: list[SystemSpec] = []
    for spec in systems:
        if spec.engine != engine and spec.simulator_factory is factories[spec.engine]:
            q_bits = widths[engine] if spec.q_bits == widths[spec.engine] else spec.q_bits
            spec = dataclasses.replace(
                spec, q_bits=q_bits, simulator_factory=factories[engine], engine=engine
            )
        out.append(spec)
    return tuple(out)


def _nairobi_simulator() -> _Simulator:
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeNairobiV2

    backend = AerSimulator.from_backend(FakeNairobiV2())
    return _Simulator(backend, {"backend": backend, "optimization_level": 1})


def ion_noise_model() -> Any:
    """Depolarising gate noise plus asymmetric readout errors, in the ion basis gates."""
    from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

    model = NoiseModel(basis_gates=list(ION_BASIS_GATES))
    model.add_all_qubit_quantum_error(depolarizing_error(ION_1Q_DEPOLARIZING, 1), ["rx", "ry"])
    model.add_all_qubit_quantum_error(depolarizing_error(ION_2Q_DEPOLARIZING, 2), ["rxx"])
    model.add_all_qubit_readout_error(
        ReadoutError(
            [
                [1 - ION_READOUT_P1_GIVEN_0, ION_READOUT_P1_GIVEN_0],
                [ION_READOUT_P0_GIVEN_1, 1 - ION_READOUT_P0_GIVEN_1],
            ]
        )
    )
    return model


def _ion_simulator() -> _Simulator:
    from qiskit_aer import AerSimulator

    model = ion_noise_model()
    backend = AerSimulator(noise_model=model)
    # All-to-all connectivity: no coupling map, only the native gate set.
    return _Simulator(backend, {"basis_gates": list(ION_BASIS_GATES), "optimization_level": 1})


DEFAULT_SYSTEMS: tuple[SystemSpec, ...] = (
    SystemSpec(
        name="qoro_maestro",
        nickname="maestro",
        q_bits=AER_NOISELESS_Q_BITS,
        system_kind="simulator",
        supports_expectation=True,
        simulator_factory=_maestro_simulator,
    ),
    SystemSpec(
        name="fake_nairobi",
        nickname="nairobi",
        q_bits=7,
        system_kind="superconducting",
        supports_expectation=False,
        simulator_factory=_nairobi_simulator,
        coupling_map=NAIROBI_COUPLING_MAP,
    ),
    SystemSpec(
        name="fake_ion",
        nickname="ion11",
        q_bits=11,
        system_kind="trapped_ion",
        supports_expectation=False,
        simulator_factory=_ion_simulator,
    ),
)


@dataclass(frozen=True)
class ClusterSpec:
    """A simulator cluster (``GET simulatorcluster/``, ``qoro-api.md`` 3.3). Jobs sent to
    it (``simulator_cluster`` in ``job/init/``) run exactly as on the system ``system``."""

    name: str
    system: str = "qoro_maestro"
    access_level: str = "PUBLIC"
    minimum_tier: str = "FREE"

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "access_level": self.access_level,
            "minimum_tier": self.minimum_tier,
        }


DEFAULT_CLUSTERS: tuple[ClusterSpec, ...] = (ClusterSpec(name="qoro_maestro"),)
"""``qoro_maestro`` is both a cluster (divi 0.15.1's default target) and, for v0.6.1
clients, a system of ``qpusystem/``: the same simulator either way."""


class SystemCatalogue:
    """The systems one server offers, with their simulators built once, on first use."""

    def __init__(self, systems: Sequence[SystemSpec] = DEFAULT_SYSTEMS):
        names = [s.name for s in systems]
        if len(set(names)) != len(names):
            raise ValueError(f"Duplicate system names in {names}.")
        self._systems = {s.name: s for s in systems}
        self._simulators: dict[str, _Simulator | _MaestroEngine] = {}
        self._lock = threading.Lock()

    def __contains__(self, name: object) -> bool:
        return name in self._systems

    def get(self, name: str) -> SystemSpec | None:
        return self._systems.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._systems)

    @property
    def systems(self) -> list[SystemSpec]:
        return list(self._systems.values())

    def to_wire(self) -> list[dict[str, Any]]:
        return [s.to_wire() for s in self._systems.values()]

    def simulator(self, name: str) -> _Simulator | _MaestroEngine:
        with self._lock:
            sim = self._simulators.get(name)
            if sim is None:
                sim = self._systems[name].simulator_factory()
                self._simulators[name] = sim
            return sim


# --- job execution ----------------------------------------------------------------


def shot_batches(shots: Sequence[int]) -> list[tuple[int, list[int]]]:
    """``(shots, positions)`` per distinct value of ``shots`` (one per circuit), in order of
    first appearance."""
    batches: dict[int, list[int]] = {}
    for position, value in enumerate(shots):
        batches.setdefault(value, []).append(position)
    return list(batches.items())


def sample_job(
    catalogue: SystemCatalogue,
    system: str,
    circuits: Sequence[JobCircuit],
    shots: int,
    seed: int | None,
) -> list[dict[str, Any]]:
    """Run circuits of a sampling job with ``shots`` each, as one batch; one qh1/qh2
    envelope each. (A job with ``shot_groups`` runs one such batch per shots value:
    :mod:`.runner`.)"""
    counts = catalogue.simulator(system).sample(circuits, shots, seed)
    return [
        encode_envelope(c, n_bits=circuit.num_clbits)
        for c, circuit in zip(counts, circuits, strict=True)
    ]


def expectation_job(circuits: Sequence[JobCircuit], terms: Sequence[str]) -> list[dict[str, float]]:
    """Exact ``{wire_term: <P>}`` per circuit from its statevector.

    Final measurements (and the barriers among them) are dropped and Aer computes the
    statevectors in batches of at most :data:`_EXPECTATION_CHUNK` amplitudes (one circuit
    when a single one is larger), each batch reduced before the next runs, so the memory
    a job takes does not grow with its circuit count. Circuits made of
    operations Aer runs natively run as uploaded (one experiment per skeleton where
    :func:`run_batched` may let Aer bind them); any other job (``ch``, ``rccx``, gate
    definitions, ...) is bound and translated to Aer's gates first, without
    optimisation or layout, so qubit ``i`` stays qubit ``i``. A measurement
    followed by anything else has no statevector and fails the job. Wire terms
    have qubit 0 leftmost.
    """
    distinct = list(dict.fromkeys(terms))
    circuits = list(circuits)
    target = _statevector_target()
    native = all(
        skeleton.count_ops().keys() <= _aer_operations(target)
        for skeleton, _ in group_by_skeleton(circuits)
    )
    out: list[dict[str, float]] = []
    for batch in _expectation_batches(circuits):
        out.extend(_batch_expectations(batch, distinct, native))
    return out


def _expectation_batches(circuits: list[JobCircuit]) -> Iterator[list[JobCircuit]]:
    """Consecutive circuits of one width, at most :data:`_EXPECTATION_CHUNK` amplitudes (or one
    circuit) per batch."""
    batch: list[JobCircuit] = []
    for circuit in circuits:
        if batch and (
            circuit.num_qubits != batch[0].num_qubits
            or (len(batch) + 1) << circuit.num_qubits > _EXPECTATION_CHUNK
        ):
            yield batch
            batch = []
        batch.append(circuit)
    if batch:
        yield batch


def _batch_expectations(
    circuits: list[JobCircuit], distinct: list[str], native: bool
) -> list[dict[str, float]]:
    """:func:`expectation_job` of one batch of circuits of one width."""
    backend = _statevector_backend()
    if native:
        groups = group_by_skeleton(circuits)
        result, order = run_batched(backend, circuits, groups, prepare=_saving_statevector, shots=1)
    else:
        from qiskit import transpile

        stripped = [_without_final_measurements(circuit.bound()) for circuit in circuits]
        compiled = transpile(
            stripped, target=_statevector_target(), optimization_level=0, num_processes=1
        )
        experiments = [_saving_statevector(circuit) for circuit in compiled]
        result, order = backend.run(experiments, shots=1).result(), list(range(len(circuits)))
    if not result.success:
        raise RuntimeError(f"Aer run failed: {result.status}")
    states = np.stack([np.asarray(result.data(i)["statevector"]) for i in range(len(order))])
    del result  # Aer's copies of the statevectors
    out: list[dict[str, float]] = [{} for _ in circuits]
    for position, values in zip(order, pauli_expectations(states, distinct).tolist(), strict=True):
        out[position] = dict(zip(distinct, values, strict=True))
    return out


EXPECTATION_WORKING_SET = 7
"""Peak memory of an EXPECTATION batch, in multiples of its statevectors' size: Aer's copy,
the stacked array, its conjugate, one gathered and one signed array, and the real
probabilities, parities and indices (half a statevector each); measured 6.6 on 22 qubits."""
SAMPLING_WORKING_SET = 2
"""Peak memory of a sampling run, in statevectors of its widest circuit."""
COUNTS_ENTRY_BYTES = 200
"""Memory per distinct outcome of a histogram while Aer's counts are converted."""
_PARITY_CACHE_AMPLITUDES = 1 << 24
"""Parity arrays kept per :func:`pauli_expectations` call, in amplitudes (128 MiB)."""


MPS_WORKING_SET = 4
"""Peak memory of a Maestro matrix-product-state run, in multiples of its tensors' size (the
tensors, and the SVD of the widest bond with its temporaries)."""


def job_memory_estimate(
    *,
    expectation: bool,
    num_qubits: int,
    num_clbits: int,
    n_circuits: int,
    shots: int | None,
    engine: Engine | None = None,
) -> int:
    """Estimated peak bytes to run a job whose widest circuit has ``num_qubits`` qubits.

    On Aer, EXPECTATION jobs run in batches (:func:`expectation_job`), so only the width
    counts; a sampling job also keeps one histogram per circuit until it ends. Maestro runs
    one circuit at a time: a statevector up to its limit, above it a matrix-product state
    of at most ``n * 2 * chi**2`` amplitudes (``chi``: the bond dimension cap), linear in
    the width. ``engine=None``: by width, Maestro's rule above
    :data:`AER_NOISELESS_Q_BITS` (only Maestro's system is that wide by default), Aer's below.
    """
    if engine is None:
        engine = "maestro" if num_qubits > AER_NOISELESS_Q_BITS else "aer"
    outcomes = min(shots or 1, 1 << min(num_clbits, 62))
    histograms = 0 if expectation else n_circuits * outcomes * COUNTS_ENTRY_BYTES
    if engine == "maestro":
        from .._maestro import MPS_BOND_DIMENSION, STATEVECTOR, choose_method

        if choose_method(num_qubits) == STATEVECTOR:
            return SAMPLING_WORKING_SET * (16 << num_qubits) + histograms
        tensors = 16 * num_qubits * 2 * MPS_BOND_DIMENSION**2
        return MPS_WORKING_SET * tensors + histograms
    statevector = 16 << num_qubits
    if expectation:
        batch = max(statevector, min(n_circuits, _EXPECTATION_CHUNK >> num_qubits) * statevector)
        return EXPECTATION_WORKING_SET * batch + min(_PARITY_CACHE_AMPLITUDES, 8 << num_qubits)
    return SAMPLING_WORKING_SET * statevector + histograms


_EXPECTATION_CHUNK = 1 << 22
"""Amplitudes (64 MiB of complex128) per batch of statevectors reduced at once."""


def pauli_expectations(states: np.ndarray, terms: Sequence[str]) -> np.ndarray:
    """``<state|P|state>`` for each row of ``states`` and each wire term ``P`` (qubit 0 leftmost).

    With ``P = i^{#Y} X^x Z^z`` (``x``/``z``: masks of the qubits carrying X or
    Y / Z or Y), ``P|k> = i^{#Y} (-1)^{popcount(k & z)} |k ^ x>``, so
    ``<P> = i^{#Y} sum_k conj(state[k ^ x]) (-1)^{popcount(k & z)} state[k]``.
    Returns a real array of shape ``(len(states), len(terms))``.
    """
    indices = np.arange(states.shape[1])
    conjugate = states.conj()
    probabilities = (conjugate * states).real
    parity_cache: dict[int, np.ndarray] = {}
    out = np.empty((states.shape[0], len(terms)))
    for column, term in enumerate(terms):
        x = z = 0
        for qubit, letter in enumerate(term):
            if letter in "XY":
                x |= 1 << qubit
            if letter in "ZY":
                z |= 1 << qubit
        if z and z not in parity_cache:
            if len(parity_cache) * states.shape[1] >= _PARITY_CACHE_AMPLITUDES:
                parity_cache.clear()  # many distinct Z masks on a wide state: bound the cache
            parity = np.zeros(states.shape[1], dtype=np.int64)
            for qubit in range(len(term)):
                if z >> qubit & 1:
                    parity ^= indices >> qubit & 1
            parity_cache[z] = 1.0 - 2.0 * parity
        if not x:  # diagonal: a signed sum of probabilities
            out[:, column] = probabilities @ parity_cache[z] if z else probabilities.sum(axis=1)
            continue
        signed = states * parity_cache[z] if z else states
        values = np.einsum("ij,ij->i", conjugate[:, indices ^ x], signed)
        out[:, column] = (values * 1j ** term.count("Y")).real
    return out


@functools.lru_cache(maxsize=1)
def _statevector_backend() -> Any:
    from qiskit_aer import AerSimulator

    return AerSimulator(method="statevector")


def _aer_operations(target: Any) -> frozenset[str]:
    # Aer runs barriers, though its Target does not list them.
    return frozenset(target.operation_names) | {"barrier"}


@functools.lru_cache(maxsize=1)
def _statevector_target() -> Any:
    # AerSimulator rebuilds its Target on every access; one snapshot serves every job.
    return _statevector_backend().target


def _without_final_measurements(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` without its final measurements (and their classical bits' meaning).

    A measurement is final when no gate acts on its qubit afterwards (what
    ``remove_final_measurements`` drops). Any other measurement, a reset of a qubit
    something acted on before, and any classically controlled operation leave no
    single statevector and raise ``ValueError``.
    """
    data = circuit.data
    acted_on_later: set[Any] = set()
    final: list[int] = []
    for position in range(len(data) - 1, -1, -1):
        instruction = data[position]
        name = instruction.operation.name
        if name == "measure" and not acted_on_later.intersection(instruction.qubits):
            final.append(position)
        elif name == "measure" or (instruction.clbits and name != "barrier"):
            raise ValueError(
                f"Circuit '{circuit.name}' has a mid-circuit '{name}': "
                "it has no statevector to take expectation values from."
            )
        elif name != "barrier":
            acted_on_later.update(instruction.qubits)
    touched: set[Any] = set()
    for instruction in data:
        if instruction.operation.name == "reset" and touched.intersection(instruction.qubits):
            raise ValueError(
                f"Circuit '{circuit.name}' resets a qubit after acting on it: its state is mixed, "
                "so it has no statevector to take expectation values from."
            )
        # A reset of an untouched qubit leaves it in |0>: the state stays pure.
        if instruction.operation.name not in ("barrier", "reset"):
            touched.update(instruction.qubits)
    out = circuit.copy()
    for position in final:  # descending positions
        del out.data[position]
    return out


def _saving_statevector(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` without its final measurements, saving its statevector at the end."""
    from qiskit_aer.library import SaveStatevector

    out = _without_final_measurements(circuit)
    out.append(SaveStatevector(out.num_qubits), out.qubits, copy=False)
    return out
