"""The ``CircuitRunner`` interface and its ``ExecutionResult`` (divi v0.6.1 API, with
divi 0.15.1's ``run_time``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class ExecutionResult:
    """What every ``CircuitRunner.submit_circuits`` returns.

    A synchronous runner fills ``results`` (``[{"label": str, "results": dict}, ...]``:
    counts ``{bitstring: int}`` when sampling, ``{pauli_term: float}`` for
    expectation values); an asynchronous one returns only a ``job_id`` to poll.
    The object is frozen: use :meth:`with_results` to attach fetched results.
    """

    results: list[dict[str, Any]] | None = None
    job_id: str | None = None
    run_time: float = 0.0
    """Seconds the backend reports the job ran (divi 0.15.1); ``0.0`` when it reports none,
    and for an asynchronous job until ``get_job_results`` fetches it."""

    def is_async(self) -> bool:
        """True when this is a job handle whose results have not been fetched yet."""
        return self.job_id is not None and self.results is None

    def with_results(self, results: list[dict[str, Any]], run_time: float = 0.0) -> ExecutionResult:
        """A new result with ``results`` and ``run_time`` set and the same ``job_id``;
        ``self`` is unchanged."""
        return replace(self, results=results, run_time=run_time)


class CircuitRunner(ABC):
    """A generic interface for anything that can run quantum circuits.

    Args:
        shots: number of measurement shots per circuit; must be positive.

    Raises:
        ValueError: ``shots <= 0``.
    """

    def __init__(self, shots: int) -> None:
        if shots <= 0:
            raise ValueError(f"Shots must be a positive integer. Got {shots}.")
        self._shots = shots

    @property
    def shots(self) -> int:
        """Number of measurement shots per circuit."""
        return self._shots

    @property
    @abstractmethod
    def supports_expval(self) -> bool:
        """Whether the runner can return expectation values of Pauli terms."""
        return False

    @property
    @abstractmethod
    def is_async(self) -> bool:
        """True if ``submit_circuits`` returns a job id to poll instead of results."""
        return False

    @abstractmethod
    def submit_circuits(self, circuits: dict[str, str], **kwargs: Any) -> ExecutionResult:
        """Run ``{label: OpenQASM string}`` circuits; see :class:`ExecutionResult`."""
