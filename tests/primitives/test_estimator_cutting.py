"""Circuit cutting in EstimatorV2 against the emulator (real HTTP jobs): values, plans,
refusals, metadata and journal (qiskit_divi/primitives/cutting.py).

Statistical bound. A cut Pauli term's value is ``sum_i c_i prod_s f_is`` (sample ``i`` with
coefficient ``c_i`` and ``n_i`` shots per sub-experiment; ``f_is`` the term's factor on piece
``s``, a mean of ``+-1`` outcomes, averaged when measured by several groups): an unbiased
estimator of the exact value. Its shots are independent and each factor stays in
``[-1, 1]``, so changing one shot of one sub-experiment of sample ``i`` changes the value by
at most ``2 |c_i| / n_i``, and an observable ``sum_j a_j T_j`` by ``sum_j |a_j|`` times that.
With ``S`` sub-experiments per sample (measurement groups summed over the pieces),
McDiarmid's inequality gives::

    P(|ev - exact| > t) <= 2 exp(-t**2 / (2 S sum_i c_i**2 / n_i (sum_j |a_j|)**2))

so :func:`mcdiarmid_bound` ``t = sum_j |a_j| sqrt(2 S sum_i c_i**2 / n_i ln(2 / delta))``,
``delta = 1e-9`` per compared value (a few dozen values here: a correct estimator fails
with probability below 1e-7). ``c_i`` and ``n_i`` are read from the journaled payload.

At the precisions used here that bound is loose (about ``6.5 sqrt(S)`` times the precision
per unit of ``sum_j |a_j|``), so the reported ``stds`` are checked too, heuristic but
informative: ``|ev - exact| <= 6 std`` (a conservative std: the sum over terms of
``|a_j|`` times each term's standard deviation). Over 20 emulator seeds (about 380 values)
locally no value exceeded 1.7 std nor 9% of its McDiarmid bound (see
:func:`check_cut_values`).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.primitives import PubResult
from qiskit.quantum_info import SparsePauliOp, Statevector
from random_circuits import TARGET_GATES, gate, num_qubits_of

from qiskit_divi import EstimatorV2
from qiskit_divi.api.errors import QoroConfigurationError, QoroInputError
from qiskit_divi.api.models import JobType
from qiskit_divi.primitives.payloads import EstimatorPubPlan, cut_label

DELTA = 1e-9
"""False-alarm probability of one McDiarmid comparison."""
STD_FACTOR = 6.0

_STANDARD = get_standard_gate_name_mapping()
UNITARY = [g for g in TARGET_GATES if g != "reset"]
"""The whole Target gate pool (barriers included: the cutter removes them); no reset, as
the Statevector reference needs a pure state."""
TWO_QUBIT = [g for g in UNITARY if g != "barrier" and num_qubits_of(g) == 2]


# --- circuits -----------------------------------------------------------------------------


def random_block(
    circuit: QuantumCircuit, qubits: list[int], count: int, rng: np.random.Generator
) -> None:
    """``count`` random gates of the whole pool on ``qubits`` only."""
    pool = [g for g in UNITARY if num_qubits_of(g) <= len(qubits)]
    for _ in range(count):
        name = str(rng.choice(pool))
        if name == "barrier":
            circuit.barrier()
            continue
        params = [float(rng.uniform(-math.pi, math.pi)) for _ in _STANDARD[name].params]
        chosen = [int(q) for q in rng.permutation(qubits)[: num_qubits_of(name)]]
        circuit.append(gate(name, params), chosen)


def blocked_circuit(seed: int, widths: tuple[int, int], per_block: int = 5) -> QuantumCircuit:
    """Two blocks of random gates, ONE random two-qubit gate across them, two more blocks:
    one cut at most (overhead <= 49 for a swap), so the shots stay small."""
    rng = np.random.default_rng(seed)
    a, b = widths
    left, right = list(range(a)), list(range(a, a + b))
    circuit = QuantumCircuit(a + b, name=f"blocked_{seed}")
    random_block(circuit, left, per_block, rng)
    random_block(circuit, right, per_block, rng)
    name = str(rng.choice(TWO_QUBIT))
    params = [float(rng.uniform(-math.pi, math.pi)) for _ in _STANDARD[name].params]
    circuit.append(gate(name, params), [a - 1, a])
    random_block(circuit, left, per_block, rng)
    random_block(circuit, right, per_block, rng)
    return circuit


def parametric_chain(num_qubits: int) -> QuantumCircuit:
    """A chain of rotations and entanglers, parameters in the gates that get cut too."""
    theta = [Parameter(f"t{i}") for i in range(3)]
    circuit = QuantumCircuit(num_qubits, name="parametric_chain")
    for q in range(num_qubits):
        circuit.ry(theta[0] * (q + 1) / num_qubits + 0.3 * q, q)
    for q in range(num_qubits - 1):
        circuit.crx(theta[1], q, q + 1) if q % 2 else circuit.cx(q, q + 1)
    for q in range(num_qubits):
        circuit.rz(theta[2] + 0.2 * q, q)
        circuit.sx(q)
    return circuit


def random_observable(num_qubits: int, seed: int, terms: int = 3) -> SparsePauliOp:
    rng = np.random.default_rng(seed)
    labels = {"".join(rng.choice(list("IXYZ"), num_qubits)) for _ in range(terms)}
    return SparsePauliOp(sorted(labels), rng.uniform(-1.0, 1.0, len(labels)))


def two_cx_cut_circuit() -> QuantumCircuit:
    """4 qubits whose 2+2 pieces need two CX gate cuts (overhead 81): no wire cut is cheaper."""
    circuit = QuantumCircuit(4, name="two_cuts")
    for q in range(4):
        circuit.ry(0.4 + 0.3 * q, q)
    circuit.cx(0, 1)
    circuit.cx(2, 3)
    circuit.cx(1, 2)
    circuit.ry(0.7, 1)
    circuit.rx(0.5, 2)
    circuit.cx(1, 2)
    circuit.cx(0, 1)
    circuit.cx(3, 2)
    return circuit


# --- checks -------------------------------------------------------------------------------


def mcdiarmid_bound(pub: EstimatorPubPlan, flat: int, observable: dict[str, float]) -> float:
    """The module docstring's ``t`` for binding ``flat`` of cut ``pub`` and ``observable``."""
    assert pub.cutting is not None
    samples = pub.cutting.samples[pub.cutting.binding_samples[flat]]
    per_sample = pub.cutting.circuits_per_sample
    variance_proxy = sum(c**2 / n for c, n in zip(samples.coefficients, samples.shots, strict=True))
    norm = sum(abs(a) for label, a in observable.items() if set(label) != {"I"})
    return norm * math.sqrt(2 * per_sample * variance_proxy * math.log(2 / DELTA))


