"""The Pauli-term values of a cut estimator PUB, with their variances, from the counts of its
sub-experiments (:mod:`qiskit_divi.primitives.cutting` plans them).

For binding ``p`` with samples ``(c_i, n_i)``: each outcome of sub-experiment
``(i, piece s, group g)`` gives, for each observable of the group, ``(-1)**(parity of the
observable's bits) * (-1)**(parity of all QPD bits)``; its mean over the ``n_i`` shots
estimates that observable's factor on the piece. Term ``j``'s factor ``f_ijs`` on piece
``s`` is the mean at its lookup locations, and the term's value is
``sum_i c_i * prod_s f_ijs``: the estimator of qiskit-addon-cutting's
``reconstruct_expectation_values``, computed here from the counts together with its
variance. The pieces of a sample run on independent shots, so
``Var(prod_s f_s) = prod_s (f_s**2 + v_s) - prod_s f_s**2`` with ``v_s = (1 - f_s**2) / n_i``
(the plug-in variance of a mean of +-1 values), and samples are independent:
``Var(value_j) = sum_i c_i**2 * Var_ij``. An observable's standard deviation is then
``sum_j |a_j| * sqrt(Var(value_j))``, the rule of the sampling fallback (and of Qiskit's
``BackendEstimatorV2``): an upper bound, since terms measured by the same circuits are
correlated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import check_total_shots, outcome_bits, parity_means
from .payloads import CutGroup, CutPiece, CuttingPlan, cut_label


def _group_means(
    group: CutGroup, counts: Mapping[str, Any], qpd_bits: int, shots: int, label: str
) -> np.ndarray:
    """The mean of each observable of ``group`` over one sub-experiment's outcomes: the
    parity of its observable bits and of every QPD bit."""
    matrix, tally = outcome_bits(counts, group.num_bits + qpd_bits, label)
    check_total_shots(tally, shots, label)
    masks = np.zeros((len(group.observables), group.num_bits + qpd_bits), dtype=np.int64)
    masks[:, group.num_bits :] = 1
    for row, bits in enumerate(group.observables):
        masks[row, list(bits)] = 1
    return parity_means(matrix, tally, masks, shots)


@dataclass(frozen=True)
class _Lookup:
    """Where each term's factor on one piece is measured, as flat arrays: entry ``k`` says
    that term ``terms[k]`` takes ``weights[k]`` times the mean at ``locations[k]`` (the
    groups' observable means concatenated in group order). Linear in the terms, however many
    share a group."""

    terms: np.ndarray
    locations: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(cls, piece: CutPiece) -> _Lookup:
        offsets = np.cumsum([0] + [len(group.observables) for group in piece.groups])
        entries = [
            (term, int(offsets[group]) + observable, 1.0 / len(where))
            for term, where in enumerate(piece.lookup)
            for group, observable in where
        ]
        terms, locations, weights = zip(*entries, strict=True) if entries else ((), (), ())
        return cls(
            np.asarray(terms, dtype=np.intp),
            np.asarray(locations, dtype=np.intp),
            np.asarray(weights, dtype=np.float64),
        )

    def factors(
        self, means: np.ndarray, shots: int, num_terms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each term's factor and the variance of that estimate (independent locations)."""
        picked = means[self.locations]
        factor = np.bincount(self.terms, self.weights * picked, minlength=num_terms)
        spread = np.bincount(
            self.terms, self.weights**2 * (1.0 - picked**2) / shots, minlength=num_terms
        )
        return factor, spread


def cut_term_values(
    index: int, plan: CuttingPlan, raw_job: Mapping[str, Mapping[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """``(values, variances)`` of every term of :attr:`CuttingPlan.terms` (columns) for every
    binding (rows) of cut PUB ``index``; raises ``QoroProtocolError`` for malformed counts."""
    num_bindings, num_terms = len(plan.binding_samples), len(plan.terms)
    values = np.zeros((num_bindings, num_terms))
    variances = np.zeros((num_bindings, num_terms))
    lookups = [_Lookup.of(piece) for piece in plan.pieces]
    for p, k in enumerate(plan.binding_samples):
        samples = plan.samples[k]
        for i, (coefficient, shots) in enumerate(
            zip(samples.coefficients, samples.shots, strict=True)
        ):
            product = np.ones(num_terms)
            second_moment = np.ones(num_terms)  # E[prod_s f_s**2], estimated
            for s, piece in enumerate(plan.pieces):
                qpd_bits = samples.qpd_bits[i][s]
                means = np.concatenate(
                    [
                        _group_means(group, raw_job[label], qpd_bits, shots, label)
                        for g, group in enumerate(piece.groups)
                        if (label := cut_label(index, p, i, s, g))
                    ]
                    or [np.zeros(0)]
                )
                factor, spread = lookups[s].factors(means, shots, num_terms)
                product *= factor
                second_moment *= factor**2 + spread
            values[p] += coefficient * product
            variances[p] += coefficient**2 * np.maximum(second_moment - product**2, 0.0)
    return values, variances


__all__ = ["cut_term_values"]
