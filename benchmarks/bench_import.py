"""Import time and peak memory of ``qiskit_divi`` in a fresh interpreter.

Each statement runs in a new ``python -c`` process that reports the wall time of
the import and the process's peak RSS (``ru_maxrss``) afterwards; the baseline is
``import qiskit, qiskit_aer`` (what any user of the package imports anyway). One
untimed run of each first (so byte-code caches exist, as after installation), then
medians over the runs. Target: ``import qiskit_divi.backends`` <= 1.5x the baseline
time. Also checked: ``qiskit_ibm_runtime`` (about a second to import) is not
loaded by ``import qiskit_divi.backends``, and is loaded once ``"auto"`` is used.

    python benchmarks/bench_import.py [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from _common import emit, figure, machine, median, quick_mode

BENCHMARK = "import"
TARGET = 1.5

_PROBE = """
import json, resource, sys, time
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
loaded = "qiskit_ibm_runtime" in sys.modules
after = {after}
print(json.dumps({{
    "seconds": seconds, "peak_rss_mb": peak_rss_mb, "ibm_runtime_loaded": loaded, "after": after
}}))
"""

_AUTO = """(lambda: (
    __import__("qiskit_divi.backends").backends.ParallelSimulator(
        shots=10, qiskit_backend="auto"
    ).submit_circuits(
        {"a": 'OPENQASM 2.0;\\ninclude "qelib1.inc";\\nqreg q[2];\\ncreg c[2];\\n'
              'h q[0];\\ncx q[0],q[1];\\nmeasure q -> c;\\n'}),
    "qiskit_ibm_runtime" in sys.modules)[1])()"""

STATEMENTS = {
    "baseline": "import qiskit, qiskit_aer",
    "qiskit_divi": "import qiskit_divi",
    "qiskit_divi.backends": "import qiskit_divi.backends",
}


def probe(statement: str, after: str = "None") -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(statement=statement, after=after)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    quick = quick_mode()
    runs = 1 if quick else 7
    samples: dict[str, list[dict]] = {}
    for statement in STATEMENTS.values():
        if not quick:
            probe(statement)  # byte-code caches
    for _ in range(runs):  # interleaved, so a slow moment hits every statement alike
        for name, statement in STATEMENTS.items():
            samples.setdefault(name, []).append(probe(statement))
    baseline = samples["baseline"]
    base_seconds = median([s["seconds"] for s in baseline])
    base_rss = median([s["peak_rss_mb"] for s in baseline])
    emit(
        BENCHMARK,
        STATEMENTS["baseline"],
        seconds=base_seconds,
        peak_rss_mb=base_rss,
        runs=runs,
        **machine(),
    )
    for name in ("qiskit_divi", "qiskit_divi.backends"):
        seconds = median([s["seconds"] for s in samples[name]])
        rss = median([s["peak_rss_mb"] for s in samples[name]])
        fields = {
            "peak_rss_mb": rss,
            "rss_ratio": rss / base_rss,
            "ibm_runtime_loaded": any(s["ibm_runtime_loaded"] for s in samples[name]),
            "runs": runs,
        }
        if name == "qiskit_divi.backends":
            figure(
                BENCHMARK,
                f"import {name}",
                seconds=seconds,
                baseline_seconds=base_seconds,
                target=TARGET,
                **fields,
            )
        else:
            emit(
                BENCHMARK,
                f"import {name}",
                seconds=seconds,
                baseline_seconds=base_seconds,
                ratio=seconds / base_seconds,
                **fields,
            )
    auto = probe(STATEMENTS["qiskit_divi.backends"], after=_AUTO)
    emit(
        BENCHMARK,
        "ParallelSimulator(qiskit_backend='auto') after import qiskit_divi.backends",
        ibm_runtime_loaded_before=auto["ibm_runtime_loaded"],
        ibm_runtime_loaded_after=auto["after"],
        lazy_ok=(not auto["ibm_runtime_loaded"]) and auto["after"],
    )


if __name__ == "__main__":
    main()