def exact_value(circuit: QuantumCircuit, values: np.ndarray, observable: dict[str, float]) -> float:
    bound = circuit.assign_parameters(values) if circuit.parameters else circuit
    operator = SparsePauliOp.from_list(list(observable.items()))
    return float(Statevector(bound).expectation_value(operator).real)


def pub_values(circuit: QuantumCircuit, pub: EstimatorPubPlan, values: np.ndarray | None):
    """``(index in the result shape, flat binding, observable dict, exact value)``."""
    obs_index = np.arange(math.prod(pub.obs_shape)).reshape(pub.obs_shape)
    par_index = np.arange(math.prod(pub.param_shape)).reshape(pub.param_shape)
    rows = (
        np.zeros((1, 0))
        if values is None
        else np.asarray(values).reshape(-1, len(circuit.parameters))
    )
    for position in np.ndindex(*pub.shape):
        o = int(np.broadcast_to(obs_index, pub.shape)[position])
        p = int(np.broadcast_to(par_index, pub.shape)[position])
        observable = pub.observables[o]
        yield position, p, observable, exact_value(circuit, rows[p], observable)


def check_cut_values(
    result: PubResult,
    pub: EstimatorPubPlan,
    circuit: QuantumCircuit,
    values: np.ndarray | None = None,
    allowance: float = 0.0,
) -> list[float]:
    """Every value of a cut PUB within its McDiarmid bound and within 6 reported stds, each
    plus ``allowance`` (for a noisy backend); returns the errors."""
    errors = []
    for position, flat, observable, exact in pub_values(circuit, pub, values):
        ev, std = float(result.data.evs[position]), float(result.data.stds[position])
        bound = mcdiarmid_bound(pub, flat, observable) + allowance
        error = abs(ev - exact)
        errors.append(error)
        assert error <= bound, (
            f"{circuit.name}{position}: ev {ev:+.4f}, exact {exact:+.4f}, bound {bound:.4f}"
        )
        assert error <= STD_FACTOR * std + allowance + 1e-12, (
            f"{circuit.name}{position}: ev {ev:+.4f}, exact {exact:+.4f}, std {std:.4f}"
        )
    return errors


