"""examples/cut_estimate.py runs end to end (in a fresh interpreter): its cut estimates agree
with exact ``qiskit.quantum_info`` values, and its ``plan_cuts`` preview is what ran."""

from __future__ import annotations

import re

import numpy as np
import pytest
from example_runs import run_example
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp, Statevector

FLOAT = r"(-?\d+\.\d+)"
NUMBER = r"([\d,.]+)"
PREVIEW = re.compile(
    rf"  (.+?): PUB 0: 10 qubits into pieces of at most (\d+) \(([\d+]+)\): (\d+) gate cuts?, "
    rf"sampling overhead {NUMBER}, {NUMBER} sub-experiments(?:, {NUMBER} shots)?(; refused: .*)?$",
    re.M,
)
RAN = re.compile(
    rf"^(.+?) \(.*\): (\d+) Qoro job \([\w-]+\)\n"
    rf"    <H> = {FLOAT} \+- {FLOAT} \(std\), exact {FLOAT} \(Statevector\)\n"
    rf"    ran: pieces of at most (\d+) \(([\d+]+)\), (\d+) cuts \((.*)\), "
    rf"sampling overhead {NUMBER}, {NUMBER} sub-experiments, {NUMBER} shots$",
    re.M,
)
SIGMAS = 6
"""The noiseless bound: |value - exact| <= 6 std. The reported std is an upper bound on the
estimate's standard deviation (64,800 shots, so the estimate is close to normal): a correct
estimator fails with probability below 2e-9."""
NOISE_PULL = (0.2, 0.6)
"""fake_nairobi's noise lowers <H> by b, measured at 0.43 +- 0.04 (seven runs of the example's
circuit: b = 0.43-0.53 at precision 0.05, 0.434 +- 0.044 at precision 0.015). The test asks
0.2 <= exact - value <= 0.6 + 6 std: the lower end is the example's claim that noise pulls
<H> down (its run-to-run spread is 0.04, so 0.2 is over 5 spreads from b), the upper end b
with margin plus the noiseless bound."""


def exact_value() -> float:
    """The example's circuit and observable, stated independently."""
    circuit = efficient_su2(10, entanglement="linear", reps=2)
    angles = np.random.default_rng(1).uniform(-0.5, 0.5, circuit.num_parameters)
    terms = [("Z", [0], 1.0), ("ZZ", [4, 5], 1.0), ("ZZ", [6, 7], 1.0), ("Z", [9], 1.0)]
    state = Statevector(circuit.assign_parameters(angles))
    return float(state.expectation_value(SparsePauliOp.from_sparse_list(terms, 10)).real)


def plain(number: str) -> float:
    return float(number.replace(",", ""))


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> str:
    return run_example("cut_estimate.py", tmp_path_factory.mktemp("cut_estimate"))


def runs(out: str) -> dict[str, re.Match[str]]:
    found = {match[1]: match for match in RAN.finditer(out)}
    assert set(found) == {"fake_nairobi", "qoro_maestro, cutting_max_qubits=5"}, out
    return found


def test_the_printed_exact_value_is_the_statevector_one(out):
    exact = exact_value()
    assert abs(float(re.search(rf"exact <H> = {FLOAT}", out)[1]) - exact) < 1e-4
    for match in runs(out).values():
        assert abs(float(match[5]) - exact) < 1e-4


def test_the_noiseless_cut_estimate_is_within_6_std_of_exact(out):
    match = runs(out)["qoro_maestro, cutting_max_qubits=5"]
    value, std = float(match[3]), float(match[4])
    assert 0 < std <= 0.05 * 4  # at most precision per term, 4 unit-weight terms
    assert abs(value - exact_value()) <= SIGMAS * std, (value, std)


def test_the_noisy_cut_estimate_is_pulled_down_by_the_qpu_noise(out):
    match = runs(out)["fake_nairobi"]
    value, std = float(match[3]), float(match[4])
    low, high = NOISE_PULL
    assert low <= exact_value() - value <= high + SIGMAS * std, (value, std)


def test_the_preview_is_what_ran_in_one_job_each(out):
    previews = {match[1]: match for match in PREVIEW.finditer(out)}
    assert set(previews) == {
        "fake_nairobi",
        "qoro_maestro, cutting_max_qubits=5",
        "qoro_maestro, cutting_max_qubits=3",
    }, out
    for name, ran in runs(out).items():
        preview = previews[name]
        assert preview[8] is None, preview[0]  # not refused
        assert ran[2] == "1"  # every sub-experiment in one Qoro job
        # max qubits, piece widths, cuts, overhead, sub-experiments, shots
        assert (preview[2], preview[3], preview[4]) == (ran[6], ran[7], ran[8])
        assert [plain(preview[i]) for i in (5, 6, 7)] == [plain(ran[i]) for i in (10, 11, 12)]
        assert ran[9].count("gate cx(") == int(ran[8])
    # the QPU's pieces: 7 + 3 qubits; cutting_max_qubits=5 on the simulator: 5 + 5; each
    # 2 cut cx, overhead 9**2, shots 81 * ceil(1 / 0.05**2) per piece
    assert runs(out)["fake_nairobi"][7] == "7+3"
    assert runs(out)["qoro_maestro, cutting_max_qubits=5"][7] == "5+5"
    for ran in runs(out).values():
        assert plain(ran[10]) == 81 and plain(ran[12]) == 2 * 81 * 400


def test_pieces_of_3_qubits_are_refused_by_the_default_bound_without_a_job(out):
    refused = [m for m in PREVIEW.finditer(out) if m[1] == "qoro_maestro, cutting_max_qubits=3"]
    assert len(refused) == 1 and refused[0][7] is None  # no shots: nothing generated
    assert plain(refused[0][5]) > 1e4
    assert "above cutting_max_overhead=10000" in refused[0][8]
    assert out.count("Qoro job (") == 2  # the refused PUB sent nothing
