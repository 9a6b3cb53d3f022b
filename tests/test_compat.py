"""qiskit_divi._compat gives the same answer on every supported Qiskit.

These run in both CI environments: the newest versions and ``ci/floor-tests`` (the lowest
declared ones), so each branch of each function is checked against the same exact reference.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.quantum_info import Pauli, SparseObservable, SparsePauliOp

from qiskit_divi._compat import observables_hold_sparse_observables, sparse_observables

_S = 2**-0.5
# Each single-qubit letter of a Qiskit observable label, from its definition.
_LETTERS = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]]),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1, -1]),
    "0": np.outer([1, 0], [1, 0]),
    "1": np.outer([0, 1], [0, 1]),
    "+": np.outer([_S, _S], [_S, _S]),
    "-": np.outer([_S, -_S], [_S, -_S]),
    "r": np.outer([_S, 1j * _S], [_S, -1j * _S]),
    "l": np.outer([_S, -1j * _S], [_S, 1j * _S]),
}


def _matrix(terms: list[tuple[str, float]]) -> np.ndarray:
    """The operator sum of coefficient * label; the label's first letter acts on the top qubit."""
    return sum(
        coeff * reduce(np.kron, [_LETTERS[letter] for letter in label]) for label, coeff in terms
    )


def _as_matrix(observable: SparseObservable) -> np.ndarray:
    # SparseObservable.to_matrix does not exist in Qiskit 2.0; its Pauli expansion does.
    return SparsePauliOp.from_sparse_observable(observable.as_paulis()).to_matrix()


def test_every_observable_form_in_c_order_matches_its_definition():
    given = [
        [SparsePauliOp(["XY", "ZI"], [1.0, 2.0]), Pauli("-YY"), "0+"],
        [{"rZ": -0.5, "XX": 0.25}, "l1", {"-I": 3.0, "IZ": -1.0}],
    ]
    want = [
        [SparsePauliOp(["XY", "ZI"], [1.0, 2.0]).to_matrix(), _matrix([("YY", -1.0)])],
        [_matrix([("rZ", -0.5), ("XX", 0.25)]), _matrix([("l1", 1.0)])],
    ]
    want[0].append(_matrix([("0+", 1.0)]))
    want[1].append(_matrix([("-I", 3.0), ("IZ", -1.0)]))

    got = sparse_observables(ObservablesArray.coerce(given))

    assert len(got) == 6
    assert all(isinstance(obs, SparseObservable) for obs in got)
    flat_want = [matrix for row in want for matrix in row]
    for index, (obs, matrix) in enumerate(zip(got, flat_want, strict=True)):
        np.testing.assert_allclose(_as_matrix(obs), matrix, atol=1e-12, err_msg=f"element {index}")


def test_a_single_observable_is_a_list_of_one():
    got = sparse_observables(ObservablesArray.coerce({"Z+": 0.5}))
    assert len(got) == 1
    np.testing.assert_allclose(_as_matrix(got[0]), _matrix([("Z+", 0.5)]), atol=1e-12)


def test_the_version_predicate_says_whether_qiskit_takes_sparse_observables():
    projector = SparseObservable.from_list([("0+", 1.0)])
    if observables_hold_sparse_observables():
        coerced = ObservablesArray.coerce(projector)
        np.testing.assert_allclose(
            _as_matrix(sparse_observables(coerced)[0]), _matrix([("0+", 1.0)]), atol=1e-12
        )
    else:
        with pytest.raises(TypeError):
            ObservablesArray.coerce(projector)
