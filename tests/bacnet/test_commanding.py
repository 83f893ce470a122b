"""commanding.py: the one vocabulary of a written present value, and the ranges every path uses."""

from __future__ import annotations

import math

import pytest

from bms.bacnet import commanding
from bms.bacnet.commanding import (
    MAX_INSTANCE,
    MAX_STATE,
    checked_instance,
    checked_priority,
    coerce_present_value,
)
from bms.bacnet.errors import InvalidValueError

STATES = ("Off", "Heat", "Cool", "Auto", "Fan")


@pytest.mark.parametrize(
    ("object_type", "value", "expected"),
    [
        # binary: words, numbers, bools and their texts, any case, spaces ignored
        ("binary-value", "active", "active"),
        ("binary-value", "inactive", "inactive"),
        ("binary-output", " ACTIVE ", "active"),
        ("binary-output", "On", "active"),
        ("binary-output", "off", "inactive"),
        ("binary-input", "1", "active"),
        ("binary-input", " 0", "inactive"),
        ("binary-value", 1, "active"),
        ("binary-value", 0, "inactive"),
        ("binary-value", True, "active"),
        ("binary-value", False, "inactive"),
        ("binary-value", "true", "active"),
        ("binary-value", "FALSE", "inactive"),
        # multi-state: a number from 1, its text, an integral float, a state text
        ("multi-state-value", 1, 1),
        ("multi-state-value", 5, 5),
        ("multi-state-output", "2", 2),
        ("multi-state-output", " 3 ", 3),
        ("multi-state-input", 2.0, 2),
        ("multi-state-input", "2.0", 2),
        ("multi-state-value", "Cool", 3),
        ("multi-state-value", " heat ", 2),
        # analog: a finite number or its text
        ("analog-value", 21.5, 21.5),
        ("analog-value", 3, 3.0),
        ("analog-output", " 12.5 ", 12.5),
        ("analog-input", "-4e1", -40.0),
    ],
)
def test_the_vocabulary_of_a_written_present_value(object_type, value, expected):
    coerced = coerce_present_value(object_type, value, state_texts=STATES)
    assert coerced == expected
    assert type(coerced) is type(expected)


@pytest.mark.parametrize(
    ("object_type", "value", "words"),
    [
        ("binary-value", 2, 'takes "active" or "inactive"'),
        ("binary-value", 0.5, "got 0.5"),
        ("binary-value", 1.0, "got 1.0"),
        ("binary-value", "yes", "on/off, 1/0, true/false"),
        ("binary-value", None, "got None"),
        ("binary-value", "", "got ''"),
        ("multi-state-value", 0, "1..5"),
        ("multi-state-value", 6, "takes a state number 1..5 or one of its state texts (got 6)"),
        ("multi-state-value", 2.5, "got 2.5"),
        ("multi-state-value", "2.5", "1..5"),
        ("multi-state-value", True, "got True"),
        ("multi-state-value", "Dry", "got 'Dry'"),
        ("multi-state-value", None, "got None"),
        ("analog-value", "abc", "analog-value takes a finite number (got 'abc')"),
        ("analog-value", "nan", "finite number"),
        ("analog-value", math.inf, "finite number"),
        ("analog-value", "1e999", "finite number"),
        ("analog-value", True, "finite number"),
        ("analog-value", None, "finite number"),
        ("analog-value", [1], "finite number"),
        ("device", 1, "device objects cannot be commanded"),
    ],
)
def test_values_outside_the_vocabulary_are_refused_with_what_fits(object_type, value, words):
    with pytest.raises(InvalidValueError) as refusal:
        coerce_present_value(object_type, value, state_texts=STATES)
    assert words in str(refusal.value)


@pytest.mark.parametrize(
    ("value", "low", "high", "words"),
    [
        (100.5, 0.0, 100.0, "100.5 is out of range: Damper takes 0..100"),
        (-1, 0.0, None, "Damper takes at least 0"),
        (101, None, 100.0, "Damper takes at most 100"),
    ],
)
def test_analog_limits_are_inclusive_and_refusals_name_the_range(value, low, high, words):
    assert coerce_present_value("analog-output", low or 0.0, min_value=low, max_value=high) == (
        low or 0.0
    )
    with pytest.raises(InvalidValueError, match=words):
        coerce_present_value("analog-output", value, min_value=low, max_value=high, name="Damper")


def test_a_multi_state_of_unknown_size_takes_any_state_an_unsigned_can_carry():
    assert coerce_present_value("multi-state-output", MAX_STATE) == MAX_STATE
    for refused in (0, MAX_STATE + 1):
        with pytest.raises(InvalidValueError, match="takes a state number from 1"):
            coerce_present_value("multi-state-output", refused)


def test_a_multi_state_with_no_states_has_nothing_to_command():
    with pytest.raises(InvalidValueError, match="Mode has no state texts"):
        coerce_present_value("multi-state-value", 1, number_of_states=0, name="Mode")


def test_the_number_of_states_can_be_known_without_the_texts():
    assert coerce_present_value("multi-state-input", 7, number_of_states=7) == 7
    with pytest.raises(InvalidValueError, match=r"1\.\.7 \(got 8\)"):
        coerce_present_value("multi-state-input", 8, number_of_states=7)


@pytest.mark.parametrize(("priority", "level"), [(None, 16), (1, 1), (8, 8), (16, 16)])
def test_a_priority_is_1_to_16_and_none_commands_16(priority, level):
    assert checked_priority(priority) == level


@pytest.mark.parametrize("priority", [0, 17, -1, True, 8.0, "8"])
def test_anything_else_is_not_a_priority(priority):
    with pytest.raises(InvalidValueError, match=r"priority must be 1\.\.16"):
        checked_priority(priority)


def test_instances_are_0_to_4194302():
    assert checked_instance(0) == 0
    assert checked_instance(MAX_INSTANCE) == MAX_INSTANCE
    for refused in (-1, MAX_INSTANCE + 1, True, 1.0):
        with pytest.raises(InvalidValueError, match=r"device id .* is outside 0\.\.4194302"):
            checked_instance(refused, what="device id")


@pytest.mark.parametrize(
    ("low", "high", "cov", "words"),
    [
        (10.0, 0.0, None, "min_value 10 is above max_value 0"),
        (math.nan, None, None, "min_value must be a finite number"),
        (None, math.inf, None, "max_value must be a finite number"),
        (None, None, -0.5, "cov_increment must be >= 0"),
        (None, None, math.nan, "cov_increment must be >= 0"),
    ],
)
def test_a_definition_with_crossed_limits_or_a_negative_cov_increment_is_refused(
    low, high, cov, words
):
    def check_definition() -> None:
        commanding.check_limits(low, high)
        commanding.check_cov_increment(cov)

    with pytest.raises(InvalidValueError, match=words):
        check_definition()


def test_a_definition_with_sound_limits_passes():
    commanding.check_limits(0.0, 0.0)
    commanding.check_limits(None, 5.0)
    commanding.check_cov_increment(0.0)
    commanding.check_cov_increment(None)


def test_the_winner_is_the_first_commanded_level_else_the_relinquish_default():
    levels = [None] * 16
    assert commanding.priority_winner(levels, 0.0) == 0.0
    assert commanding.active_priority(levels) is None
    levels[7], levels[15] = 30.0, 10.0
    assert commanding.priority_winner(levels, 0.0) == 30.0
    assert commanding.active_priority(levels) == 8
