"""``ParallelSimulator``: divi's local ``CircuitRunner`` over qiskit-aer's ``AerSimulator``.

Same API, defaults and results as divi v0.6.1, built for speed:

* OpenQASM 2 is parsed with :func:`qiskit.qasm2.loads` using exactly the options of
  ``QuantumCircuit.from_qasm_str`` (so every ``qelib1.inc`` gate maps to Qiskit's
  standard gate class), once per *shape*: a text that differs from an earlier one
  only in its angles binds the earlier parse to its own angles, which gives the
  circuit its own parse would (see :mod:`qiskit_divi._qasm_shapes`).
* Transpilation is serial (``num_processes=1``): the reference's process pool cost
  more in pickling than the transpilation itself. With ``simulation_seed`` set it is
  also seeded (``seed_transpiler``), so that noisy runs are reproducible: divi v0.6.1
  transpiled unseeded, and its stochastic layouts changed the counts from run to run.
* Noiseless circuits that the simulator can run as they are skip transpilation
  (see :func:`_skip_verdict` for the exact conditions), with results bit-identical
  to running ``transpile(circuits, AerSimulator())`` with the same seed.
* The ``"auto"`` fake backends and their simulators are cached for the life of the
  process, and so are the circuits prepared (parsed, and transpiled if needed) for
  the noiseless and ``"auto"`` simulators, keyed by their QASM text (up to 4096 per
  simulator). Simulators built from a user's backend or noise model are not cached.
* Counts are formatted straight from Aer's hexadecimal histograms, exactly as
  ``Result.get_counts`` would format them.

``qiskit_ibm_runtime`` is imported only when ``"auto"`` is used or ``FAKE_BACKENDS``
is read (it takes a second to import).
"""

from __future__ import annotations

import bisect
import heapq
import logging
import os
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from multiprocessing import current_process
from typing import Any, Literal, NamedTuple

import numpy as np
from qiskit import QuantumCircuit, qasm2
from qiskit import transpile as _qiskit_transpile
from qiskit.circuit import CircuitInstruction
from qiskit.converters import circuit_to_dag
from qiskit.dagcircuit import DAGOpNode
from qiskit.exceptions import QiskitError
from qiskit.providers import Backend
from qiskit.result import Result
from qiskit.transpiler import Target
from qiskit.transpiler.exceptions import TranspilerError
from qiskit_aer import AerSimulator
from qiskit_aer import AerSimulator as _RealAerSimulator
from qiskit_aer.library import SaveProbabilities
from qiskit_aer.noise import NoiseModel

from .._qasm_shapes import ShapedCircuit, ShapeParser
from ..api.errors import QoroError
from ._circuit_runner import CircuitRunner, ExecutionResult

logger = logging.getLogger(__name__)

transpile = _qiskit_transpile
"""The transpile function used by this module (a module global, so tests can patch it)."""

__all__ = ["ParallelSimulator", "ParallelSimulatorExecutorError"]

# --- "auto" fake backends ------------------------------------------------------------

_FAKE_BACKEND_CLASS_NAMES: dict[int, tuple[str, ...]] = {
    5: ("FakeManilaV2", "FakeBelemV2", "FakeLimaV2", "FakeQuitoV2"),
    7: ("FakeOslo", "FakePerth", "FakeLagosV2", "FakeNairobiV2"),
    15: ("FakeMelbourneV2",),
    16: ("FakeGuadalupeV2",),
    20: ("FakeAlmadenV2", "FakeJohannesburgV2", "FakeSingaporeV2", "FakeBoeblingenV2"),
    27: ("FakeGeneva", "FakePeekskill", "FakeAuckland", "FakeCairoV2"),
}
"""Qubit-count buckets of the fake backends (divi v0.6.1); the last class of a bucket is used."""

_fake_backends: dict[int, list[type]] | None = None
_fake_backends_lock = threading.Lock()


def _load_fake_backends() -> dict[int, list[type]]:
    """Import ``qiskit_ibm_runtime.fake_provider`` (once) and build the bucket table."""
    global _fake_backends
    with _fake_backends_lock:
        if _fake_backends is None:
            import qiskit_ibm_runtime.fake_provider as fake_provider

            _fake_backends = {
                size: [getattr(fake_provider, name) for name in names]
                for size, names in _FAKE_BACKEND_CLASS_NAMES.items()
            }
        return _fake_backends


def __getattr__(name: str) -> Any:
    """Serve ``FAKE_BACKENDS`` lazily (``{max_qubits: [fake backend classes]}``)."""
    if name == "FAKE_BACKENDS":
        return _load_fake_backends()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _find_best_fake_backend(circuit: QuantumCircuit) -> list[type] | None:
    """The fake-backend classes of the smallest bucket that fits ``circuit``, or None above 27 qubits."""
    fake_backends = _load_fake_backends()
    sizes = sorted(fake_backends)
    pos = bisect.bisect_left(sizes, circuit.num_qubits)
    return fake_backends[sizes[pos]] if pos < len(sizes) else None


def _no_fake_backend_error(num_qubits: int) -> ValueError:
    return ValueError(
        f"No fake backend available for circuit with {num_qubits} qubits. "
        "Please provide an explicit backend or use a smaller circuit."
    )


# --- process-wide caches ---------------------------------------------------------------

_PREPARED_PER_SIMULATOR = 4096
"""How many prepared circuits each simulator keeps (least recently used dropped)."""
_MAX_AUTO_SIMULATORS = 8
"""How many fake backends (and their simulators) stay cached."""

