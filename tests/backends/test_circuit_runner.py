"""CircuitRunner and ExecutionResult: divi-runner-api.md sections 2, 3 and the section 13
checklist."""

from __future__ import annotations

import dataclasses

import pytest

from qiskit_divi.backends import CircuitRunner, ExecutionResult


class DummySimulator(CircuitRunner):
    """The smallest concrete runner (the shape of divi's own test fixture)."""

    @property
    def supports_expval(self) -> bool:
        return False

    @property
    def is_async(self) -> bool:
        return False

    def submit_circuits(self, circuits):
        return ExecutionResult(results=[{"label": label, "results": {}} for label in circuits])


# --- CircuitRunner ---------------------------------------------------------------------


@pytest.mark.parametrize("shots", [1000, 5000, 100, 1])
def test_runner_stores_shots(shots):
    assert DummySimulator(shots=shots).shots == shots


@pytest.mark.parametrize("shots", [0, -1])
def test_runner_rejects_non_positive_shots(shots):
    with pytest.raises(ValueError, match=rf"Shots must be a positive integer\. Got {shots}\."):
        DummySimulator(shots=shots)


def test_runner_shots_is_read_only():
    runner = DummySimulator(shots=10)
    with pytest.raises(AttributeError):
        runner.shots = 20
    assert runner.shots == 10


def test_runner_none_shots_fails_on_comparison():
    # No type check at v0.6.1: the comparison itself fails.
    with pytest.raises(TypeError):
        DummySimulator(shots=None)


def test_dummy_runner_flags_and_empty_submission():
    runner = DummySimulator(shots=1)
    assert runner.supports_expval is False
    assert runner.is_async is False
    result = runner.submit_circuits({})
    assert isinstance(result, ExecutionResult)
    assert result.results == []
    assert result.is_async() is False


@pytest.mark.parametrize("missing", ["supports_expval", "is_async", "submit_circuits"])
def test_subclass_missing_an_abstract_member_cannot_be_instantiated(missing):
    members = {
        "supports_expval": property(lambda self: False),
        "is_async": property(lambda self: False),
        "submit_circuits": lambda self, circuits: ExecutionResult(results=[]),
    }
    del members[missing]
    incomplete = type("Incomplete", (CircuitRunner,), members)
    with pytest.raises(TypeError, match=missing):
        incomplete(shots=1)


# --- ExecutionResult -------------------------------------------------------------------


def test_execution_result_defaults():
    result = ExecutionResult()
    assert result.results is None
    assert result.job_id is None
    assert result.is_async() is False


def test_execution_result_positional_order_and_equality():
    rows = [{"label": "a", "results": {"0": 1}}]
    assert ExecutionResult(rows, "job") == ExecutionResult(results=rows, job_id="job")
    assert ExecutionResult(rows, "job") != ExecutionResult(rows, "other")


def test_sync_and_async_forms():
    sync = ExecutionResult(results=[{"label": "c0", "results": {"00": 100}}])
    pending = ExecutionResult(job_id="job-12345")
    assert sync.is_async() is False
    assert pending.is_async() is True


@pytest.mark.parametrize(
    ("results", "job_id", "expected"),
    [
        (None, None, False),
        ([{"label": "x", "results": {}}], None, False),
        (None, "id", True),
        ([], "id", False),
    ],
)
def test_is_async_truth_table(results, job_id, expected):
    assert ExecutionResult(results=results, job_id=job_id).is_async() is expected


@pytest.mark.parametrize("field", ["job_id", "results"])
def test_execution_result_is_frozen(field):
    result = ExecutionResult(job_id="job-1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, field, "changed")
    assert result == ExecutionResult(job_id="job-1")


def test_with_results_returns_a_new_completed_result():
    pending = ExecutionResult(job_id="job-1")
    rows = [{"label": "c0", "results": {"0": 3}}]
    done = pending.with_results(rows)
    assert done is not pending
    assert done.job_id == "job-1"
    assert done.results == rows
    assert done.is_async() is False
    assert pending.results is None
    assert pending.is_async() is True
