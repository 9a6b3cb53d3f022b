"""``cut_term_values`` against qiskit-addon-cutting's own reconstruction, and its variances.

The same arbitrary counts (random multinomials, not physical ones) are given to the
library's ``reconstruct_expectation_values`` (as SamplerV2 results of its own
sub-experiments, registers ``observable_measurements`` and ``qpd_measurements``) and, mapped
through this package's labels and one-register bit layout, to ``cut_term_values``: both
compute the same estimator from the same outcomes, so they agree to rounding (1e-12). The
variances are checked against the plug-in formula written out by hand for a tiny plan.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import DataBin, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers import BitArray
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.quantum_info import PauliList

from qiskit_divi.primitives.cut_reconstruction import cut_term_values
from qiskit_divi.primitives.cutting import PubCutter, addon, apply_layout, cuttable, find_layout
from qiskit_divi.primitives.payloads import (
    CutGroup,
    CutPiece,
    CutSamples,
    CuttingPlan,
    cut_label,
)

LIMIT = 4
MAX_OVERHEAD = 1e4
TERMS = ("IXZYIZ", "XIIZZI", "YYIXXZ", "ZIZIZX", "ZZIIII")
VALUES = np.array([[0.4], [2.3]])


def gate_and_wire_circuit() -> QuantumCircuit:
    """Six qubits into pieces of 4: qubit 2 talks to every qubit of the other half, then
    back to its own, so the cut finder moves it over by a wire cut and cuts one gate; a
    cut gate and others depend on ``θ``."""
    theta = Parameter("θ")
    circuit = QuantumCircuit(6)
    for q in range(6):
        circuit.ry(0.5 + 0.4 * q, q)
        circuit.rz(theta - 0.2 * q, q)
    circuit.cx(0, 1)
    circuit.rzz(theta, 1, 2)
    circuit.cry(0.8, 3, 4)
    circuit.ccx(3, 4, 5)
    circuit.crx(theta, 2, 3)
    circuit.cx(2, 4)
    circuit.cz(2, 5)
    circuit.cx(0, 2)
    circuit.rxx(-0.6, 1, 2)
    return circuit


def _random_counts(rng: np.random.Generator, num_bits: int, shots: int) -> np.ndarray:
    """Arbitrary counts of the ``2**num_bits`` outcomes: a multinomial of a Dirichlet draw."""
    return rng.multinomial(shots, rng.dirichlet(np.ones(2**num_bits)))


def _library_values(
    bound: QuantumCircuit, layout: Any, shots: list[int], rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, dict[str, int]]]:
    """The library's reconstruction of :data:`TERMS` on ``bound`` from random counts, and
    the same counts as this package's raw job (labels of PUB 0, binding ``flat``)."""
    cutting = addon()
    wired = cutting.cut_wires(apply_layout(bound, layout))
    expanded = cutting.expand_observables(PauliList(list(TERMS)), bound, wired)
    problem = cutting.partition_problem(circuit=wired, observables=expanded)
    experiments, coefficients = cutting.generate_cutting_experiments(
        problem.subcircuits, problem.subobservables, np.inf
    )
    # This package keeps the samples of nonzero coefficient, renumbered in order.
    kept = [i for i, (c, _) in enumerate(coefficients) if c != 0]
    assert len(kept) == len(shots)
    sample_of = {i: new for new, i in enumerate(kept)}
    results: dict[Any, PrimitiveResult] = {}
    ours: dict[str, dict[str, int]] = {}
    for piece, label in enumerate(sorted(problem.subcircuits)):
        groups = len(experiments[label]) // len(coefficients)
        pub_results = []
        for index, circuit in enumerate(experiments[label]):
            registers = {register.name: register.size for register in circuit.cregs}
            a = registers.get("observable_measurements", 0)
            b = registers.get("qpd_measurements", 0)
            sample, group = divmod(index, groups)
            n = shots[sample_of[sample]] if sample in sample_of else 50
            counts = _random_counts(rng, a + b, n)
            # Outcome k: observable bits are its low a bits, QPD bits the next b.
            outcomes = {k: int(m) for k, m in enumerate(counts) if m}
            # BitArrays shot by shot (the library reads shots in order): one outcome list.
            sequence = [k for k, m in outcomes.items() for _ in range(m)]
            data = DataBin(
                observable_measurements=_bit_array([k & ((1 << a) - 1) for k in sequence], a),
                qpd_measurements=_bit_array([k >> a for k in sequence], b),
            )
            pub_results.append(SamplerPubResult(data))
            if sample in sample_of:
                width = max(a + b, 1)
                if a + b == 0:
                    # A sub-experiment without bits measures a dummy bit: give it both values.
                    outcomes = {0: n // 2, 1: n - n // 2}
                key = cut_label(0, 0, sample_of[sample], piece, group)
                ours[key] = {format(k, f"0{width}b"): m for k, m in outcomes.items() if m}
        results[label] = PrimitiveResult(pub_results)
    values = cutting.reconstruct_expectation_values(results, coefficients, problem.subobservables)
    return np.array(values), ours


def _bit_array(outcomes: list[int], num_bits: int) -> BitArray:
    """A BitArray of ``num_bits``-bit outcomes, one per shot, in order."""
    num_bytes = math.ceil(num_bits / 8)
    array = np.array(
        [list(k.to_bytes(num_bytes, "big")) for k in outcomes], dtype=np.uint8
    ).reshape(len(outcomes), num_bytes)
    return BitArray(array, num_bits)


def _relabel(raw: dict[str, dict[str, int]], flat: int) -> dict[str, dict[str, int]]:
    """Binding 0's labels of :func:`_library_values` as binding ``flat``'s."""
    return {label.replace("p0_0_", f"p0_{flat}_", 1): counts for label, counts in raw.items()}


def test_values_match_the_library_on_the_same_counts() -> None:
    template = gate_and_wire_circuit()
    bindings = BindingsArray({tuple(template.parameters): VALUES})
    cut = PubCutter(0, template, bindings, TERMS, LIMIT, MAX_OVERHEAD).plan(shots0=40)
    plan = cut.plan
    assert {c.kind for c in plan.cuts} == {"gate", "wire"}
    assert plan.terms == TERMS
    rng = np.random.default_rng(2024)
    layout = find_layout(cuttable(template).assign_parameters(VALUES[0]), LIMIT, MAX_OVERHEAD)
    expected = []
    raw: dict[str, dict[str, int]] = {}
    for flat, row in enumerate(VALUES):
        samples = plan.samples[plan.binding_samples[flat]]
        bound = cuttable(template).assign_parameters(row)
        values, ours = _library_values(bound, layout, list(samples.shots), rng)
        expected.append(values)
        raw.update(_relabel(ours, flat))
    assert set(raw) == set(plan.labels(0))
    values, variances = cut_term_values(0, plan, raw)
    np.testing.assert_allclose(values, np.array(expected), rtol=0, atol=1e-12)
    assert values.shape == variances.shape == (len(VALUES), len(TERMS))
    assert (variances >= 0).all() and (variances > 0).any()
    # The comparison is sensitive: the QPD bits read as 0 (the top bit of every outcome
    # cleared where there is one) moves the values.
    cleared: dict[str, dict[str, int]] = {}
    for label, counts in raw.items():
        cleared[label] = {}
        for key, m in counts.items():
            short = "0" + key[1:]
            cleared[label][short] = cleared[label].get(short, 0) + m
    assert np.abs(cut_term_values(0, plan, cleared)[0] - values).max() > 1e-3


# A tiny plan written out by hand: two pieces, one term, two samples. Piece 0 measures the
# term's factor in one group (1 observable bit); piece 1 in two groups, averaged.
TINY = CuttingPlan(
    max_qubits=1,
    cuts=(),
    qubits=(0, 1),
    terms=("ZZ",),
    pieces=(
        CutPiece(1, (CutGroup(1, ((0,),)),), (((0, 0),),)),
        CutPiece(1, (CutGroup(1, ((0,),)), CutGroup(1, ((0,),))), (((0, 0), (1, 0)),)),
    ),
    samples=(CutSamples((0.7, -0.4), (10, 8), ((1, 1), (0, 1))),),
    binding_samples=(0,),
)
# Bitstrings: clbit 0 (observable) rightmost, then the QPD bit; sign (-1)**(obs + qpd).
TINY_COUNTS = {
    "p0_0_s0_0_0": {"00": 6, "11": 1, "01": 3},  # (6 + 1 - 3) / 10 = 0.4
    "p0_0_s0_1_0": {"10": 5, "00": 5},  # (-5 + 5) / 10 = 0
    "p0_0_s0_1_1": {"11": 9, "01": 1},  # (9 - 1) / 10 = 0.8
    "p0_0_s1_0_0": {"1": 2, "0": 6},  # no QPD bit: (6 - 2) / 8 = 0.5
    "p0_0_s1_1_0": {"01": 8},  # -1
    "p0_0_s1_1_1": {"10": 2, "11": 6},  # (-2 + 6) / 8 = 0.5
}


def _tiny_reference(scale: int) -> tuple[float, float]:
    """Value and plug-in variance of :data:`TINY` by hand (counts times ``scale``)."""
    value, variance = 0.0, 0.0
    for c, n, f0, (ma, mb) in ((0.7, 10, 0.4, (0.0, 0.8)), (-0.4, 8, 0.5, (-1.0, 0.5))):
        n *= scale
        f1 = (ma + mb) / 2
        v0 = (1 - f0**2) / n
        v1 = ((1 - ma**2) + (1 - mb**2)) / 4 / n  # mean of two independent means
        value += c * f0 * f1
        variance += c**2 * ((f0**2 + v0) * (f1**2 + v1) - f0**2 * f1**2)
    return value, variance


def _scaled(scale: int) -> tuple[CuttingPlan, dict[str, dict[str, int]]]:
    """:data:`TINY` and its counts with every count and planned shot times ``scale``."""
    samples = TINY.samples[0]
    shots = tuple(n * scale for n in samples.shots)
    plan = dataclasses.replace(TINY, samples=(dataclasses.replace(samples, shots=shots),))
    raw = {
        label: {k: m * scale for k, m in counts.items()} for label, counts in TINY_COUNTS.items()
    }
    return plan, raw


@pytest.mark.parametrize("scale", [1, 7])
def test_variance_is_the_plug_in_formula(scale: int) -> None:
    plan, raw = _scaled(scale)
    values, variances = cut_term_values(0, plan, raw)
    value, variance = _tiny_reference(scale)
    assert values[0, 0] == pytest.approx(value, abs=1e-15)
    assert variances[0, 0] == pytest.approx(variance, rel=1e-12)
    assert value == pytest.approx(0.7 * 0.4 * 0.4 - 0.4 * 0.5 * -0.25)


def test_variance_scales_as_one_over_shots() -> None:
    """Same frequencies, 10x the shots: the value stays, the variance drops 10x (up to its
    1/shots**2 part, which vanishes as the shots grow)."""
    (v1,), (var1,) = cut_term_values(0, *_scaled(1000))
    (v10,), (var10,) = cut_term_values(0, *_scaled(10_000))
    assert v1 == pytest.approx(v10, abs=1e-15)
    assert var1[0] / var10[0] == pytest.approx(10, rel=1e-3)
    (_,), (var_small,) = cut_term_values(0, *_scaled(1))
    assert 10 <= var_small[0] / cut_term_values(0, *_scaled(10))[1][0, 0] <= 100