_cache_lock = threading.RLock()
_auto_backends: OrderedDict[Hashable, Any] = OrderedDict()
_auto_simulators: OrderedDict[Hashable, _SimulatorEntry] = OrderedDict()
_noiseless_simulators: OrderedDict[Hashable, _SimulatorEntry] = OrderedDict()


def _lru_get(cache: OrderedDict, key: Hashable, build: Callable[[], Any], limit: int) -> Any:
    with _cache_lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = build()
    with _cache_lock:
        value = cache.setdefault(key, value)
        cache.move_to_end(key)
        while len(cache) > limit:
            cache.popitem(last=False)
    return value


def _auto_backend_instance(backend_class: type) -> Any:
    """One shared instance per fake-backend class (its calibration is loaded once)."""

    def build() -> Any:
        backend = backend_class()
        getattr(backend, "target", None)  # fake backends load their calibration lazily
        return backend

    return _lru_get(_auto_backends, backend_class, build, _MAX_AUTO_SIMULATORS)


class _SimulatorEntry:
    """A simulator plus what this module learns about it (prepared circuits, gate support)."""

    def __init__(self, simulator: Any, *, noiseless: bool):
        self.simulator = simulator
        self.noiseless = noiseless
        self._prepared: OrderedDict[tuple[Any, str], _Prepared] = OrderedDict()
        self._lock = threading.Lock()
        self._init_lock = threading.Lock()
        self._native: tuple[frozenset[str], int] | None = None
        self._init_stage = None

    def native_support(self) -> tuple[frozenset[str], int] | None:
        """(operation names, number of qubits) of a genuine Aer simulator's target, else None."""
        if self._native is None:
            if not isinstance(self.simulator, _RealAerSimulator):
                return None
            target = self.simulator.target
            if not isinstance(target, Target):
                return None
            self._native = (frozenset(target.operation_names), target.num_qubits or 0)
        return self._native

    def init_stage_permutes(self, circuit: QuantumCircuit) -> bool:
        """Whether the ``init`` stage of ``transpile(circuit, self.simulator)`` relabels qubits."""
        with self._init_lock:
            if self._init_stage is None:
                from qiskit.transpiler import generate_preset_pass_manager

                self._init_stage = generate_preset_pass_manager(
                    optimization_level=2, backend=self.simulator
                ).init
            self._init_stage.run(circuit)
            return self._init_stage.property_set["virtual_permutation_layout"] is not None

    def get(self, qasm: str, seed_transpiler: int | None) -> _Prepared | None:
        key = (transpile, seed_transpiler, qasm)  # never serve a circuit made another way
        with self._lock:
            prepared = self._prepared.get(key)
            if prepared is not None:
                self._prepared.move_to_end(key)
            return prepared

    def forget_prepared(self) -> None:
        with self._lock:
            self._prepared.clear()

    def put(self, qasm: str, seed_transpiler: int | None, prepared: _Prepared) -> None:
        key = (transpile, seed_transpiler, qasm)
        with self._lock:
            self._prepared[key] = prepared
            self._prepared.move_to_end(key)
            while len(self._prepared) > _PREPARED_PER_SIMULATOR:
                self._prepared.popitem(last=False)


def _noiseless_entry() -> _SimulatorEntry:
    """The shared noiseless ``AerSimulator()`` (one per ``AerSimulator`` class object)."""
    return _lru_get(
        _noiseless_simulators,
        AerSimulator,
        lambda: _SimulatorEntry(AerSimulator(noise_model=None), noiseless=True),
        _MAX_AUTO_SIMULATORS,
    )


def _auto_entry(backend_class: type) -> _SimulatorEntry:
    """The shared ``AerSimulator.from_backend`` simulator of one fake-backend class."""
    factory = AerSimulator.from_backend
    return _lru_get(
        _auto_simulators,
        (factory, backend_class),
        lambda: _SimulatorEntry(factory(_auto_backend_instance(backend_class)), noiseless=False),
        _MAX_AUTO_SIMULATORS,
    )


def _clear_caches() -> None:
    """Forget every cached backend, simulator and prepared circuit (for tests and benchmarks)."""
    with _cache_lock:
        _auto_backends.clear()
        _auto_simulators.clear()
        _noiseless_simulators.clear()
    _shapes.clear()


def _forget_prepared_circuits() -> None:
    """Forget the prepared circuits but keep simulators and parsed shapes: the state a
    sweep's next iteration (same circuits, new angles) finds (for benchmarks)."""
    with _cache_lock:
        entries = [*_auto_simulators.values(), *_noiseless_simulators.values()]
    for entry in entries:
        entry.forget_prepared()


# --- parsing and the transpile-skip decision -------------------------------------------


_INCLUDE = re.compile(r'include\s*"([^"]*)"')


def _parse_qasm(qasm: str) -> QuantumCircuit:
    """Parse OpenQASM 2 exactly as ``QuantumCircuit.from_qasm_str`` does.

    The legacy include path is only passed when the program includes a file other
    than the built-in ``qelib1.inc`` (normalising it costs more than parsing a
    small circuit).
    """
    includes = _INCLUDE.findall(qasm) if "include" in qasm else ()
    return qasm2.loads(
        qasm,
        include_path=qasm2.LEGACY_INCLUDE_PATH
        if any(name != "qelib1.inc" for name in includes)
        else (),
        custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
        custom_classical=qasm2.LEGACY_CUSTOM_CLASSICAL,
        strict=False,
    )


