"""``ParallelSimulator``: divi's local ``CircuitRunner`` over qiskit-aer's ``AerSimulator``.

Same API, defaults and results as divi v0.6.1, with these differences in how it gets there:

* OpenQASM 2 is read exactly as ``QuantumCircuit.from_qasm_str`` reads it, once per
  *shape*: a text that differs from an earlier one only in its angles binds the
  earlier parse to its own angles (see :mod:`qiskit_divi._qasm.shapes`).
* Transpilation is serial and, with ``simulation_seed`` set, seeded, so that noisy runs
  are reproducible (divi v0.6.1 transpiled unseeded: its counts changed from run to run).
* Noiseless circuits that the simulator can run as they are skip transpilation (see
  :mod:`.transpile_skip`), with results bit-identical to running
  ``transpile(circuits, AerSimulator())`` with the same seed; ``transpile_skip=False``
  turns the skip off.
* Simulators and prepared circuits are cached for the life of the process (see
  :mod:`.caches`).
* Counts are formatted straight from Aer's histograms, as ``Result.get_counts`` would.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from qiskit import QuantumCircuit
from qiskit.providers import Backend
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from ..._qasm import ShapedCircuit
from ...api.validation import boolean, is_integer
from ...progress import local_display
from .._circuit_runner import CircuitRunner, ExecutionResult
from . import estimates
from .caches import Prepared, SimulatorEntry, auto_entry, noiseless_entry, shapes
from .executor import BatchOutcome, SubBatches, run_batch, run_sub_batches
from .fake_backends import find_best_fake_backend, no_fake_backend_error
from .internals import AER_SEED_STRIDE, all_counts
from .transpile_skip import prepare

logger = logging.getLogger(__name__)


def default_n_processes(cpu_count: int | None, *, on_main: bool) -> int:
    """divi's default parallelism: 2 off the main thread or process, else from the CPU count."""
    if not on_main:
        return 2
    cpus = cpu_count or 4
    if cpus <= 4:
        return max(2, cpus - 1)
    if cpus <= 16:
        return cpus - 1
    return min(16, int(cpus * 0.75))


def _environment_n_processes() -> int:
    on_main = (
        threading.current_thread() is threading.main_thread()
        and multiprocessing.current_process().name == "MainProcess"
    )
    return default_n_processes(os.cpu_count(), on_main=on_main)


def run_options(
    n_processes: int, shots: int, num_circuits: int, seed: int | None
) -> dict[str, Any]:
    """Aer options of a batched run (divi v0.6.1's ``set_options`` calls)."""
    options: dict[str, Any] = {}
    if seed is not None:
        options["seed_simulator"] = seed
    options["max_parallel_threads"] = n_processes
    if num_circuits > 1:
        options.update(
            max_parallel_experiments=min(num_circuits, n_processes), max_parallel_shots=1
        )
    elif shots >= n_processes:
        options.update(max_parallel_experiments=1, max_parallel_shots=n_processes)
    else:
        options.update(max_parallel_experiments=1, max_parallel_shots=1)
    return options


def _check_n_processes(value: int) -> int:
    if value < 1:
        raise ValueError(f"n_processes must be >= 1, got {value}")
    return value