def spec_shots(spec) -> list[int]:
    """The shots of each circuit of a sampling job spec, in order."""
    if spec.shot_groups is None:
        return [spec.shots] * len(spec.circuits)
    out: list[int] = []
    for start, end, shots in spec.shot_groups:
        assert start == len(out) and end > start  # the groups tile the circuits in order
        out.extend([shots] * (end - start))
    assert len(out) == len(spec.circuits)
    return out


def planned_shots(pub_index: int, pub: EstimatorPubPlan) -> dict[str, int]:
    """Each sub-experiment's label and shots, from the PUB's cutting plan."""
    assert pub.cutting is not None
    out = {}
    for flat, k in enumerate(pub.cutting.binding_samples):
        for i, shots in enumerate(pub.cutting.samples[k].shots):
            for s, piece in enumerate(pub.cutting.pieces):
                for g in range(len(piece.groups)):
                    out[cut_label(pub_index, flat, i, s, g)] = shots
    return out


NO_PROGRESS = {"progress": False}


# --- values -----------------------------------------------------------------------------


def test_cut_pubs_agree_with_statevector_on_a_noiseless_sampler(noiseless, sampling_server):
    chain = parametric_chain(5)
    bindings = np.array([[0.3, 1.1, -0.4], [2.0, -0.7, 1.3], [-1.2, 2.5, 0.2]])
    chain_obs = [[random_observable(5, 10)], [SparsePauliOp(["ZZIII", "IIZZI"], [0.5, 0.5])]]
    circuits = [blocked_circuit(seed, (3, 3)) for seed in (1, 2, 3)] + [blocked_circuit(4, (2, 3))]
    pubs = [(c, [random_observable(c.num_qubits, 20 + k, 4) for k in range(2)]) for c in circuits]
    pubs.append((chain, chain_obs, bindings))
    estimator = EstimatorV2(noiseless, options=dict(NO_PROGRESS, cutting_max_qubits=3))
    job = estimator.run(pubs, precision=0.05)
    result = job.result()
    (job_id,) = job.job_ids
    assert sampling_server.jobs[job_id].job_type != JobType.EXPECTATION.value
    assert result[4].data.evs.shape == (2, 3)
    for index, (circuit, *rest) in enumerate(pubs):
        pub = job.payload.pubs[index]
        assert pub.cutting is not None and result[index].metadata["cutting"]["cuts"]
        check_cut_values(result[index], pub, circuit, rest[1] if len(rest) > 1 else None)
    # the parametric PUB's bindings cut crx at different angles: their own coefficients
    chain_plan = job.payload.pubs[4].cutting
    assert len(set(chain_plan.binding_samples)) == 3


@pytest.fixture(scope="module")
def mixed_call(maestro, emulator_server):
    """One cut PUB and one uncut PUB on maestro (EXPECTATION system), run once."""
    return run_mixed_call(maestro, emulator_server)


def run_mixed_call(maestro, emulator_server):
    cut = blocked_circuit(7, (3, 3))
    uncut = blocked_circuit(8, (2, 1))
    pubs = [
        (cut, [random_observable(6, 30), random_observable(6, 31)]),
        (uncut, [random_observable(3, 32), random_observable(3, 33)]),
    ]
    before = set(emulator_server.jobs)
    estimator = EstimatorV2(maestro, options=dict(NO_PROGRESS, cutting_max_qubits=4))
    job = estimator.run(pubs, precision=0.05)
    result = job.result()
    new = [job_id for job_id in emulator_server.jobs if job_id not in before]
    return pubs, job, result, new


def test_a_mixed_call_on_an_expectation_system_cuts_one_pub_as_sampling(
    mixed_call, emulator_server
):
    pubs, job, result, new = mixed_call
    assert sorted(new) == sorted(job.job_ids) and len(new) == 2
    kinds = {emulator_server.jobs[job_id].job_type for job_id in new}
    assert JobType.EXPECTATION.value in kinds and len(kinds) == 2
    cut_plan, uncut_plan = job.payload.pubs
    assert emulator_server.jobs[job.job_ids[uncut_plan.job]].job_type == "EXPECTATION"
    assert emulator_server.jobs[job.job_ids[cut_plan.job]].job_type != "EXPECTATION"
    assert cut_plan.cutting is not None and uncut_plan.cutting is None
    check_cut_values(result[0], cut_plan, pubs[0][0])
    for position, _, _, exact in pub_values(pubs[1][0], uncut_plan, None):
        assert result[1].data.evs[position] == pytest.approx(exact, abs=1e-9)
    assert "cutting" not in result[1].metadata


