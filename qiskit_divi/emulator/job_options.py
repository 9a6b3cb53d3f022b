"""Checks of the optional settings of ``job/init/``: ``execution_configuration``
(``qoro-api.md`` 5.8) and divi 0.15.1's ``maestro_config`` / ``device_config`` (section 12).

The emulator models only ``api_meta.max_execution_time`` (the job's deadline). Every
other setting is checked for its type and then ignored (said in a log line): the
emulator always simulates exactly (statevector), so bond dimensions, noise and device
options do not change its results. Each function raises ValueError with what was wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..api.validation import is_integer, is_real

API_META_TYPES: dict[str, str] = {
    "optimization_level": "int",
    "resilience_level": "int",
    "max_execution_time": "int",
    "transpilation_seed": "int",
    "layout_method": "str",
    "routing_method": "str",
    "approximation_degree": "number",
}
"""The ``api_meta`` keys of 5.8 and their types; any other key is refused."""

_NUMBER = "a number"


def _check(value: Any, kind: str, where: str) -> None:
    if kind == "int":
        ok = is_integer(value)
        wanted = "an integer"
    elif kind == "number":
        ok = is_real(value) and math.isfinite(value)
        wanted = _NUMBER
    else:
        ok = isinstance(value, str)
        wanted = "a string"
    if not ok:
        raise ValueError(f"'{where}' must be {wanted}, got {value!r}.")


def _range(value: Any, where: str, *, low: float, high: float | None = None) -> None:
    if value < low or (high is not None and value > high):
        bound = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
        raise ValueError(f"'{where}' must be {bound}, got {value!r}.")


_SETTINGS: dict[str, tuple[str, float | None, float | None]] = {
    "bond_dimension": ("int", 1, None),
    "truncation_threshold": ("number", 0, None),
    "simulator_type": ("int", 0, 4),
    "simulation_type": ("int", 0, 5),
    "noisy_device": ("str", None, None),
    "noise_realizations": ("int", 1, None),
    "noise_scaling_factor": ("number", 0, 1),
}
"""The settings of 5.8 besides ``api_meta``: type, lowest and highest value."""


def execution_configuration(value: Any) -> tuple[float | None, list[str]]:
    """Check an ``execution_configuration``; returns its ``max_execution_time`` (seconds,
    or None) and the names of the settings the emulator ignores (unknown top-level keys
    included, as a serializer would)."""
    where = "execution_configuration"
    if not isinstance(value, Mapping):
        raise ValueError(f"'{where}' must be an object (qoro-api.md 5.8), got {value!r}.")
    ignored: list[str] = []
    for key, item in value.items():
        if key == "api_meta":
            continue
        if key in _SETTINGS:
            kind, low, high = _SETTINGS[key]
            _check(item, kind, f"{where}.{key}")
            if low is not None:
                _range(item, f"{where}.{key}", low=low, high=high)
        ignored.append(key)
    meta = value.get("api_meta")
    if meta is None:
        return None, ignored
    if not isinstance(meta, Mapping):
        raise ValueError(f"'{where}.api_meta' must be an object, got {meta!r}.")
    deadline = None
    for key, item in meta.items():
        if key not in API_META_TYPES:
            raise ValueError(
                f"Unknown api_meta key: {key!r}; known keys: {', '.join(API_META_TYPES)}."
            )
        _check(item, API_META_TYPES[key], f"{where}.api_meta.{key}")
        if key == "max_execution_time":
            _range(item, f"{where}.api_meta.max_execution_time", low=1)
            deadline = float(item)
        else:
            ignored.append(f"api_meta.{key}")
    return deadline, ignored


def _json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool)) or is_real(value)


def maestro_config(value: Any) -> list[str]:
    """Check divi 0.15.1's ``maestro_config``; returns its keys (all ignored)."""
    where = "maestro_config"
    if not isinstance(value, Mapping):
        raise ValueError(f"'{where}' must be an object, got {value!r}.")
    for key, item in value.items():
        name = f"{where}.{key}"
        if key in ("simulator_type", "simulation_type", "noise_seed"):
            _check(item, "int", name)
        elif key == "noise_realizations":
            _check(item, "int", name)
            _range(item, name, low=1)
        elif key == "noise_model":
            _noise_model(item, name)
        elif not _json_scalar(item):
            raise ValueError(
                f"'{name}' must be a number, string, boolean or null (a maestro simulator "
                f"option), got {item!r}."
            )
    return list(value)


def _noise_model(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise ValueError(f"'{where}' must be a list of recorded calls, got {value!r}.")
    for i, call in enumerate(value):
        if not (
            isinstance(call, Mapping)
            and isinstance(call.get("method"), str)
            and isinstance(call.get("args", []), list)
            and isinstance(call.get("kwargs", {}), Mapping)
        ):
            raise ValueError(
                f'\'{where}[{i}]\' must be an object {{"method": str, "args": list, '
                f'"kwargs": object}}, got {call!r}.'
            )


def device_config(value: Any) -> list[str]:
    """Check divi 0.15.1's ``device_config``; returns its keys (all ignored)."""
    where = "device_config"
    if not isinstance(value, Mapping):
        raise ValueError(f"'{where}' must be an object, got {value!r}.")
    for key, item in value.items():
        if not _json_scalar(item):
            raise ValueError(
                f"'{where}.{key}' must be a number, string, boolean or null, got {item!r}."
            )
    return list(value)