class ParallelSimulator(CircuitRunner):
    """A parallel wrapper around Qiskit Aer's ``AerSimulator``.

    Args:
        n_processes: parallelism of the simulation (Aer threads, and parallel
            experiments or shots). Default: 2 when not on the main thread or in a
            child process, else ``max(2, cpus - 1)`` up to 4 CPUs, ``cpus - 1`` up to
            16, then ``min(16, int(0.75 * cpus))`` (divi's documented "half the cores"
            was never what it did).
        shots: shots per circuit.
        simulation_seed: seed of the simulator, for reproducible counts.
        qiskit_backend: a backend whose noise and constraints to simulate, or
            ``"auto"`` for a fake IBM backend chosen by qubit count (the last class of
            the smallest bucket of ``FAKE_BACKENDS`` that fits). None: noiseless.
        noise_model: an Aer noise model, ignored (with a warning) when a backend is given.
        _deterministic_execution: run each circuit on its own, all with the same seed.
        executor: keyword-only extension: a ``dask.distributed.Client`` or any
            ``concurrent.futures.Executor``. The batch is split into sub-batches of
            at most ``max_job_size`` circuits, each run on the executor (the
            simulator and the prepared circuits are shipped; counts come back).
            Results, in input order, equal the single-machine run's (same seed:
            same counts). Workers need ``qiskit-divi`` installed.
        max_job_size: keyword-only extension: circuits per sub-batch. Default with
            an executor: the batch split evenly over its worker threads; without
            one, no split (a value splits the local run too, bounding its memory).
        transpile_skip: keyword-only extension: let noiseless circuits that Aer can
            run as they are skip transpilation (the default). ``False`` transpiles
            every circuit, as divi v0.6.1 did; the counts are the same either way.
        progress: keyword-only extension: show a live display on stderr for batches
            that run longer than 2 s (elapsed time; sub-batches done / total when the
            batch is split, e.g. on Dask). ``False`` or ``QISKIT_DIVI_PROGRESS=0``: none.

    Raises:
        ValueError: ``shots <= 0``, ``n_processes < 1`` or ``max_job_size < 1``.
        TypeError: ``executor`` has no ``submit`` method.
    """

    def __init__(
        self,
        n_processes: int | None = None,
        shots: int = 5000,
        simulation_seed: int | None = None,
        qiskit_backend: Backend | Literal["auto"] | None = None,
        noise_model: NoiseModel | None = None,
        _deterministic_execution: bool = False,
        *,
        executor: Any | None = None,
        max_job_size: int | None = None,
        transpile_skip: bool = True,
        progress: bool = True,
    ):
        super().__init__(shots=shots)
        if max_job_size is not None and not (is_integer(max_job_size) and max_job_size >= 1):
            raise ValueError(
                f"max_job_size must be a positive number of circuits or None, got {max_job_size!r}"
            )
        if executor is not None and not callable(getattr(executor, "submit", None)):
            raise TypeError(
                "executor must have a submit(fn, *args) method returning a future: a "
                "concurrent.futures.Executor or a dask.distributed.Client, got "
                f"{type(executor).__name__}"
            )
        self.executor = executor
        self.max_job_size = max_job_size
        self.transpile_skip = boolean(transpile_skip, "transpile_skip", error=TypeError)
        self.progress = boolean(progress, "progress", error=TypeError)
        if qiskit_backend and noise_model:
            warnings.warn(
                "Both `qiskit_backend` and `noise_model` have been provided. `noise_model` "
                "will be ignored and the model from the backend will be used instead.",
                UserWarning,
                stacklevel=2,
            )
        self._n_processes = _check_n_processes(
            _environment_n_processes() if n_processes is None else n_processes
        )
        self.simulation_seed = simulation_seed
        self.qiskit_backend = qiskit_backend
        self.noise_model = noise_model
        self._deterministic_execution = _deterministic_execution
        self._warned_batch_seeds = False

    def set_seed(self, seed: int) -> None:
        """Set the seed of the simulator's random number generator."""
        self.simulation_seed = seed

    @property
    def n_processes(self) -> int:
        """Parallelism of the simulation (>= 1)."""
        return self._n_processes

    @n_processes.setter
    def n_processes(self, value: int) -> None:
        self._n_processes = _check_n_processes(value)

    @property
    def supports_expval(self) -> bool:
        """False: this runner samples."""
        return False

    @property
    def is_async(self) -> bool:
        """False: results are returned directly."""
        return False

    # -- simulator selection --

    def _simulator_entry(self, circuits: Sequence[QuantumCircuit]) -> SimulatorEntry:
        backend = self.qiskit_backend
        if isinstance(backend, str) and backend == "auto":
            widest = max(circuits, key=lambda circuit: circuit.num_qubits)
            classes = find_best_fake_backend(widest)
            if classes is None:
                raise no_fake_backend_error(widest.num_qubits)
            return auto_entry(classes[-1])
        if backend is not None:
            return SimulatorEntry(AerSimulator.from_backend(backend), noiseless=False)
        if self.noise_model is None:
            return noiseless_entry()
        return SimulatorEntry(AerSimulator(noise_model=self.noise_model), noiseless=False)

    # -- execution --

    def _counts_of(
        self,
        qasm_strings: list[str],
        prepared: list[Prepared],
        entry: SimulatorEntry,
        options: dict[str, Any],
        split: SubBatches | None,
    ) -> list[dict[str, int]]:
        """Run the prepared circuits in one batch (or as ``split`` says) and return their
        counts, in order.

        A circuit whose probe looks like a stabilizer state is transpiled (all such
        circuits in one ``transpile`` call) and run again alone with the seed Aer gave
        it in the batch, which reproduces what the batch would have sampled.
        """
        circuits = [item.circuit for item in prepared]
        probed = [i for i, item in enumerate(prepared) if item.probe_qubits is not None]
        outcome: BatchOutcome
        display = local_display(
            f"ParallelSimulator: {len(circuits)} circuits x {self.shots} shots",
            enabled=self.progress,
        )
        with display:  # drawn only once the batch has run for LOCAL_DELAY seconds
            display.update("simulating")
            if split is None:
                outcome = run_batch(entry.simulator, circuits, self.shots, options, probed)
            else:
                outcome = run_sub_batches(
                    entry.simulator, circuits, self.shots, options, probed, split, display
                )
            display.update("done")
        if not self._deterministic_execution:
            self._warn_if_nondeterministic(outcome.metadata)
        counts = outcome.counts
        suspects = sorted(outcome.suspect_seeds)
        if suspects:
            logger.debug(
                "Running the transpiled copies of %d Clifford-looking circuits.", len(suspects)
            )
            texts = list(dict.fromkeys(qasm_strings[i] for i in suspects))
            transpiled = entry.transpile(
                [shapes.parse(text).bound() for text in texts], self.simulation_seed
            )
            by_text = dict(zip(texts, transpiled, strict=True))
            for text, circuit in by_text.items():
                entry.put(text, self.simulation_seed, Prepared(circuit), skip=self.transpile_skip)
            for i in suspects:
                rerun_options = dict(options, seed_simulator=outcome.suspect_seeds[i])
                rerun = entry.simulator.run(
                    [by_text[qasm_strings[i]]], shots=self.shots, **rerun_options
                )
                counts[i] = all_counts(rerun.result(), 1)[0]
        return counts

    def _split(self, job_size: int | None, seed_stride: int) -> SubBatches | None:
        """How to split the batch: None to run it whole, in this process."""
        size = job_size or self.max_job_size
        if self.executor is None and size is None:
            return None
        return SubBatches(self.executor, size, seed_stride)

    def _warn_if_nondeterministic(self, metadata: Any) -> None:
        """Say once per simulator what a seed does and does not fix (divi logs this warning).

        What it says is pinned by tests: the counts of a seeded batch do not depend on
        the parallelism, but each circuit's seed comes from its position in the batch.
        """
        parallel_experiments = metadata.get("parallel_experiments", 1)
        if self._warned_batch_seeds or self.simulation_seed is None:
            return
        if parallel_experiments > 1:
            self._warned_batch_seeds = True
            omp_nested = metadata.get("omp_nested", False)
            # One pre-formatted argument: divi's tests read the text from the call's first
            # argument.
            message = (
                f"Parallel execution detected (parallel_experiments={parallel_experiments}, "
                f"omp_nested={omp_nested}). Seeded counts are reproducible: the same "
                "circuits in the same order with the same simulation_seed give the same "
                "counts, whatever n_processes, executor or max_job_size. But a circuit's "
                "counts may not be deterministic across different grouping strategies: Aer "
                "seeds each circuit from its position in the batch, so they change when it "
                "is batched with other circuits or in another order. For counts that depend "
                "only on the circuit and the seed, pass _deterministic_execution=True (one "
                "run per circuit). Logged once per ParallelSimulator."
            )
            logger.warning(message)

    def submit_circuits(self, circuits: dict[str, str], **kwargs: Any) -> ExecutionResult:
        """Simulate ``{label: OpenQASM 2 string}`` circuits and return their counts.

        Returns:
            ``ExecutionResult(results=[{"label": label, "results": counts}, ...])`` in
            the input order; counts keys are Qiskit's (classical bit 0 rightmost,
            registers separated by spaces). An empty dict gives ``results=[]`` (divi
            v0.6.1 failed inside Aer or Python instead).

        With ``simulation_seed`` set, noiseless counts are those of
        ``AerSimulator().run(transpile(circuits, simulator), seed_simulator=seed, ...)``
        with the same parallelism options, also when transpilation is skipped: the
        skipped transpilation could only have changed the simulated state by
        floating-point rounding, which moves a sampled outcome only if a random draw
        lands within about 1e-15 of a cumulative-probability boundary.

        Raises:
            TypeError: a keyword argument (divi v0.6.1 takes none: this runner samples,
                so there are no ``ham_ops``).
            qiskit.qasm2.QASM2ParseError: a circuit is not valid OpenQASM 2.
            ValueError: ``"auto"`` and a circuit wider than 27 qubits.
        """
        if kwargs:
            raise TypeError(
                "ParallelSimulator.submit_circuits() takes only the circuits, got "
                f"{', '.join(sorted(kwargs))}: it samples, so it has no ham_ops or other options."
            )
        labels = list(circuits)
        if not labels:
            return ExecutionResult(results=[])
        qasm_strings = list(circuits.values())
        logger.debug("Simulating %d circuits with %d processes", len(labels), self._n_processes)

        parsed: dict[str, ShapedCircuit] = {}
        if isinstance(self.qiskit_backend, str) and self.qiskit_backend == "auto":
            # The fake backend depends on the widest circuit, so every circuit is parsed first.
            parsed = {qasm: shapes.parse(qasm) for qasm in qasm_strings}
        entry = self._simulator_entry([shaped.skeleton for shaped in parsed.values()])
        prepared = prepare(
            qasm_strings, entry, parsed, seed=self.simulation_seed, skip=self.transpile_skip
        )

        if self._deterministic_execution:  # each circuit alone, every one with the seed itself
            seed_options = (
                {} if self.simulation_seed is None else {"seed_simulator": self.simulation_seed}
            )
            split = self._split(job_size=1, seed_stride=0)
            counts = self._counts_of(qasm_strings, prepared, entry, seed_options, split)
        else:
            options = run_options(self._n_processes, self.shots, len(labels), self.simulation_seed)
            split = self._split(job_size=None, seed_stride=AER_SEED_STRIDE)
            counts = self._counts_of(qasm_strings, prepared, entry, options, split)
        return ExecutionResult(
            results=[
                {"label": label, "results": c} for label, c in zip(labels, counts, strict=True)
            ]
        )

    def _run_options(self, num_circuits: int) -> dict[str, Any]:
        """The Aer options of a batch of ``num_circuits`` (benchmarks compare against them)."""
        return run_options(self._n_processes, self.shots, num_circuits, self.simulation_seed)

    # -- run-time estimates (divi's static methods) --

    @staticmethod
    def estimate_run_time_single_circuit(
        circuit: str,
        qiskit_backend: Backend | Literal["auto"],
        **transpilation_kwargs: Any,
    ) -> float:
        """Estimated execution time, in seconds, of one circuit on a backend.

        See :func:`.estimates.estimate_single_circuit`.
        """
        return estimates.estimate_single_circuit(circuit, qiskit_backend, **transpilation_kwargs)

    @staticmethod
    def estimate_run_time_batch(
        circuits: list[str] | None = None,
        precomputed_durations: list[float] | None = None,
        n_qpus: int = 5,
        **transpilation_kwargs: Any,
    ) -> float:
        """Estimated time, in seconds, to run a batch of circuits on ``n_qpus`` QPUs.

        See :func:`.estimates.estimate_batch`.

        Raises:
            TypeError: neither ``circuits`` nor ``precomputed_durations`` given (the
                exception is also a ``ValueError``).
            IndexError: ``n_qpus <= 0`` with durations to schedule.
        """
        return estimates.estimate_batch(
            circuits, precomputed_durations, n_qpus, **transpilation_kwargs
        )
