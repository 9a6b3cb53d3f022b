"""examples/plot_results.py runs headless (a fresh interpreter, MPLBACKEND=Agg), writes a PNG,
and the numbers it plots equal exact ``qiskit.quantum_info`` references.

matplotlib is a test dependency (the ``test`` extra, as well as ``plot``): without it these
tests fail (the script exits non-zero with the install command), they never skip.
"""

from __future__ import annotations

import math
import re
import struct
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from packaging.requirements import Requirement
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plot_results.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RING = [(0, 1), (1, 2), (2, 3), (3, 0)]
FLOAT = r"(-?\d+\.\d+)"


def qaoa(gamma: float, beta: float) -> QuantumCircuit:
    """The example's circuit, stated independently: p=1 QAOA for MaxCut on RING."""
    circuit = QuantumCircuit(4)
    circuit.h(range(4))
    for a, b in RING:
        circuit.rzz(2 * gamma, a, b)
    circuit.rx(2 * beta, range(4))
    return circuit


def exact_cut(gamma: float, beta: float) -> float:
    cut = SparsePauliOp.from_sparse_list(
        [("", [], len(RING) / 2)] + [("ZZ", [a, b], -0.5) for a, b in RING], 4
    )
    return float(Statevector(qaoa(gamma, beta)).expectation_value(cut).real)


def launch(
    cwd: Path, mpl_config: Path, *args: str, pythonpath: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "",
        "HOME": str(cwd),
        "MPLBACKEND": "Agg",  # headless, as CI
        "MPLCONFIGDIR": str(mpl_config),  # one font cache for every run of this module
        "QISKIT_DIVI_JOURNAL": str(cwd / "journal.sqlite"),
        "QISKIT_DIVI_PROGRESS": "0",
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def run_example(cwd: Path, mpl_config: Path, *args: str) -> str:
    """The example's output; it must succeed (without matplotlib it fails, naming the extra)."""
    done = launch(cwd, mpl_config, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def assert_png(path: Path) -> None:
    """``path`` is a non-empty PNG whose header chunk declares a non-empty image."""
    assert path.is_file(), f"no figure at {path}"
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG: starts {data[:8]!r}"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 600 and height >= 200, (width, height)
    assert len(data) > 10_000, f"{path} is {len(data)} bytes: an empty figure?"


@pytest.fixture(scope="module")
def mpl_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mplconfig")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, mpl_config: Path) -> tuple[Path, str]:
    """One run with the figure's path on the command line (in a directory not yet made)."""
    cwd = tmp_path_factory.mktemp("plot_results")
    out = run_example(cwd, mpl_config, "figures/qaoa.png")
    return cwd / "figures" / "qaoa.png", out


def test_the_figure_is_written_where_the_command_line_says(run):
    path, out = run
    assert_png(path)
    assert f"figure saved to {Path('figures/qaoa.png')}" in out


def test_the_estimator_sweep_is_exact(run):
    out = run[1]
    beta = float(
        re.search(rf"estimator sweep on qoro_maestro \(job [\w-]+\), beta = {FLOAT}:", out)[1]
    )
    assert abs(beta - math.pi / 8) < 1e-11
    rows = re.findall(rf"gamma = {FLOAT}: expected cut {FLOAT}, exact {FLOAT}", out)
    gammas = [float(g) for g, _, _ in rows]
    assert len(rows) == 25 and gammas[0] == 0.0 and abs(gammas[-1] - math.pi) < 1e-11
    for g, estimated, drawn in rows:
        reference = exact_cut(float(g), beta)
        # the exact EXPECTATION path: equal to the statevector up to rounding (values ~1)
        assert abs(float(estimated) - reference) <= 1e-9, (g, estimated, reference)
        assert abs(float(drawn) - reference) <= 1e-9, (g, drawn, reference)


def test_the_sampler_histogram_is_within_the_tvd_bound(run):
    out = run[1]
    header = re.search(rf"sampler at gamma = {FLOAT}, beta = {FLOAT}, (\d+) shots", out)
    gamma, beta, shots = float(header[1]), float(header[2]), int(header[3])
    # the best point of the sweep: the largest expected cut on a 4-ring at p=1 is 3
    assert abs(gamma - 3 * math.pi / 8) < 1e-11 and abs(exact_cut(gamma, beta) - 3) < 1e-9
    circuit = qaoa(gamma, beta)
    circuit.measure_all()
    exact = outcome_probabilities(circuit)
    rows = re.findall(rf"  ([01]{{4}}): (\d+) shots, sampled \d\.\d+, exact {FLOAT}", out)
    assert len(rows) == 16
    counts = {int(key, 2): int(n) for key, n, _ in rows}
    assert sum(counts.values()) == shots == 4000
    for key, _, drawn in rows:
        assert abs(float(drawn) - exact.get(int(key, 2), 0.0)) <= 1e-9, (key, drawn)
    # TVD <= tvd_bound (tests/ground_truth.py): a correct sampler fails with probability < 1e-9
    assert_sampled_from(counts, exact, "plot_results.py histogram")


def test_the_default_figure_is_plot_results_png(tmp_path, mpl_config):
    out = run_example(tmp_path, mpl_config)
    assert_png(tmp_path / "plot_results.png")
    assert "figure saved to plot_results.png" in out


def test_without_matplotlib_the_script_says_which_extra_to_install(tmp_path, mpl_config):
    shadow = tmp_path / "shadow" / "matplotlib"
    shadow.mkdir(parents=True)
    # what an environment without matplotlib raises on `import matplotlib.pyplot`
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'matplotlib'\", name='matplotlib')\n"
    )
    done = launch(tmp_path, mpl_config, pythonpath=str(tmp_path / "shadow"))
    assert done.returncode == 1
    assert 'needs matplotlib: pip install "qiskit-divi[plot]"' in done.stderr, done.stderr
    assert not (tmp_path / "plot_results.png").exists()


def test_the_test_extra_brings_the_plot_extra_s_matplotlib():
    """The suite needs matplotlib, so ``test`` declares it as ``plot`` does, floor and all."""
    by_extra: dict[str, list[str]] = {}
    for line in requires("qiskit-divi") or []:
        requirement = Requirement(line)
        if requirement.name == "matplotlib" and requirement.marker is not None:
            for extra in ("test", "plot"):
                if requirement.marker.evaluate({"extra": extra}):
                    by_extra.setdefault(extra, []).append(str(requirement.specifier))
    assert set(by_extra) == {"test", "plot"}, by_extra
    assert by_extra["test"] == by_extra["plot"], by_extra
