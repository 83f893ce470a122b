"""The BACnet rules of commanding, in one place: priorities, the priority array, instance ranges,
and what a written present value may be for each object type.

Everything that commands or validates a value asks this module: the engine's device, the
virtual-object services, remote-point writes, the forms and the API. Django-free, no I/O.

The vocabulary of a written present value (one for every path: pages, API, tasks, the engine):

- analog: a finite number, or its text ("21.5", " 3 "); not a bool. Limits (min/max) are
  inclusive when the object has them.
- binary: "active" / "inactive", "on" / "off", "1" / "0", "true" / "false" (any case, spaces
  around ignored), the numbers 1 / 0, and True / False. Always stored as "active"/"inactive".
- multi-state: a state number from 1, as an int, an integral float (2.0) or its text ("2",
  "2.0"; not 2.5), or one of the object's state texts (any case) when they are known. The
  number of states is the number of state texts; when it is unknown (a remote point that did
  not tell us) any state 1..2^32-1 (BACnet Unsigned) is accepted and the device judges.
  A number of states of 0 means the object has no state to command.

A value that does not fit raises InvalidValueError with a sentence an operator can act on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import ANALOG_TYPES, BINARY_TYPES, MULTISTATE_TYPES, PresentValue

PRIORITY_LEVELS = 16
"""A commandable object's priority array has 16 levels; 1 wins over 16."""

DEFAULT_PRIORITY = 16
"""The level a write without a priority commands (ASHRAE 135, 19.2.1.1)."""

MAX_INSTANCE = 4194302
"""The largest object or device instance; 4194303 is the wildcard (Who-Is, 'this device')."""

MAX_STATE = 2**32 - 1
"""The largest state number a multi-state present value (BACnet Unsigned) can carry."""

BINARY_WORDS: dict[str, str] = {
    "active": "active",
    "inactive": "inactive",
    "on": "active",
    "off": "inactive",
    "1": "active",
    "0": "inactive",
    "true": "active",
    "false": "inactive",
}
"""Every text a binary present value may be written as (lower case), and what it means."""

BINARY_HINT = '"active" or "inactive" (or on/off, 1/0, true/false)'

Value = TypeVar("Value")


# ---- priorities and instances


def priority_winner(levels: Iterable[Value | None], relinquish_default: Value) -> Value:
    """The present value a priority array commands: its first non-null level, else the default."""
    return next((value for value in levels if value is not None), relinquish_default)


def active_priority(levels: Iterable[object | None]) -> int | None:
    """The level (1..16) that wins, or None when every level is relinquished."""
    return next((level for level, value in enumerate(levels, 1) if value is not None), None)


def is_priority(value: object) -> bool:
    """1..16 as an int (bool is not a priority)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= PRIORITY_LEVELS


def is_instance(value: object) -> bool:
    """0..MAX_INSTANCE as an int: an object or device instance that may exist."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INSTANCE


def checked_priority(priority: object) -> int:
    """The level a write commands: `priority`, or 16 when it is None."""
    if priority is None:
        return DEFAULT_PRIORITY
    if not is_priority(priority):
        raise InvalidValueError(f"priority must be 1..{PRIORITY_LEVELS} (got {shown(priority)})")
    return priority  # type: ignore[return-value]  # is_priority checked it is an int


def checked_instance(instance: object, what: str = "instance") -> int:
    """`instance` if it is 0..MAX_INSTANCE, else InvalidValueError naming `what` it is."""
    if not is_instance(instance):
        raise InvalidValueError(f"{what} {shown(instance)} is outside 0..{MAX_INSTANCE}")
    return instance  # type: ignore[return-value]  # is_instance checked it is an int


# ---- an object's definition


def check_limits(min_value: float | None, max_value: float | None) -> None:
    """Limits are finite, and the lower is not above the upper."""
    for name, limit in (("min_value", min_value), ("max_value", max_value)):
        if limit is not None and not math.isfinite(limit):
            raise InvalidValueError(f"{name} must be a finite number (got {shown(limit)})")
    if min_value is not None and max_value is not None and min_value > max_value:
        raise InvalidValueError(f"min_value {min_value:g} is above max_value {max_value:g}")


def check_cov_increment(cov_increment: float | None) -> None:
    """A COV increment is a finite number >= 0 (0: every change is reported)."""
    if cov_increment is not None and not is_cov_increment(cov_increment):
        raise InvalidValueError(f"cov_increment must be >= 0 (got {shown(cov_increment)})")


