"""EstimatorV2 through the emulator, compared with Qiskit's StatevectorEstimator.

``qoro_maestro`` runs EXPECTATION jobs (exact values); ``noiseless_sampler`` and
``fake_ion`` use the sampling fallback.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2, PubResult, StatevectorEstimator
from qiskit.quantum_info import SparseObservable, SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qiskit_divi import EstimatorV2, QoroInputError, QoroProtocolError
from qiskit_divi._compat import observables_hold_sparse_observables
from qiskit_divi.primitives import EstimatorOptions
from qiskit_divi.primitives.estimator import ESTIMATOR_CODEC, _combine, _TermValues
from qiskit_divi.primitives.payloads import (
    METHOD_EXPECTATION,
    EstimatorPayload,
    EstimatorPubPlan,
    QoroJobRef,
    pub_label,
)

from .conftest import random_ansatz, without_run_times

H2 = SparsePauliOp.from_list(
    [("II", -1.0524), ("IZ", 0.3979), ("ZI", -0.3979), ("ZZ", -0.0113), ("XX", 0.1809)]
)


def reference(pubs):
    return StatevectorEstimator().run(pubs).result()


def sent_observables(estimator, pubs):
    """The ``observables`` string of each Qoro job ``estimator.run(pubs)`` submits, in order."""
    return [spec.observables for spec in estimator.plan(pubs).specs]


def test_is_an_estimator_v2(maestro, noiseless):
    estimator = EstimatorV2(mode=maestro)
    assert isinstance(estimator, BaseEstimatorV2)
    assert estimator.options == EstimatorOptions(
        default_precision=0.015625, abelian_grouping=True, scale_shots_by_norm=False
    )
    assert estimator.method == "expectation" and EstimatorV2(mode=noiseless).method == "sampling"


# --- EXPECTATION jobs (qoro_maestro) -------------------------------------------------


def test_exact_on_random_circuits_all_shapes_one_job(maestro, new_jobs, emulator_server):
    rng = np.random.default_rng(3)
    circuits = [random_ansatz(3, 2, seed) for seed in (10, 11, 12)]
    observables = [
        SparsePauliOp.from_list([("XZI", 0.7), ("IYZ", -0.4), ("III", 0.25)]),
        "ZII",
        {"IXY": 1.5, "ZZX": -0.5},
    ]
    pubs = [
        (circuits[0], observables[0], rng.uniform(-3, 3, circuits[0].num_parameters)),  # ()
        (
            circuits[1],
            [[o] for o in observables],
            rng.uniform(-3, 3, (4, circuits[1].num_parameters)),
        ),  # (3, 4)
        (
            circuits[2],
            observables,
            rng.uniform(-3, 3, (2, 3, circuits[2].num_parameters)),
        ),  # (2, 3)
        (circuits[2], observables[1], rng.uniform(-3, 3, (5, circuits[2].num_parameters))),  # (5,)
    ]
    job = EstimatorV2(mode=maestro).run(pubs)
    result = job.result()
    want = reference(pubs)
    assert [r.data.evs.shape for r in result] == [(), (3, 4), (2, 3), (5,)]
    for mine, ref in zip(result, want, strict=True):
        assert isinstance(mine, PubResult)
        np.testing.assert_allclose(mine.data.evs, ref.data.evs, rtol=0, atol=1e-9)
        assert mine.data.stds.shape == mine.data.evs.shape and not mine.data.stds.any()
        assert (
            mine.metadata["target_precision"] == 0.015625
            and mine.metadata["job_id"] == job.job_id()
        )
    # all PUBs share the width: ONE EXPECTATION job with one circuit per binding
    assert new_jobs() == [job.job_id()]
    snapshot = emulator_server.jobs[job.job_id()]
    assert snapshot.job_type == "EXPECTATION" and snapshot.n_circuits == 1 + 4 + 6 + 5


def test_wire_terms_are_reversed_and_qubit_order_matters(maestro):
    circuit = QuantumCircuit(3)
    circuit.x(0)  # Z on qubit 0 is -1, Z on qubit 2 is +1
    circuit.h(1)  # X on qubit 1 is +1
    observables = [
        "IIZ",
        "ZII",
        "IXZ",
        "ZXI",
        SparsePauliOp.from_list([("IIZ", 2.0), ("ZII", 0.5)]),
    ]
    estimator = EstimatorV2(mode=maestro)
    result = estimator.run([(circuit, observables)]).result()
    np.testing.assert_allclose(result[0].data.evs, [-1.0, 1.0, -1.0, 1.0, -1.5], atol=1e-12)
    np.testing.assert_allclose(
        result[0].data.evs, reference([(circuit, observables)])[0].data.evs, atol=1e-12
    )
    # Qiskit "IIZ" (Z on qubit 0) travels as "ZII": qubit 0 is the leftmost character on the wire
    assert sent_observables(estimator, [(circuit, observables)]) == ["ZII;IIZ;ZXI;IXZ"]


def test_widths_make_one_job_each_and_identity_is_local(maestro, new_jobs):
    two = random_ansatz(2, 1, 5)
    three = random_ansatz(3, 1, 6)
    values2, values3 = np.full(two.num_parameters, 0.3), np.full(three.num_parameters, -0.7)
    pubs = [
        (two, H2, values2),
        (three, ["XYZ", "III"], values3),
        (two, {"II": 3.0}, values2),
    ]
    job = EstimatorV2(mode=maestro).run(pubs)
    result = job.result()
    for mine, ref in zip(result, reference(pubs), strict=True):
        np.testing.assert_allclose(mine.data.evs, ref.data.evs, atol=1e-9)
    assert result[1].data.evs[1] == 1.0 and result[2].data.evs == 3.0
    created = new_jobs()
    assert job.job_ids == created and len(created) == 2
    assert [r.metadata["job_id"] for r in result] == [created[0], created[1], created[0]]
    # the union of each width's non-identity terms; identities never travel
    sent = sent_observables(EstimatorV2(mode=maestro), pubs)
    assert sorted(sent[0].split(";")) == ["IZ", "XX", "ZI", "ZZ"] and sent[1] == "ZYX"
    # a call with only identities still has a job (one circuit, values computed locally)
    only = EstimatorV2(mode=maestro).run([(two, ["II", {"II": -2.0}], values2)]).result()
    np.testing.assert_array_equal(only[0].data.evs, [1.0, -2.0])


def test_projectors_and_measured_circuits(maestro):
    circuit = random_ansatz(2, 2, 21)
    values = np.linspace(-1, 1, circuit.num_parameters)
    measured = circuit.copy()
    measured.measure_all()  # final measurements are dropped, as StatevectorEstimator does
    projector = SparseObservable.from_list([("0+", 1.0), ("rZ", -0.5)])
    # Qiskit 2.0 takes projectors as labels only; from 2.1 the SparseObservable itself too.
    given = projector if observables_hold_sparse_observables() else {"0+": 1.0, "rZ": -0.5}
    result = EstimatorV2(mode=maestro).run([(measured, [given, "XY"], values)]).result()
    expanded = SparsePauliOp.from_sparse_observable(
        projector.as_paulis()
    )  # the reference takes only Paulis
    want = reference([(circuit, [expanded, "XY"], values)])
    np.testing.assert_allclose(result[0].data.evs, want[0].data.evs, atol=1e-9)


def test_retrieve_in_a_fresh_process(maestro, noiseless, run_fresh_process, provider):
    circuit = random_ansatz(3, 1, 30)
    circuit.metadata = {"run": 1}
    values = np.random.default_rng(4).uniform(-2, 2, (2, circuit.num_parameters))
    exact = EstimatorV2(mode=maestro).run(
        [(circuit, [["XZI"], ["IYY"]], values), (circuit, "ZZZ", values[0])]
    )
    exact_result = exact.result()
    out = run_fresh_process(
        f"""
