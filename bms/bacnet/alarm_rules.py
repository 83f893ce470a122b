"""BMS alarm rules on remote points, evaluated without I/O: a value (or its absence) in, the
rule's new state and the transition it made, if any, out.

Theory of operation
-------------------
A rule watches one point. `target_state` says what the latest value asks for: a high limit is
"high-limit" above `high` and stays so until the value falls to `high - deadband` or below (a
low limit mirrors it); a binary-state rule is "offnormal" while the value is the alarm value;
a stale rule is "fault" when no value came for `stale_seconds`. `step` applies the delay:
a new target must hold for `delay_seconds` (both ways, as BACnet's time-delay) before the state
changes; a value that goes back cancels it. The caller keeps the returned `RuleState` for the
next value and records the `transition`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from bms.bacnet.commanding import coerce_binary, coerce_number
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local.alarm_spec import MAX_PRIORITY, MAX_TIME_DELAY
from bms.bacnet.types import ANALOG_TYPES, BINARY_TYPES, MULTISTATE_TYPES

KINDS = ("high_limit", "low_limit", "binary_state", "stale")
NORMAL = "normal"
ACTIVE_VALUES = frozenset({"active", "1", "true", "on"})
# The point types each kind can watch: limits compare numbers (a multi-state's state number
# too), a binary state compares active/inactive; any point can go stale.
WATCHED_TYPES = {
    "high_limit": ANALOG_TYPES | MULTISTATE_TYPES,
    "low_limit": ANALOG_TYPES | MULTISTATE_TYPES,
    "binary_state": BINARY_TYPES,
}


class RuleError(ValueError):
    """A rule that cannot be evaluated as given (the message says what to fix)."""


@dataclass(frozen=True)
class RuleSpec:
    kind: str
    high: float | None = None
    low: float | None = None
    deadband: float = 0.0
    delay_seconds: float = 0.0
    stale_seconds: float = 0.0
    alarm_value: str = "active"  # binary_state: the value that alarms

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise RuleError(f"unknown rule kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.kind == "high_limit" and self.high is None:
            raise RuleError("a high_limit rule needs high")
        if self.kind == "low_limit" and self.low is None:
            raise RuleError("a low_limit rule needs low")
        if self.kind == "stale" and self.stale_seconds <= 0:
            raise RuleError("a stale rule needs stale_seconds above 0")
        for name in ("high", "low", "deadband"):
            value = getattr(self, name)
            if value is not None:
                _finite(value, name)
        if self.deadband < 0:
            raise RuleError("deadband cannot be negative")
        for name in ("delay_seconds", "stale_seconds"):
            seconds = getattr(self, name)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                raise RuleError(f"{name} must be a number of seconds, got {seconds!r}")
            if not 0 <= seconds <= MAX_TIME_DELAY:
                raise RuleError(f"{name} must be from 0 to {MAX_TIME_DELAY}")
        if self.kind == "binary_state":
            _binary_word(self.alarm_value)


def check_rule(spec: RuleSpec, object_type: str, priority: int) -> RuleSpec:
    """RuleError unless `spec` can watch a point of `object_type` and raise at `priority`
    (an event priority, 0 most urgent); returns it as stored: numbers as floats, a binary
    alarm value as "active" or "inactive"."""
    watched = WATCHED_TYPES.get(spec.kind)
    if watched is not None and object_type not in watched:
        kinds = ", ".join(sorted(watched))
        raise RuleError(f"a {spec.kind} rule watches {kinds} points, not {object_type}")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise RuleError(f"priority must be a whole number, got {priority!r}")
    if not 0 <= priority <= MAX_PRIORITY:
        raise RuleError(f"priority must be from 0 to {MAX_PRIORITY}, got {priority}")
    return dataclasses.replace(
        spec,
        high=None if spec.high is None else _finite(spec.high, "high"),
        low=None if spec.low is None else _finite(spec.low, "low"),
        deadband=_finite(spec.deadband, "deadband"),
        alarm_value=(
            _binary_word(spec.alarm_value) if spec.kind == "binary_state" else spec.alarm_value
        ),
    )


def _finite(value: Any, name: str) -> float:
    try:
        return coerce_number(value, name)
    except InvalidValueError as exc:
        raise RuleError(str(exc)) from exc


def _binary_word(value: Any) -> str:
    try:
        return coerce_binary(value, "alarm_value")
    except InvalidValueError as exc:
        raise RuleError(str(exc)) from exc


@dataclass(frozen=True)
class RuleState:
    state: str = NORMAL
    pending: str | None = None  # a target waiting out the delay
    pending_since: float | None = None


@dataclass(frozen=True)
class Verdict:
    state: RuleState
    transition: tuple[str, str] | None = None  # (from, to) when the state changed


def target_state(spec: RuleSpec, current: str, value: Any) -> str | None:
    """The state `value` asks for; None when the value says nothing (not a number, NULL)."""
    if spec.kind == "binary_state":
        return "offnormal" if _binary(value) == _binary(spec.alarm_value) else NORMAL
    number = _number(value)
    if number is None:
        return None
    if spec.kind == "high_limit":
        high = math.inf if spec.high is None else spec.high  # RuleSpec requires it
        holding = current == "high-limit" and number > high - spec.deadband
        return "high-limit" if number > high or holding else NORMAL
    if spec.kind == "low_limit":
        low = -math.inf if spec.low is None else spec.low
        holding = current == "low-limit" and number < low + spec.deadband
        return "low-limit" if number < low or holding else NORMAL
    return None  # stale rules look at time, not values (evaluate_stale)


def evaluate(spec: RuleSpec, state: RuleState, value: Any, at: float) -> Verdict:
    """A new value of the point at `at` (seconds)."""
    if spec.kind == "stale":
        return step(spec, state, NORMAL, at)  # a value came: not stale
    target = target_state(spec, state.state, value)
    return Verdict(state) if target is None else step(spec, state, target, at)


def evaluate_stale(spec: RuleSpec, state: RuleState, last_value_at: float, now: float) -> Verdict:
    """A stale rule at `now`, the point's last value having come at `last_value_at`."""
    if spec.kind != "stale":
        return Verdict(state)
    stale = now - last_value_at >= spec.stale_seconds
    return step(spec, state, "fault" if stale else NORMAL, now)


def step(spec: RuleSpec, state: RuleState, target: str, at: float) -> Verdict:
    """Move toward `target`, once it has held for the rule's delay."""
    if target == state.state:
        return Verdict(RuleState(state.state))
    waiting = state.pending == target and state.pending_since is not None
    since = state.pending_since if waiting and state.pending_since is not None else at
    if at - since < spec.delay_seconds:
        return Verdict(RuleState(state.state, target, since))
    return Verdict(RuleState(target), (state.state, target))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return None if math.isnan(value) else float(value)
    return None


def _binary(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ACTIVE_VALUES
    return bool(value)
