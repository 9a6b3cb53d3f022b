"""The benchmark scripts run (``--quick``) and print well-formed figures.

Timings are not asserted (machines are noisy); what the figures claim about
correctness is: identical results, shot totals, lazy imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_quick(script: str, *args: str) -> list[dict]:
    env = dict(os.environ, QISKIT_DIVI_BENCH_QUICK="1")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=BENCHMARKS.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"{script} printed nothing"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in records:
        assert record["benchmark"] and record["workload"]
        if "target" in record:
            assert isinstance(record["met"], bool)
            assert record["ratio"] > 0 and record["seconds"] > 0
    return records


def test_parallel_simulator_counts_equal_plain_aer():
    records = run_quick("bench_parallel_simulator.py")
    assert {r["workload"][:3] for r in records} == {"(a)", "(b)", "(c)", "(d)"}
    # every run (cold, warm, next iteration), "auto" included: its transpilation is seeded
    assert len(records) == 12
    assert all(record["bit_identical"] is True for record in records), records


def test_histogram_decoders_agree():
    records = run_quick("bench_histogram.py")
    assert all(r["identical"] for r in records if "identical" in r)


def test_client_round_trip():
    records = run_quick("bench_client.py")
    total = [r for r in records if "target_us" in r]
    assert len(total) == 1 and total[0]["us_per_circuit"] > 0


def test_primitives_are_exact():
    records = run_quick("bench_primitives.py")
    samplers = [r for r in records if r["workload"].startswith("SamplerV2")]
    estimators = [r for r in records if r["workload"].startswith("EstimatorV2")]
    assert len(samplers) == len(estimators) == 4
    assert {r["templates"] for r in samplers + estimators} == {True, False}
    assert all(r["total_shots_ok"] is True for r in samplers)
    assert all(r["evs_exact"] is True for r in estimators)


def test_backends_import_is_lazy():
    records = run_quick("bench_import.py")
    by_workload = {r["workload"]: r for r in records}
    assert by_workload["import qiskit_divi.backends"]["ibm_runtime_loaded"] is False
    lazy = next(r for r in records if "auto" in r["workload"])
    assert lazy["lazy_ok"] is True


def test_template_benchmark_compares_both_forms_of_the_same_bindings():
    records = run_quick("bench_templates.py")
    uploads = [r for r in records if "bytes_uploaded" in r]
    forms = {r["workload"].rsplit(": ", 1)[1] for r in uploads}
    assert forms == {"bound", "template", "template refused (bound fallback)"}
    assert all(r["bytes_uploaded"] > 0 and r["requests"] >= 2 for r in uploads)


def test_maestro_and_aer_agree_with_exact_references():
    import pytest  # imported here: this test is appended to a file that needed no pytest API

    try:
        import maestro  # noqa: F401
    except ImportError:
        pytest.skip("qoro-maestro is not installed (the maestro extra): nothing to compare")
    records = run_quick("bench_maestro.py")
    figures = [r for r in records if "ratio" in r]
    sections = {r["workload"].split(" ", 1)[0] for r in figures}
    assert sections == {"runners", "statevector:", "mps:", "primitives:"}, sections
    assert len([r for r in figures if r["workload"].startswith("runners")]) == 4
    assert all(r["ok"] is True for r in figures), [r for r in figures if not r["ok"]]
    # every sampling figure checked marginals against quantum_info on both engines
    sampling = [r for r in figures if not r["workload"].startswith("primitives")]
    assert all(r["maestro_checks"]["qubits_checked"] > 0 for r in sampling)


def test_cutting_benchmark_compares_one_cut_job_with_the_exact_value():
    records = run_quick("bench_cutting.py")
    uncut = [r for r in records if r["workload"].startswith("uncut")]
    cut = [r for r in records if r["workload"].startswith("cut")]
    assert uncut and cut
    assert all(r["exact"] is True for r in uncut)
    for record in cut:
        assert record["one_job"] is True and record["within_6_std"] is True, record
        assert record["num_subexperiments"] > 0 and record["shots"] > 0
