"""Circuit cutting for :class:`~qiskit_divi.EstimatorV2` (the ``cutting`` extra).

A PUB whose circuit is wider than the backend, or than the ``cutting_max_qubits`` option
when it is set, is cut into pieces no wider than that limit with qiskit-addon-cutting
(``pip install "qiskit-divi[cutting]"``):

1. **Cuts.** Barriers are removed and gates on three or more qubits decomposed (the cut
   finder takes one- and two-qubit gates). ``find_cuts`` (gate and wire cuts, a fixed seed,
   its search stopped once the overhead passes ``cutting_max_overhead``) chooses the cuts on
   the circuit bound to the PUB's first binding; every binding is cut at the same places
   (the decomposition of a cut parametric gate depends on its angle, so each binding gets
   its own coefficients).
2. **Sub-experiments.** The exact quasi-probability decomposition (every term, exact
   weights: nothing is sampled) for the union of the PUB's Pauli terms: one circuit per
   (sample, piece, measurement group), its clbits on one register ``c`` (the group's
   observable bits, then the QPD measurement bits), transpiled to the backend's
   ``Target`` (optimization level 1).
3. **Shots.** Uncut, a PUB at precision ``p`` gets ``shots0 = ceil(1 / p**2)`` shots per
   circuit (``ceil((norm / p)**2)`` with ``scale_shots_by_norm``). Cut, it gets
   ``N = ceil(overhead * shots0)`` per piece and group, split over the samples in
   proportion to ``|coefficient|``: ``n_i = ceil(N * |c_i| / sum |c|)``. For a fixed total
   that allocation minimises the variance ``sum c_i**2 * var_i / n_i``, and bounds it by
   ``(sum |c|)**2 / N = 1 / shots0``: each Pauli term is as precise as uncut, at
   ``overhead`` times the shots.
4. **One job.** Every sub-experiment of a call travels in ONE Qoro sampling job, with
   ``shot_groups`` when the shots differ (circuits ordered by shots, so runs of equal shots
   share a group). The call's uncut PUBs travel as they would without cutting, in their own
   job(s).
5. **Values** are reconstructed, with standard deviations, by
   :mod:`qiskit_divi.primitives.cut_reconstruction`.

Refused before any job (:class:`~qiskit_divi.api.errors.QoroInputError`, or
:class:`~qiskit_divi.api.errors.QoroConfigurationError` when the extra is missing): an
overhead above ``cutting_max_overhead`` (default 1e4), a piece wider than the limit (the
cut finder can plan wire cuts that reuse a qubit, which sub-experiments cannot), a sample
needing more than ``MAX_SHOTS`` shots. :meth:`EstimatorV2.plan_cuts` shows each PUB's cost
(:class:`CutReport`) without sending anything.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import CircuitInstruction, ClassicalRegister, QuantumRegister
from qiskit.converters import circuit_to_dag, dag_to_circuit
from qiskit.exceptions import QiskitError
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.quantum_info import PauliList
from qiskit.transpiler import PassManager
from qiskit.transpiler.passes import RemoveBarriers, Unroll3qOrMore

from ..api.errors import QoroConfigurationError, QoroError, QoroInputError
from ..api.submission import MAX_SHOTS
from .payloads import Cut, CutGroup, CutPiece, CutSamples, CuttingPlan, cut_label

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "qiskit-divi[cutting]"'
FINDER_SEED = 111
"""The cut finder's seed: the same PUB is always cut the same way."""
FINDER_BACKJUMPS = 1000
"""The cut finder's search budget (its default is 10000): a hostile PUB costs seconds, not
minutes, and the circuits measured found the same overhead (``benchmarks/RESULTS.md``)."""
MAX_SUBEXPERIMENTS = 20_000
"""The most sub-experiments one estimator call may send (all its cut PUBs and bindings):
each is a circuit held in memory and uploaded; split larger sweeps over several calls."""
OBSERVABLE_REGISTER = "observable_measurements"
QPD_REGISTER = "qpd_measurements"