import json
from qiskit_divi import EstimatorV2
job = EstimatorV2.retrieve({exact.job_id()!r}, provider)
result = job.result()
print(json.dumps({{"kind": job.kind, "evs": [r.data.evs.tolist() for r in result],
                  "stds": [r.data.stds.tolist() for r in result],
                  "metadata": [r.metadata for r in result]}}))
"""
    )
    assert out["kind"] == "estimator"
    for evs, stds, mine in zip(out["evs"], out["stds"], exact_result, strict=True):
        np.testing.assert_array_equal(np.array(evs), mine.data.evs)
        np.testing.assert_array_equal(np.array(stds), mine.data.stds)
    assert out["metadata"][0] == {
        "target_precision": 0.015625,
        "circuit_metadata": {"run": 1},
        "job_id": exact.job_id(),
    }


# --- sampling fallback -----------------------------------------------------------------


def test_sampling_fallback_matches_statevector_within_shot_noise(noiseless, sampling_server):
    rng = np.random.default_rng(8)
    circuits = [random_ansatz(3, 2, seed) for seed in (40, 41)]
    observables = [
        SparsePauliOp.from_list([("XZI", 0.7), ("IYZ", -0.4), ("III", 0.25)]),
        "ZII",
        "XXY",
    ]
    pubs = [
        (
            circuits[0],
            [[o] for o in observables],
            rng.uniform(-3, 3, (2, circuits[0].num_parameters)),
        ),  # (3, 2)
        (circuits[1], observables[0], rng.uniform(-3, 3, circuits[1].num_parameters)),  # ()
    ]
    before = set(sampling_server.jobs)
    job = EstimatorV2(mode=noiseless).run(pubs, precision=0.02)
    result = job.result()
    created = [j for j in sampling_server.jobs if j not in before]
    assert created == [job.job_id()]  # one job: both PUBs need the same shots
    for mine, ref in zip(result, reference(pubs), strict=True):
        assert mine.metadata["shots"] == math.ceil(1 / 0.02**2) == 2500
        assert mine.metadata["target_precision"] == 0.02
        assert mine.data.stds.shape == mine.data.evs.shape and (mine.data.stds > 0).all()
        assert (mine.data.stds < 0.025).all()
        assert (np.abs(mine.data.evs - ref.data.evs) < 5 * mine.data.stds).all()
    # one circuit per (binding, qubit-wise commuting group of the terms that binding needs)
    plans = [pub.sampling for pub in job.payload.pubs]
    groups = sum(len(g) for plan in plans for g in plan.param_groups)
    assert groups < sum(len(plan.param_groups) for plan in plans) * 4  # grouping saved circuits
    assert sampling_server.jobs[job.job_id()].n_circuits == groups


def test_grouping_precision_and_norm_scaling(noiseless, sampling_server, sampling_provider):
    circuit = random_ansatz(2, 1, 50)
    values = np.full(circuit.num_parameters, 0.4)
    zz_group = ["ZZ", "IZ", "ZI"]  # one qubit-wise commuting group

    def circuits_of(job):
        return sampling_server.jobs[job.job_id()].n_circuits

    grouped = EstimatorV2(mode=noiseless).run([(circuit, zz_group, values)], precision=0.05)
    ungrouped = EstimatorV2(mode=noiseless, options={"abelian_grouping": False}).run(
        [(circuit, zz_group, values)], precision=0.05
    )
    assert circuits_of(grouped) == 1 and circuits_of(ungrouped) == 3
    want = reference([(circuit, zz_group, values)])[0].data.evs
    for job in (grouped, ungrouped):
        r = job.result()[0]
        assert r.metadata["shots"] == 400
        assert (np.abs(r.data.evs - want) < 5 * r.data.stds).all()

    # different precisions: one job, with shot groups
    before = set(sampling_server.jobs)
    mixed = EstimatorV2(mode=noiseless).run(
        [(circuit, "XX", values, 0.05), (circuit, "YY", values, 0.1)]
    )
    result = mixed.result()
    assert [j for j in sampling_server.jobs if j not in before] == mixed.job_ids
    assert len(mixed.job_ids) == 1
    assert [r.metadata["shots"] for r in result] == [400, 100]
    # rebuilt from the journal (JSON payload)
    again = sampling_provider.retrieve_job(mixed.job_ids[0])
    assert again.job_id() == mixed.job_id() and again.job_ids == mixed.job_ids
    for mine, rebuilt in zip(result, again.result(), strict=True):
        np.testing.assert_array_equal(rebuilt.data.evs, mine.data.evs)
        np.testing.assert_array_equal(rebuilt.data.stds, mine.data.stds)
        assert rebuilt.metadata == mine.metadata

    # shots scaled by the coefficient norm (identity excluded): (3 / 0.1)**2
    big = SparsePauliOp.from_list([("XX", 2.0), ("ZI", -1.0), ("II", 10.0)])
    scaled = EstimatorV2(mode=noiseless, options=EstimatorOptions(scale_shots_by_norm=True)).run(
        [(circuit, big, values)], precision=0.1
    )
    r = scaled.result()[0]
    assert r.metadata["shots"] == 900 and r.data.stds < 0.1
    assert abs(r.data.evs - reference([(circuit, big, values)])[0].data.evs) < 5 * r.data.stds


def test_sampling_fallback_on_a_native_gate_backend(provider):
    ion = provider.get_backend("fake_ion")
    ansatz = random_ansatz(2, 1, 60)
    values = np.linspace(0.1, 0.9, ansatz.num_parameters)
    isa = generate_preset_pass_manager(backend=ion, optimization_level=1).run(ansatz)
    observables = [H2.apply_layout(isa.layout), SparsePauliOp("YX").apply_layout(isa.layout)]
    result = EstimatorV2(mode=ion).run([(isa, observables, values)], precision=0.03).result()
    want = reference([(ansatz, [H2, "YX"], values)])[0].data.evs
    # fake_ion is noisy (gate and readout errors): close, not within shot noise
    np.testing.assert_allclose(result[0].data.evs, want, atol=0.12)


@pytest.mark.parametrize("system", ["maestro", "noiseless"])
@pytest.mark.parametrize("bad", [0, -0.5, math.nan, math.inf])
def test_precision_that_is_not_positive_is_refused_on_every_system(
    system, bad, request, emulator_server, sampling_server
):
    """As Qiskit's estimators: exact EXPECTATION systems too, from run() and from a PUB."""
    backend = request.getfixturevalue(system)
    circuit = QuantumCircuit(1)
    circuit.h(0)
    estimator = EstimatorV2(mode=backend)
    before = emulator_server.stats["jobs_created"], sampling_server.stats["jobs_created"]
    with pytest.raises(
        ValueError, match=r"^run\(precision=...\) must be a positive number .*got"
    ) as info:
        estimator.run([(circuit, "X")], precision=bad)
    assert isinstance(info.value, QoroInputError)
    with pytest.raises(QoroInputError, match=r"^run\(precision=...\) must be a positive number"):
        estimator.run([(circuit, "X", None, 0.1)], precision=bad)  # even when no PUB would use it
    # Qiskit's PUB coercion refuses a negative one itself; 0, nan and inf pass it
    ours = (QoroInputError, "^PUB 1: its precision must be a positive number")
    error, message = (ValueError, "non-negative") if bad < 0 else ours
    with pytest.raises(error, match=message):
        estimator.run([(circuit, "X"), (circuit, "X", None, bad)])
    assert (emulator_server.stats["jobs_created"], sampling_server.stats["jobs_created"]) == before


