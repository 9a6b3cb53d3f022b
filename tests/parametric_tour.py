"""Parametric versions of fixed-angle circuits (e.g. ``random_circuits.gate_tour``), for the
template form: every angle becomes a parameter, bare or in an affine expression."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterExpression, ParameterVector


def parametrised(circuit: QuantumCircuit) -> tuple[QuantumCircuit, np.ndarray | None]:
    """``circuit`` with its k-th numeric angle replaced by ``φ[k]``, ``0.5 * φ[k] + 0.25`` or
    ``2 * φ[k]`` (k mod 3 = 0, 1, 2; the last has a fixed point at 0, where a bound text's
    literal equals the angle), and the values of ``φ`` that give back its angles (``None``
    when it has no angle)."""
    angles = [
        float(p)
        for instruction in circuit.data
        for p in instruction.operation.params
        if not isinstance(p, ParameterExpression)
    ]
    if not angles:
        return circuit, None
    phi = ParameterVector("φ", len(angles))
    out = circuit.copy_empty_like()
    values = []
    k = 0
    for instruction in circuit.data:
        op = instruction.operation
        if op.params:
            op = op.copy()
            params: list[object] = []
            for p in op.params:
                if k % 3 == 0:
                    params.append(phi[k])
                    values.append(float(p))
                elif k % 3 == 1:
                    params.append(0.5 * phi[k] + 0.25)
                    values.append((float(p) - 0.25) / 0.5)
                else:
                    params.append(2 * phi[k])
                    values.append(float(p) / 2)
                k += 1
            op.params = params
        out.append(op, instruction.qubits, instruction.clbits)
    # ParameterVector order is Qiskit's sort order for out.parameters
    by_name = dict(zip([p.name for p in phi], values, strict=True))
    return out, np.array([by_name[p.name] for p in out.parameters])
