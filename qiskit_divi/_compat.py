"""Differences between the Qiskit versions that pyproject.toml admits, in one place.

Each function here does one thing the same way on every supported version; its docstring
says which versions take which branch. ``ci/floor-tests`` runs the suite at the lowest
declared versions, so both branches are exercised.
"""

from __future__ import annotations

from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.quantum_info import SparseObservable

__all__ = ["observables_hold_sparse_observables", "sparse_observables"]

_HOLDS_SPARSE_OBSERVABLES = hasattr(ObservablesArray, "sparse_observables_array")


def observables_hold_sparse_observables() -> bool:
    """Whether this Qiskit's ``ObservablesArray`` stores :class:`SparseObservable` elements.

    True from Qiskit 2.1, which also accepts ``SparseObservable`` instances as input. Qiskit
    2.0 stores each observable as a ``{label: coefficient}`` dict and refuses
    ``SparseObservable`` instances (projector labels such as ``"0+"`` are accepted as strings
    or dict keys on both).
    """
    return _HOLDS_SPARSE_OBSERVABLES


def sparse_observables(observables: ObservablesArray) -> list[SparseObservable]:
    """The observables of an ``ObservablesArray``, flattened in C order, as ``SparseObservable``.

    Qiskit 2.1 and later: the array's own ``sparse_observables_array()``. Qiskit 2.0 has no
    such method; its elements are dicts keyed by labels over ``IXYZ01+-rl`` (the same
    alphabet and qubit order as :meth:`SparseObservable.from_list`), so each is rebuilt
    term by term, with the same coefficients.
    """
    if _HOLDS_SPARSE_OBSERVABLES:
        return list(observables.sparse_observables_array().reshape(-1))
    return [
        SparseObservable.from_list(list(terms.items())) for terms in observables.ravel().tolist()
    ]
