"""The one number check every entry point uses."""

import pytest

from rediscluster_opt.validate import check_number


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        (0, {}, "x must be a positive number, got 0"),
        (True, {}, "x must be a positive number, got True"),
        ("3", {}, "x must be a positive number, got '3'"),
        (2.5, {"integer": True}, "x must be a positive integer, got 2.5"),
        (-1, {"allow_zero": True}, "x must be a number >= 0, got -1"),
        (0, {"unit": "seconds"}, "x must be a positive number of seconds, got 0"),
        (float("nan"), {}, "x must be a positive number, got nan"),
        (float("inf"), {"allow_zero": True}, "x must be a number >= 0, got inf"),
        (float("-inf"), {}, "x must be a positive number, got -inf"),
        (0.5, {"whole": True, "unit": "seconds"}, "x must be a positive whole number of seconds, got 0.5"),
        (1.2, {"whole": True, "allow_zero": True}, "x must be a whole number >= 0, got 1.2"),
    ],
)
def test_bad_numbers_are_named(value, options, message):
    with pytest.raises(ValueError) as caught:
        check_number("x", value, **options)
    assert str(caught.value) == message


def test_good_numbers_pass_through_and_the_error_type_is_the_callers():
    assert check_number("x", 3, integer=True) == 3 and check_number("x", 0, allow_zero=True) == 0
    assert check_number("x", 2.0, whole=True) == 2.0
    assert check_number("x", 0, whole=True, allow_zero=True) == 0

    class Mine(ValueError):
        pass

    with pytest.raises(Mine):
        check_number("x", -2, error=Mine)