def test_precision_that_is_not_a_number_is_qiskits_type_error(maestro):
    circuit = QuantumCircuit(1)
    with pytest.raises(TypeError, match="precision must be a real number"):
        EstimatorV2(mode=maestro).run([(circuit, "Z")], precision="0.1")


def test_precision_applies_to_sampling_only(maestro, noiseless):
    circuit = QuantumCircuit(1)
    circuit.h(0)
    exact = EstimatorV2(mode=maestro).run([(circuit, "X")], precision=1e-9).result()
    assert exact[0].data.evs == pytest.approx(1.0) and exact[0].metadata["target_precision"] == 1e-9
    with pytest.raises(QoroInputError, match="needs 4,000,000 shots"):
        EstimatorV2(mode=noiseless).run([(circuit, "X")], precision=0.0005)


def test_metadata_are_qiskits_plus_the_job_ids(maestro, noiseless):
    """Qiskit's test_metadata (deselected in tools/qiskit_reference_plugin.py), with our extra
    keys."""
    qc, qc2 = QuantumCircuit(2), QuantumCircuit(2)
    qc2.metadata = {"a": 1}
    for backend, shots in ((maestro, {}), (noiseless, {"shots": 100})):
        job = EstimatorV2(mode=backend).run([(qc, "ZZ"), (qc2, "ZZ")], precision=0.1)
        result = job.result()
        assert without_run_times(result.metadata) == {"version": 2, "job_ids": [job.job_id()]}
        for pub, circuit in zip(result, (qc, qc2), strict=True):
            assert pub.metadata == {
                "target_precision": 0.1,
                **shots,
                "circuit_metadata": circuit.metadata,
                "job_id": job.job_id(),
            }


