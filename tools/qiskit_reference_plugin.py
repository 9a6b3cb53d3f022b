"""Pytest plugin: Qiskit's own ``BackendSamplerV2`` / ``BackendEstimatorV2`` tests, run on
qiskit_divi.

Loaded by :mod:`qiskit_reference_tests` (``-p qiskit_reference_plugin``) into a pytest run of
``test/python/primitives/test_backend_{sampler,estimator}_v2.py`` from Qiskit's sdist. After
collection it rebinds the name ``BackendSamplerV2`` (``BackendEstimatorV2``) inside those test
modules to :class:`ReferenceSampler` (:class:`ReferenceEstimator`): our ``SamplerV2`` /
``EstimatorV2``, constructed the way the tests construct Qiskit's classes, on a system of ONE
local emulator (``QoroProvider.local()``) for the whole run. Nothing else is changed; the
tests' assertions run as Qiskit wrote them.

Which Qoro system stands in for each backend the tests build (:func:`qoro_backend_for`):

* ``BasicSimulator`` and a noiseless ``AerSimulator`` -> ``qoro_maestro`` (noiseless; its
  estimator is exact, EXPECTATION jobs).
* ``GenericBackendV2`` (and the tests' subclasses of it) -> ``fake_ion``. Qiskit runs
  ``GenericBackendV2`` under Aer WITH its noise model, so a noisy system stands in for it, and
  every test against it runs with noise. ``fake_ion``'s noise is of the same order as
  ``GenericBackendV2``'s defaults (readout 2e-3 / 5e-3 against up to 5e-3; two-qubit gates
  1e-2 against up to 5e-3), which the tests' tolerances are sized for (e.g. at most 500 of
  10,000 shots off a deterministic outcome). ``fake_nairobi``'s calibrated readout error (about
  6% on qubit 0) exceeds that, so it would fail those tests on noise alone. Its estimator takes
  the sampling fallback, so both estimator methods run. No test is mapped to a noiseless
  system in place of a noisy one.

What the adapter does beyond that, and nothing more:

* Circuits the tests transpiled for their own backend are not ISA for ours (e.g. ``cx`` on
  nairobi, ``unitary`` on maestro): such a PUB's circuit is transpiled for our backend
  (optimization level 0, as the tests do) and, for the estimator, its observables follow the
  new layout. ISA circuits, and anything that is not a circuit, reach our primitive untouched,
  so our own input checks answer the tests' error cases.
* ``seed_simulator`` (constructor option or ``options.seed_simulator = ...``) is dropped: the
  Qoro API takes no seed. The emulator is seeded instead (:data:`EMULATOR_SEED`).

Deselected tests (:data:`DESELECTED`) are listed with the reason each one does not apply; the
run fails if one of them no longer exists, and if the rebinding finds nothing to rebind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from typing import Any

import pytest
from qiskit import QuantumCircuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.providers.basic_provider import BasicSimulator
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.transpiler import PassManager
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager

from qiskit_divi import EstimatorV2, QoroBackend, QoroProvider, SamplerV2
from qiskit_divi.emulator import EmulatorConfig

EMULATOR_SEED = 20240613
"""Seeds the emulator's simulators (the stand-in for the tests' ``seed_simulator``).
``QISKIT_REFERENCE_SEED`` overrides it (an integer, or ``none`` for fresh randomness)."""

NOISELESS_SYSTEM = "qoro_maestro"
NOISY_SYSTEM = "fake_ion"

IGNORED_OPTIONS = frozenset({"seed_simulator"})
"""Qiskit primitive options the adapter drops: the Qoro API takes no simulator seed."""

SAMPLER_MODULE = "test_backend_sampler_v2"
ESTIMATOR_MODULE = "test_backend_estimator_v2"

_METADATA_REASON = (
    "asserts the result metadata equal {keys} exactly; the V2 primitive interface does not fix "
    "the metadata keys, and ours add the Qoro job id(s) (as qiskit-ibm-runtime adds its own)"
    "{extra}. "
    "The keys ours share with Qiskit's are pinned in tests/primitives/."
)

DESELECTED: dict[str, str] = {
    f"{SAMPLER_MODULE}.py::TestBackendSamplerV2::test_run_level1": (
        "meas_level=1 (kerneled IQ data) through run_options, produced by a GenericBackendV2 "
        "subclass whose own run() synthesises it; Qoro jobs return counts only."
    ),
    f"{SAMPLER_MODULE}.py::TestBackendSamplerV2::test_circuit_with_aliased_cregs": (
        "classical control flow (if_test) conditioned on aliased classical registers (registers "
        "that share bits), which the test itself needs Aer to simulate; OpenQASM 2, the circuit "
        "format of the Qoro API, cannot declare registers that share bits, so the circuit cannot "
        "be sent."
    ),
    f"{SAMPLER_MODULE}.py::TestBackendSamplerV2::test_metadata": _METADATA_REASON.format(
        keys="BackendSamplerV2's ({'version': 2}; per PUB only 'shots' and 'circuit_metadata')",
        extra="",
    ),
    f"{ESTIMATOR_MODULE}.py::TestBackendEstimatorV2::test_metadata": _METADATA_REASON.format(
        keys="BackendEstimatorV2's ({'version': 2}; per PUB only 'target_precision', 'shots', "
        "'circuit_metadata')",
        extra=", and an exact EXPECTATION estimate runs no shots",
    ),
    f"{ESTIMATOR_MODULE}.py::TestBackendEstimatorV2::test_job_size_limit_backend_v2": (
        "counts the calls BackendEstimatorV2 makes to a mocked Qiskit backend's run() (one per "
        "circuit when max_circuits=1); ours submits Qoro jobs over the API and calls no "
        "Qiskit backend's run()."
    ),
}
"""Tests that do not apply to a Qoro primitive, by node id (file relative to its folder)."""


class AdapterError(RuntimeError):
    """The adapter cannot stand in for what a test does (never a ValueError: no test may pass
    on it)."""


# --- the emulator and its backends ----------------------------------------------------------

_provider: QoroProvider | None = None
_stats = {"transpiled": 0, "by_system": {}}


def _the_provider() -> QoroProvider:
    global _provider
    if _provider is None:
        seed = os.environ.get("QISKIT_REFERENCE_SEED", str(EMULATOR_SEED))
        config = EmulatorConfig(
            min_job_seconds=0.0, seed=None if seed.lower() == "none" else int(seed)
        )
        _provider = QoroProvider.local(config=config)
    return _provider


def qoro_backend_for(backend: Any) -> QoroBackend:
    """The Qoro system that stands in for a backend a test built (see the module docstring)."""
    if isinstance(backend, QoroBackend):
        return backend
    if isinstance(backend, GenericBackendV2):
        name = NOISY_SYSTEM
    elif isinstance(backend, BasicSimulator) or _is_noiseless_aer(backend):
        name = NOISELESS_SYSTEM
    else:
        raise AdapterError(
            f"No Qoro system stands in for {backend!r}; add it to qoro_backend_for()."
        )
    qoro = _the_provider().get_backend(name)
    if isinstance(backend, GenericBackendV2) and backend.num_qubits > (qoro.target.num_qubits or 0):
        raise AdapterError(
            f"{backend!r} has {backend.num_qubits} qubits, more than {name}, "
            "which stands in for it."
        )
    key = f"{type(backend).__name__} -> {name}"
    _stats["by_system"][key] = _stats["by_system"].get(key, 0) + 1
    return qoro


def _is_noiseless_aer(backend: Any) -> bool:
    try:
        from qiskit_aer import AerSimulator
    except ImportError:  # pragma: no cover - qiskit-aer is a dependency of qiskit_divi
        return False
    return isinstance(backend, AerSimulator) and backend.options.noise_model is None


# --- ISA circuits for our backend -----------------------------------------------------------

_pass_managers: dict[str, PassManager] = {}


def _is_isa(circuit: QuantumCircuit, backend: QoroBackend) -> bool:
    target = backend.target
    if circuit.num_qubits > (target.num_qubits or 0):
        return False
    for instruction in circuit.data:
        name = instruction.operation.name
        if name == "barrier":
            continue
        qargs = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        if not target.instruction_supported(name, qargs):
            return False
    return True


def _to_isa(circuit: QuantumCircuit, backend: QoroBackend) -> QuantumCircuit:
    """``circuit`` itself when ISA for ``backend``, else transpiled for it (level 0, seeded)."""
    if _is_isa(circuit, backend):
        return circuit
    pm = _pass_managers.get(backend.name)
    if pm is None:
        pm = generate_preset_pass_manager(
            optimization_level=0, backend=backend, seed_transpiler=EMULATOR_SEED
        )
        _pass_managers[backend.name] = pm
    _stats["transpiled"] += 1
    return pm.run(circuit)


def _map_pubs(pubs: Any, convert: Any) -> Any:
    """``pubs`` with ``convert`` applied to each item; anything that is not an iterable of PUBs
    (a bare circuit, a number) is passed through for our primitive to refuse."""
    if isinstance(pubs, (QuantumCircuit, str, bytes)) or not isinstance(pubs, Iterable):
        return pubs
    if isinstance(pubs, (list, tuple)):
        return type(pubs)(convert(pub) for pub in pubs)
    return (convert(pub) for pub in pubs)  # keep an iterator an iterator


def _sampler_pub(pub: Any, backend: QoroBackend) -> Any:
    if isinstance(pub, QuantumCircuit):
        return _to_isa(pub, backend)
    if isinstance(pub, SamplerPub):
        isa = _to_isa(pub.circuit, backend)
        return pub if isa is pub.circuit else SamplerPub(isa, pub.parameter_values, pub.shots)
    if isinstance(pub, (tuple, list)) and pub and isinstance(pub[0], QuantumCircuit):
        return type(pub)([_to_isa(pub[0], backend), *pub[1:]])
    return pub


def _estimator_pub(pub: Any, backend: QoroBackend) -> Any:
    if isinstance(pub, EstimatorPub):
        isa = _to_isa(pub.circuit, backend)
        if isa is pub.circuit:
            return pub
        return EstimatorPub(
            isa, _follow_layout(pub.observables, isa), pub.parameter_values, pub.precision
        )
    if isinstance(pub, (tuple, list)) and len(pub) >= 2 and isinstance(pub[0], QuantumCircuit):
        isa = _to_isa(pub[0], backend)
        if isa is pub[0]:
            return pub
        return type(pub)([isa, _follow_layout(pub[1], isa), *pub[2:]])
    return pub


def _follow_layout(observables: Any, isa: QuantumCircuit) -> ObservablesArray:
    try:
        return ObservablesArray.coerce(observables).apply_layout(isa.layout)
    except Exception as exc:
        raise AdapterError(
            f"Cannot map the observables {observables!r} onto the transpiled circuit: {exc}"
        ) from exc


# --- the stand-ins ------------------------------------------------------------------------


def _our_options(options: Any) -> dict[str, Any]:
    opts = dict(options or {})
    if "run_options" in opts:
        raise AdapterError("run_options (backend.run options) have no Qoro equivalent.")
    for name in IGNORED_OPTIONS:
        opts.pop(name, None)
    return opts


class _OptionsView:
    """Our live options, except that assigning an ignored Qiskit option does nothing."""

    def __init__(self, options: Any) -> None:
        object.__setattr__(self, "_options", options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._options, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in IGNORED_OPTIONS:
            setattr(self._options, name, value)


class _ConstructedAsQiskits:
    """``__init__(backend=..., options=...)`` and an ``options`` view, as Qiskit's Backend
    primitives have."""

    def __init__(self, *, backend: Any, options: Any = None) -> None:
        super().__init__(mode=qoro_backend_for(backend), options=_our_options(options))  # type: ignore[call-arg]
        self._view = _OptionsView(self._options)  # type: ignore[attr-defined]

    @property
    def options(self) -> Any:
        return self._view


class ReferenceSampler(_ConstructedAsQiskits, SamplerV2):
    """``BackendSamplerV2(backend=..., options=...)``, as the tests call it, as our
    ``SamplerV2``."""

    def run(self, pubs: Any, *, shots: int | None = None) -> Any:
        return super().run(
            _map_pubs(pubs, lambda pub: _sampler_pub(pub, self.backend)), shots=shots
        )


class ReferenceEstimator(_ConstructedAsQiskits, EstimatorV2):
    """``BackendEstimatorV2(backend=..., options=...)``, as the tests call it, as our
    ``EstimatorV2``."""

    def run(self, pubs: Any, *, precision: float | None = None) -> Any:
        return super().run(
            _map_pubs(pubs, lambda pub: _estimator_pub(pub, self.backend)), precision=precision
        )


STAND_INS = {
    SAMPLER_MODULE: ("BackendSamplerV2", ReferenceSampler),
    ESTIMATOR_MODULE: ("BackendEstimatorV2", ReferenceEstimator),
}
"""Test module -> (the name it uses for Qiskit's class, our stand-in)."""


# --- pytest hooks -----------------------------------------------------------------------------

_journal_dir: tempfile.TemporaryDirectory[str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _journal_dir
    if "QISKIT_DIVI_JOURNAL" not in os.environ:  # keep the user's job journal out of it
        _journal_dir = tempfile.TemporaryDirectory(prefix="qiskit-reference-journal-")
        os.environ["QISKIT_DIVI_JOURNAL"] = os.path.join(_journal_dir.name, "jobs.sqlite3")


def pytest_unconfigure(config: pytest.Config) -> None:
    global _provider, _journal_dir
    if _provider is not None:
        _provider.close()
        _provider = None
    if _journal_dir is not None:
        os.environ.pop("QISKIT_DIVI_JOURNAL", None)
        _journal_dir.cleanup()
        _journal_dir = None


def _relative_id(item: pytest.Item) -> str:
    return item.nodeid.rsplit("/", 1)[-1]


@pytest.hookimpl(
    tryfirst=True
)  # before -k / -m deselect anything: DESELECTED is checked against all tests
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    rebound = set()
    for item in items:
        module = item.getparent(pytest.Module)
        name = module.obj.__name__.rsplit(".", 1)[-1] if module is not None else ""
        if name in STAND_INS and name not in rebound:
            attribute, stand_in = STAND_INS[name]
            if not hasattr(module.obj, attribute):
                raise pytest.UsageError(
                    f"{name} no longer uses {attribute}: the adapter has nothing to replace."
                )
            setattr(module.obj, attribute, stand_in)
            rebound.add(name)
    if not rebound:
        raise pytest.UsageError(
            f"None of {sorted(STAND_INS)} was collected: nothing runs on qiskit_divi."
        )

    ids = {_relative_id(item) for item in items}
    stale = [test for test in DESELECTED if test not in ids and test.split("::")[0][:-3] in rebound]
    if stale:
        raise pytest.UsageError(
            f"Deselected tests that no longer exist (update DESELECTED): {stale}"
        )
    keep, drop = [], []
    for item in items:
        (drop if _relative_id(item) in DESELECTED else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    config.stash[_DROPPED] = [_relative_id(item) for item in drop]


_DROPPED = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    write = terminalreporter.write_line
    terminalreporter.section("qiskit_divi stand-ins")
    for mapping, count in sorted(_stats["by_system"].items()):
        write(f"{mapping}: {count} primitive(s)")
    write(f"circuits transpiled for our backend first (not ISA for it): {_stats['transpiled']}")
    for test in config.stash.get(_DROPPED, []):
        write(f"deselected {test}: {DESELECTED[test]}")
