"""qh1 decode time: ``qiskit_divi.api.histogram.decode_histogram`` against a
straightforward pure-Python decoder of the format (``qoro-api.md`` section 5.3).

Workload: a 20-qubit histogram of 100k and of 1M shots sampled from a skewed random
distribution over the 2**20 outcomes. Both decoders are timed in alternation and
their medians compared; target: the package decoder at least 5x faster.

    python benchmarks/bench_histogram.py [--quick]
"""

from __future__ import annotations

import functools

import numpy as np
from _common import SEED, emit, figure, interleaved, machine, median, quick_mode, sampled_counts

from qiskit_divi.api.histogram import decode_histogram, encode_histogram

NUM_BITS = 20
TARGET_SPEEDUP = 5.0


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def reference_decode(buf: bytes) -> dict[str, int]:
    """The yardstick: qh1 decoded field by field in plain Python, with the spec's checks."""
    if buf[:3] != b"QH1":
        raise ValueError("bad magic")
    n_bits, pos = buf[3], 4
    unique, pos = _varint(buf, pos)
    total_shots, pos = _varint(buf, pos)
    num_gaps, pos = _varint(buf, pos)
    indices = []
    index = 0
    for _ in range(num_gaps):
        gap, pos = _varint(buf, pos)
        index += gap
        indices.append(index)
    rle_len, pos = _varint(buf, pos)
    rle_end = pos + rle_len
    flags: list[bool] = []
    if rle_len:
        num_runs, pos = _varint(buf, pos)
        if num_runs:
            value = buf[pos] != 0
            pos += 1
            for _ in range(num_runs):
                length, pos = _varint(buf, pos)
                flags.extend([value] * length)
                value = not value
    pos = rle_end
    _num_extras, pos = _varint(buf, pos)
    counts = []
    for is_one in flags:
        if is_one:
            counts.append(1)
        else:
            extra, pos = _varint(buf, pos)
            counts.append(extra + 2)
    if sum(counts) != total_shots:
        raise ValueError("corrupt stream: shot sum mismatch")
    if len(counts) != unique:
        raise ValueError("corrupt stream: unique mismatch")
    fmt = f"0{n_bits}b"
    return {format(i, fmt): c for i, c in zip(indices, counts, strict=True)}


def main() -> None:
    quick = quick_mode()
    rng = np.random.default_rng(SEED)
    sizes = (10_000,) if quick else (100_000, 1_000_000)
    rounds = 3 if quick else 15
    for shots in sizes:
        counts = sampled_counts(NUM_BITS, shots, rng)
        payload = encode_histogram(counts, NUM_BITS)
        decoded = decode_histogram(payload)
        identical = decoded == counts and reference_decode(payload) == counts
        times = interleaved(
            {
                "package": functools.partial(decode_histogram, payload),
                "reference": functools.partial(reference_decode, payload),
            },
            rounds,
        )
        figure(
            "histogram",
            f"qh1 decode, {NUM_BITS} bits, {shots} shots",
            seconds=median(times["package"]),
            baseline_seconds=median(times["reference"]),
            target=TARGET_SPEEDUP,
            higher_is_better=True,
            ratio_kind="speed-up over the pure-Python decoder (median of interleaved runs)",
            best_seconds=min(times["package"]),
            unique_outcomes=len(counts),
            payload_bytes=len(payload),
            identical=identical,
            **machine(),
        )
    if not quick:
        emit(
            "histogram",
            "note",
            text="ratio = reference seconds / package seconds; higher is better",
        )


if __name__ == "__main__":
    main()