# ---- a written present value


def coerce_present_value(
    object_type: str,
    value: Any,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    state_texts: Sequence[str] = (),
    number_of_states: int | None = None,
    name: str = "",
) -> PresentValue:
    """`value` as the present value of an `object_type` (see the module's vocabulary).

    For a multi-state object the number of states is `number_of_states` if given, else the
    number of `state_texts`, else unknown. `name` names the object in messages.
    """
    if object_type in ANALOG_TYPES:
        return within_limits(coerce_number(value, object_type), min_value, max_value, name)
    if object_type in BINARY_TYPES:
        return coerce_binary(value, object_type)
    if object_type in MULTISTATE_TYPES:
        states = len(state_texts) if number_of_states is None and state_texts else number_of_states
        return coerce_state(value, states, state_texts, object_type, name)
    raise InvalidValueError(f"{object_type} objects cannot be commanded")


def coerce_number(value: Any, object_type: str = "an analog object") -> float:
    """A finite float from a number or its text; bools and anything else are refused."""
    number = _number(value)
    if number is None or not math.isfinite(number):
        raise InvalidValueError(f"{object_type} takes a finite number (got {shown(value)})")
    return number


def within_limits(number: float, low: float | None, high: float | None, name: str = "") -> float:
    """`number` if it is within the inclusive limits that are set."""
    if (low is not None and number < low) or (high is not None and number > high):
        whose = f"{name} takes" if name else "the object takes"
        raise InvalidValueError(f"{number:g} is out of range: {whose} {_range_text(low, high)}")
    return number


def coerce_binary(value: Any, object_type: str = "a binary object") -> str:
    """ "active" or "inactive" from any word of the binary vocabulary."""
    word: str | None = None
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        word = "active" if value else "inactive"
    elif isinstance(value, str):
        word = BINARY_WORDS.get(value.strip().lower())
    if word is None:
        raise InvalidValueError(f"{object_type} takes {BINARY_HINT}; got {shown(value)}")
    return word


def coerce_state(
    value: Any,
    number_of_states: int | None,
    state_texts: Sequence[str] = (),
    object_type: str = "a multi-state object",
    name: str = "",
) -> int:
    """A state number 1..number_of_states (1..MAX_STATE when unknown), from a number, its
    text, or a state text."""
    if number_of_states == 0:
        raise InvalidValueError(
            f"{name or object_type} has no state texts, so it has no state to command"
        )
    highest = MAX_STATE if number_of_states is None else number_of_states
    state = _state_number(value)
    if state is None and isinstance(value, str):
        state = _state_of_text(value, state_texts)
    if state is None or not 1 <= state <= highest:
        raise InvalidValueError(_state_hint(object_type, number_of_states, state_texts, value))
    return state


def is_cov_increment(number: float) -> bool:
    """Whether a decoded COV increment is finite and not negative."""
    return math.isfinite(number) and number >= 0


def is_in_states(state: int, number_of_states: int) -> bool:
    """Whether a decoded state number names one of an object's states."""
    return 1 <= state <= number_of_states


def is_within(number: float, low: float | None, high: float | None) -> bool:
    """Whether a decoded analog value is finite and within the inclusive limits that are set."""
    return (
        math.isfinite(number)
        and (low is None or number >= low)
        and (high is None or number <= high)
    )


def shown(value: Any) -> str:
    """A value quoted in an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: Any) -> float | None:
    """A JSON number, or a number typed into a form; None for anything else (bools too)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            return float(value.strip())
    except (OverflowError, ValueError):
        return None
    return None


def _state_number(value: Any) -> int | None:
    number = _number(value)
    if number is None or not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


def _state_of_text(value: str, state_texts: Sequence[str]) -> int | None:
    wanted = value.strip().casefold()
    return next(
        (n for n, text in enumerate(state_texts, 1) if str(text).strip().casefold() == wanted),
        None,
    )


def _state_hint(
    object_type: str, number_of_states: int | None, state_texts: Sequence[str], value: Any
) -> str:
    if number_of_states is None:
        return f"{object_type} takes a state number from 1 (got {shown(value)})"
    texts = " or one of its state texts" if state_texts else ""
    return f"{object_type} takes a state number 1..{number_of_states}{texts} (got {shown(value)})"


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g}..{high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"
