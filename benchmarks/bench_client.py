"""Client-side CPU per circuit for a 10k-circuit job: preparing the upload and decoding
the results, without the network.

* upload preparation: what :func:`qiskit_divi.api.submission.submit_job` does before
  the first byte leaves: ``pack_circuit`` (gzip + base64) of every QASM string,
  ``chunk_packed_circuits`` into ``add_circuits`` bodies, and each body serialised to
  JSON as the client sends it;
* result decoding: ``fetch_results`` over resultsV2 pages of 100 rows (the client's
  page size) given as the JSON text the server sends: ``json.loads``, the page model,
  qh1 decoding of every histogram and the per-circuit shot check;
* writing the circuits as OpenQASM 2 is reported on its own lines, not counted: divi
  programs hand the client QASM text, and ``backend.run`` / the primitives write it
  with ``qiskit_divi._circuits.to_qasm`` (``qasm2.dumps`` shown for comparison).

Workload: four-qubit two-layer hardware-efficient circuits (as in
``bench_parallel_simulator.py`` (b)), 1000 shots, histograms sampled from a skewed
distribution. Target: upload preparation plus result decoding < 50 us per circuit.

    python benchmarks/bench_client.py [--quick]
"""

from __future__ import annotations

import json

import numpy as np
from _common import (
    SEED,
    cpu_timed,
    emit,
    hardware_efficient_circuits,
    machine,
    median,
    quick_mode,
    sampled_counts,
)
from qiskit import qasm2

from qiskit_divi._circuits import to_qasm
from qiskit_divi.api import (
    MAX_PAYLOAD_BYTES,
    AddCircuitsRequest,
    chunk_packed_circuits,
    pack_circuit,
)
from qiskit_divi.api.client import RESULTS_PAGE_SIZE
from qiskit_divi.api.histogram import encode_envelope
from qiskit_divi.api.models import parse_results_page
from qiskit_divi.api.submission import fetch_results

BENCHMARK = "client"
SHOTS = 1000
TARGET_US = 50.0


def prepare_upload(circuits: dict[str, str]) -> list[bytes]:
    """The request bodies of the ``add_circuits`` calls, as ``submit_job`` builds them."""
    packed = {label: pack_circuit(qasm) for label, qasm in circuits.items()}
    chunks = chunk_packed_circuits(packed, max_bytes=MAX_PAYLOAD_BYTES, overhead_bytes=96)
    return [
        json.dumps(
            AddCircuitsRequest(
                circuits=chunk, finalized=i == len(chunks) - 1, shots=SHOTS
            ).to_json()
        ).encode("utf-8")
        for i, chunk in enumerate(chunks)
    ]


class _PagesClient:
    """Serves resultsV2 pages from their JSON text, as ``QoroClient.iter_results`` would."""

    def __init__(self, pages: list[bytes]):
        self.pages = pages

    def iter_results(self, job_id: str):
        for text in self.pages:
            yield from parse_results_page(json.loads(text)).rows


def result_pages(labels: list[str], num_bits: int, rng: np.random.Generator) -> list[bytes]:
    rows = [
        {"label": label, "results": encode_envelope(sampled_counts(num_bits, SHOTS, rng), num_bits)}
        for label in labels
    ]
    pages = []
    for start in range(0, len(rows), RESULTS_PAGE_SIZE):
        page = rows[start : start + RESULTS_PAGE_SIZE]
        nxt = (
            None
            if start + RESULTS_PAGE_SIZE >= len(rows)
            else f"?limit={RESULTS_PAGE_SIZE}&offset={start + RESULTS_PAGE_SIZE}"
        )
        pages.append(
            json.dumps(
                {"count": len(rows), "next": nxt, "previous": None, "results": page}
            ).encode()
        )
    return pages


def main() -> None:
    quick = quick_mode()
    count = 500 if quick else 10_000
    rounds = 3 if quick else 7
    circuits = hardware_efficient_circuits(count, num_qubits=4, layers=2)
    dumps_seconds, _ = cpu_timed(lambda: {f"c{i}": qasm2.dumps(c) for i, c in enumerate(circuits)})
    writer_seconds, qasm = cpu_timed(lambda: {f"c{i}": to_qasm(c) for i, c in enumerate(circuits)})
    labels = list(qasm)
    pages = result_pages(labels, 4, np.random.default_rng(SEED))

    upload, decode = [], []
    for _ in range(rounds):
        seconds, bodies = cpu_timed(lambda: prepare_upload(qasm))
        upload.append(seconds)
        seconds, results = cpu_timed(
            lambda: fetch_results(_PagesClient(pages), "job", labels, shots=SHOTS)
        )
        decode.append(seconds)
    assert len(results) == count and all(sum(c.values()) == SHOTS for c in results.values())

    workload = f"{count} circuits, 4 qubits, {SHOTS} shots"
    per = 1e6 / count
    timing = f"process CPU time per circuit, best of {rounds} rounds (median in *_median)"
    emit(
        BENCHMARK,
        workload,
        part="QASM text, qasm2.dumps (not counted)",
        us_per_circuit=dumps_seconds * per,
    )
    emit(
        BENCHMARK,
        workload,
        part="QASM text, qiskit_divi to_qasm as backend.run writes it (not counted)",
        us_per_circuit=writer_seconds * per,
    )
    emit(
        BENCHMARK,
        workload,
        part="upload preparation: pack + chunk + JSON bodies",
        us_per_circuit=min(upload) * per,
        us_per_circuit_median=median(upload) * per,
        requests=len(bodies),
        upload_bytes=sum(len(b) for b in bodies),
    )
    emit(
        BENCHMARK,
        workload,
        part="result decoding: pages JSON + models + qh1 + checks",
        us_per_circuit=min(decode) * per,
        us_per_circuit_median=median(decode) * per,
    )
    total = (min(upload) + min(decode)) * per
    emit(
        BENCHMARK,
        workload,
        part="client overhead (upload preparation + result decoding)",
        seconds=min(upload) + min(decode),
        us_per_circuit=total,
        us_per_circuit_median=(median(upload) + median(decode)) * per,
        target_us=TARGET_US,
        met=total < TARGET_US,
        timing=timing,
        **machine(),
    )


if __name__ == "__main__":
    main()