_shapes = ShapeParser(lambda qasm: _parse_qasm(qasm), max_shapes=256)
"""Texts are parsed once per shape (see :mod:`qiskit_divi._qasm_shapes`): a circuit that
differs from an earlier one only in its angles is the earlier parse with its angles
bound, which equals its own parse (the shape parser proves it per shape) at a
fraction of the cost."""


_STABILIZER_GATES = frozenset(
    {
        "cx",
        "cy",
        "cz",
        "ecr",
        "h",
        "id",
        "pauli",
        "rz",
        "s",
        "sdg",
        "swap",
        "sx",
        "sxdg",
        "x",
        "y",
        "z",
    }
)
"""Gates Aer's stabilizer method runs: a circuit made of these only may be simulated as Clifford."""
_PERMUTATION_GATES = frozenset({"swap", "permutation"})
_PROBE_LABEL = "_qiskit_divi_clifford_probe"
_SKIP_MAX_QUBITS = 16
"""Wider circuits are always transpiled: simulation cost doubles per qubit, and the
optimiser's gate cancellation saves more than transpiling costs (measured on 24 qubits:
~0.3 s transpile per circuit, ~10 % less simulation time)."""
_PROBE_MAX_QUBITS = 6


@dataclass
class _Prepared:
    """A circuit ready to run, and how it was obtained.

    ``probe_qubits`` is set when the circuit was not transpiled and still needs the
    run-time proof that transpilation would not have made it a Clifford circuit;
    ``circuit`` then carries a ``SaveProbabilities`` on those qubits.
    """

    circuit: QuantumCircuit
    probe_qubits: tuple[int, ...] | None = None


class _SkipPlan(NamedTuple):
    """What :func:`_structural_verdict` allows: skip with these probe qubits, after the
    ``init``-stage check on the bound circuit if ``check_init_stage``."""

    probe_qubits: tuple[int, ...]
    check_init_stage: bool


def _skip_verdict(circuit: QuantumCircuit, entry: _SimulatorEntry) -> tuple[int, ...] | None:
    """Whether running ``circuit`` untranspiled gives the counts its transpiled copy would.

    Returns the qubits to probe when transpilation can be skipped, None when it cannot
    (see :func:`_structural_verdict` for the conditions).
    """
    return _confirmed_skip(_structural_verdict(circuit, entry), circuit, entry)


def _confirmed_skip(
    plan: _SkipPlan | None, circuit: QuantumCircuit, entry: _SimulatorEntry
) -> tuple[int, ...] | None:
    """The probe qubits of ``plan`` for ``circuit`` (bound), or None if it must be transpiled."""
    if plan is None or (plan.check_init_stage and entry.init_stage_permutes(circuit)):
        return None
    return plan.probe_qubits


def _structural_verdict(circuit: QuantumCircuit, entry: _SimulatorEntry) -> _SkipPlan | None:
    """The skip decision as far as the circuit's structure decides it (gate names,
    qubits, measurements; not angles), so one verdict serves every binding of a skeleton.

    Returns a plan when transpilation can be skipped, None when it cannot.
    Skipping is allowed only if all of the following hold, which together pin down
    everything Aer's sampling depends on besides floating-point rounding:

    1. The simulator is a noiseless ``AerSimulator`` and ``transpile`` is Qiskit's.
    2. Every instruction is a barrier, a measurement, or a standard gate the
       simulator's target supports natively (so transpilation is not needed to make
       the circuit runnable); no control flow, no reset, no swap or permutation
       (the transpiler elides those by relabelling qubits, which changes the order
       in which Aer samples), and no more qubits than the target or than
       ``_SKIP_MAX_QUBITS`` (wider circuits gain from transpiler optimisation).
    3. Measurements are terminal and measure every qubit a gate acts on, so Aer's
       qubit truncation keeps the same operations in both circuits.
    4. No qubit pair carries three or more two-qubit gates, or else the transpiler's
       ``init`` stage, run on the bound circuit (the plan's ``check_init_stage``,
       since it depends on angles), reports no virtual permutation (a
       two-qubit block equivalent to a swap is also elided by relabelling; three
       gates of the controlled/XX families are the minimum for a swap).
    5. The circuit is not made only of stabilizer gates (Aer would pick a different
       method for it than for its transpiled copy). The converse risk, transpilation
       turning a non-Clifford-looking circuit into a Clifford one, is excluded at run
       time: the probe's marginal distribution must not be that of a stabilizer state
       (see :func:`_is_stabilizer_like`); otherwise the circuit is transpiled and run again.
    """
    if not entry.noiseless or transpile is not _qiskit_transpile:
        return None
    native = entry.native_support()
    if native is None:
        return None
    supported, max_qubits = native
    if circuit.num_qubits > min(max_qubits, _SKIP_MAX_QUBITS) or circuit.num_qubits == 0:
        return None
    index = {qubit: i for i, qubit in enumerate(circuit.qubits)}
    gate_qubits: set[int] = set()
    measured: set[int] = set()
    pair_counts: dict[tuple[int, int], int] = {}
    stabilizer_only = True
    seen_measure = False
    for instruction in circuit.data:
        name = instruction.name
        if name == "measure":
            seen_measure = True
            measured.add(index[instruction.qubits[0]])
            continue
        if name == "barrier":
            continue
        if seen_measure or not instruction.is_standard_gate():
            return None
        if name not in supported or name in _PERMUTATION_GATES:
            return None
        if stabilizer_only and name not in _STABILIZER_GATES:
            stabilizer_only = False
        qubits = instruction.qubits
        if len(qubits) == 1:
            gate_qubits.add(index[qubits[0]])
        else:
            indices = [index[q] for q in qubits]
            gate_qubits.update(indices)
            if len(indices) == 2:
                pair = (min(indices), max(indices))
                pair_counts[pair] = pair_counts.get(pair, 0) + 1
    if stabilizer_only or not measured or not gate_qubits <= measured:
        return None
    check_init_stage = any(count >= 3 for count in pair_counts.values())
    return _SkipPlan(tuple(sorted(measured))[:_PROBE_MAX_QUBITS], check_init_stage)