def addon() -> Any:
    """The ``qiskit_addon_cutting`` module, else a :class:`QoroConfigurationError` that
    names the extra."""
    try:
        return importlib.import_module("qiskit_addon_cutting")
    except ImportError:
        raise QoroConfigurationError(
            "A PUB is wider than its pieces may be, which needs circuit cutting, and "
            f"qiskit-addon-cutting is not installed: install the extra with `{INSTALL_HINT}`, "
            "or keep each PUB within the limit."
        ) from None


def piece_limit(num_qubits: int, backend_width: int, max_qubits: int | None) -> int | None:
    """The widest piece a PUB of ``num_qubits`` qubits is cut into, or None when it needs
    no cut (it fits the backend and ``max_qubits``)."""
    limit = backend_width if max_qubits is None else min(backend_width, max_qubits)
    return limit if num_qubits > limit else None


@dataclass(frozen=True)
class CutReport:
    """What cutting one PUB costs (:meth:`EstimatorV2.plan_cuts`); nothing is sent.

    A PUB that needs no cut has ``max_qubits`` None, no cuts, overhead 1 and no
    sub-experiments. ``refused`` says why ``run`` would refuse the PUB (None: it runs);
    ``shots`` is None for a refused PUB (its sub-experiments are not generated).
    """

    pub: int
    num_qubits: int
    max_qubits: int | None
    cuts: tuple[Cut, ...] = ()
    sampling_overhead: float = 1.0
    num_subexperiments: int = 0
    shots: int | None = None
    piece_widths: tuple[int, ...] = ()
    refused: str | None = None

    @classmethod
    def of(cls, pub: int, num_qubits: int, plan: CuttingPlan) -> CutReport:
        """The report of a PUB cut as ``plan`` says (it runs)."""
        return cls(
            pub,
            num_qubits,
            plan.max_qubits,
            plan.cuts,
            plan.sampling_overhead,
            plan.num_subexperiments,
            plan.shots,
            tuple(piece.width for piece in plan.pieces),
        )

    @property
    def needs_cutting(self) -> bool:
        return self.max_qubits is not None

    def metadata(self) -> dict[str, Any]:
        """The PUB result's ``metadata["cutting"]``."""
        return {
            "max_qubits": self.max_qubits,
            "cuts": [cut.to_json() for cut in self.cuts],
            "sampling_overhead": self.sampling_overhead,
            "num_subexperiments": self.num_subexperiments,
            "shots": self.shots,
            "piece_widths": list(self.piece_widths),
        }

    def __str__(self) -> str:
        head = f"PUB {self.pub}: {self.num_qubits} qubits"
        if not self.needs_cutting:
            return f"{head}, no cut needed"
        kinds = [cut.kind for cut in self.cuts]
        cuts = ", ".join(
            f"{n} {kind} cut{'s' if n > 1 else ''}"
            for kind in ("gate", "wire")
            if (n := kinds.count(kind))
        )
        text = (
            f"{head} into pieces of at most {self.max_qubits} "
            f"({'+'.join(map(str, self.piece_widths))}): {cuts or 'no cuts'}, sampling "
            f"overhead {self.sampling_overhead:,.6g}, {self.num_subexperiments:,} sub-experiments"
        )
        if self.shots is not None:
            text += f", {self.shots:,} shots"
        return text + (f"; refused: {self.refused}" if self.refused else "")


@dataclass(frozen=True)
class CutPub:
    """A cut PUB ready to send: its payload plan and its sub-experiments (label, circuit
    before transpilation, shots)."""

    plan: CuttingPlan
    circuits: tuple[tuple[str, QuantumCircuit, int], ...]


@dataclass(frozen=True)
class _Layout:
    """Where a PUB's circuit is cut: gate cuts by instruction index, wire cuts by their
    position in the cut circuit (ascending) and qubit."""

    gate_ids: tuple[int, ...]
    wires: tuple[tuple[int, int], ...]
    cuts: tuple[Cut, ...]
    overhead: float
    minimum_reached: bool


def cuttable(template: QuantumCircuit) -> QuantumCircuit:
    """``template`` as the cut finder takes it: no barriers, no gates on 3+ qubits."""
    return PassManager([RemoveBarriers(), Unroll3qOrMore()]).run(template)


