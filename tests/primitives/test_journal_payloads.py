"""Journal payloads: entries written by an earlier version (``data/*.json``) still rebuild the
same results, checked against exact ``quantum_info`` references; today's payloads are the same
JSON; unknown formats and malformed payloads are refused with a clear error."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp, Statevector

from qiskit_divi import EstimatorV2, QoroJobError, SamplerV2
from qiskit_divi._compat import observables_hold_sparse_observables
from qiskit_divi.api.submission import JobSpec
from qiskit_divi.exceptions import JournalError
from qiskit_divi.primitives.estimator import ESTIMATOR_CODEC
from qiskit_divi.primitives.job import submit_call
from qiskit_divi.primitives.payloads import (
    EstimatorPayload,
    SamplerPayload,
    UnknownPayloadFormatError,
)
from qiskit_divi.primitives.sampler import SAMPLER_CODEC

from .journal_cases import SAMPLING_PRECISIONS, estimator_pubs, sampler_pubs

DATA = Path(__file__).parent / "data"


def fixture(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def payload_of(document: dict) -> dict:
    return document["entries"][0]["payload"]


def summary(result, kind: str) -> dict:
    """The result as the fixture writer stored it (JSON types)."""
    pubs = []
    for pub in result:
        if kind == "sampler":
            data = {name: pub.data[name].get_bitstrings() for name in pub.data}
        else:
            data = {"evs": pub.data.evs.tolist(), "stds": pub.data.stds.tolist()}
        pubs.append({"data": data, "metadata": pub.metadata})
    return json.loads(json.dumps({"pubs": pubs, "metadata": result.metadata}))


def approx_numbers(value: Any) -> Any:
    """``value`` (JSON types) with every float compared to 1e-12."""
    if isinstance(value, dict):
        return {key: approx_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [approx_numbers(item) for item in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=0, abs=1e-12)
    return value


def with_job_ids(document: dict, job_ids: list[str]) -> list[dict]:
    """The document's journal entries with its job ids replaced by ``job_ids`` (same order)."""
    text = json.dumps(document["entries"])
    for old, new in zip([e["job_id"] for e in document["entries"]], job_ids, strict=True):
        text = text.replace(old, new)
    return json.loads(text)


def old_layout_job_ids(provider, plan) -> list[str]:
    """Submit a call's one shot-groups job as the earlier version did: one Qoro job per shots
    value, the same circuits and labels (so its format-1 entries name real jobs)."""
    (spec,) = plan.specs
    circuits = list(spec.circuits.items())
    specs = [
        JobSpec(
            system_name=spec.system_name,
            job_type=spec.job_type,
            circuits=dict(circuits[start:end]),
            shots=shots,
            tag=spec.tag,
        )
        for start, end, shots in spec.shot_groups
    ]
    return submit_call(provider, specs)


def same_but_jobs(today: dict, old: dict) -> None:
    """Today's payload is the old one with ONE shot-groups job where it had one per shots value."""
    assert today["format"] == old["format"] == 1
    assert today["jobs"] == [{"job_id": today["jobs"][0]["job_id"], "shots": None}]
    assert len(old["jobs"]) == 2
    for mine, theirs in zip(today["pubs"], old["pubs"], strict=True):
        assert mine["job"] in (0, None)
        assert dict(mine, job=theirs["job"]) == theirs


# --- the sampler ------------------------------------------------------------------------


def check_sampler_result(result) -> None:
    """Every binding's registers against the exact distribution of the bound circuit."""
    (registers, values, shots), (bell, _, bell_shots), _ = sampler_pubs()
    first = result[0]
    assert first.data.low.shape == (2, 2) and first.data.high.num_bits == 2
    for position in np.ndindex(2, 2):
        exact = outcome_probabilities(registers.assign_parameters(values[position]))
        for name, clbits in (("low", [0]), ("high", [1, 2])):
            marginal: dict[int, float] = {}
            for outcome, p in exact.items():
                key = sum((outcome >> c & 1) << j for j, c in enumerate(clbits))
                marginal[key] = marginal.get(key, 0.0) + p
            counts = first.data[name][position].get_int_counts()
            assert sum(counts.values()) == shots
            assert_sampled_from(counts, marginal, f"{name}{position}")
    assert_sampled_from(result[1].data.c.get_int_counts(), outcome_probabilities(bell), "bell")
    assert sum(result[1].data.c.get_int_counts().values()) == bell_shots
    assert list(result[2].data) == [] and result[2].metadata["job_id"] is None


