"""SamplerOptions / EstimatorOptions: every way of setting an option fails loudly on a bad
name or value, and the qiskit-ibm-runtime names that mean nothing here say what to do."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pytest
import qiskit_ibm_runtime.options as ibm
from qiskit import QuantumCircuit

from qiskit_divi import EstimatorV2, SamplerV2
from qiskit_divi.api.errors import QoroInputError
from qiskit_divi.primitives import EstimatorOptions, SamplerOptions

OURS = {SamplerOptions: ibm.SamplerOptions, EstimatorOptions: ibm.EstimatorOptions}


def ibm_only_names(ours: type) -> list[str]:
    """The installed qiskit-ibm-runtime fields of the matching class that ours lacks."""
    mine = {f.name for f in dataclasses.fields(ours)}
    return sorted(
        f.name
        for f in dataclasses.fields(OURS[ours])
        if not f.name.startswith("_") and f.name not in mine
    )


def set_by_attribute(options, name, value):
    setattr(options, name, value)


def set_by_update(options, name, value):
    options.update(**{name: value})


def set_by_dict(options, name, value):
    from qiskit_divi.primitives.options import coerce_options

    coerce_options(type(options), {name: value})


SETTERS = [set_by_attribute, set_by_update, set_by_dict]

SPECIAL = {
    "default_shots": (
        "default_shots: EstimatorV2 takes a precision, not shots: set default_precision"
    ),
    "seed_estimator": "seed_estimator is not supported",
}
"""The qiskit-ibm-runtime names with a message of their own (the others share one form)."""


@pytest.mark.parametrize("setter", SETTERS)
@pytest.mark.parametrize(("cls", "typo", "meant"), [
    (SamplerOptions, "defualt_shots", "default_shots"),
    (EstimatorOptions, "default_precison", "default_precision"),
    (EstimatorOptions, "abelian_groupping", "abelian_grouping"),
])  # fmt: skip
def test_a_misspelt_name_raises_naming_the_valid_fields(setter, cls, typo, meant):
    options = cls()
    with pytest.raises(
        QoroInputError,
        match=rf"Unknown {cls.__name__} field\(s\) '{typo}'\. Did you mean '{meant}'",
    ) as info:
        setter(options, typo, 100)
    valid = ", ".join(f.name for f in dataclasses.fields(cls))
    assert str(info.value).endswith(f"Valid fields: {valid}.")
    assert options == cls() and typo not in vars(options)


@pytest.mark.parametrize("setter", SETTERS)
@pytest.mark.parametrize("cls", [SamplerOptions, EstimatorOptions])
def test_every_ibm_runtime_option_name_says_what_to_do_instead(setter, cls):
    names = ibm_only_names(cls)
    assert {
        "max_execution_time",
        "environment",
        "simulator",
        "dynamical_decoupling",
        "execution",
        "twirling",
    } <= set(names)
    for name in names:  # a new qiskit-ibm-runtime option makes this fail until it has advice
        with pytest.raises(QoroInputError) as info:
            setter(cls(), name, 1)
        message = str(info.value)
        expected = SPECIAL.get(
            name, f"{name} is a qiskit-ibm-runtime option with no counterpart in qiskit_divi. "
        )
        assert expected in message and "Did you mean" not in message, message


@pytest.mark.parametrize("setter", SETTERS)
def test_runtime_names_outside_the_v2_classes_are_explained_too(setter):
    for name in ("resilience_level", "optimization_level", "transpilation", "resilience"):
        with pytest.raises(
            QoroInputError,
            match=rf"{name} is a qiskit-ibm-runtime option with no counterpart in qiskit_divi",
        ):
            setter(SamplerOptions(), name, 1)
    with pytest.raises(
        QoroInputError, match="requests no error mitigation: EXPECTATION jobs .* are exact"
    ):
        setter(EstimatorOptions(), "resilience_level", 1)
    with pytest.raises(
        QoroInputError, match=r"generate_preset_pass_manager\(backend=backend, optimization_level"
    ):
        setter(EstimatorOptions(), "optimization_level", 3)
    with pytest.raises(QoroInputError, match="set timeout"):
        setter(SamplerOptions(), "max_execution_time", 60)


@pytest.mark.parametrize("setter", SETTERS)
def test_shots_on_the_estimator_point_to_the_precision(setter):
    with pytest.raises(
        QoroInputError, match=r"default_shots: EstimatorV2 takes a precision.*set default_precision"
    ) as info:
        setter(EstimatorOptions(), "default_shots", 4096)
    assert "default_shots=4096 is default_precision=0.015625" in str(info.value)
    with pytest.raises(QoroInputError, match="SamplerV2 takes shots: set default_shots"):
        setter(SamplerOptions(), "default_precision", 0.01)
    with pytest.raises(
        QoroInputError,
        match="seed_estimator is not supported: the Qoro API takes no simulator seed",
    ):
        setter(EstimatorOptions(), "seed_estimator", 1)


def test_reading_an_ibm_runtime_name_explains_it():
    with pytest.raises(
        AttributeError,
        match="EstimatorOptions has no attribute 'twirling'.*requests no error suppression",
    ):
        EstimatorOptions().twirling.enable_gates = True
    assert not hasattr(SamplerOptions(), "resilience_level")
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'"):
        SamplerOptions().nonsense  # noqa: B018


@pytest.mark.parametrize(("cls", "name", "bad"), [
    (SamplerOptions, "default_shots", -5),
    (SamplerOptions, "default_shots", 2.5),
    (SamplerOptions, "default_shots", True),
    (SamplerOptions, "timeout", 0),
    (SamplerOptions, "progress", "yes"),
    (SamplerOptions, "tag", ""),
    (EstimatorOptions, "default_precision", -0.1),
    (EstimatorOptions, "default_precision", float("nan")),
    (EstimatorOptions, "abelian_grouping", 1),
    (EstimatorOptions, "scale_shots_by_norm", None),
    (SamplerOptions, "templates", "off"),
    (EstimatorOptions, "templates", 0),
    (EstimatorOptions, "cutting_max_qubits", 0),
    (EstimatorOptions, "cutting_max_qubits", -1),
    (EstimatorOptions, "cutting_max_qubits", 2.5),
    (EstimatorOptions, "cutting_max_qubits", "3"),
    (EstimatorOptions, "cutting_max_overhead", 0.5),
    (EstimatorOptions, "cutting_max_overhead", 0),
    (EstimatorOptions, "cutting_max_overhead", float("nan")),
    (EstimatorOptions, "cutting_max_overhead", float("inf")),
])  # fmt: skip
def test_invalid_values_fail_at_assignment(cls, name, bad):
    options = cls()
    with pytest.raises(QoroInputError, match=f"{name} must be"):
        setattr(options, name, bad)
    with pytest.raises(QoroInputError, match=f"{name} must be"):
        options.update(**{name: bad})
    with pytest.raises(QoroInputError, match=f"{name} must be"):
        cls(**{name: bad})
    assert options == cls()


def test_the_cutting_options_take_none_positive_ints_and_overheads_from_1():
    options = EstimatorOptions()
    assert (options.cutting_max_qubits, options.cutting_max_overhead) == (None, 1e4)
    for value in (1, 3, np.int64(4)):
        options.cutting_max_qubits = value
        assert options.cutting_max_qubits == value and type(options.cutting_max_qubits) is int
    options.cutting_max_qubits = None
    assert options.cutting_max_qubits is None
    options.update(cutting_max_overhead=1)
    assert options.cutting_max_overhead == 1.0
    assert EstimatorOptions(cutting_max_overhead=81.5).cutting_max_overhead == 81.5
    with pytest.raises(QoroInputError, match="at least 1"):
        options.cutting_max_overhead = 0.99


def test_update_is_all_or_nothing_and_valid_values_are_kept():
    options = SamplerOptions()
    with pytest.raises(QoroInputError, match="timeout"):
        options.update(default_shots=10, timeout=-1)
    assert options == SamplerOptions()
    options.default_shots = np.int64(300)
    assert options.default_shots == 300 and type(options.default_shots) is int
    options.update(timeout=2.5, tag="mine")
    assert (options.timeout, options.tag) == (2.5, "mine")
    with pytest.raises(QoroInputError, match="cannot be deleted"):
        del options.tag


def test_copies_and_pickles_still_work():
    options = EstimatorOptions(default_precision=0.05, tag="x")
    assert copy.deepcopy(options) == options == pickle.loads(pickle.dumps(options))
    assert dataclasses.replace(options, progress=False).progress is False
    with pytest.raises(QoroInputError, match="default_precision must be"):
        dataclasses.replace(options, default_precision=0)


def test_a_value_forced_past_the_checks_fails_before_any_job(maestro, emulator_server):
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    sampler = SamplerV2(mode=maestro)
    sampler.options.default_shots = 7  # a valid assignment is live
    object.__setattr__(sampler.options, "default_shots", -1)
    estimator = EstimatorV2(mode=maestro)
    object.__setattr__(estimator.options, "default_precision", "tiny")
    before = emulator_server.stats["jobs_created"]
    with pytest.raises(QoroInputError, match="default_shots must be a positive integer"):
        sampler.run([circuit])
    with pytest.raises(QoroInputError, match="default_precision must be a positive number"):
        estimator.run([(QuantumCircuit(1), "Z")])
    assert emulator_server.stats["jobs_created"] == before
