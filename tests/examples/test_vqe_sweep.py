"""examples/vqe_sweep.py runs end to end (in a fresh interpreter) and reaches the ground state."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vqe_sweep.py"


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text}"
    return float(match.group(1))


def test_vqe_sweep_example():
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    exact = number(r"exact ground-state energy: (-?\d+\.\d+)", out)
    assert abs(exact - -1.857275) < 1e-6
    assert "(result shape (3, 24))" in out
    vqe = number(r"VQE energy on qoro_maestro \(exact EXPECTATION jobs\): (-?\d+\.\d+)", out)
    assert abs(vqe - exact) < 1e-6
    sweeps = [float(x) for x in re.findall(r"rotosolve sweep \d: E = (-?\d+\.\d+)", out)]
    assert len(sweeps) == 3 and sweeps == sorted(sweeps, reverse=True)  # energies only go down
    # 4000 shots: the sampled energy is within a few standard errors (~0.01) of the exact one
    assert (
        abs(number(r"sampler energy \(4000 shots, 2 PUBs in job \w+\): (-?\d+\.\d+)", out) - exact)
        < 0.05
    )
    # fake_ion is noisy: close to, but above, the ground state
    ion = number(r"fake_ion estimator \(sampling fallback, 10000 shots\): E = (-?\d+\.\d+)", out)
    assert abs(ion - exact) < 0.15
    # every primitive call was exactly one Qoro job
    calls, jobs = re.search(r"primitive calls: (\d+), Qoro jobs: (\d+)", out).groups()
    assert calls == jobs == "24"
