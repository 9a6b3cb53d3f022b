"""Plot what Qoro's primitives return, beside the exact values, fully offline.

A p=1 QAOA for MaxCut on a 4-node ring (the circuit of ``divi_workflow.py``):

1. ``EstimatorV2`` sweeps the expected cut over the cost angle gamma in ONE call (a
   parameter array); ``qoro_maestro`` runs EXPECTATION jobs, so the values are exact.
2. ``SamplerV2`` samples the circuit at the best gamma; its histogram is drawn beside the
   exact outcome probabilities.

The exact curves come from ``qiskit.quantum_info`` (``Statevector``), not from a simulator.
Run it as a script, ``python examples/plot_results.py [FIGURE.png]`` (default
``./plot_results.png``; never opens a window under a non-interactive backend such as
``MPLBACKEND=Agg``), or cell by cell (``# %%``) in Jupyter or VS Code. It needs the
``plot`` extra: ``pip install "qiskit-divi[plot]"``.
"""

# %% Imports, the graph and the circuit
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import matplotlib.pyplot as plt
except ModuleNotFoundError as error:  # say which extra brings it, not just the import error
    raise SystemExit(
        'examples/plot_results.py needs matplotlib: pip install "qiskit-divi[plot]"'
    ) from error
import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager

from qiskit_divi import EstimatorV2, QoroProvider, SamplerV2

EDGES = [(0, 1), (1, 2), (2, 3), (3, 0)]
NUM_NODES = 4
BETA = np.pi / 8  # sin(4 beta) = 1: the mixer angle of the best p=1 cut on a ring
GAMMAS = np.linspace(0.0, np.pi, 25)  # the estimator's sweep: one call, 25 parameter sets
SHOTS = 4000
# The figure's backends that draw to a file only: plt.show() there would just warn.
FILE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def figure_path() -> Path:
    """The figure's path: the first command-line argument, else ./plot_results.png."""
    if "ipykernel" in sys.modules:  # in a notebook, sys.argv is the kernel's own
        return Path("plot_results.png")
    parser = argparse.ArgumentParser(description="Plot a sampler histogram and an estimator sweep.")
    parser.add_argument("figure", nargs="?", default="plot_results.png", type=Path)
    return Path(parser.parse_args().figure)


gamma, beta = Parameter("gamma"), Parameter("beta")
ansatz = QuantumCircuit(NUM_NODES)
ansatz.h(range(NUM_NODES))
for a, b in EDGES:
    ansatz.rzz(2 * gamma, a, b)
ansatz.rx(2 * beta, range(NUM_NODES))
# The number of cut edges: each edge contributes (1 - Z_a Z_b) / 2.
cut = SparsePauliOp.from_sparse_list(
    [("", [], len(EDGES) / 2)] + [("ZZ", [a, b], -0.5) for a, b in EDGES], NUM_NODES
)


def exact_cut(g: float) -> float:
    """The expected cut at (g, BETA), from the statevector."""
    state = Statevector(ansatz.assign_parameters({gamma: g, beta: BETA}))
    return float(state.expectation_value(cut).real)


path = figure_path()
provider = QoroProvider.local()  # the bundled emulator; QoroProvider(token=...) for the cloud
maestro = provider.get_backend("qoro_maestro")
pass_manager = generate_preset_pass_manager(backend=maestro, optimization_level=1)

# %% EstimatorV2: the expected cut against gamma, in one call
isa = pass_manager.run(ansatz)
points = np.column_stack([GAMMAS, np.full_like(GAMMAS, BETA)])
sweep = EstimatorV2(mode=maestro).run([(isa, cut.apply_layout(isa.layout), points)])
estimated = np.asarray(sweep.result()[0].data.evs, dtype=float)
exact = np.array([exact_cut(g) for g in GAMMAS])
print(f"estimator sweep on qoro_maestro (job {sweep.job_id()}), beta = {BETA:.12f}:")
for g, e, x in zip(GAMMAS, estimated, exact, strict=True):
    print(f"  gamma = {g:.12f}: expected cut {e:.12f}, exact {x:.12f}")
print(f"largest |estimated - exact|: {np.max(np.abs(estimated - exact)):.1e}")
best_gamma = float(GAMMAS[np.argmax(estimated)])

# %% SamplerV2: the histogram at the best gamma
measured = ansatz.copy()
measured.measure_all()
job = SamplerV2(mode=maestro).run([(pass_manager.run(measured), [best_gamma, BETA])], shots=SHOTS)
counts = job.result()[0].data.meas.get_counts()
final = Statevector(ansatz.assign_parameters({gamma: best_gamma, beta: BETA}))
probabilities = final.probabilities_dict()  # keys are bitstrings, qubit 0 rightmost, as counts
outcomes = sorted(probabilities)
tvd = 0.5 * sum(abs(counts.get(k, 0) / SHOTS - probabilities[k]) for k in outcomes)
print(
    f"sampler at gamma = {best_gamma:.12f}, beta = {BETA:.12f}, {SHOTS} shots (job {job.job_id()}):"
)
for k in outcomes:
    print(
        f"  {k}: {counts.get(k, 0)} shots, sampled {counts.get(k, 0) / SHOTS:.4f}, "
        f"exact {probabilities[k]:.12f}"
    )
print(f"total-variation distance from the exact distribution: {tvd:.4f}")
provider.close()  # stops the emulator

# %% The figure: sampled or estimated values beside the exact ones
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
fine = np.linspace(0.0, np.pi, 241)
left.plot(fine, [exact_cut(g) for g in fine], color="black", lw=1, label="exact (Statevector)")
left.plot(GAMMAS, estimated, "o", color="tab:blue", label="EstimatorV2 on qoro_maestro")
left.axvline(best_gamma, color="tab:orange", ls=":", label=f"best gamma = {best_gamma:.3f}")
left.set(xlabel="gamma", ylabel="expected cut", title="QAOA p=1, 4-node ring, beta = pi/8")
left.set_ylim(0.8, 4.0)  # room for the legend above the curve
left.legend(loc="upper center")

x = np.arange(len(outcomes))
right.bar(
    x - 0.2,
    [counts.get(k, 0) / SHOTS for k in outcomes],
    0.4,
    color="tab:blue",
    label=f"SamplerV2, {SHOTS} shots",
)
right.bar(
    x + 0.2,
    [probabilities[k] for k in outcomes],
    0.4,
    color="lightgray",
    edgecolor="black",
    label="exact (Statevector)",
)
right.set_xticks(x, outcomes, rotation=60, fontfamily="monospace")
right.set(
    xlabel="outcome (qubit 0 rightmost)",
    ylabel="probability",
    title=f"histogram at the best gamma (TVD {tvd:.3f})",
)
right.set_ylim(0, 1.3 * max(probabilities.values()))  # room for the legend above the bars
right.legend(loc="upper center")

path.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(path, dpi=100)
print(f"figure saved to {path}")
if plt.get_backend().lower() not in FILE_BACKENDS:
    plt.show()
