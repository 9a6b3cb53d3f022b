"""examples/divi_workflow.py runs end to end (in a fresh interpreter) and its numbers agree."""

from __future__ import annotations

import re

from example_runs import run_example


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text}"
    return float(match.group(1))


def test_divi_workflow_example(tmp_path):
    out = run_example("divi_workflow.py", tmp_path)
    assert "ParallelSimulator: 16 circuits" in out
    local = number(r"best g[\d.]+_b[\d.]+ with mean cut (\d\.\d+)", out)
    noisy = number(r"mean cut (\d\.\d+) with device noise", out)
    sampled = number(r"SIMULATE job [\w-]+: COMPLETED, mean cut (\d\.\d+)", out)
    exact = number(r"EXPECTATION job [\w-]+ \(ZZII;IZZI;IIZZ;ZIIZ\): exact mean cut (\d\.\d+)", out)
    # 4000 shots: sampled means are within a few standard errors (~0.015) of the exact value
    assert abs(sampled - exact) < 0.06 and abs(local - exact) < 0.06
    assert noisy < exact - 0.05  # device noise pulls the cut towards the random-guess value 2
    assert number(r"estimated QPU time for the sweep on 4 QPUs: (\d+\.\d+) us", out) > 0