# --- refusals before any job -------------------------------------------------------------


def test_bad_input_creates_no_job(provider, emulator_server):
    nairobi = provider.get_backend("fake_nairobi")
    maestro = provider.get_backend("qoro_maestro")
    not_isa = QuantumCircuit(2)
    not_isa.h(0)
    not_isa.cx(0, 1)
    mid = QuantumCircuit(2, 1)
    mid.h(0)
    mid.measure(0, 0)
    mid.cx(0, 1)
    before = emulator_server.stats["jobs_created"]
    with pytest.raises(
        QoroInputError,
        match=r"PUB 0 is not an ISA circuit.*'h'.*generate_preset_pass_manager\(backend=.*"
        r"apply_layout",
    ):
        EstimatorV2(mode=nairobi).run([(not_isa, "ZZ")])
    # Wider than the backend: cut, unless the cuts cost more than cutting_max_overhead.
    dense = QuantumCircuit(10)
    for a in range(10):
        for b in range(a + 1, 10):
            dense.cx(a, b)
    with pytest.raises(
        QoroInputError,
        match=r"PUB 1: cutting its 10-qubit circuit into pieces of at most 7 qubits costs a "
        r"sampling overhead of [0-9.e+,]+ .*above cutting_max_overhead=10000",
    ):
        EstimatorV2(mode=nairobi).run([(QuantumCircuit(7), "Z" * 7), (dense, "Z" * 10)])
    # Qiskit's text first (code written for Qiskit's estimators matches on it), then how to
    # call run()
    with pytest.raises(
        QoroInputError,
        match=r"^An invalid Estimator pub-like was given \(QuantumCircuit\): "
        r"run\(\) takes a list of PUBs: "
        r"wrap the circuit, e.g. run\(\[\(circuit, observables\)\]\)",
    ):
        EstimatorV2(mode=maestro).run(not_isa)
    with pytest.raises(
        QoroInputError,
        match=r"^An invalid Estimator pub-like was given \(float\): .*iterable of PUBs",
    ):
        EstimatorV2(mode=maestro).run(1.5)
    with pytest.raises(
        ValueError, match="An invalid Estimator pub-like was given"
    ):  # Qiskit's: a PUB without []
        EstimatorV2(mode=maestro).run((not_isa, "ZZ"))
    with pytest.raises(QoroInputError, match="mid-circuit 'measure'"):
        EstimatorV2(mode=maestro).run([(mid, "ZZ")])
    with pytest.raises(ValueError, match="number of qubits"):  # Qiskit's own PUB validation
        EstimatorV2(mode=maestro).run([(not_isa, "ZZZ")])
    with pytest.raises(QoroInputError, match="seed_simulator is not supported"):
        EstimatorV2(mode=maestro, options={"seed_simulator": 1})
    with pytest.raises(QoroInputError, match="default_precision must be a positive number"):
        EstimatorV2(mode=maestro, options={"default_precision": -1})
    assert emulator_server.stats["jobs_created"] == before