def binding_rows(template: QuantumCircuit, bindings: BindingsArray, index: int) -> np.ndarray:
    """The parameter values of every binding (flat, C order), columns in
    ``template.parameters`` order; refuses non-finite values."""
    if not template.parameters:
        return np.zeros((bindings.size, 0))
    rows = bindings.as_array(template.parameters).reshape(-1, template.num_parameters)
    if not np.isfinite(rows).all():
        raise QoroInputError(
            f"PUB {index}: a parameter value is not finite, so its circuit cannot be bound and "
            "cut. Pass finite parameter values."
        )
    return np.asarray(rows, dtype=float)


def find_layout(
    circuit: QuantumCircuit, limit: int, max_overhead: float, qubits: Sequence[int] | None = None
) -> _Layout:
    """Cut locations of the bound ``circuit`` into pieces of at most ``limit`` qubits;
    ``qubits[q]`` names circuit qubit ``q`` in the reported cuts (default: ``q``)."""
    cutting = addon()
    cut_circuit, found = cutting.find_cuts(
        circuit,
        cutting.OptimizationParameters(
            seed=FINDER_SEED, max_gamma=math.sqrt(max_overhead), max_backjumps=FINDER_BACKJUMPS
        ),
        cutting.DeviceConstraints(qubits_per_subcircuit=limit),
    )
    gate_ids: list[int] = []
    wires: list[tuple[int, int]] = []
    cuts: list[Cut] = []
    for position, instruction in enumerate(cut_circuit.data):
        name = instruction.operation.name
        if name not in ("cut_wire", "qpd_2q"):
            continue
        # find_cuts inserts each wire cut before the instruction it precedes, in order.
        index = position - len(wires)
        original = circuit.data[index]
        on = tuple(cut_circuit.find_bit(q).index for q in instruction.qubits)
        named = on if qubits is None else tuple(qubits[q] for q in on)
        if name == "cut_wire":
            wires.append((position, on[0]))
            cuts.append(Cut("wire", original.operation.name, named, index))
        else:
            gate_ids.append(index)
            cuts.append(Cut("gate", original.operation.name, named, index))
    return _Layout(
        tuple(gate_ids),
        tuple(wires),
        tuple(cuts),
        float(found["sampling_overhead"]),
        bool(found["minimum_reached"]),
    )


def apply_layout(circuit: QuantumCircuit, layout: _Layout) -> QuantumCircuit:
    """The bound ``circuit`` cut as ``layout`` says (what ``find_cuts`` returns for it)."""
    cutting = addon()
    wire = importlib.import_module("qiskit_addon_cutting.instructions").CutWire
    cut = cutting.cut_gates(circuit, list(layout.gate_ids))[0]
    for position, qubit in layout.wires:
        cut.data.insert(position, CircuitInstruction(wire(), (cut.qubits[qubit],), ()))
    return cut


def _without_idle_qubits(circuit: QuantumCircuit) -> tuple[QuantumCircuit, tuple[int, ...]]:
    """``circuit`` without the qubits no instruction touches, and the indices of those kept."""
    dag = circuit_to_dag(circuit)
    idle = set(dag.idle_wires()) & set(circuit.qubits)
    kept = tuple(q for q, bit in enumerate(circuit.qubits) if bit not in idle)
    dag.remove_qubits(*(bit for bit in circuit.qubits if bit in idle))
    return dag_to_circuit(dag), kept


@dataclass(frozen=True)
class _Problem:
    """One binding's circuit cut and separated into pieces (sorted by label), with the
    pieces' observables aligned with the PUB's terms."""

    problem: Any
    labels: tuple[Any, ...]

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(int(self.problem.subcircuits[label].num_qubits) for label in self.labels)


def _separate(bound: QuantumCircuit, layout: _Layout, terms: Sequence[str]) -> _Problem:
    cutting = addon()
    wired = cutting.cut_wires(apply_layout(bound, layout))
    expanded = cutting.expand_observables(PauliList(list(terms)), bound, wired)
    problem = cutting.partition_problem(circuit=wired, observables=expanded)
    return _Problem(problem, tuple(sorted(problem.subcircuits)))


