"""Write the journal fixtures of ``journal_cases.py`` (run once; kept to show how they were made).

    python tests/primitives/data/make_journal_fixtures.py

Each ``<case>.json`` holds every journal entry the call wrote (the payload under the
first Qoro job id, pointers under the others), the decoded raw results of each Qoro
job by circuit label, and the result the writing version built from them.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent)]

from journal_cases import SAMPLING_PRECISIONS, estimator_pubs, sampler_pubs  # noqa: E402

from qiskit_divi import EstimatorV2, QoroProvider, SamplerV2, __version__  # noqa: E402
from qiskit_divi.api.submission import fetch_results  # noqa: E402
from qiskit_divi.emulator import EmulatorConfig  # noqa: E402
from qiskit_divi.emulator.systems import DEFAULT_SYSTEMS  # noqa: E402
from qiskit_divi.journal import JobJournal  # noqa: E402


def _summary(result, kind):
    pubs = []
    for pub in result:
        if kind == "sampler":
            data = {name: pub.data[name].get_bitstrings() for name in pub.data}
        else:
            data = {"evs": pub.data.evs.tolist(), "stds": pub.data.stds.tolist()}
        pubs.append({"data": data, "metadata": pub.metadata})
    return {"pubs": pubs, "metadata": result.metadata}


def _save(name, provider, job, kind):
    result = job.result()
    entries = {job_id: provider.journal.lookup(job_id) for job_id in job.job_ids}
    raw = [fetch_results(provider.client, job_id) for job_id in job.job_ids]
    document = {
        "written_by": f"qiskit_divi {__version__}",
        "kind": kind,
        "entries": [
            {
                "job_id": e.job_id,
                "kind": e.kind,
                "backend_name": e.backend_name,
                "payload": e.payload,
            }
            for e in entries.values()
        ],
        "raw": raw,
        "result": _summary(result, kind),
    }
    (HERE / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")


def main() -> None:
    maestro = next(s for s in DEFAULT_SYSTEMS if s.name == "qoro_maestro")
    noiseless = dataclasses.replace(
        maestro, name="noiseless_sampler", nickname="noiseless", supports_expectation=False
    )
    config = EmulatorConfig(min_job_seconds=0.0, seed=2024, systems=(maestro, noiseless))
    with tempfile.TemporaryDirectory() as tmp:
        journal = JobJournal(Path(tmp) / "jobs.sqlite3")
        with QoroProvider.local(config=config, journal=journal) as provider:
            backend = provider.get_backend("qoro_maestro")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                job = SamplerV2(mode=backend).run(sampler_pubs())
            _save("sampler_format1", provider, job, "sampler")
            job = EstimatorV2(mode=backend).run(estimator_pubs())
            _save("estimator_expectation_format1", provider, job, "estimator")
            job = EstimatorV2(mode=provider.get_backend("noiseless_sampler")).run(
                estimator_pubs(SAMPLING_PRECISIONS)
            )
            _save("estimator_sampling_format1", provider, job, "estimator")


if __name__ == "__main__":
    main()
