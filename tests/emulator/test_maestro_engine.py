"""The emulator's ``qoro_maestro`` system on Qoro's Maestro (``EmulatorConfig.engine``).

Tests marked :data:`needs_maestro` skip, with the reason, where the ``maestro`` extra is not
installed; the engine choice without the extra is tested everywhere, by making
:func:`qiskit_divi._maestro.available` say False. Jobs on ``make_server`` servers run in the
worker's child process, which imports Qiskit and Aer before Maestro: those tests also show
that import order works.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from ground_truth import assert_sampled_from, outcome_probabilities
from maestro_support import needs_maestro
from qiskit import QuantumCircuit, qasm2
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector
from random_circuits import QASM_GATES, gate_tour

from qiskit_divi import QoroProvider, _maestro
from qiskit_divi.emulator import DEFAULT_SYSTEMS, EmulatorConfig
from qiskit_divi.emulator.circuits import CircuitParser
from qiskit_divi.emulator.cli import main as emulator_main
from qiskit_divi.emulator.systems import (
    AER_NOISELESS_Q_BITS,
    MAESTRO_Q_BITS,
    SystemCatalogue,
    job_memory_estimate,
)
from qiskit_divi.exceptions import QoroConfigurationError


@pytest.fixture
def without_maestro(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process behaves as if the ``maestro`` extra were not installed."""
    monkeypatch.setattr(_maestro, "available", lambda: False)


def _engines(config: EmulatorConfig) -> dict[str, tuple[int, str]]:
    return {s.name: (s.q_bits, s.engine) for s in config.systems}


# --- choosing the engine ---------------------------------------------------------------


@needs_maestro
def test_auto_runs_qoro_maestro_on_maestro_when_installed():
    config = EmulatorConfig()
    assert (config.engine, config.resolved_engine) == ("auto", "maestro")
    assert _engines(config) == {
        "qoro_maestro": (MAESTRO_Q_BITS, "maestro"),
        "fake_nairobi": (7, "aer"),
        "fake_ion": (11, "aer"),
    }
    assert EmulatorConfig(engine="maestro").systems == config.systems


def test_auto_without_the_extra_is_aer_as_before(without_maestro):
    config = EmulatorConfig()
    assert config.resolved_engine == "aer"
    assert config.systems == DEFAULT_SYSTEMS
    assert [s.simulator_factory for s in config.systems] == [
        s.simulator_factory for s in DEFAULT_SYSTEMS
    ]
    assert _engines(config)["qoro_maestro"] == (AER_NOISELESS_Q_BITS, "aer")


def test_engine_aer_keeps_aer_and_switching_back_restores_the_catalogue():
    import dataclasses

    aer = EmulatorConfig(engine="aer")
    assert aer.resolved_engine == "aer" and aer.systems == DEFAULT_SYSTEMS
    if _maestro.available():  # a Maestro config switched back gets Aer's width again
        back = dataclasses.replace(EmulatorConfig(engine="maestro"), engine="aer")
        assert _engines(back) == _engines(aer)