def _pieces(separated: _Problem) -> tuple[CutPiece, ...]:
    grouping = importlib.import_module("qiskit_addon_cutting.utils.observable_grouping")
    pieces = []
    for label in separated.labels:
        observables = separated.problem.subobservables[label]
        collection = grouping.ObservableCollection(observables)
        groups = tuple(
            CutGroup(
                # An identity-only group still gets one (ignored) observable bit: the library
                # measures qubit 0 then (qiskit-addon-cutting issue 422).
                len(group.pauli_indices) or 1,
                tuple(
                    tuple(bit for bit in range(len(group.pauli_indices)) if mask >> bit & 1)
                    for mask in group.pauli_bitmasks
                ),
            )
            for group in collection.groups
        )
        lookup = tuple(
            tuple((int(g), int(o)) for g, o in collection.lookup[observable])
            for observable in observables
        )
        width = int(separated.problem.subcircuits[label].num_qubits)
        pieces.append(CutPiece(width, groups, lookup))
    return tuple(pieces)


def _samples_count(separated: _Problem) -> int:
    """How many samples the exact decomposition has (without generating them)."""
    return math.prod(sum(1 for c in basis.coeffs if c != 0) for basis in separated.problem.bases)


def one_register(circuit: QuantumCircuit, observable_bits: int) -> tuple[QuantumCircuit, int]:
    """A sub-experiment with its clbits on one register ``c`` (observable bits first, then
    the QPD bits) and the number of QPD bits."""
    registers = {register.name: register for register in circuit.cregs}
    observable = list(registers.get(OBSERVABLE_REGISTER, ()))
    qpd = list(registers.get(QPD_REGISTER, ()))
    order = {bit: position for position, bit in enumerate(observable + qpd)}
    if len(order) != circuit.num_clbits or len(observable) != observable_bits:
        # The reconstruction reads the bits as qiskit-addon-cutting 0.10 lays them out.
        raise QoroConfigurationError(
            f"qiskit-addon-cutting wrote a sub-experiment of circuit '{circuit.name}' with "
            f"classical registers {[(r.name, r.size) for r in circuit.cregs]}, not the layout "
            f"this version of qiskit_divi reads ({observable_bits} bits in "
            f"'{OBSERVABLE_REGISTER}', then '{QPD_REGISTER}'). Install the versions the "
            f"extra pins: `{INSTALL_HINT}`."
        )
    out = QuantumCircuit(
        QuantumRegister(circuit.num_qubits, "q"),
        ClassicalRegister(len(order), "c"),
        name=circuit.name,
    )
    out.compose(
        circuit,
        qubits=range(circuit.num_qubits),
        clbits=[order[b] for b in circuit.clbits],
        inplace=True,
    )
    return out, len(qpd)


@dataclass(frozen=True)
class _Assessment:
    """What :meth:`PubCutter._assess` found: the first binding's cuts and pieces, how many
    sub-experiments the PUB needs, and why it cannot run (None: it can)."""

    layout: _Layout
    first: _Problem
    pieces: tuple[CutPiece, ...]
    count: int
    refused: str | None


@contextlib.contextmanager
def _cutting_errors(index: int) -> Iterator[None]:
    """The errors of the transpiler passes and of qiskit-addon-cutting as a
    :class:`QoroInputError` naming PUB ``index`` (ours pass through)."""
    try:
        yield
    except QoroError:
        raise
    except (QiskitError, ValueError) as exc:
        raise QoroInputError(
            f"PUB {index}: its circuit cannot be cut ({type(exc).__name__}: {exc}). Circuits "
            "to cut may hold gates that decompose into one- and two-qubit gates, and resets."
        ) from exc


