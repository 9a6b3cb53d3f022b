"""What ``ParallelSimulator`` relies on in Qiskit and Aer beyond their documented API.

Each item below is a behaviour of a dependency, not a promise it makes; each has a
canary test in ``tests/backends/parallel_simulator/test_internals.py`` that fails when
an upgrade changes it (against exact references where results are involved):

* :data:`AER_SEED_STRIDE`: Aer seeds experiment ``i`` of a batch with
  ``seed_simulator + i * 2113`` (mod 2**64), and reports that seed per experiment;
  running a circuit alone with that seed reproduces what it drew in the batch
  (:func:`aer_seed`: the range ``seed_simulator`` accepts).
* :class:`InitStage`: the ``init`` stage of the level-2 preset pass manager
  (:func:`qiskit.transpile`'s default level) records a qubit relabelling it makes (an
  elided swap, or a two-qubit block equivalent to one) in its property set, under one
  of :data:`PERMUTATION_LAYOUT_KEYS`.
* :data:`STABILIZER_GATES`: Aer's automatic method picks ``stabilizer`` only for
  circuits made of these gates (``statevector`` for a noiseless circuit with any other
  gate), and :data:`PERMUTATION_GATES` are what the transpiler elides by relabelling.
* :func:`with_probe` / :func:`probe_probabilities`: a ``SaveProbabilities`` inserted
  before the measurements leaves the sampled counts unchanged under a seed.
* :func:`all_counts`: Aer's raw counts are hexadecimal and its experiment headers carry
  ``memory_slots`` and ``creg_sizes``, from which ``Result.get_counts`` formats keys.
* :func:`executor_workers`: ``concurrent.futures`` pools keep their size in
  ``_max_workers``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import CircuitInstruction
from qiskit.exceptions import QiskitError
from qiskit.result import Result
from qiskit_aer.library import SaveProbabilities

# --- seeds ------------------------------------------------------------------------------

AER_SEED_STRIDE = 2113
"""The difference between the seeds Aer gives two consecutive experiments of a batch."""


def aer_seed(seed: int) -> int:
    """``seed`` as the signed 64-bit integer Aer accepts for the same unsigned seed.

    Aer seeds are unsigned 64-bit, and it reports them so, but ``seed_simulator`` only
    takes values up to ``2**63 - 1`` (a negative value is read modulo ``2**64``).
    """
    value = seed % 2**64
    return value - 2**64 if value >= 2**63 else value


def sub_batch_seed(seed: int, offset: int, stride: int = AER_SEED_STRIDE) -> int:
    """The seed that makes a sub-batch starting at ``offset`` draw what it drew in the batch."""
    return aer_seed(seed + offset * stride)


def experiment_seed(result: Any, index: int) -> int:
    """The seed Aer used for experiment ``index`` of ``result``, as ``seed_simulator`` takes it."""
    return aer_seed(int(result.results[index].seed_simulator))


# --- the transpiler's init stage --------------------------------------------------------

TRANSPILE_OPTIMIZATION_LEVEL = 2
"""The optimisation level :func:`qiskit.transpile` uses when none is given."""
VIRTUAL_PERMUTATION_LAYOUT = "virtual_permutation_layout"
"""The property-set key under which the eliding passes record the qubits they relabelled."""
PERMUTATION_LAYOUT_KEYS = (VIRTUAL_PERMUTATION_LAYOUT, "final_layout")
"""Where a relabelling is found once the stage has run: the passes write
:data:`VIRTUAL_PERMUTATION_LAYOUT`, and Qiskit 2.6's pass manager folds it into
``final_layout`` when the run ends (so reading the first key alone finds nothing)."""


class InitStage:
    """The ``init`` stage of ``transpile(circuit, simulator)``, built on first use."""

    def __init__(self, simulator: Any):
        self._simulator = simulator
        self._stage: Any = None
        self._lock = threading.Lock()

    def permutes(self, circuit: QuantumCircuit) -> bool:
        """Whether the stage relabels the qubits of ``circuit`` (e.g. by eliding a swap)."""
        with self._lock:
            if self._stage is None:
                from qiskit.transpiler import generate_preset_pass_manager

                self._stage = generate_preset_pass_manager(
                    optimization_level=TRANSPILE_OPTIMIZATION_LEVEL, backend=self._simulator
                ).init
            self._stage.run(circuit)
            properties = self._stage.property_set
            return any(properties[key] is not None for key in PERMUTATION_LAYOUT_KEYS)


# --- Aer's choice of method, the transpiler's elisions ----------------------------------

STABILIZER_GATES = frozenset(
    {"cx", "cy", "cz", "ecr", "h", "id", "pauli", "rz", "s", "sdg", "swap", "sx", "sxdg"}
    | {"x", "y", "z"}
)
"""Gates Aer's stabilizer method runs: a circuit made of these only may be simulated as
Clifford (Aer also looks at the angles of ``rz``)."""
PERMUTATION_GATES = frozenset({"swap", "permutation"})
"""Gates the transpiler removes by relabelling qubits (which changes Aer's sampling order)."""


# --- the Clifford probe -----------------------------------------------------------------

PROBE_LABEL = "_qiskit_divi_clifford_probe"
_probes: dict[int, SaveProbabilities] = {}


def with_probe(circuit: QuantumCircuit, qubits: tuple[int, ...]) -> QuantumCircuit:
    """``circuit`` (modified) with a ``SaveProbabilities`` on ``qubits`` before its first
    measurement."""
    probe = _probes.get(len(qubits))
    if probe is None:
        probe = _probes.setdefault(len(qubits), SaveProbabilities(len(qubits), label=PROBE_LABEL))
    position = next(i for i, inst in enumerate(circuit.data) if inst.name == "measure")
    circuit.data.insert(
        position, CircuitInstruction(probe, tuple(circuit.qubits[q] for q in qubits))
    )
    return circuit


def probe_probabilities(result: Any, index: int) -> np.ndarray | None:
    """The probe's marginal distribution in experiment ``index``, None without probe data."""
    try:
        return np.asarray(result.data(index)[PROBE_LABEL], dtype=float)
    except (KeyError, IndexError, AttributeError, QiskitError):
        return None


# --- counts -----------------------------------------------------------------------------


def _binary(key: str) -> str:
    return bin(int(key, 16))[2:]


def _counts_formatter(header: Any) -> tuple[Hashable, Callable[[str], str]]:
    """Key and function turning Aer's hex outcomes into ``Result.get_counts`` keys."""
    if not header:
        return None, _binary
    memory_slots = header.get("memory_slots")
    creg_sizes = header.get("creg_sizes")
    if not memory_slots:
        return None, _binary
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


def all_counts(result: Any, count: int) -> list[dict[str, int]]:
    """``dict(result.get_counts(i))`` for every experiment, without Qiskit's per-key cost."""
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


# --- executors --------------------------------------------------------------------------


def executor_workers(executor: Any) -> int:
    """How many tasks ``executor`` runs at once (Dask client, or a concurrent.futures pool)."""
    nthreads = getattr(executor, "nthreads", None)
    if callable(nthreads):  # dask.distributed.Client
        try:
            return max(1, int(sum(nthreads().values())))
        except Exception:  # a client without workers yet: one task then
            return 1
    return max(1, int(getattr(executor, "_max_workers", 1) or 1))
