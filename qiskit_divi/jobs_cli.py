"""``qiskit-divi jobs`` and ``qiskit-divi job``: this machine's Qoro jobs at the command line.

.. code-block:: text

    qiskit-divi jobs [--status S] [--backend B] [--kind K] [--limit N] [--all] [--json]
    qiskit-divi job JOB_ID              # status, system, shots, when
    qiskit-divi job JOB_ID --cancel     # exit status 1 when the job had already ended
    qiskit-divi job JOB_ID --result     # counts or expectation values as JSON on stdout

Both run :meth:`QoroProvider.jobs` / :meth:`QoroProvider.job`, with the token and URL the
provider resolves (``QORO_API_KEY``, ``QORO_API_URL``, a ``.env`` file; ``--url`` overrides
the URL; the token is never a command-line argument, which shell histories keep). Errors go
to stderr, saying what to do, with exit status 1 (2 for bad arguments, as argparse does).
Output goes through ``sys.stdout.write``: this is a command, not library code.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit.primitives import PrimitiveResult

from .api.errors import QoroError
from .job import QoroJob
from .job_records import JOB_KINDS, JobRecord, created_at, summary
from .journal import KIND_BACKEND_RUN, KIND_ESTIMATOR
from .provider import QoroProvider

logger = logging.getLogger(__name__)

_STATUS_CHOICES = ("QUEUED", "RUNNING", "DONE", "ERROR", "CANCELLED")
_COLUMNS = ("JOB ID", "KIND", "BACKEND", "STATUS", "QORO STATUS", "CREATED", "SHOTS", "SIZE")


# --- qiskit-divi jobs ---------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``qiskit-divi jobs``."""
    parser.description = (
        "List the Qoro jobs journaled on this machine (backend.run, SamplerV2, EstimatorV2), "
        "newest first, with their status asked of the service now."
    )
    parser.add_argument(
        "--status",
        type=str.upper,
        choices=_STATUS_CHOICES,
        help="only jobs now in this Qiskit status",
    )
    parser.add_argument("--backend", metavar="NAME", help="only jobs of this backend")
    parser.add_argument("--kind", choices=JOB_KINDS, help="only jobs of this kind")
    parser.add_argument(
        "--limit", type=int, default=20, metavar="N", help="at most N jobs (default 20)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also jobs of other URLs (never a loopback emulator's against a real service)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    _add_url(parser)


def run(args: argparse.Namespace) -> int:
    """List the jobs; 0 on success, 1 on an error (printed to stderr)."""
    try:
        with QoroProvider(url=args.url) as provider:
            records = provider.jobs(
                limit=args.limit,
                backend=args.backend,
                status=args.status,
                kind=args.kind,
                all_urls=args.all,
            )
            if args.json:
                _write(json.dumps([r.to_json() for r in records], indent=2))
            elif records:
                _write(format_table(records, provider.url))
            else:
                _write(
                    f"No journaled jobs{_filters(args)} at {provider.url} (journal: "
                    f"{provider.journal.path or 'off'})."
                )
    except QoroError as exc:
        return _error("jobs", exc)
    return 0


def format_table(records: Sequence[JobRecord], url: str) -> str:
    """The listing as aligned text columns (times local); other URLs' jobs name theirs."""
    rows = [_COLUMNS] + [_row(r, url) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    others = sorted({r.base_url or "unknown URL" for r in records if r.qoro_status is None})
    if others:
        lines.append(f"(no status: jobs of {', '.join(others)}, not of {url})")
    return "\n".join(lines)


def _row(record: JobRecord, url: str) -> tuple[str, ...]:
    if record.num_circuits is not None:
        size = f"{record.num_circuits} circuit{'s' if record.num_circuits != 1 else ''}"
    elif record.num_pubs is not None:
        size = f"{record.num_pubs} PUB{'s' if record.num_pubs != 1 else ''}"
    else:
        size = "-"
    return (
        record.job_id,
        record.kind,
        record.backend_name,
        "-" if record.status is None else record.status.name,
        record.qoro_status or "-",
        _when(record.created),
        "-" if record.shots is None else str(record.shots),
        size,
    )


def _filters(args: argparse.Namespace) -> str:
    parts = [
        f"{name} {value}"
        for name, value in (("status", args.status), ("backend", args.backend), ("kind", args.kind))
        if value
    ]
    return f" with {', '.join(parts)}" if parts else ""


# --- qiskit-divi job ----------------------------------------------------------------


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``qiskit-divi job``."""
    parser.description = (
        "Show one Qoro job (status, system, shots, when), cancel it, or print its result."
    )
    parser.add_argument("job_id", metavar="JOB_ID", help="the Qoro job id")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--cancel", action="store_true", help="cancel the job")
    action.add_argument(
        "--result",
        action="store_true",
        help="wait for the job and print its counts or expectation values as JSON",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="with --result: wait at most this long"
    )
    _add_url(parser)


def run_job(args: argparse.Namespace) -> int:
    """Show, cancel or print the result of one job; 0 on success, 1 otherwise."""
    try:
        with QoroProvider(url=args.url) as provider:
            job = provider.job(args.job_id)
            if args.cancel:
                return _cancel(job)
            if args.result:
                _write(json.dumps(result_json(job, timeout=args.timeout), indent=2))
                return 0
            _write(describe(provider, job))
    except QoroError as exc:
        return _error("job", exc)
    return 0


Job = Any  # QoroJob | QoroPrimitiveJob; Any keeps the primitives out of this import


def describe(provider: QoroProvider, job: Job) -> str:
    """Status, system, shots, size and when of ``job``, one ``name value`` line each."""
    entry = provider.journal.lookup(job.job_id())
    qoro_jobs = [job] if isinstance(job, QoroJob) else job.qoro_jobs
    status = job.status()
    raw = ", ".join(dict.fromkeys(q.qoro_status() for q in qoro_jobs))
    run_times = [q.run_time for q in qoro_jobs if q.run_time is not None]
    lines = [("Job", job.job_id())]
    if len(qoro_jobs) > 1:
        lines.append(("Qoro jobs", ", ".join(q.job_id() for q in qoro_jobs)))
    lines += [
        ("Kind", entry.kind if entry is not None else "unknown (not in this machine's journal)"),
        ("System", job.backend_name or "unknown"),
        ("Status", f"{status.name} ({raw})"),
    ]
    if entry is not None:
        shots, num_circuits, num_pubs = summary(entry)
        lines.append(("Shots", "-" if shots is None else str(shots)))
        if num_circuits is not None:
            lines.append(("Circuits", str(num_circuits)))
        if num_pubs is not None:
            lines.append(("PUBs", str(num_pubs)))
        lines.append(("Created", _when(created_at(entry))))
    if run_times:
        lines.append(("Run time", f"{sum(run_times):.3f} s"))
    lines.append(("URL", provider.url))
    width = max(len(name) for name, _ in lines)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in lines)


def result_json(job: Job, *, timeout: float | None = None) -> dict[str, Any]:
    """The result of ``job`` as JSON-ready values (waits for it).

    ``backend.run``: counts per circuit; SamplerV2: counts per classical register of each
    PUB (nested lists of counts, one per binding, for a PUB with a shape); EstimatorV2:
    ``evs`` and ``stds`` of each PUB (and ``cutting``, what was cut, for a cut PUB); a job
    without a journal entry: the raw results per Qoro circuit label.
    """
    head: dict[str, Any] = {"job_id": job.job_id(), "backend": job.backend_name}
    if isinstance(job, QoroJob):
        if job.circuit_names is None:
            return {**head, "kind": None, "raw_results": job.raw_results(timeout=timeout)}
        result = job.result(timeout=timeout)
        circuits = [
            {"name": name, "shots": result.results[i].shots, "counts": result.get_counts(i)}
            for i, name in enumerate(job.circuit_names)
        ]
        return {**head, "kind": KIND_BACKEND_RUN, "results": circuits}
    primitive: PrimitiveResult = job.result(timeout=timeout)
    if job.kind == KIND_ESTIMATOR:
        pubs = [
            {
                "shape": list(pub.data.evs.shape),
                "evs": np.asarray(pub.data.evs).tolist(),
                "stds": np.asarray(pub.data.stds).tolist(),
                **({"cutting": pub.metadata["cutting"]} if "cutting" in pub.metadata else {}),
            }
            for pub in primitive
        ]
    else:
        pubs = [
            {
                "shape": list(pub.data.shape),
                "counts": {name: _counts(bits) for name, bits in pub.data.items()},
            }
            for pub in primitive
        ]
    return {**head, "kind": job.kind, "job_ids": job.job_ids, "pubs": pubs}


def _counts(bits: Any) -> Any:
    """A ``BitArray``'s counts: one dict, or nested lists of them following its shape."""
    if not bits.shape:
        return bits.get_counts()
    return [_counts(bits[i]) for i in range(bits.shape[0])]


def _cancel(job: Job) -> int:
    if job.cancel():
        _write(f"Cancelled job {job.job_id()}.")
        return 0
    status = job.status()
    sys.stderr.write(
        f"qiskit-divi job: job {job.job_id()} was not cancelled: it has already ended "
        f"({status.name}).\n"
    )
    return 1


# --- shared -------------------------------------------------------------------------


def _add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help="API root including /api (default: QORO_API_URL, else production)"
    )


def _when(moment: datetime.datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")


def _error(command: str, exc: QoroError) -> int:
    sys.stderr.write(f"qiskit-divi {command}: error: {exc}\n")
    return 1
