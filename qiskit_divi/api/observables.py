"""``ham_ops`` serialisation (``qoro-api.md`` section 5.4).

A ``ham_ops`` string is ``;``-separated dense Pauli terms, one character per
qubit, **qubit 0 leftmost** (the reverse of Qiskit's ``Pauli`` labels).
"""

from __future__ import annotations

from collections.abc import Iterable

PAULI_LETTERS = frozenset("IXYZ")


def validate_term(term: str) -> None:
    """Raise ``ValueError`` unless ``term`` is a non-empty string of I, X, Y, Z."""
    if not set(term) <= PAULI_LETTERS:
        raise ValueError("Hamiltonian operators must contain only I, X, Y, Z characters.")
    if not term:
        raise ValueError("Hamiltonian operators must not be empty: pass terms such as 'ZI;IZ'.")


def check_terms(terms: list[str]) -> None:
    """Raise ``ValueError`` unless ``terms`` are dense Pauli terms of one width.

    The checks run in the order divi v0.6.1 made them (widths, letters, emptiness), so a
    ``ham_ops`` string with several faults is refused with the same message everywhere.
    """
    if not terms:
        raise ValueError("At least one Hamiltonian operator is required.")
    if len({len(term) for term in terms}) != 1:
        raise ValueError("All Hamiltonian operators must have the same length.")
    for term in terms:
        validate_term(term)


def join_ham_ops(terms: Iterable[str]) -> str:
    """Join dense wire terms into one ``ham_ops`` string, checking letters and widths."""
    terms = list(terms)
    check_terms(terms)
    return ";".join(terms)


def split_ham_ops(ham_ops: str) -> list[str]:
    """Split and validate a ``ham_ops`` string into its dense terms."""
    terms = ham_ops.split(";")
    check_terms(terms)
    return terms


def qiskit_label_to_wire(label: str) -> str:
    """Qiskit Pauli label (qubit 0 rightmost, no phase) to a wire term (qubit 0 leftmost)."""
    return label[::-1]


def wire_to_qiskit_label(term: str) -> str:
    """Wire term (qubit 0 leftmost) to a Qiskit Pauli label (qubit 0 rightmost)."""
    return term[::-1]