def test_a_10_qubit_circuit_is_cut_for_fake_nairobi_and_agrees_within_noise(provider):
    """Wider than the 7-qubit backend: cut automatically (one CX gate cut, 7 + 3 qubits).

    The noise model (readout and CX errors) shrinks the values toward 0: at precision 0.02
    the errors were -0.03..-0.06 (<Z0>, exact 0.94) and -0.09..-0.10 (the ZZ sum, exact
    0.83), so both bounds get an allowance of 0.15 for the noise; at precision 0.05 the errors
    seen over 20 emulator seeds stayed at or below 0.10 (std ~0.04: the 6-std check is the
    binding one, about 0.37). A sign error or a lost cut factor still fails."""
    noise_allowance = 0.15
    circuit = QuantumCircuit(10, name="chain10")
    for q in range(10):
        circuit.ry(0.35 + 0.05 * q, q)
    for q in range(9):
        circuit.cx(q, q + 1)
    for q in range(10):
        circuit.rz(0.2 * q, q)
    observables = [
        SparsePauliOp(["IIIIIIIIIZ"]),
        SparsePauliOp(["IIIIIIIIZZ", "ZZIIIIIIII"], [0.6, 0.4]),
        SparsePauliOp(["IIZZIIIIII", "IZZIIIIIII"], [0.5, -0.5]),
    ]
    backend = provider.get_backend("fake_nairobi")
    estimator = EstimatorV2(backend, options=NO_PROGRESS)
    job = estimator.run([(circuit, observables)], precision=0.05)
    result = job.result()
    metadata = result[0].metadata["cutting"]
    assert metadata["max_qubits"] == 7 and max(metadata["piece_widths"]) <= 7
    errors = check_cut_values(result[0], job.payload.pubs[0], circuit, allowance=noise_allowance)
    assert len(errors) == 3


# --- refusals and plans --------------------------------------------------------------------


def test_an_overhead_above_the_bound_is_refused_before_any_job(maestro, new_jobs):
    circuit = two_cx_cut_circuit()
    options = dict(NO_PROGRESS, cutting_max_qubits=2, cutting_max_overhead=10)
    estimator = EstimatorV2(maestro, options=options)
    with pytest.raises(QoroInputError, match=r"overhead of 81 .*cutting_max_overhead=10\b"):
        estimator.run([(circuit, "ZZZZ")], precision=0.1)
    (report,) = estimator.plan_cuts([(circuit, "ZZZZ")], precision=0.1)
    assert report.refused is not None and "81" in report.refused and report.shots is None
    assert report.sampling_overhead == pytest.approx(81) and "refused" in str(report)
    assert new_jobs() == []


def test_plan_cuts_reports_what_run_sends(maestro, new_jobs):
    circuit = two_cx_cut_circuit()
    small = QuantumCircuit(2)
    small.h(0)
    small.cx(0, 1)
    pubs = [(circuit, ["ZZZZ", "XIIX"]), (small, "ZZ")]
    estimator = EstimatorV2(maestro, options=dict(NO_PROGRESS, cutting_max_qubits=2))
    cut_report, uncut_report = estimator.plan_cuts(pubs, precision=0.2)
    assert new_jobs() == []
    assert not uncut_report.needs_cutting and "no cut needed" in str(uncut_report)
    assert cut_report.needs_cutting and cut_report.refused is None
    assert [(c.kind, c.operation) for c in cut_report.cuts] == [("gate", "cx")] * 2
    assert all(c.qubits == (1, 2) for c in cut_report.cuts)
    assert cut_report.sampling_overhead == pytest.approx(81)
    assert cut_report.piece_widths == (2, 2) and cut_report.max_qubits == 2
    text = str(cut_report)
    assert "2 gate cuts" in text and "overhead 81" in text and f"{cut_report.shots:,} shots" in text
    # what the plan sends, and then what the emulator receives
    plan = estimator.plan(pubs, precision=0.2)
    cut_spec = plan.specs[plan.pubs[0].job]
    assert len(cut_spec.circuits) == cut_report.num_subexperiments
    assert sum(spec_shots(cut_spec)) == cut_report.shots
    job = estimator.run(pubs, precision=0.2)
    result = job.result()
    cut_id = job.job_ids[job.payload.pubs[0].job]
    assert len(new_jobs()) == 2
    assert result[0].metadata["cutting"]["num_subexperiments"] == cut_report.num_subexperiments
    assert result[0].metadata["cutting"]["shots"] == cut_report.shots
    assert result[0].metadata["cutting"]["cuts"] == [c.to_json() for c in cut_report.cuts]
    assert job.payload.pubs[0].cutting.num_subexperiments == cut_report.num_subexperiments
    assert cut_id in new_jobs()