_probes: dict[int, SaveProbabilities] = {}


def _with_probe(circuit: QuantumCircuit, qubits: tuple[int, ...]) -> QuantumCircuit:
    """``circuit`` (modified) with a ``SaveProbabilities`` on ``qubits`` just before its first measurement."""
    probe = _probes.get(len(qubits))
    if probe is None:
        probe = _probes.setdefault(len(qubits), SaveProbabilities(len(qubits), label=_PROBE_LABEL))
    position = next(i for i, inst in enumerate(circuit.data) if inst.name == "measure")
    circuit.data.insert(
        position, CircuitInstruction(probe, tuple(circuit.qubits[q] for q in qubits))
    )
    return circuit


def _is_stabilizer_like(probabilities: np.ndarray) -> bool:
    """Whether a marginal distribution could come from a stabilizer state.

    A stabilizer state's marginal on any qubit subset is uniform over an affine
    subspace: its non-zero probabilities are all equal to ``1 / 2**k``. A distribution
    that is not of that form (up to rounding) proves the state is not a stabilizer
    state, hence that no transpiled copy of the circuit is a Clifford circuit.
    """
    probabilities = np.asarray(probabilities, dtype=float).ravel()
    nonzero = probabilities[probabilities > 1e-10]
    size = nonzero.size
    if size == 0 or size & (size - 1):
        return size == 0
    return bool(np.all(np.abs(nonzero - 1.0 / size) < 1e-8))


def _probe_passed(result: Any, index: int) -> bool:
    """Whether experiment ``index`` carries probe data proving a non-stabilizer state."""
    try:
        probabilities = result.data(index)[_PROBE_LABEL]
    except (KeyError, IndexError, AttributeError, QiskitError):
        return False
    return not _is_stabilizer_like(probabilities)


# --- counts --------------------------------------------------------------------------


def _counts_formatter(header: Any) -> tuple[Hashable, Callable[[str], str]]:
    """Key and function turning Aer's hex outcomes into ``Result.get_counts`` keys."""
    if not header:
        return None, lambda key: bin(int(key, 16))[2:]
    memory_slots = header.get("memory_slots")
    creg_sizes = header.get("creg_sizes")
    if not memory_slots:
        return None, lambda key: bin(int(key, 16))[2:]
    fmt = f"0{memory_slots}b"
    if not creg_sizes:
        return memory_slots, lambda key: format(int(key, 16), fmt)
    sizes = [int(size) for _, size in reversed(creg_sizes)]

    def split(key: str) -> str:
        bits = format(int(key, 16), fmt)
        parts, start = [], 0
        for size in sizes:
            parts.append(bits[start : start + size])
            start += size
        return " ".join(parts)

    return (memory_slots, tuple(sizes)), split


def _all_counts(result: Any, count: int) -> list[dict[str, int]]:
    """``dict(result.get_counts(i))`` for every experiment, without Qiskit's per-key overhead."""
    if not isinstance(result, Result) or len(result.results) != count:
        return [dict(result.get_counts(i)) for i in range(count)]
    memo: dict[Hashable, dict[str, str]] = {}
    out = []
    for i, experiment in enumerate(result.results):
        raw = getattr(experiment.data, "counts", None)
        if raw is None or (raw and not next(iter(raw)).startswith("0x")):
            out.append(dict(result.get_counts(i)))  # also raises Qiskit's own "No counts" error
            continue
        format_key, formatter = _counts_formatter(getattr(experiment, "header", None))
        table = memo.setdefault(format_key, {})
        counts = {}
        for key, value in raw.items():
            bits = table.get(key)
            if bits is None:
                bits = table[key] = formatter(key)
            counts[bits] = value
        out.append(counts)
    return out


# --- running a batch (locally or on an executor's workers) -----------------------------

_AER_SEED_STRIDE = 2113
"""Aer gives experiment ``i`` of a batch the seed ``seed_simulator + i * 2113`` (mod 2**64):
a sub-batch starting at ``offset`` reproduces its circuits' draws with its seed moved by
``offset * 2113``. Checked by the tests that compare executor runs with local runs."""


@dataclass
class _BatchOutcome:
    """What a (sub-)batch run returns: small and picklable, whatever ran it.

    ``suspect_seeds`` maps each probed circuit whose probe looked like a stabilizer
    state to the seed Aer gave it, so that it can be rerun transpiled.
    """

    counts: list[dict[str, int]]
    suspect_seeds: dict[int, int]
    metadata: Any