def test_a_format_1_sampler_entry_rebuilds_the_same_result():
    document = fixture("sampler_format1")
    payload = SamplerPayload.from_json(payload_of(document))
    assert [pub.job for pub in payload.pubs] == [0, 1, None]
    assert payload.pubs[0].registers == (("low", (0,)), ("high", (1, 2)))
    result = SAMPLER_CODEC.decode(payload, document["raw"], None)
    assert summary(result, "sampler") == document["result"]
    check_sampler_result(result)


def test_today_s_sampler_payload_is_format_1_and_old_entries_retrieve(provider):
    document = fixture("sampler_format1")
    sampler = SamplerV2(mode=provider.get_backend("qoro_maestro"))
    with pytest.warns(UserWarning, match="no classical registers"):
        job = sampler.run(sampler_pubs())
    same_but_jobs(job.payload.to_json(), payload_of(document))
    check_sampler_result(job.result())
    # the old entries (two jobs, a pointer under the second) against jobs laid out as then
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        job_ids = old_layout_job_ids(provider, sampler.plan(sampler_pubs()))
    for entry in with_job_ids(document, job_ids):
        provider.journal.record(entry["job_id"], entry["kind"], "qoro_maestro", entry["payload"])
    again = provider.retrieve_job(job_ids[1])
    assert again.job_ids == job_ids
    check_sampler_result(again.result())


# --- the estimator ------------------------------------------------------------------------


def exact_evs(pubs) -> list[np.ndarray]:
    """Exact values (the PUBs' own precisions dropped: StatevectorEstimator adds noise for them)."""
    return [r.data.evs for r in StatevectorEstimator().run([pub[:3] for pub in pubs]).result()]


def assert_within_shot_noise(result, pubs, payload) -> None:
    """Each estimate within 6 standard deviations, per term, of its exact value (variances from
    the exact term values, so an estimate near +-1 is not held to its own tiny ``stds``)."""
    for index, (mine, pub) in enumerate(zip(result, pubs, strict=True)):
        plan = payload.pubs[index]
        coerced = EstimatorPub.coerce(pub[:3])
        bound = np.zeros(plan.shape)
        binding, observable = np.broadcast_arrays(
            np.arange(math.prod(plan.param_shape)).reshape(plan.param_shape),
            np.arange(math.prod(plan.obs_shape)).reshape(plan.obs_shape),
        )
        for position in np.ndindex(*plan.shape):
            p, o = int(binding[position]), int(observable[position])
            state = Statevector(coerced.parameter_values.bind_all(coerced.circuit).flat[p])
            for label, coeff in plan.observables[o].items():
                if label.strip("I"):
                    ev = state.expectation_value(SparsePauliOp(label)).real
                    bound[position] += abs(coeff) * 6 * math.sqrt(max(1 - ev**2, 0.01) / plan.shots)
        want = exact_evs([pub])[0]
        assert (np.abs(mine.data.evs - want) <= bound).all(), (mine.data.evs, want, bound)


def test_a_format_1_expectation_entry_rebuilds_the_same_exact_values():
    document = fixture("estimator_expectation_format1")
    payload = EstimatorPayload.from_json(payload_of(document))
    assert payload.method == "expectation" and payload.pubs[0].shape == (2, 3)
    result = ESTIMATOR_CODEC.decode(payload, document["raw"], None)
    assert summary(result, "estimator") == document["result"]
    for mine, want in zip(result, exact_evs(estimator_pubs()), strict=True):
        np.testing.assert_allclose(mine.data.evs, want, rtol=0, atol=1e-9)
        assert not mine.data.stds.any()


