"""The BMS alarm rule evaluator (bms.bacnet.alarm_rules): tables of values in, states out."""

from __future__ import annotations

import pytest

from bms.bacnet.alarm_rules import (
    RuleError,
    RuleSpec,
    RuleState,
    evaluate,
    evaluate_stale,
)

HIGH = RuleSpec("high_limit", high=30.0, deadband=2.0)
LOW = RuleSpec("low_limit", low=10.0, deadband=1.0)


def run(spec: RuleSpec, values: list[tuple[float, object]]) -> list[tuple[str, tuple | None]]:
    """Feed (time, value) pairs; the state and transition after each."""
    state, seen = RuleState(), []
    for at, value in values:
        verdict = evaluate(spec, state, value, at)
        state = verdict.state
        seen.append((state.state, verdict.transition))
    return seen


@pytest.mark.parametrize(
    ("values", "states"),
    [
        ([25.0, 30.0, 30.1], ["normal", "normal", "high-limit"]),  # above, not at, the limit
        ([31.0, 29.0, 28.5, 28.0], ["high-limit", "high-limit", "high-limit", "normal"]),  # band
        ([31.0, 27.0, 29.0], ["high-limit", "normal", "normal"]),  # re-alarms only above high
        ([31.0, None, "x"], ["high-limit", "high-limit", "high-limit"]),  # no evidence: kept
    ],
)
def test_a_high_limit_alarms_above_high_and_clears_below_the_deadband(values, states):
    assert [s for s, _ in run(HIGH, list(enumerate(values)))] == states


def test_a_low_limit_mirrors_it():
    states = [s for s, _ in run(LOW, list(enumerate([12.0, 9.5, 10.5, 11.0])))]
    assert states == ["normal", "low-limit", "low-limit", "normal"]


def test_transitions_name_from_and_to():
    assert [t for _, t in run(HIGH, [(0, 31.0), (1, 20.0)])] == [
        ("normal", "high-limit"),
        ("high-limit", "normal"),
    ]


@pytest.mark.parametrize(
    ("values", "states"),
    [
        # 10 s delay: must hold 10 s before alarming.
        ([(0, 31.0), (5, 32.0), (10, 33.0)], ["normal", "normal", "high-limit"]),
        # A dip back below cancels the wait; it starts again.
        ([(0, 31.0), (5, 20.0), (12, 31.0), (21, 31.0)], ["normal"] * 4),
        ([(0, 31.0), (5, 20.0), (12, 31.0), (22, 31.0)], ["normal"] * 3 + ["high-limit"]),
        # Back to normal waits as long.
        ([(0, 31.0), (10, 31.0), (11, 20.0), (20, 20.0), (21, 20.0)],
         ["normal", "high-limit", "high-limit", "high-limit", "normal"]),
    ],
)  # fmt: skip
def test_a_delay_holds_a_change_until_it_has_lasted(values, states):
    spec = RuleSpec("high_limit", high=30.0, delay_seconds=10)
    assert [s for s, _ in run(spec, values)] == states


@pytest.mark.parametrize(
    ("value", "state"),
    [("active", "offnormal"), (True, "offnormal"), (1, "offnormal"), ("inactive", "normal"),
     (False, "normal"), (0, "normal")],
)  # fmt: skip
def test_a_binary_state_alarms_on_its_alarm_value(value, state):
    assert run(RuleSpec("binary_state"), [(0, value)])[0][0] == state


def test_a_binary_rule_can_alarm_on_inactive():
    spec = RuleSpec("binary_state", alarm_value="inactive")
    assert run(spec, [(0, "inactive"), (1, "active")]) == [
        ("offnormal", ("normal", "offnormal")),
        ("normal", ("offnormal", "normal")),
    ]


def test_a_stale_rule_faults_without_values_and_clears_on_the_next_one():
    spec = RuleSpec("stale", stale_seconds=60)
    fresh = evaluate_stale(spec, RuleState(), last_value_at=0, now=59)
    assert fresh.state.state == "normal"
    stale = evaluate_stale(spec, fresh.state, last_value_at=0, now=60)
    assert stale.transition == ("normal", "fault")
    back = evaluate(spec, stale.state, 21.5, at=61)
    assert back.transition == ("fault", "normal")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "too_hot"}, "unknown rule kind"),
        ({"kind": "high_limit"}, "needs high"),
        ({"kind": "low_limit"}, "needs low"),
        ({"kind": "stale"}, "stale_seconds"),
        ({"kind": "high_limit", "high": 1.0, "deadband": -1.0}, "negative"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_with_its_reason(kwargs, message):
    with pytest.raises(RuleError, match=message):
        RuleSpec(**kwargs)