def _run_batch(
    simulator: Any,
    circuits: list[QuantumCircuit],
    shots: int,
    options: dict[str, Any],
    probed: Sequence[int],
) -> _BatchOutcome:
    """Run ``circuits`` in one Aer call; ``probed`` lists the indices carrying a probe."""
    result = simulator.run(circuits, shots=shots, **options).result()
    suspects = {i: result.results[i].seed_simulator for i in probed if not _probe_passed(result, i)}
    return _BatchOutcome(_all_counts(result, len(circuits)), suspects, result.metadata)


def _sub_batch_seed(seed: int, offset: int, stride: int) -> int:
    return (seed + offset * stride) % 2**64


def _executor_workers(executor: Any) -> int:
    """How many tasks ``executor`` runs at once (Dask client, or a concurrent.futures pool)."""
    nthreads = getattr(executor, "nthreads", None)
    if callable(nthreads):  # dask.distributed.Client
        try:
            return max(1, sum(nthreads().values()))
        except Exception:  # noqa: BLE001 - a client without workers yet; one task then
            return 1
    return max(1, int(getattr(executor, "_max_workers", 1) or 1))


class ParallelSimulatorExecutorError(QoroError, RuntimeError):
    """A sub-batch failed on the executor; no partial results are returned."""


# --- the runner ----------------------------------------------------------------------


def _default_n_processes() -> int:
    """Default parallelism: 2 off the main thread/process, else from the CPU count."""
    if (
        threading.current_thread() is not threading.main_thread()
        or current_process().name != "MainProcess"
    ):
        return 2
    cpu_count = os.cpu_count() or 4
    if cpu_count <= 4:
        return max(2, cpu_count - 1)
    if cpu_count <= 16:
        return cpu_count - 1
    return min(16, int(cpu_count * 0.75))


class _MissingCircuitsError(TypeError, ValueError):
    """Neither circuits nor precomputed durations were given (TypeError in v0.6.1, ValueError later)."""


