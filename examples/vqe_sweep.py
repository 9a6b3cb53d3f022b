"""A small VQE-style parameter sweep through Qoro's Qiskit primitives, fully offline.

The molecule is H2 at 0.735 Å (STO-3G, parity mapping with two-qubit reduction):
a 2-qubit Hamiltonian. The ansatz is a 6-parameter ``n_local`` circuit (three RY layers
and two CXs), transpiled for the backend like any ISA circuit.

1. A scan: ONE ``EstimatorV2`` call evaluates the energy and its two parts at 24
   random parameter points (a ``(3, 1)`` observable array broadcast against
   ``(24, 6)`` parameter values, so a ``(3, 24)`` result).
2. Rotosolve sweeps from the best point: for each parameter one estimator call
   evaluates three shifted points and jumps to the exact minimum along that
   parameter (the energy is a sinusoid of each RY angle).
3. ``SamplerV2`` at the optimum: two PUBs (Z basis and X basis) in ONE job give
   the energy from samples.
4. ``EstimatorV2`` on ``fake_ion``, a noisy trapped-ion system without
   expectation-value support: the sampling fallback, with a standard error.

``qoro_maestro`` runs EXPECTATION jobs, so the estimator's energies there are
exact. ``QoroProvider.local()`` starts the bundled Qoro API emulator, so no
account is needed; against the real service use ``QoroProvider(token=...)``.

Run it with ``python examples/vqe_sweep.py`` (a few seconds).
"""

from __future__ import annotations

import math

import numpy as np
from qiskit.circuit.library import n_local
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qiskit_divi import EstimatorV2, QoroProvider, SamplerV2

H2 = SparsePauliOp.from_list(
    [
        ("II", -1.052373245772859),
        ("IZ", 0.39793742484318045),
        ("ZI", -0.39793742484318045),
        ("ZZ", -0.01128010425623538),
        ("XX", 0.18093119978423156),
    ]
)
DIAGONAL = SparsePauliOp.from_list(
    [
        (p.to_label(), c)
        for p, c in zip(H2.paulis, H2.coeffs, strict=True)
        if "X" not in p.to_label()
    ]
)
OFF_DIAGONAL = SparsePauliOp("XX", H2.coeffs[[p.to_label() for p in H2.paulis].index("XX")])
SWEEPS = 3
SCAN_POINTS = 24
SHOTS = 4000


def rotosolve_step(energies: np.ndarray, theta: float) -> float:
    """Minimum of ``E(t) = A cos(t - B) + C`` from E at theta, theta + pi/2, theta - pi/2."""
    e0, e_plus, e_minus = energies
    return theta - math.pi / 2 - math.atan2(2 * e0 - e_plus - e_minus, e_plus - e_minus)


def main() -> None:
    exact = float(np.linalg.eigvalsh(H2.to_matrix()).min())
    print(f"exact ground-state energy: {exact:.6f} Ha")

    with QoroProvider.local() as provider:
        maestro = provider.get_backend("qoro_maestro")
        ansatz = n_local(2, "ry", "cx", entanglement="linear", reps=2)
        isa = generate_preset_pass_manager(backend=maestro, optimization_level=1).run(ansatz)
        estimator = EstimatorV2(mode=maestro)
        calls = 0

        # 1. scan: one call, (3, 1) observables x (24, 6) parameters -> (3, 24)
        rng = np.random.default_rng(2024)
        points = rng.uniform(-math.pi, math.pi, (SCAN_POINTS, ansatz.num_parameters))
        scan = estimator.run([(isa, [[H2], [DIAGONAL], [OFF_DIAGONAL]], points)]).result()[0]
        calls += 1
        energies = scan.data.evs[0]
        assert np.allclose(energies, scan.data.evs[1] + scan.data.evs[2])
        best = int(np.argmin(energies))
        theta = points[best].copy()
        print(
            f"scan of {SCAN_POINTS} points in one call (result shape {scan.data.evs.shape}): "
            f"best E = {energies[best]:.6f} Ha"
        )

        # 2. Rotosolve: one call of three shifted points per parameter
        energy = float(energies[best])
        for sweep in range(1, SWEEPS + 1):
            for k in range(ansatz.num_parameters):
                shifted = np.repeat(theta[None, :], 3, axis=0)
                shifted[:, k] += [0.0, math.pi / 2, -math.pi / 2]
                evs = estimator.run([(isa, H2, shifted)]).result()[0].data.evs
                calls += 1
                theta[k] = rotosolve_step(evs, theta[k])
            energy = float(estimator.run([(isa, H2, theta)]).result()[0].data.evs)
            calls += 1
            print(f"rotosolve sweep {sweep}: E = {energy:.9f} Ha")
        print(
            f"VQE energy on qoro_maestro (exact EXPECTATION jobs): {energy:.9f} Ha "
            f"(error {abs(energy - exact):.1e} Ha)"
        )

        # 3. the sampler at the optimum: Z basis and X basis as two PUBs of one call
        z_basis = ansatz.copy()
        z_basis.measure_all()
        x_basis = ansatz.copy()
        x_basis.h([0, 1])
        x_basis.measure_all()
        pm = generate_preset_pass_manager(backend=maestro, optimization_level=1)
        job = SamplerV2(mode=maestro).run(
            [(pm.run(z_basis), theta), (pm.run(x_basis), theta)], shots=SHOTS
        )
        z_result, x_result = job.result()
        calls += 1
        z_bits, x_bits = z_result.data.meas, x_result.data.meas
        top = sorted(z_bits.get_counts().items(), key=lambda kv: -kv[1])[:2]
        print("sampler at the optimum: " + ", ".join(f"{k}: {v / SHOTS:.3f}" for k, v in top))
        sampled = float(z_bits.expectation_values(DIAGONAL)) + float(
            x_bits.expectation_values(SparsePauliOp("ZZ", OFF_DIAGONAL.coeffs))
        )
        print(f"sampler energy ({SHOTS} shots, 2 PUBs in job {job.job_id()[:8]}): {sampled:.4f} Ha")

        # 4. the sampling fallback on a noisy system without EXPECTATION jobs
        ion = provider.get_backend("fake_ion")
        ion_isa = generate_preset_pass_manager(backend=ion, optimization_level=1).run(ansatz)
        ion_result = EstimatorV2(mode=ion).run(
            [(ion_isa, H2.apply_layout(ion_isa.layout), theta)], precision=0.01
        )
        ion_pub = ion_result.result()[0]
        calls += 1
        print(
            f"fake_ion estimator (sampling fallback, {ion_pub.metadata['shots']} shots): "
            f"E = {float(ion_pub.data.evs):.4f} ± {float(ion_pub.data.stds):.4f} Ha"
        )

        print(f"primitive calls: {calls}, Qoro jobs: {provider.emulator.job_count}")


if __name__ == "__main__":
    main()
