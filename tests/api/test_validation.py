"""The input checks: what each accepts (in its canonical type) and what it refuses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qiskit_divi import QoroConfigurationError, QoroInputError
from qiskit_divi.api import validation as v

ACCEPTED = [
    (v.positive_int, 3, 3),
    (v.positive_int, np.int64(7), 7),
    (v.non_negative_int, 0, 0),
    (v.positive_number, 0.5, 0.5),
    (v.positive_number, np.float32(2.0), 2.0),
    (v.positive_seconds, 1, 1.0),
    (v.optional_positive_seconds, None, None),
    (v.optional_positive_seconds, 2.5, 2.5),
    (v.optional_positive_seconds, math.inf, math.inf),
    (v.optional_non_negative_int, None, None),
    (v.optional_non_negative_int, np.uint8(0), 0),
    (v.non_negative_seconds, 0, 0.0),
    (v.fraction, 0, 0.0),
    (v.fraction, 1, 1.0),
    (v.boolean, False, False),
    (v.non_empty_str, "tag", "tag"),
]

REFUSED = [
    (v.positive_int, True),
    (v.positive_int, 0),
    (v.positive_int, 1.0),
    (v.positive_int, "3"),
    (v.non_negative_int, -1),
    (v.non_negative_int, False),
    (v.positive_number, 0),
    (v.positive_number, math.inf),
    (v.positive_number, math.nan),
    (v.positive_number, True),
    (v.positive_seconds, -1),
    (v.positive_seconds, math.inf),
    (v.optional_positive_seconds, 0),
    (v.optional_positive_seconds, math.nan),
    (v.optional_positive_seconds, -math.inf),
    (v.optional_non_negative_int, -1),
    (v.optional_non_negative_int, True),
    (v.non_negative_seconds, -0.1),
    (v.non_negative_seconds, math.nan),
    (v.fraction, 1.5),
    (v.fraction, True),
    (v.boolean, 1),
    (v.boolean, "true"),
    (v.non_empty_str, ""),
    (v.non_empty_str, None),
]


@pytest.mark.parametrize(("check", "value", "expected"), ACCEPTED)
def test_accepts_in_canonical_type(check, value, expected):
    result = check(value, "x")
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("check", "value"), REFUSED)
def test_refuses_naming_argument_and_value(check, value):
    with pytest.raises(QoroInputError, match=r"^x must be .*got ") as info:
        check(value, "x")
    assert repr(value) in str(info.value)


def test_maximum_and_range():
    assert v.positive_int(5, "shots", maximum=5) == 5
    with pytest.raises(QoroInputError, match="shots must be at most 5, got 6"):
        v.positive_int(6, "shots", maximum=5)
    assert v.int_in_range(0, "port", 0, 65535) == 0
    with pytest.raises(QoroInputError, match=r"port must be an integer in 0\.\.65535"):
        v.int_in_range(65536, "port", 0, 65535)


def test_error_class_is_the_callers():
    with pytest.raises(QoroConfigurationError):
        v.positive_seconds(0, "timeout", error=QoroConfigurationError)
    with pytest.raises(ValueError) as info:
        v.fraction(2, "rate", error=ValueError)
    assert type(info.value) is ValueError


def test_predicates():
    assert v.is_integer(np.int8(1)) and not v.is_integer(True) and not v.is_integer(1.0)
    assert v.is_real(1) and v.is_real(np.float64(1)) and not v.is_real(False)
    assert not v.is_real(1j)
