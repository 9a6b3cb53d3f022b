"""Checks of user and configuration input, in one place.

Each check returns the value in its canonical type or raises ``error`` (by default
:class:`~qiskit_divi.api.errors.QoroInputError`, a ``ValueError``) with a message that names
the argument, what it must be, and what it got. ``bool`` is never accepted as a number,
although Python treats it as one: ``shots=True`` is a mistake, not one shot.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, TypeGuard

from .errors import QoroInputError

ErrorType = type[Exception]


def is_integer(value: Any) -> TypeGuard[int]:
    """Whether ``value`` is an integer (numpy integers included) and not a ``bool``.

    Narrows to ``int`` for type checkers: numpy integers support the same operations.
    """
    # Plain ints first: decoders call this once per histogram entry, and the ABC check
    # costs ~1 us where this costs ~50 ns.
    return type(value) is int or (
        isinstance(value, numbers.Integral) and not isinstance(value, bool)
    )


def is_real(value: Any) -> TypeGuard[float]:
    """Whether ``value`` is a real number (numpy scalars included) and not a ``bool``."""
    return type(value) in (float, int) or (
        isinstance(value, numbers.Real) and not isinstance(value, bool)
    )


def positive_int(
    value: Any, name: str, *, maximum: int | None = None, error: ErrorType = QoroInputError
) -> int:
    """``value`` as a positive ``int``, at most ``maximum`` when given."""
    if not is_integer(value) or int(value) <= 0:
        raise error(f"{name} must be a positive integer, got {value!r}.")
    if maximum is not None and int(value) > maximum:
        raise error(f"{name} must be at most {maximum:,}, got {int(value):,}.")
    return int(value)


def non_negative_int(value: Any, name: str, *, error: ErrorType = QoroInputError) -> int:
    """``value`` as an ``int`` >= 0."""
    if not is_integer(value) or int(value) < 0:
        raise error(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


def optional_non_negative_int(
    value: Any, name: str, *, error: ErrorType = QoroInputError
) -> int | None:
    """``None``, or ``value`` as an ``int`` >= 0 (a seed: None means fresh randomness)."""
    if value is None:
        return None
    if not is_integer(value) or int(value) < 0:
        raise error(f"{name} must be a non-negative integer or None, got {value!r}.")
    return int(value)


def int_in_range(
    value: Any, name: str, low: int, high: int, *, error: ErrorType = QoroInputError
) -> int:
    """``value`` as an ``int`` in ``low..high`` (both included)."""
    if not is_integer(value) or not low <= int(value) <= high:
        raise error(f"{name} must be an integer in {low}..{high}, got {value!r}.")
    return int(value)


def positive_number(value: Any, name: str, *, error: ErrorType = QoroInputError) -> float:
    """``value`` as a finite ``float`` > 0."""
    if not is_real(value) or not math.isfinite(value) or not value > 0:
        raise error(f"{name} must be a positive number, got {value!r}.")
    return float(value)


def positive_seconds(value: Any, name: str, *, error: ErrorType = QoroInputError) -> float:
    """``value`` as a finite number of seconds > 0."""
    if not is_real(value) or not math.isfinite(value) or not value > 0:
        raise error(f"{name} must be a positive number of seconds, got {value!r}.")
    return float(value)


def optional_positive_seconds(
    value: Any, name: str, *, error: ErrorType = QoroInputError
) -> float | None:
    """A wait limit: ``None`` or ``math.inf`` (no limit), or a number of seconds > 0."""
    if value is None:
        return None
    if not is_real(value) or math.isnan(value) or not value > 0:
        raise error(f"{name} must be a positive number of seconds or None, got {value!r}.")
    return float(value)


def non_negative_seconds(value: Any, name: str, *, error: ErrorType = QoroInputError) -> float:
    """``value`` as a finite number of seconds >= 0."""
    if not is_real(value) or not math.isfinite(value) or value < 0:
        raise error(f"{name} must be a non-negative number of seconds, got {value!r}.")
    return float(value)


def fraction(value: Any, name: str, *, error: ErrorType = QoroInputError) -> float:
    """``value`` as a ``float`` in ``[0, 1]`` (a rate or probability)."""
    if not is_real(value) or not 0.0 <= value <= 1.0:
        raise error(f"{name} must be a number between 0 and 1, got {value!r}.")
    return float(value)


def boolean(value: Any, name: str, *, error: ErrorType = QoroInputError) -> bool:
    """``value`` if it is ``True`` or ``False`` (not merely truthy)."""
    if not isinstance(value, bool):
        raise error(f"{name} must be True or False, got {value!r}.")
    return value


def non_empty_str(value: Any, name: str, *, error: ErrorType = QoroInputError) -> str:
    """``value`` if it is a non-empty string."""
    if not isinstance(value, str) or not value:
        raise error(f"{name} must be a non-empty string, got {value!r}.")
    return value
