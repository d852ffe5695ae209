"""The shared argument checks: a ConfigError naming the argument, or a pass; never more."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claudeflow import ConfigError, RateLimits, Timeouts
from claudeflow._checks import (
    brief,
    check_count,
    check_fraction,
    check_instance,
    check_non_negative,
    check_number,
    check_positive,
)

HUGE = 10**400  # an int beyond the float range: float(HUGE) raises OverflowError


@pytest.mark.parametrize(
    ("check", "value", "problem"),
    [
        pytest.param(check_positive, HUGE, "must be a finite number", id="positive-huge"),
        pytest.param(check_positive, -HUGE, "must be a finite number", id="positive-neg-huge"),
        pytest.param(check_positive, math.inf, "must be a finite number", id="positive-inf"),
        pytest.param(check_positive, math.nan, "must be a finite number", id="positive-nan"),
        pytest.param(check_positive, 0, "must be a finite number > 0", id="positive-zero"),
        pytest.param(check_positive, True, "must be a number, got bool", id="positive-bool"),
        pytest.param(check_positive, "5", "must be a number, got str", id="positive-str"),
        pytest.param(check_non_negative, HUGE, "must be a finite number", id="non-neg-huge"),
        pytest.param(check_non_negative, -1, "must be >= 0", id="non-neg-negative"),
        pytest.param(check_count, 1.0, "must be an int, got float", id="count-float"),
        pytest.param(check_count, -HUGE, "an int of 1329 bits", id="count-neg-huge"),
    ],
)
def test_bad_values_are_config_errors_naming_the_argument(
    check: Callable[[str, Any], None], value: object, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check("arg", value)
    assert caught.value.argument == "arg" and problem in str(caught.value)
    assert len(str(caught.value)) < 120


def test_none_is_allowed_only_when_asked() -> None:
    check_positive("arg", None)
    check_count("arg", None, allow_none=True)
    with pytest.raises(ConfigError, match=r"^arg: is required"):
        check_positive("arg", None, allow_none=False)
    with pytest.raises(ConfigError, match=r"^arg: must be an int"):
        check_count("arg", None)


def test_good_values_pass() -> None:
    assert check_number("arg", 3) == 3.0
    check_positive("arg", 1e300)
    check_non_negative("arg", 0)
    check_count("arg", HUGE)  # as a count, a huge int is still an int
    check_fraction("arg", 1, allow_zero=False, allow_one=True)
    check_instance("arg", None, int)
    with pytest.raises(ConfigError, match=r"^arg: must be in \(0, 1\), got 1"):
        check_fraction("arg", 1, allow_zero=False, allow_one=False)
    with pytest.raises(ConfigError, match=r"^arg: must be a int, got str"):
        check_instance("arg", "x", int)


def test_brief_is_short_and_safe() -> None:
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    assert brief(deep) == "a list"  # no repr: it would raise RecursionError
    assert brief(10**5000) == "an int of 16610 bits"  # str() of it raises ValueError
    assert brief("x" * 1000) == "'" + "x" * 56 + "..."
    assert brief(2.5) == "2.5" and brief(None) == "None" and brief(-3) == "-3"


anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**1024, max_value=2**1100)
    | st.floats()
    | st.text(max_size=10)
    | st.binary(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(anything)
def test_every_check_raises_config_error_or_passes(value: object) -> None:
    checks: list[Callable[[], object]] = [
        lambda: check_positive("arg", value),
        lambda: check_non_negative("arg", value),
        lambda: check_count("arg", value, minimum=0),
        lambda: check_fraction("arg", value, allow_zero=True, allow_one=True),
        lambda: check_number("arg", value),
    ]
    for check in checks:
        try:
            check()
        except ConfigError as exc:
            assert exc.argument == "arg" and str(exc).startswith("arg: ")
    assert len(brief(value)) <= 60


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        pytest.param(lambda: RateLimits(rpm=HUGE), "rpm", id="rpm"),
        pytest.param(lambda: RateLimits(input_tpm=math.inf), "input_tpm", id="itpm-inf"),
        pytest.param(lambda: Timeouts(total=HUGE), "total", id="total"),
        pytest.param(lambda: Timeouts(connect=-HUGE), "connect", id="connect"),
    ],
)
def test_configs_refuse_numbers_beyond_float_range(
    build: Callable[[], object], argument: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build()
    assert caught.value.argument == argument