class ParallelSimulator(CircuitRunner):
    """A parallel wrapper around Qiskit Aer's ``AerSimulator``.

    Args:
        n_processes: parallelism of the simulation (Aer threads, and parallel
            experiments or shots). Default: 2 when not on the main thread or in a
            child process, else ``max(2, cpus - 1)`` up to 4 CPUs, ``cpus - 1`` up to
            16, then ``min(16, int(0.75 * cpus))`` (divi's documented "half the cores"
            was never what it did).
        shots: shots per circuit.
        simulation_seed: seed of the simulator, for reproducible counts.
        qiskit_backend: a backend whose noise and constraints to simulate, or
            ``"auto"`` for a fake IBM backend chosen by qubit count (the last class of
            the smallest bucket of ``FAKE_BACKENDS`` that fits). None: noiseless.
        noise_model: an Aer noise model, ignored (with a warning) when a backend is given.
        _deterministic_execution: run each circuit on its own, all with the same seed.
        executor: keyword-only extension: a ``dask.distributed.Client`` or any
            ``concurrent.futures.Executor``. The batch is split into sub-batches of
            at most ``max_job_size`` circuits, each run on the executor (the
            simulator and the prepared circuits are shipped; counts come back).
            Results, in input order, equal the single-machine run's (same seed:
            same counts). Workers need ``qiskit-divi`` installed.
        max_job_size: keyword-only extension: circuits per sub-batch. Default with
            an executor: the batch split evenly over its worker threads; without
            one, no split (a value splits the local run too, bounding its memory).

    Raises:
        ValueError: ``shots <= 0``, ``n_processes < 1`` or ``max_job_size < 1``.
        TypeError: ``executor`` has no ``submit`` method.
    """

    def __init__(
        self,
        n_processes: int | None = None,
        shots: int = 5000,
        simulation_seed: int | None = None,
        qiskit_backend: Backend | Literal["auto"] | None = None,
        noise_model: NoiseModel | None = None,
        _deterministic_execution: bool = False,
        *,
        executor: Any | None = None,
        max_job_size: int | None = None,
    ):
        super().__init__(shots=shots)
        if max_job_size is not None and (
            isinstance(max_job_size, bool) or not isinstance(max_job_size, int) or max_job_size < 1
        ):
            raise ValueError(
                f"max_job_size must be a positive number of circuits or None, got {max_job_size!r}"
            )
        if executor is not None and not callable(getattr(executor, "submit", None)):
            raise TypeError(
                "executor must have a submit(fn, *args) method returning a future: a "
                f"concurrent.futures.Executor or a dask.distributed.Client, got {type(executor).__name__}"
            )
        self.executor = executor
        self.max_job_size = max_job_size
        if qiskit_backend and noise_model:
            warnings.warn(
                "Both `qiskit_backend` and `noise_model` have been provided."
                " `noise_model` will be ignored and the model from the backend will be used instead.",
                UserWarning,
                stacklevel=2,
            )
        if n_processes is None:
            n_processes = _default_n_processes()
        elif n_processes < 1:
            raise ValueError(f"n_processes must be >= 1, got {n_processes}")
        self._n_processes = n_processes
        self.simulation_seed = simulation_seed
        self.qiskit_backend = qiskit_backend
        self.noise_model = noise_model
        self._deterministic_execution = _deterministic_execution
        self._warned_batch_seeds = False

    def set_seed(self, seed: int) -> None:
        """Set the seed of the simulator's random number generator."""
        self.simulation_seed = seed

    @property
    def n_processes(self) -> int:
        """Parallelism of the simulation (>= 1)."""
        return self._n_processes

    @n_processes.setter
    def n_processes(self, value: int) -> None:
        if value < 1:
            raise ValueError(f"n_processes must be >= 1, got {value}")
        self._n_processes = value

    @property
    def supports_expval(self) -> bool:
        """False: this runner samples."""
        return False

    @property
    def is_async(self) -> bool:
        """False: results are returned directly."""
        return False

    # -- simulator selection --

    def _simulator_entry(self, circuits: Sequence[QuantumCircuit]) -> _SimulatorEntry:
        backend = self.qiskit_backend
        if isinstance(backend, str) and backend == "auto":
            widest = max(circuits, key=lambda circuit: circuit.num_qubits)
            classes = _find_best_fake_backend(widest)
            if classes is None:
                raise _no_fake_backend_error(widest.num_qubits)
            return _auto_entry(classes[-1])
        if backend is not None:
            return _SimulatorEntry(AerSimulator.from_backend(backend), noiseless=False)
        if self.noise_model is None:
            return _noiseless_entry()
        return _SimulatorEntry(AerSimulator(noise_model=self.noise_model), noiseless=False)

    def _run_options(self, num_circuits: int) -> dict[str, Any]:
        """Aer options of a batched run (the reference's ``set_options`` calls)."""
        options: dict[str, Any] = {}
        if self.simulation_seed is not None:
            options["seed_simulator"] = self.simulation_seed
        n = self._n_processes
        options["max_parallel_threads"] = n
        if num_circuits > 1:
            options.update(max_parallel_experiments=min(num_circuits, n), max_parallel_shots=1)
        elif self.shots >= n:
            options.update(max_parallel_experiments=1, max_parallel_shots=n)
        else:
            options.update(max_parallel_experiments=1, max_parallel_shots=1)
        return options

    # -- preparation --

    def _transpile_options(self) -> dict[str, Any]:
        """Serial, and seeded by ``simulation_seed`` when set: the stochastic layout
        passes then give the same circuits (hence the same counts) on every run."""
        options: dict[str, Any] = {"num_processes": 1}
        if self.simulation_seed is not None:
            options["seed_transpiler"] = self.simulation_seed
        return options

    def _prepare(
        self, qasm_strings: Sequence[str], entry: _SimulatorEntry, parsed: dict[str, ShapedCircuit]
    ) -> list[_Prepared]:
        """One prepared circuit per distinct QASM text: cached, or parsed and transpiled if needed.

        ``parsed`` holds circuits already parsed from their QASM text. Texts of one
        shape share their skeleton's skip verdict and, when transpilation is skipped,
        its probed copy, which each text then binds to its own angles.
        """
        prepared: dict[str, _Prepared] = {}
        to_transpile: dict[str, QuantumCircuit] = {}
        plans: dict[int, tuple[QuantumCircuit, _SkipPlan | None, QuantumCircuit | None]] = {}
        for qasm in qasm_strings:
            if qasm in prepared or qasm in to_transpile:
                continue
            cached = entry.get(qasm, self.simulation_seed)
            if cached is not None:
                prepared[qasm] = cached
                continue
            shaped = parsed.get(qasm) or _shapes.parse(qasm)
            skeleton = shaped.skeleton
            known = plans.get(
                id(skeleton)
            )  # holds the skeleton, so its id stays unique in this call
            if known is None:
                plan = _structural_verdict(skeleton, entry)
                probed = None if plan is None else _with_probe(skeleton.copy(), plan.probe_qubits)
                known = plans[id(skeleton)] = (skeleton, plan, probed)
            _, plan, probed = known
            circuit = shaped.bound()
            probe_qubits = _confirmed_skip(plan, circuit, entry)
            if probe_qubits is None:
                to_transpile[qasm] = circuit
            else:
                item = prepared[qasm] = _Prepared(
                    ShapedCircuit(probed, shaped.values).bound(), probe_qubits
                )
                entry.put(qasm, self.simulation_seed, item)
        if to_transpile:
            transpiled = transpile(
                list(to_transpile.values()), entry.simulator, **self._transpile_options()
            )
            if isinstance(transpiled, QuantumCircuit):
                transpiled = [transpiled]
            for qasm, circuit in zip(to_transpile, transpiled):
                item = prepared[qasm] = _Prepared(circuit)
                entry.put(qasm, self.simulation_seed, item)
        return [prepared[qasm] for qasm in qasm_strings]

    # -- execution --

    def _counts_of(
        self,
        qasm_strings: list[str],
        prepared: list[_Prepared],
        entry: _SimulatorEntry,
        options: dict[str, Any],
        seed_stride: int = _AER_SEED_STRIDE,
        job_size: int | None = None,
    ) -> list[dict[str, int]]:
        """Run the prepared circuits in one batch and return their counts, in order.

        With an executor or a job size (``job_size``, else ``max_job_size``), the
        batch runs as sub-batches whose seeds are moved by ``offset * seed_stride``
        (``0``: every circuit gets the seed itself, as in deterministic mode).

        A circuit whose probe looks like a stabilizer state is transpiled (all such
        circuits in one ``transpile`` call) and run again alone with the seed Aer gave
        it in the batch, which reproduces what the batch would have sampled.
        """
        circuits = [item.circuit for item in prepared]
        probed = [i for i, item in enumerate(prepared) if item.probe_qubits is not None]
        job_size = job_size or self.max_job_size
        if self.executor is None and job_size is None:
            outcome = _run_batch(entry.simulator, circuits, self.shots, options, probed)
        else:
            outcome = self._run_sub_batches(
                entry.simulator, circuits, options, probed, seed_stride, job_size
            )
        if not self._deterministic_execution:
            self._warn_if_nondeterministic(outcome.metadata)
        counts = outcome.counts
        suspects = sorted(outcome.suspect_seeds)
        if suspects:
            logger.debug(
                "Running the transpiled copies of %d Clifford-looking circuits.", len(suspects)
            )
            texts = list(dict.fromkeys(qasm_strings[i] for i in suspects))
            transpiled = transpile(
                [_shapes.parse(text).bound() for text in texts],
                entry.simulator,
                **self._transpile_options(),
            )
            by_text = dict(zip(texts, transpiled))
            for text, circuit in by_text.items():
                entry.put(text, self.simulation_seed, _Prepared(circuit))
            for i in suspects:
                rerun_options = dict(options, seed_simulator=outcome.suspect_seeds[i])
                rerun = entry.simulator.run(
                    [by_text[qasm_strings[i]]], shots=self.shots, **rerun_options
                )
                counts[i] = _all_counts(rerun.result(), 1)[0]
        return counts

    def _run_sub_batches(
        self,
        simulator: Any,
        circuits: list[QuantumCircuit],
        options: dict[str, Any],
        probed: list[int],
        seed_stride: int,
        size: int | None,
    ) -> _BatchOutcome:
        """Split the batch, run the parts (on the executor if any) and join them in order."""
        if size is None:
            workers = _executor_workers(self.executor)
            size = -(-len(circuits) // workers)
        starts = range(0, len(circuits), size)
        calls = []
        for start in starts:
            part_options = dict(options)
            if "seed_simulator" in options:
                part_options["seed_simulator"] = _sub_batch_seed(
                    options["seed_simulator"], start, seed_stride
                )
            part_probed = [i - start for i in probed if start <= i < start + size]
            calls.append(
                (simulator, circuits[start : start + size], self.shots, part_options, part_probed)
            )
        logger.debug(
            "Running %d circuits as %d sub-batches of at most %d", len(circuits), len(calls), size
        )
        if self.executor is None:
            parts = [_run_batch(*call) for call in calls]
        else:
            parts = self._gather(
                [self.executor.submit(_run_batch, *call) for call in calls], list(starts), size
            )
        counts: list[dict[str, int]] = []
        suspect_seeds: dict[int, int] = {}
        for start, part in zip(starts, parts):
            counts.extend(part.counts)
            suspect_seeds.update({start + i: seed for i, seed in part.suspect_seeds.items()})
        metadata = {
            "parallel_experiments": max(
                part.metadata.get("parallel_experiments", 1) for part in parts
            ),
            "omp_nested": any(part.metadata.get("omp_nested", False) for part in parts),
        }
        return _BatchOutcome(counts, suspect_seeds, metadata)

    @staticmethod
    def _gather(futures: list[Any], starts: list[int], size: int) -> list[_BatchOutcome]:
        """Every sub-batch's outcome, in order; the first failure cancels the rest and raises."""
        parts = []
        for index, future in enumerate(futures):
            try:
                parts.append(future.result())
            except BaseException as exc:
                for pending in futures[index + 1 :]:
                    pending.cancel()
                first = starts[index]
                raise ParallelSimulatorExecutorError(
                    f"Sub-batch {index + 1} of {len(futures)} (circuits {first} to {first + size - 1}) "
                    f"failed on the executor: {type(exc).__name__}: {exc}. No results were returned; "
                    "check the workers (logs, memory) and submit the circuits again."
                ) from exc
        return parts

    def _warn_if_nondeterministic(self, metadata: Any) -> None:
        """Say once per simulator what a seed does and does not fix (divi logs this warning).

        What it says is pinned by tests: the counts of a seeded batch do not depend on
        the parallelism, but each circuit's seed comes from its position in the batch.
        """
        parallel_experiments = metadata.get("parallel_experiments", 1)
        if self._warned_batch_seeds or self.simulation_seed is None:
            return
        if parallel_experiments > 1:
            self._warned_batch_seeds = True
            omp_nested = metadata.get("omp_nested", False)
            # One pre-formatted argument: divi's tests read the text from the call's first argument.
            message = (
                f"Parallel execution detected (parallel_experiments={parallel_experiments}, "
                f"omp_nested={omp_nested}). Seeded counts are reproducible: the same circuits in the "
                "same order with the same simulation_seed give the same counts, whatever n_processes, "
                "executor or max_job_size. But a circuit's counts may not be deterministic across "
                "different grouping strategies: Aer seeds each circuit from its position in the batch, "
                "so they change when it is batched with other circuits or in another order. For counts "
                "that depend only on the circuit and the seed, pass _deterministic_execution=True (one "
                "run per circuit). Logged once per ParallelSimulator."
            )
            logger.warning(message)

    def submit_circuits(self, circuits: dict[str, str]) -> ExecutionResult:
        """Simulate ``{label: OpenQASM 2 string}`` circuits and return their counts.

        Returns:
            ``ExecutionResult(results=[{"label": label, "results": counts}, ...])`` in
            the input order; counts keys are Qiskit's (classical bit 0 rightmost,
            registers separated by spaces). An empty dict gives ``results=[]`` (divi
            v0.6.1 failed inside Aer or Python instead).

        With ``simulation_seed`` set, noiseless counts are those of
        ``AerSimulator().run(transpile(circuits, simulator), seed_simulator=seed, ...)``
        with the same parallelism options, also when transpilation is skipped: the
        skipped transpilation could only have changed the simulated state by
        floating-point rounding, which moves a sampled outcome only if a random draw
        lands within about 1e-15 of a cumulative-probability boundary.

        Raises:
            qiskit.qasm2.QASM2ParseError: a circuit is not valid OpenQASM 2.
            ValueError: ``"auto"`` and a circuit wider than 27 qubits.
        """
        labels = list(circuits)
        if not labels:
            return ExecutionResult(results=[])
        qasm_strings = list(circuits.values())
        logger.debug("Simulating %d circuits with %d processes", len(labels), self._n_processes)

        parsed: dict[str, ShapedCircuit] = {}
        if isinstance(self.qiskit_backend, str) and self.qiskit_backend == "auto":
            # The fake backend depends on the widest circuit, so every circuit is parsed first.
            parsed = {qasm: _shapes.parse(qasm) for qasm in qasm_strings}
        entry = self._simulator_entry([shaped.skeleton for shaped in parsed.values()])
        prepared = self._prepare(qasm_strings, entry, parsed)

        if self._deterministic_execution:  # each circuit alone, every one with the seed itself
            seed_options = (
                {} if self.simulation_seed is None else {"seed_simulator": self.simulation_seed}
            )
            counts = self._counts_of(
                qasm_strings, prepared, entry, seed_options, seed_stride=0, job_size=1
            )
        else:
            counts = self._counts_of(qasm_strings, prepared, entry, self._run_options(len(labels)))
        return ExecutionResult(
            results=[{"label": label, "results": c} for label, c in zip(labels, counts)]
        )

    # -- run-time estimates --

    @staticmethod
    def estimate_run_time_single_circuit(
        circuit: str,
        qiskit_backend: Backend | Literal["auto"],
        **transpilation_kwargs,
    ) -> float:
        """Estimated execution time, in seconds, of one circuit on a backend.

        The circuit is transpiled for the backend (``"auto"``: the fake backend for
        its width) and the backend's instruction durations are summed along the
        DAG path with the most nodes. Instructions without a known duration are
        skipped with a warning (barriers silently).
        """
        qiskit_circuit = _parse_qasm(circuit)
        if isinstance(qiskit_backend, str) and qiskit_backend == "auto":
            classes = _find_best_fake_backend(qiskit_circuit)
            if not classes:
                raise _no_fake_backend_error(qiskit_circuit.num_qubits)
            backend = _auto_backend_instance(classes[-1])
        else:
            backend = qiskit_backend
        transpiled = transpile(qiskit_circuit, backend, **transpilation_kwargs)
        durations = backend.target.durations()
        dag = circuit_to_dag(transpiled)
        total = 0.0
        for node in dag.longest_path():
            if not isinstance(node, DAGOpNode) or not node.num_qubits:
                continue
            try:
                qubits = tuple(dag.find_bit(q).index for q in node.qargs)
                total += durations.get(node.name, qubits, unit="s")
            except TranspilerError:
                if node.name != "barrier":
                    warnings.warn(f"Instruction duration not found: {node.name}", stacklevel=2)
        return total

    @staticmethod
    def estimate_run_time_batch(
        circuits: list[str] | None = None,
        precomputed_durations: list[float] | None = None,
        n_qpus: int = 5,
        **transpilation_kwargs,
    ) -> float:
        """Estimated time, in seconds, to run a batch of circuits on ``n_qpus`` QPUs.

        Durations are ``precomputed_durations`` if given, else estimated per circuit
        with ``qiskit_backend="auto"``. They are scheduled longest first on the
        least loaded QPU (LPT) and the makespan is returned; with at least as many
        QPUs as circuits, the longest duration (0.0 for none).

        Raises:
            TypeError: neither ``circuits`` nor ``precomputed_durations`` given (the
                exception is also a ``ValueError``).
            IndexError: ``n_qpus <= 0`` with durations to schedule.
        """
        if precomputed_durations is None:
            if circuits is None:
                raise _MissingCircuitsError("Provide either circuits or precomputed_durations.")
            estimate = partial(
                ParallelSimulator.estimate_run_time_single_circuit,
                qiskit_backend="auto",
                **transpilation_kwargs,
            )
            circuits = list(circuits)
            if len(circuits) >= _PARALLEL_ESTIMATE_THRESHOLD and (os.cpu_count() or 1) > 1:
                from qiskit.utils import parallel_map

                durations = parallel_map(_estimate_auto, circuits, task_kwargs=transpilation_kwargs)
            else:
                durations = [estimate(circuit) for circuit in circuits]
        else:
            durations = list(precomputed_durations)
        durations.sort(reverse=True)
        if n_qpus >= len(durations):
            return float(durations[0]) if durations else 0.0
        finish_times = [0.0] * n_qpus
        for duration in durations:
            heapq.heappush(finish_times, heapq.heappop(finish_times) + duration)
        return max(finish_times)


_PARALLEL_ESTIMATE_THRESHOLD = 64
"""From this many circuits, ``estimate_run_time_batch`` hands them to ``qiskit.utils.parallel_map``
(worker processes when Qiskit's parallel settings allow; smaller batches are estimated
in this process, reusing the cached fake backends)."""


def _estimate_auto(circuit: str, **transpilation_kwargs) -> float:
    return ParallelSimulator.estimate_run_time_single_circuit(
        circuit, "auto", **transpilation_kwargs
    )