def test_engine_maestro_without_the_extra_is_a_configuration_error(without_maestro, capsys):
    with pytest.raises(QoroConfigurationError, match=r'pip install "qiskit-divi\[maestro\]"'):
        EmulatorConfig(engine="maestro")
    assert issubclass(QoroConfigurationError, ValueError)  # the CLI's exit status 2
    assert emulator_main(["--engine", "maestro", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "error: engine='maestro' needs Qoro's Maestro" in err and "engine='aer'" in err


def test_an_unknown_engine_names_the_choices():
    with pytest.raises(QoroConfigurationError, match="'auto', 'aer', 'maestro'.*'gpu'"):
        EmulatorConfig(engine="gpu")


# --- what shows which engine runs ------------------------------------------------------


@pytest.mark.parametrize(
    "engine, expected",
    [
        pytest.param(
            "maestro",
            "qoro_maestro (100 qubits) on maestro (statevector up to 26 qubits, "
            "matrix-product state above); fake_nairobi, fake_ion on aer",
            marks=needs_maestro,
        ),
        ("aer", "qoro_maestro, fake_nairobi, fake_ion on aer"),
    ],
)
def test_one_log_line_at_start_names_the_engine(make_server, caplog, engine, expected):
    caplog.set_level(logging.INFO, logger="qiskit_divi.emulator")
    srv = make_server(config=EmulatorConfig(engine=engine))
    lines = [r.getMessage() for r in caplog.records if "on aer" in r.getMessage()]
    assert lines == [f"Qoro API emulator serving on {srv.base_url}; {expected}."]
    assert srv.engine == srv.stats["engine"] == engine


@needs_maestro
def test_qpusystem_keeps_its_shape_and_the_width_follows_the_engine(make_server, client):
    wire = {
        engine: client(make_server(config=EmulatorConfig(engine=engine))).get("qpusystem/").json()
        for engine in ("aer", "maestro")
    }
    maestro_entry = next(s for s in wire["maestro"] if s["name"] == "qoro_maestro")
    assert maestro_entry["qpus"][0]["q_bits"] == MAESTRO_Q_BITS
    maestro_entry["qpus"][0]["q_bits"] = AER_NOISELESS_Q_BITS
    assert wire["maestro"] == wire["aer"]  # only the width differs


@pytest.mark.parametrize(
    "engine, width", [pytest.param("maestro", MAESTRO_Q_BITS, marks=needs_maestro), ("aer", 24)]
)
def test_the_local_provider_and_the_target_say_which_engine_runs(engine, width):
    with QoroProvider.local(config=EmulatorConfig(engine=engine)) as provider:
        assert provider.emulator_engine == engine
        assert f"local emulator on {engine}" in repr(provider)
        backend = provider.get_backend("qoro_maestro")
        assert backend.num_qubits == backend.target.num_qubits == width


# --- running on Maestro --------------------------------------------------------------------


def _tilted_ghz(n: int, flipped: int) -> QuantumCircuit:
    """``cos(t/2)|0..0> + sin(t/2)|1..1>`` on ``n`` qubits with qubit ``flipped`` flipped,
    ``t`` a parameter: outcome ``1 << flipped`` with ``cos(t/2)**2``, its complement with
    ``sin(t/2)**2``."""
    theta = Parameter("t")
    circuit = QuantumCircuit(n, n, name=f"ghz{n}")
    circuit.ry(theta, 0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    circuit.x(flipped)
    circuit.measure(range(n), range(n))
    return circuit


@needs_maestro
def test_a_60_qubit_shallow_job_runs_on_mps_with_the_exact_distribution():
    """60 qubits (Aer's system holds 24): the memory estimate lets it in and Maestro's MPS
    samples it. Bound twice from one template: TVD bound of ground_truth (1e-9 false alarm
    per comparison)."""
    n, flipped, shots = 60, 3, 4000
    assert _maestro.choose_method(n) == _maestro.MATRIX_PRODUCT_STATE
    template = _tilted_ghz(n, flipped)
    angles = (0.7, 2.1)
    with QoroProvider.local(config=EmulatorConfig(engine="maestro", seed=5)) as provider:
        backend = provider.get_backend("qoro_maestro")
        job = backend.run([template.assign_parameters([a]) for a in angles], shots=shots)
        results = job.result()
    low, high = 1 << flipped, ((1 << n) - 1) ^ (1 << flipped)
    for index, angle in enumerate(angles):
        counts = {int(k, 2): v for k, v in results.get_counts(index).items()}
        exact = {low: math.cos(angle / 2) ** 2, high: math.sin(angle / 2) ** 2}
        assert set(counts) <= set(exact)
        assert_sampled_from(counts, exact, f"ghz60({angle})")


def test_memory_estimates_do_not_take_an_mps_job_for_a_statevector():
    wide = job_memory_estimate(
        expectation=False, num_qubits=60, num_clbits=60, n_circuits=2, shots=4000
    )
    assert wide < 64 * 2**20  # a 60-qubit statevector would be 16 EiB
    assert wide == job_memory_estimate(
        expectation=False, num_qubits=60, num_clbits=60, n_circuits=2, shots=4000, engine="maestro"
    )
    exact = job_memory_estimate(
        expectation=True, num_qubits=100, num_clbits=0, n_circuits=1, shots=None
    )
    assert exact < 64 * 2**20
    # Within Aer's width nothing changes: the batched statevector estimate.
    aer = job_memory_estimate(expectation=True, num_qubits=22, num_clbits=0, n_circuits=1, shots=0)
    assert np.isclose(aer / (16 << 22), 7, rtol=0.1)


@pytest.fixture
def maestro_engine():
    config = EmulatorConfig(engine="maestro")
    return SystemCatalogue(config.systems).simulator("qoro_maestro")


def _parsed(circuits: list[QuantumCircuit]):
    """Circuits as the emulator holds them: parsed skeletons plus angles (bound later)."""
    parser = CircuitParser()
    return [parser.parse(qasm2.dumps(c)) for c in circuits]


@needs_maestro
def test_expectation_values_of_every_gate_are_exact(maestro_engine):
    """Every gate of the QASM tour, including those Maestro does not parse (transpiled
    first), against SparsePauliOp on Statevector to 1e-9; terms are wire order."""
    circuits = gate_tour(QASM_GATES, measure=False)
    rng = np.random.default_rng(8)
    for circuit, job_circuit in zip(circuits, _parsed(circuits), strict=True):
        n = circuit.num_qubits
        labels = ["".join(rng.choice(list("IXYZ"), size=n)) for _ in range(4)] + ["Z" * n]
        wire = [label[::-1] for label in labels]  # Qiskit labels have qubit 0 rightmost
        (row,) = maestro_engine.expectation([job_circuit], wire)
        state = Statevector(circuit)
        for label, term in zip(labels, wire, strict=True):
            exact = state.expectation_value(SparsePauliOp(label)).real
            assert abs(row[term] - exact) <= 1e-9, (circuit.name, label, row[term], exact)


@needs_maestro
def test_sampled_gate_tour_matches_the_exact_distributions(maestro_engine):
    circuits = gate_tour(QASM_GATES, measure=True)
    shots = 3000
    counts = maestro_engine.sample(_parsed(circuits), shots, seed=3)
    for circuit, histogram in zip(circuits, counts, strict=True):
        assert_sampled_from(histogram, outcome_probabilities(circuit), circuit.name)


@needs_maestro
def test_bit_order_and_registers_are_qiskits(make_server, client, qasm):
    """Maestro counts ``x q[0]`` as '100'; the emulator's rows read like Aer's."""
    body = "x q[0]; x q[2]; measure q[0] -> a[0]; measure q[1] -> b[0]; measure q[2] -> b[1]"
    text = qasm(3, body, cregs={"a": 1, "b": 2})
    rows = {}
    for engine in ("aer", "maestro"):
        api = client(make_server(config=EmulatorConfig(engine=engine, min_job_seconds=0)))
        job = api.submit({"two_registers": text, "x0": qasm(3, "x q[0]")}, shots=50)
        rows[engine] = api.counts(job)
        values = api.values(
            api.submit({"x0": qasm(3, "x q[0]", measure=False)}, observables="ZII;IIZ")
        )
        assert values["x0"] == {"ZII": -1.0, "IIZ": 1.0}
    assert rows["maestro"] == rows["aer"] == {"two_registers": {"101": 50}, "x0": {"001": 50}}


@needs_maestro
def test_seeded_jobs_repeat_and_their_circuits_stay_independent(maestro_engine):
    (circuit,) = _parsed([QuantumCircuit.from_qasm_str(_plus_qasm(5))])
    first = maestro_engine.sample([circuit, circuit], 200, seed=11)
    assert maestro_engine.sample([circuit, circuit], 200, seed=11) == first
    assert first[0] != first[1]  # seeds 11 and 12: equal histograms of 32 outcomes? ~never


def _plus_qasm(n: int) -> str:
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n}];\ncreg c[{n}];\n'
        + "".join(f"h q[{q}];\n" for q in range(n))
        + "measure q -> c;\n"
    )