# --- decoding server replies ------------------------------------------------------------


def _decode_exact(observable, rows):
    """Decode one EXPECTATION job's ``rows`` (one per binding) for one 2-qubit observable."""
    pub = EstimatorPubPlan(
        job=0,
        shape=(len(rows),),
        param_shape=(len(rows),),
        obs_shape=(),
        num_qubits=2,
        observables=(observable,),
        target_precision=0.1,
        circuit_metadata={},
    )
    payload = EstimatorPayload(METHOD_EXPECTATION, (QoroJobRef("job-0", None),), (pub,))
    raw = [{pub_label(0, p): row for p, row in enumerate(rows)}]
    return ESTIMATOR_CODEC.decode(payload, raw, None)[0]


def test_exact_values_name_a_missing_term_and_a_value_that_is_not_a_number():
    observable = {"ZI": 0.5, "IX": 1.0}
    good = {"IZ": 0.25, "XI": -1}  # wire terms are the reversed Qiskit labels
    result = _decode_exact(observable, [good, dict(good, IZ=0.5)])
    assert result.data.evs.tolist() == [0.5 * 0.25 - 1.0, 0.5 * 0.5 - 1.0]
    assert result.data.evs.dtype == np.float64 and result.metadata["job_id"] == "job-0"
    with pytest.raises(
        QoroProtocolError, match=f"circuit '{pub_label(0, 1)}' has no value for the term 'XI'"
    ):
        _decode_exact(observable, [good, {"IZ": 0.5}])
    with pytest.raises(QoroProtocolError, match="the value of term 'XI' .* is True, not a number"):
        _decode_exact(observable, [good, {"IZ": 0.5, "XI": True}])


