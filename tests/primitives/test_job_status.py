"""QoroPrimitiveJob and the nine Qoro statuses: combined status, one error per unsuccessful
final status (raised as soon as that Qoro job is final), unknown statuses, run_time in the
result metadata.

The calls run on the emulator for real (their results are checked exactly); the status
replies the job then sees are scripted by replacing the provider client's ``job_status``,
because the emulator does not yet end jobs INSUFFICIENT_CREDITS or TIMED_OUT.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus as QiskitJobStatus
from qiskit.quantum_info import SparsePauliOp, Statevector

from qiskit_divi import EstimatorV2, QoroJobError, SamplerV2
from qiskit_divi.api.job_errors import (
    QoroInsufficientCreditsError,
    QoroJobCancelledError,
    QoroJobEndedError,
    QoroJobFailedError,
    QoroJobTimedOutError,
)
from qiskit_divi.api.models import JobStatus, JobStatusReply
from qiskit_divi.api.submission import wait_for_final_status
from qiskit_divi.job import STATUS_MAP
from qiskit_divi.primitives.job import combine_status

ENDED = {
    JobStatus.FAILED: QoroJobFailedError,
    JobStatus.CANCELLED: QoroJobCancelledError,
    JobStatus.INSUFFICIENT_CREDITS: QoroInsufficientCreditsError,
    JobStatus.TIMED_OUT: QoroJobTimedOutError,
}


def reply(raw: str, run_time: float | None = None) -> JobStatusReply:
    status = JobStatus(raw) if raw in JobStatus.__members__ else None
    return JobStatusReply(raw_status=raw, status=status, reason="Scripted.", run_time=run_time)


class ScriptedStatuses:
    """Stands in for ``client.job_status`` once the real jobs are over: scripted replies per
    job id (the last repeats); counts status polls and result reads per job."""

    def __init__(self, monkeypatch, client, scripts: dict[str, Sequence[JobStatusReply]]):
        for job_id in scripts:  # the real job must be over, so that its results can be read
            wait_for_final_status(client, job_id, timeout=30)
        self.scripts = {job_id: list(replies) for job_id, replies in scripts.items()}
        self.polls: Counter[str] = Counter()
        self.result_reads: Counter[str] = Counter()
        real_iter_results = client.iter_results

        def iter_results(job_id, **kwargs):
            self.result_reads[job_id] += 1
            return real_iter_results(job_id, **kwargs)

        monkeypatch.setattr(client, "job_status", self)
        monkeypatch.setattr(client, "iter_results", iter_results)

    def __call__(self, job_id, *, deadline=None):
        self.polls[job_id] += 1
        replies = self.scripts[job_id]
        return replies.pop(0) if len(replies) > 1 else replies[0]


def deterministic() -> QuantumCircuit:
    circuit = QuantumCircuit(3)
    circuit.x(0)
    circuit.cx(0, 1)
    circuit.h(2)
    circuit.h(2)
    return circuit


def exact_outcome(circuit: QuantumCircuit) -> str:
    """The one outcome of a circuit whose final state is a basis state (exact reference)."""
    (outcome,) = (k for k, p in Statevector(circuit).probabilities_dict().items() if p > 0.5)
    return outcome


@pytest.mark.parametrize(
    ("qoro", "expected"),
    [
        (["COMPLETED", "INSUFFICIENT_CREDITS"], QiskitJobStatus.ERROR),
        (["TIMED_OUT", "CANCELLED"], QiskitJobStatus.ERROR),
        (["CANCELLED", "RUNNING"], QiskitJobStatus.CANCELLED),
        (["COMPLETED", "PAUSED"], QiskitJobStatus.RUNNING),
        (["SCHEDULED", "PAUSED"], QiskitJobStatus.RUNNING),
        (["PENDING", "SCHEDULED"], QiskitJobStatus.QUEUED),
        (["COMPLETED", "COMPLETED"], QiskitJobStatus.DONE),
    ],
)
def test_combined_status_of_the_nine(qoro, expected):
    assert combine_status([STATUS_MAP[JobStatus(s)] for s in qoro]) is expected


@pytest.mark.parametrize("final", list(ENDED), ids=lambda s: s.value)
def test_sampler_result_raises_the_status_error_at_once(final, sampling_provider, monkeypatch):
    backend = sampling_provider.get_backend("qoro_maestro")
    circuit = deterministic()
    circuit.measure_all()
    job = SamplerV2(mode=backend).run([circuit], shots=20)
    (job_id,) = job.job_ids
    script = ScriptedStatuses(
        monkeypatch,
        sampling_provider.client,
        {job_id: [reply("SCHEDULED"), reply("PAUSED"), reply(final.value), reply("RUNNING")]},
    )
    with pytest.raises(ENDED[final]) as info:
        job.result()
    error = info.value
    assert isinstance(error, QoroJobEndedError) and isinstance(error, QoroJobError)
    assert error.job_id == job_id and error.status is final
    assert f"Job {job_id} ended {final.value}: Scripted." in str(error)
    assert script.polls[job_id] == 3 and script.result_reads[job_id] == 0
    expected = QiskitJobStatus.CANCELLED if final is JobStatus.CANCELLED else QiskitJobStatus.ERROR
    assert job.status() is expected and job.in_final_state() and not job.done()
    assert script.polls[job_id] == 3  # final: cached, never asked again


def test_a_multi_job_call_raises_when_its_first_failed_job_is_final(provider, monkeypatch):
    """Two widths, two Qoro jobs: the first ends TIMED_OUT while the second still runs;
    result() raises at once instead of waiting for the second."""
    two, three = QuantumCircuit(2), QuantumCircuit(3)
    job = EstimatorV2(mode=provider.get_backend("qoro_maestro")).run([(two, "ZZ"), (three, "ZZZ")])
    first, second = job.job_ids
    script = ScriptedStatuses(
        monkeypatch,
        provider.client,
        {first: [reply("PAUSED"), reply("TIMED_OUT")], second: [reply("RUNNING")]},
    )
    with pytest.raises(QoroJobTimedOutError, match=f"Job {first} ended TIMED_OUT"):
        job.result()
    assert script.polls == Counter({first: 2}) and not script.result_reads
    assert job.status() is QiskitJobStatus.ERROR and script.polls[second] == 1


def test_run_time_reaches_the_result_metadata(sampling_provider, monkeypatch):
    """Per Qoro job in ``run_times`` (job_ids order), summed in ``run_time``."""
    circuit = deterministic()
    observable = SparsePauliOp(["ZZI", "XII"], [0.5, -2.0])
    estimator = EstimatorV2(mode=sampling_provider.get_backend("qoro_maestro"))
    job = estimator.run([(circuit, observable), (QuantumCircuit(2), "ZZ")])
    first, second = job.job_ids
    script = ScriptedStatuses(
        monkeypatch,
        sampling_provider.client,
        {
            first: [reply("SCHEDULED"), reply("COMPLETED", run_time=1.25)],
            second: [reply("COMPLETED", run_time=0.5)],
        },
    )
    result = job.result()
    assert result.metadata["run_times"] == [1.25, 0.5] and result.metadata["run_time"] == 1.75
    assert result.metadata["job_ids"] == [first, second]
    exact = Statevector(circuit).expectation_value(observable).real
    assert result[0].data.evs == pytest.approx(exact, abs=1e-9)
    assert result[1].data.evs == pytest.approx(1.0, abs=1e-9)
    assert script.result_reads == Counter({first: 1, second: 1})


def test_sampler_counts_and_run_time_of_one_job(sampling_provider, monkeypatch):
    circuit = deterministic()
    circuit.measure_all()
    job = SamplerV2(mode=sampling_provider.get_backend("qoro_maestro")).run([circuit], shots=30)
    (job_id,) = job.job_ids
    ScriptedStatuses(monkeypatch, sampling_provider.client, {job_id: [reply("COMPLETED", 0.0)]})
    result = job.result()
    assert result[0].data.meas.get_counts() == {exact_outcome(deterministic()): 30}
    assert result.metadata["run_time"] == 0.0 and result.metadata["run_times"] == [0.0]


def test_a_run_time_not_reported_is_none(sampling_provider, monkeypatch):
    circuit = deterministic()
    circuit.measure_all()
    job = SamplerV2(mode=sampling_provider.get_backend("qoro_maestro")).run([circuit], shots=5)
    ScriptedStatuses(monkeypatch, sampling_provider.client, {job.job_id(): [reply("COMPLETED")]})
    assert job.result().metadata == {
        "version": 2,
        "job_ids": [job.job_id()],
        "run_time": None,
        "run_times": [None],
    }


def test_the_emulators_run_time_reaches_the_metadata(sampling_provider):
    """No script: the emulator reports the seconds it simulated each COMPLETED job."""
    circuit = deterministic()
    circuit.measure_all()
    job = SamplerV2(mode=sampling_provider.get_backend("qoro_maestro")).run([circuit], shots=5)
    result = job.result()
    (run_time,) = result.metadata["run_times"]
    assert isinstance(run_time, float) and 0.0 <= run_time < 30.0
    assert result.metadata["run_time"] == run_time == job.qoro_jobs[0].run_time


def test_an_unknown_status_keeps_polling_and_warns_once(sampling_provider, monkeypatch, caplog):
    circuit = deterministic()
    circuit.measure_all()
    job = SamplerV2(mode=sampling_provider.get_backend("qoro_maestro")).run([circuit], shots=5)
    job_id = job.job_id()
    script = ScriptedStatuses(
        monkeypatch,
        sampling_provider.client,
        {job_id: [reply("VALIDATING")] * 4 + [reply("COMPLETED")]},
    )
    with caplog.at_level(logging.WARNING, logger="qiskit_divi"):
        assert job.status() is QiskitJobStatus.RUNNING and not job.in_final_state()
        result = job.result()
    assert result[0].data.meas.get_counts() == {exact_outcome(deterministic()): 5}
    assert script.polls[job_id] == 5 and caplog.text.count("'VALIDATING'") == 1