def test_a_format_1_sampling_entry_rebuilds_the_same_estimates():
    document = fixture("estimator_sampling_format1")
    payload = EstimatorPayload.from_json(payload_of(document))
    assert [pub.shots for pub in payload.pubs] == [400, 100]
    groups = payload.pubs[0].sampling.groups
    assert [group.paulis for group in groups] == [("XX",), ("XY",), ("IZ", "ZI", "ZZ")]
    result = ESTIMATOR_CODEC.decode(payload, document["raw"], None)
    assert summary(result, "estimator") == document["result"]
    assert all((mine.data.stds > 0).all() for mine in result)
    assert_within_shot_noise(result, estimator_pubs(SAMPLING_PRECISIONS), payload)


def test_today_s_expectation_payload_is_format_1_and_old_entries_retrieve(sampling_provider):
    document = fixture("estimator_expectation_format1")
    backend = sampling_provider.get_backend("qoro_maestro")
    pubs = estimator_pubs((None, None))
    job = EstimatorV2(mode=backend).run(pubs)  # two widths: two EXPECTATION jobs, as then
    entries = with_job_ids(document, job.job_ids)
    written = job.payload.to_json()
    assert written == entries[0]["payload"]
    if observables_hold_sparse_observables():
        # Qiskit >= 2.1 keeps each observable's term order (2.0 stores them as dicts), so the
        # text matches too, and with it the order in which term values are summed.
        assert json.dumps(written) == json.dumps(entries[0]["payload"])
    fresh = job.result()
    for entry in entries:
        sampling_provider.journal.record(
            entry["job_id"], entry["kind"], backend.name, entry["payload"]
        )
    again = EstimatorV2.retrieve(job.job_ids[1], sampling_provider)
    if observables_hold_sparse_observables():
        assert summary(again.result(), "estimator") == summary(fresh, "estimator")
    else:  # Qiskit 2.0 orders the terms differently, so the sums may differ in the last digit
        assert summary(again.result(), "estimator") == approx_numbers(summary(fresh, "estimator"))
    for mine, want in zip(fresh, exact_evs(pubs), strict=True):
        np.testing.assert_allclose(mine.data.evs, want, rtol=0, atol=1e-9)


def test_today_s_sampling_payload_is_format_1_and_old_entries_retrieve(sampling_provider):
    document = fixture("estimator_sampling_format1")
    estimator = EstimatorV2(mode=sampling_provider.get_backend("noiseless_sampler"))
    pubs = estimator_pubs(SAMPLING_PRECISIONS)
    job = estimator.run(pubs)  # two precisions: ONE job with shot groups
    written, old = job.payload.to_json(), payload_of(document)
    if observables_hold_sparse_observables():  # Qiskit 2.0 orders the terms differently
        same_but_jobs(written, old)
    assert_within_shot_noise(job.result(), pubs, job.payload)
    job_ids = old_layout_job_ids(sampling_provider, estimator.plan(pubs))
    for entry in with_job_ids(document, job_ids):
        sampling_provider.journal.record(
            entry["job_id"], entry["kind"], "noiseless_sampler", entry["payload"]
        )
    again = EstimatorV2.retrieve(job_ids[1], sampling_provider)
    assert again.job_ids == job_ids
    assert_within_shot_noise(again.result(), pubs, again.payload)


# --- plans ---------------------------------------------------------------------------------


