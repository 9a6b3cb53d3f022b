"""``MaestroSimulator``: divi 0.15.1's local ``CircuitRunner`` on Maestro, Qoro's C++
simulator (the ``maestro`` extra), through :mod:`qiskit_divi._maestro`.

Differences from divi 0.15.1: circuits come as divi v0.6.1's ``{label: OpenQASM 2}``
dict (not payload objects), the configuration is a mapping of ``maestro.SimulatorConfig``
options (or such a config) instead of divi's ``MaestroConfig`` class, there is no noise
model, and unless the configuration names a ``simulation_type`` the method is chosen
per circuit (statevector up to 26 qubits, matrix product state above).
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from qiskit import QuantumCircuit

from .._maestro import bound_circuit, estimate, require, sample, simulator_config
from ..api.errors import QoroInputError
from ..api.observables import split_ham_ops
from ._circuit_runner import CircuitRunner, ExecutionResult

logger = logging.getLogger(__name__)


def _options(config: Any) -> dict[str, Any]:
    """``maestro_config`` as ``SimulatorConfig`` keyword arguments (enums by member name)."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        options = dict(config)
    elif hasattr(type(config), "_fields"):  # a maestro.SimulatorConfig
        # What it changes from Maestro's defaults, and always its simulation_type: a
        # config object states the method (its default, statevector, included).
        default = type(config)()
        options = {
            name: getattr(config, name)
            for name in type(config)._fields
            if name == "simulation_type" or getattr(config, name) != getattr(default, name)
        }
    else:
        raise TypeError(
            "maestro_config must be a mapping of maestro.SimulatorConfig options or a "
            f"maestro.SimulatorConfig, got {type(config).__name__}"
        )
    for name in ("simulation_type", "simulator_type"):
        value = options.get(name)
        if value is not None and not isinstance(value, str):
            options[name] = value.name
    return options


def circuit_seed(seed: int, label: str) -> int:
    """Each circuit's own seed: one per label, so equal circuits under different labels
    sample independently and a circuit's counts do not depend on its batch."""
    return zlib.crc32(label.encode(), seed & 0xFFFFFFFF)


class MaestroSimulator(CircuitRunner):
    """A synchronous ``CircuitRunner`` on Maestro (``pip install "qiskit-divi[maestro]"``).

    Args:
        shots: shots per circuit (sampling).
        maestro_config: ``maestro.SimulatorConfig`` options by name, e.g.
            ``{"simulation_type": "MatrixProductState", "max_bond_dimension": 32}``, or a
            ``maestro.SimulatorConfig`` (whose ``simulation_type`` always counts). Without
            ``simulation_type`` each circuit runs as a statevector up to 26 qubits and a
            matrix product state (bond dimension 64) above.
        seed: seed of the simulation (also ``maestro_config["seed"]``); each circuit is
            seeded from it and its label, so a seeded batch is reproducible.
        force_sampling: refuse ``ham_ops`` (``supports_expval`` False), as divi does.

    Raises:
        QoroConfigurationError: Maestro is not installed.
        QoroInputError: unknown options (a ``ValueError``).
        ValueError: ``shots <= 0``.
    """

    def __init__(
        self,
        shots: int = 5000,
        maestro_config: Mapping[str, Any] | Any | None = None,
        *,
        seed: int | None = None,
        force_sampling: bool = False,
    ) -> None:
        super().__init__(shots=shots)
        require()
        options = _options(maestro_config)
        self.method: str | None = options.pop("simulation_type", None)
        config_seed = options.pop("seed", None)
        self._options = options
        self.seed: int | None = seed if seed is not None else config_seed
        self._force_sampling = bool(force_sampling)
        # Every option reaches Maestro's own validation now, not at the first submission.
        simulator_config(self.method, 1, self.seed, options)

    def set_seed(self, seed: int) -> None:
        """Seed every later submission."""
        self.seed = seed

    @property
    def supports_expval(self) -> bool:
        """True unless ``force_sampling``: Maestro computes expectation values exactly."""
        return not self._force_sampling

    @property
    def is_async(self) -> bool:
        """False: results come back from ``submit_circuits``."""
        return False

    def submit_circuits(
        self, circuits: dict[str, str], ham_ops: str | None = None, **kwargs: Any
    ) -> ExecutionResult:
        """Run ``{label: OpenQASM 2}`` circuits on Maestro.

        Returns:
            As ``ParallelSimulator``: ``[{"label", "results"}]`` in input order, counts
            with Qiskit's keys; with ``ham_ops`` (``;``-separated terms, qubit 0
            leftmost, one letter per qubit) ``results`` is ``{term: <term>}``, exact, as
            a Qoro EXPECTATION job returns. ``run_time`` is Maestro's time, summed.

        Every circuit is parsed and checked before the first runs.

        Raises:
            TypeError: another keyword argument.
            ValueError: bad ``ham_ops`` (divi's messages), ``ham_ops`` with
                ``force_sampling``; ``QoroInputError`` (a ``ValueError``) for invalid
                QASM, unbound parameters or terms of the wrong width.
        """
        if kwargs:
            raise TypeError(
                "MaestroSimulator.submit_circuits() takes circuits and ham_ops only, got "
                f"{', '.join(sorted(kwargs))}"
            )
        terms = None if ham_ops is None else split_ham_ops(ham_ops)
        if terms is not None and self._force_sampling:
            raise ValueError(
                "This MaestroSimulator has force_sampling=True, so it takes no ham_ops: "
                "measure in each term's basis, or build it with force_sampling=False."
            )
        parsed = {label: bound_circuit(qasm) for label, qasm in circuits.items()}
        if terms is not None:
            for label, circuit in parsed.items():
                if len(terms[0]) != circuit.num_qubits:
                    raise QoroInputError(
                        f"ham_ops terms have {len(terms[0])} letters; circuit {label!r} has "
                        f"{circuit.num_qubits} qubits: give one letter per qubit."
                    )
        results: list[dict[str, Any]] = []
        methods: Counter[str] = Counter()
        run_time = 0.0
        for label, circuit in parsed.items():
            values, method, taken = self._run(label, circuit, terms)
            results.append({"label": label, "results": values})
            methods[method] += 1
            run_time += taken
        if results:
            logger.info(
                "MaestroSimulator ran %d circuits in %.3f s (%s)",
                len(results),
                run_time,
                ", ".join(f"{name}: {n}" for name, n in sorted(methods.items())),
            )
        return ExecutionResult(results=results, run_time=run_time)

    def _run(
        self, label: str, circuit: QuantumCircuit, terms: list[str] | None
    ) -> tuple[dict[str, Any], str, float]:
        seed = None if self.seed is None else circuit_seed(self.seed, label)
        kwargs: dict[str, Any] = {"seed": seed, "method": self.method, "options": self._options}
        if terms is None:
            sampled = sample(circuit, self.shots, **kwargs)
            return dict(sampled.counts), sampled.method, sampled.time_taken
        estimated = estimate(circuit, terms, **kwargs)
        return (
            dict(zip(terms, estimated.values, strict=True)),
            estimated.method,
            estimated.time_taken,
        )