def test_all_cut_pubs_of_a_call_travel_in_one_job_with_shot_groups(noiseless):
    pubs = [
        (blocked_circuit(11, (3, 3)), random_observable(6, 40), None, 0.2),
        (blocked_circuit(12, (2, 3)), random_observable(5, 41), None, 0.1),
    ]
    estimator = EstimatorV2(noiseless, options=dict(NO_PROGRESS, cutting_max_qubits=3))
    plan = estimator.plan(pubs)
    (spec,) = plan.specs
    assert {pub.job for pub in plan.pubs} == {0}
    assert spec.shot_groups is not None and len({n for _, _, n in spec.shot_groups}) > 1
    expected = {**planned_shots(0, plan.pubs[0]), **planned_shots(1, plan.pubs[1])}
    assert dict(zip(spec.circuits, spec_shots(spec), strict=True)) == expected
    assert spec_shots(spec) == sorted(spec_shots(spec), reverse=True)


# --- metadata, journal, retrieval ----------------------------------------------------------


def test_cut_metadata_journal_and_retrieval_in_a_fresh_process(mixed_call, run_fresh_process):
    pubs, job, result, _ = mixed_call
    metadata = result[0].metadata["cutting"]
    assert set(metadata) == {
        "cuts", "sampling_overhead", "num_subexperiments", "shots", "piece_widths", "max_qubits",
    }  # fmt: skip
    assert metadata["max_qubits"] == 4 and max(metadata["piece_widths"]) <= 4
    wire_cuts = sum(cut["kind"] == "wire" for cut in metadata["cuts"])
    assert sum(metadata["piece_widths"]) == 6 + wire_cuts  # a wire cut adds a qubit
    assert job.payload.to_json()["format"] == 2
    seen = run_fresh_process(
        f"result = provider.retrieve_job({job.job_id()!r}).result()\n"
        "import json\n"
        "print(json.dumps([[p.data.evs.tolist(), p.metadata.get('cutting')] for p in result]))"
    )
    assert seen[0][1] == metadata and seen[1][1] is None
    for mine, theirs in zip(result, seen, strict=True):
        np.testing.assert_allclose(theirs[0], mine.data.evs, rtol=0, atol=1e-12)


def test_a_call_without_cuts_still_journals_format_1(maestro):
    small = QuantumCircuit(2)
    small.h(0)
    estimator = EstimatorV2(maestro, options=dict(NO_PROGRESS, cutting_max_qubits=2))
    job = estimator.run([(small, "ZX")])
    assert job.result()[0].data.evs == pytest.approx(1.0, abs=1e-9)
    assert job.payload.to_json()["format"] == 1


def test_without_the_extra_a_wide_pub_names_it_before_any_job(
    provider, maestro, monkeypatch, new_jobs
):
    monkeypatch.setitem(sys.modules, "qiskit_addon_cutting", None)
    backend = provider.get_backend("fake_nairobi")
    estimator = EstimatorV2(backend, options=NO_PROGRESS)
    wide = QuantumCircuit(8)
    wide.h(range(8))
    with pytest.raises(QoroConfigurationError, match=r"qiskit-divi\[cutting\]"):
        estimator.run([(wide, "Z" * 8)])
    with pytest.raises(QoroConfigurationError, match=r"qiskit-divi\[cutting\]"):
        estimator.plan_cuts([(wide, "Z" * 8)])
    assert new_jobs() == []
    narrow = QuantumCircuit(1)
    narrow.ry(0.8, 0)
    (report,) = estimator.plan_cuts([(narrow, "Z")])
    assert not report.needs_cutting
    result = EstimatorV2(maestro, options=NO_PROGRESS).run([(narrow, "Z")]).result()
    assert result[0].data.evs == pytest.approx(math.cos(0.8), abs=1e-9)