def test_combining_terms_matches_the_term_by_term_sum_bit_for_bit():
    rng = np.random.default_rng(5)
    labels = ["XZ", "ZZ", "YI", "IX"]
    observables = [
        {label: float(c) for label, c in zip(["II", *labels], rng.normal(size=5), strict=True)},
        {"ZZ": -0.3, "YI": 0.1 + 1e-17},
    ]
    terms = _TermValues.empty(labels, 6)
    terms.value[:] = rng.uniform(-1, 1, terms.value.shape)
    terms.variance[:] = 1 - terms.value**2
    terms.measured[:] = True
    param_index, obs_index = np.broadcast_arrays(
        np.arange(6).reshape(3, 2, 1), np.arange(2).reshape(1, 1, 2)
    )
    evs, spread = _combine(observables, terms, param_index, obs_index)
    for position in np.ndindex(*param_index.shape):
        p, o = int(param_index[position]), int(obs_index[position])
        ev = deviation = 0.0
        for label, coeff in observables[o].items():
            column = terms.column.get(label)
            value, variance = (
                (1.0, 0.0)
                if column is None
                else (terms.value[p, column], terms.variance[p, column])
            )
            ev += coeff * value
            deviation += abs(coeff) * math.sqrt(max(variance, 0.0))
        assert evs[position] == ev and spread[position] == deviation


def test_combining_refuses_a_term_that_was_not_measured_for_a_binding():
    terms = _TermValues.empty(["ZZ"], 2)
    terms.measured[0] = True
    with pytest.raises(QoroProtocolError, match="measures the term 'ZZ' not"):
        _combine([{"ZZ": 1.0}], terms, np.arange(2), np.zeros(2, dtype=int))
    assert _combine([{"ZZ": 1.0}], terms, np.arange(1), np.zeros(1, dtype=int))[0].tolist() == [0.0]