def test_a_plan_is_what_run_sends_and_journals(provider):
    backend = provider.get_backend("qoro_maestro")
    sampler = SamplerV2(mode=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = sampler.plan(sampler_pubs())
    # two shot counts, small circuits: one bound job with shot groups (primitives._batches)
    (spec,) = plan.specs
    assert spec.shots is None and spec.shot_groups == ((0, 4, 400), (4, 5, 300))
    assert list(spec.circuits) == [f"p0_{i}" for i in range(4)] + ["p1_0"]
    assert plan.payload(["a"]).to_json()["jobs"] == [{"job_id": "a", "shots": None}]
    estimator_plan = EstimatorV2(mode=backend).plan(estimator_pubs())
    terms = [spec.observables.split(";") for spec in estimator_plan.specs]
    assert [sorted(t) for t in terms] == [["IZ", "XX", "YX", "ZI", "ZZ"], ["IZZ", "ZYX"]]
    if observables_hold_sparse_observables():  # Qiskit >= 2.1 keeps the observables' order
        assert terms == [["ZI", "ZZ", "XX", "IZ", "YX"], ["ZYX", "IZZ"]]
    assert estimator_plan.pubs[0].observables[2] == {"ZZ": 0.5, "II": -1.0}
    # the coerced PUBs Qiskit builds are what the plan describes
    coerced = EstimatorPub.coerce(estimator_pubs()[0], 0.1)
    assert estimator_plan.pubs[0].shape == coerced.shape
    assert SamplerPub.coerce(sampler_pubs()[0]).shape == plan.pubs[0].shape


@pytest.mark.parametrize("system", ["qoro_maestro", "noiseless_sampler"])
def test_a_cut_estimator_payload_is_format_2_and_round_trips(sampling_provider, system):
    """A call with a cut PUB (and an uncut one) journals format 2, read back unchanged, for
    either method (the cut PUB samples even in an EXPECTATION call)."""
    cut = QuantumCircuit(4)
    cut.ry(0.3, range(4))
    cut.cx(0, 1)
    cut.crx(0.7, 1, 2)
    cut.cx(2, 3)
    values = np.array([[0.2], [1.4]])
    cut.rz(Parameter("a"), 3)
    small = QuantumCircuit(2)
    small.h(0)
    pubs = [(cut, [["ZZZZ"], ["XIIY"]], values), (small, "ZX")]
    estimator = EstimatorV2(mode=sampling_provider.get_backend(system))
    estimator.options.cutting_max_qubits = 2
    plan = estimator.plan(pubs, precision=0.2)
    payload = plan.payload(["job-a", "job-b"])
    written = json.loads(json.dumps(payload.to_json()))
    assert written["format"] == 2
    assert "cutting" in written["pubs"][0] and "cutting" not in written["pubs"][1]
    again = EstimatorPayload.from_json(written)
    assert again == payload and again.to_json() == written
    assert again.pubs[0].cutting.cuts and again.pubs[1].cutting is None
    # the labels the payload names are the circuits each job sends (cut ones ordered by shots)
    assert [sorted(labels) for labels in again.labels()] == [
        sorted(spec.circuits) for spec in plan.specs
    ]


# --- refusals ----------------------------------------------------------------------------


def test_an_unknown_format_is_refused_when_read_and_when_retrieved(provider):
    document = fixture("sampler_format1")
    future = dict(payload_of(document), format=2)  # a cut estimator's format, not a sampler's
    with pytest.raises(
        UnknownPayloadFormatError, match=r"journaled in format 2; .* reads format 1\.$"
    ):
        SamplerPayload.from_json(future)
    with pytest.raises(
        UnknownPayloadFormatError, match=r"journaled in format 3; .* reads formats 1 and 2\.$"
    ):
        EstimatorPayload.from_json(dict(payload_of(document), format=3))
    with pytest.raises(JournalError, match="format True"):
        EstimatorPayload.from_json(dict(payload_of(document), format=True))

    circuit = sampler_pubs()[1][0]
    job = SamplerV2(mode=provider.get_backend("qoro_maestro")).run([circuit])
    provider.journal.record(job.job_id(), "sampler", "qoro_maestro", dict(future, jobs=[]))
    with pytest.raises(
        QoroJobError, match=rf"Job {job.job_id()} was journaled in format 2; .* reads format 1\."
    ) as info:
        provider.retrieve_job(job.job_id())
    assert "Retrieve it with the qiskit_divi version that submitted it" in str(info.value)
    job.result()


def test_a_malformed_payload_names_what_is_wrong():
    payload = payload_of(fixture("estimator_sampling_format1"))
    broken = dict(payload, pubs=[{k: v for k, v in payload["pubs"][0].items() if k != "groups"}])
    with pytest.raises(JournalError, match="not a valid EstimatorPayload of format 1: KeyError"):
        EstimatorPayload.from_json(broken)
    with pytest.raises(JournalError, match="Unknown estimator method 'magic'"):
        EstimatorPayload.from_json(dict(payload, method="magic"))
