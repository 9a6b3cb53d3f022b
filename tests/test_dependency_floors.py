"""The pins of ci/floor-constraints.txt are the floors that pyproject.toml declares.

``ci/floor-tests`` runs the suite under those pins, so the declared lower bounds are tested
only while the two agree. The requirements are read from the installed package's metadata
(what pip resolved against), which both CI environments install fresh from pyproject.toml.
"""

from __future__ import annotations

from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

CONSTRAINTS = Path(__file__).resolve().parents[1] / "ci" / "floor-constraints.txt"
# The extras that ci/floor-tests installs (``-e ".[test,dask]"``).
FLOOR_EXTRAS = {"test", "dask", "maestro", "cutting"}


def _declared() -> list[Requirement]:
    """The requirements of qiskit-divi and of the extras in FLOOR_EXTRAS."""
    out = []
    for line in requires("qiskit-divi") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in FLOOR_EXTRAS):
            out.append(requirement)
    return out


def _floor(requirement: Requirement) -> Version:
    lower = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert len(lower) == 1, f"{requirement} must declare exactly one lower bound (>=)"
    return lower[0]


def _pins() -> dict[str, Version]:
    pins = {}
    for raw in CONSTRAINTS.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{CONSTRAINTS.name}: {line!r} must pin with =="
        pins[canonicalize_name(requirement.name)] = Version(spec.version)
    return pins


def test_every_declared_floor_is_pinned_at_that_version():
    pins = _pins()
    declared = _declared()
    assert {canonicalize_name(r.name) for r in declared} >= {"qiskit", "pytest", "dask"}
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{CONSTRAINTS.name} does not pin {requirement.name}"
        assert pins[name] == _floor(requirement), (
            f"{CONSTRAINTS.name} pins {name}=={pins[name]}, "
            f"but pyproject.toml declares {requirement}"
        )


def test_every_pin_is_a_declared_dependency_or_an_extra_of_one():
    declared = _declared()
    names = {canonicalize_name(r.name) for r in declared}
    # dask[distributed] brings distributed, released in step with dask.
    extras = {canonicalize_name(extra): r for r in declared for extra in r.extras}
    pins = _pins()
    for name, version in pins.items():
        if name in names:
            continue
        assert name in extras, f"{CONSTRAINTS.name} pins {name}, which pyproject.toml does not name"
        parent = canonicalize_name(extras[name].name)
        assert version == pins[parent], f"{name} must be pinned with {parent}, at {pins[parent]}"
