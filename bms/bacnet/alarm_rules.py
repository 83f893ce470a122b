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

import math
from dataclasses import dataclass
from typing import Any

KINDS = ("high_limit", "low_limit", "binary_state", "stale")
NORMAL = "normal"
ACTIVE_VALUES = frozenset({"active", "1", "true", "on"})


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
        if self.deadband < 0 or self.delay_seconds < 0:
            raise RuleError("deadband and delay_seconds cannot be negative")


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
