import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Pauli, Statevector

from qiskit_divi.api.observables import (
    join_ham_ops,
    qiskit_label_to_wire,
    split_ham_ops,
    wire_to_qiskit_label,
)


def test_join_and_split():
    assert join_ham_ops(["XYZ", "IIZ"]) == "XYZ;IIZ"
    assert split_ham_ops("XYZ;IIZ") == ["XYZ", "IIZ"]


@pytest.mark.parametrize(
    "ham_ops, message",
    [
        ("XY;Z", "same length"),
        ("XA", "only I, X, Y, Z"),
        ("", "must not be empty"),
        ("XA;Z", "same length"),  # widths first, as divi checks them, wherever ham_ops enter
        (";", "must not be empty"),
    ],
)
def test_invalid_ham_ops(ham_ops, message):
    with pytest.raises(ValueError, match=message):
        split_ham_ops(ham_ops)


def test_wire_order_is_qubit_zero_leftmost():
    # Worked check of qoro-api.md section 6: x on qubit 0 of 3.
    circuit = QuantumCircuit(3)
    circuit.x(0)
    state = Statevector(circuit)
    assert qiskit_label_to_wire("IIZ") == "ZII"
    assert state.expectation_value(Pauli(wire_to_qiskit_label("ZII"))) == pytest.approx(-1)
    assert state.expectation_value(Pauli(wire_to_qiskit_label("IIZ"))) == pytest.approx(1)