class PubCutter:
    """Cuts one estimator PUB (see the module docstring); nothing is sent."""

    def __init__(
        self,
        index: int,
        template: QuantumCircuit,
        bindings: BindingsArray,
        terms: Sequence[str],
        limit: int,
        max_overhead: float,
    ) -> None:
        self.index = index
        self.template = template
        self.limit = limit
        self.max_overhead = max_overhead
        if "delay" in template.count_ops():
            raise QoroInputError(
                f"PUB {index}: its circuit '{template.name}' contains a delay, which OpenQASM 2 "
                "cannot carry, so its sub-experiments could not either. Remove the delays."
            )
        with _cutting_errors(index):
            circuit = cuttable(template)
        # Qubits no instruction touches stay |0>: they are left out of the cut (the cut finder
        # cannot place them), each contributing <0|P|0> (1 for I and Z, 0 for X and Y).
        self._circuit, self.qubits = _without_idle_qubits(circuit)
        if not self.qubits:
            # No instruction at all: qubit 0 carries an identity, so that it is a piece.
            self.qubits = (0,)
            self._circuit = QuantumCircuit(1, name=circuit.name)
            self._circuit.id(0)
        n = template.num_qubits
        idle = [q for q in range(n) if q not in self.qubits]
        self.terms = tuple(t for t in terms if all(t[n - 1 - q] in "IZ" for q in idle))
        if not self.terms:
            # Only identities (or terms that vanish): one term anyway, so it has sub-experiments.
            self.terms = ("".join("Z" if q == self.qubits[0] else "I" for q in reversed(range(n))),)
        self._reduced = tuple(
            "".join(t[n - 1 - q] for q in reversed(self.qubits)) for t in self.terms
        )
        self._rows = binding_rows(template, bindings, index)

    def _bound(self, flat: int) -> QuantumCircuit:
        if not self.template.parameters:
            return self._circuit
        values = dict(zip(self.template.parameters, self._rows[flat].tolist(), strict=True))
        return self._circuit.assign_parameters(values, strict=False)

    def report(self, shots0: int, budget: int = MAX_SUBEXPERIMENTS) -> CutReport:
        """The PUB's cost, refused or not (generates the sub-experiments when it runs)."""
        with _cutting_errors(self.index):
            found = self._assess(budget)
            if found.refused is None:
                plan = self._cut(shots0, found).plan
                return CutReport.of(self.index, self.template.num_qubits, plan)
        return CutReport(
            self.index,
            self.template.num_qubits,
            self.limit,
            found.layout.cuts,
            found.layout.overhead,
            found.count,
            None,
            found.first.widths,
            found.refused,
        )

    def plan(self, shots0: int, budget: int = MAX_SUBEXPERIMENTS) -> CutPub:
        """The PUB cut, or :class:`QoroInputError` when it cannot run (``budget``: the
        sub-experiments the call may still send)."""
        with _cutting_errors(self.index):
            found = self._assess(budget)
            if found.refused is not None:
                raise QoroInputError(f"PUB {self.index}: {found.refused}")
            return self._cut(shots0, found)

    def _assess(self, budget: int) -> _Assessment:
        """Cuts of the first binding, its pieces, the sub-experiment count and why the PUB
        cannot run (None: it can), before any sub-experiment is generated."""
        logger.info(
            "Finding cuts for PUB %d: %d qubits into pieces of at most %d.",
            self.index,
            self.template.num_qubits,
            self.limit,
        )
        bound = self._bound(0)
        layout = find_layout(bound, self.limit, self.max_overhead, self.qubits)
        first = _separate(bound, layout, self._reduced)
        pieces = _pieces(first)
        per_sample = sum(len(piece.groups) for piece in pieces)
        count = _samples_count(first) * per_sample * len(self._rows)
        refused = self._refusal(layout, first.widths, count, budget)
        return _Assessment(layout, first, pieces, count, refused)

    def _refusal(
        self, layout: _Layout, widths: Sequence[int], count: int, budget: int
    ) -> str | None:
        n, limit, overhead = self.template.num_qubits, self.limit, layout.overhead
        if overhead > self.max_overhead:
            found = (
                "the cheapest cuts found"
                if layout.minimum_reached
                else "the cuts found (the search stopped at the bound)"
            )
            return (
                f"cutting its {n}-qubit circuit into pieces of at most {limit} qubits costs a "
                f"sampling overhead of {overhead:,.6g} with {found}, above cutting_max_overhead="
                f"{self.max_overhead:g}. Allow wider pieces (cutting_max_qubits, up to the "
                "backend's width), raise cutting_max_overhead (the shots grow by the overhead), "
                "or use a circuit with fewer two-qubit gates across the pieces."
            )
        if max(widths, default=0) > limit:
            return (
                f"the cuts found for its {n}-qubit circuit leave a piece of {max(widths)} "
                f"qubits, wider than {limit} (wire cuts that reuse a qubit, which a "
                "sub-experiment cannot). Allow wider pieces (cutting_max_qubits) or use a "
                "circuit with fewer two-qubit gates across the pieces."
            )
        if count > budget:
            return (
                f"cut, it needs {count:,} sub-experiments ({len(self._rows):,} binding(s)), more "
                f"than the {budget:,} the call may still send (at most {MAX_SUBEXPERIMENTS:,} per "
                "call). Split the bindings over several calls, or allow wider pieces "
                "(cutting_max_qubits) for fewer cuts."
            )
        return None

    def _cut(self, shots0: int, found: _Assessment) -> CutPub:
        """Every binding's sub-experiments and shots (the overhead of each checked)."""
        cutting = addon()
        layout, first, pieces = found.layout, found.first, found.pieces
        samples: list[CutSamples] = []
        sample_ids: dict[tuple[Any, ...], int] = {}
        binding_samples: list[int] = []
        circuits: list[tuple[str, QuantumCircuit, int]] = []
        for flat in range(len(self._rows)):
            separated = first if flat == 0 else _separate(self._bound(flat), layout, self._reduced)
            experiments, coefficients = cutting.generate_cutting_experiments(
                separated.problem.subcircuits, separated.problem.subobservables, np.inf
            )
            kept = [(i, float(c)) for i, (c, _) in enumerate(coefficients) if c != 0]
            shots = self._shots([c for _, c in kept], shots0)
            qpd_bits = []
            for new, (i, _) in enumerate(kept):
                bits = []
                for s, (label, piece) in enumerate(zip(separated.labels, pieces, strict=True)):
                    count = 0
                    for g in range(len(piece.groups)):
                        circuit, count = one_register(
                            experiments[label][i * len(piece.groups) + g], piece.groups[g].num_bits
                        )
                        circuits.append(
                            (cut_label(self.index, flat, new, s, g), circuit, shots[new])
                        )
                    bits.append(count)
                qpd_bits.append(tuple(bits))
            entry = CutSamples(tuple(c for _, c in kept), tuple(shots), tuple(qpd_bits))
            key = (entry.coefficients, entry.qpd_bits)
            if key not in sample_ids:
                sample_ids[key] = len(samples)
                samples.append(entry)
            binding_samples.append(sample_ids[key])
        plan = CuttingPlan(
            self.limit,
            layout.cuts,
            self.qubits,
            self.terms,
            pieces,
            tuple(samples),
            tuple(binding_samples),
        )
        return CutPub(plan, tuple(circuits))

    def _shots(self, coefficients: Sequence[float], shots0: int) -> list[int]:
        kappa = sum(abs(c) for c in coefficients)
        overhead = kappa**2
        if overhead > self.max_overhead * (1 + 1e-9):
            raise QoroInputError(
                f"PUB {self.index}: a binding's cuts cost a sampling overhead of "
                f"{overhead:,.6g}, above cutting_max_overhead={self.max_overhead:g} (cut "
                "parametric gates cost more at some angles). Raise cutting_max_overhead or allow "
                "wider pieces (cutting_max_qubits)."
            )
        total = math.ceil(overhead * shots0 - 1e-9)
        shots = [max(1, math.ceil(total * abs(c) / kappa - 1e-9)) for c in coefficients]
        if max(shots, default=0) > MAX_SHOTS:
            raise QoroInputError(
                f"PUB {self.index}: its cut circuit needs {max(shots):,} shots for one "
                f"sub-experiment, more than the {MAX_SHOTS:,} allowed; ask for a larger "
                "precision or allow wider pieces (cutting_max_qubits)."
            )
        return shots


def sorted_by_shots(
    circuits: Sequence[tuple[str, QuantumCircuit, int]],
) -> list[tuple[str, QuantumCircuit, int]]:
    """``circuits`` by decreasing shots (stable), so runs of equal shots share a shot group."""
    return sorted(circuits, key=lambda item: -item[2])


__all__ = [
    "INSTALL_HINT",
    "CutPub",
    "CutReport",
    "PubCutter",
    "addon",
    "piece_limit",
    "sorted_by_shots",
]
