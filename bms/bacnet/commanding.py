"""The BACnet rules of commanding, in one place: priorities, the priority array, instance ranges.

Everything that commands or validates a value asks this module: the engine's device, the
virtual-object services, remote-point writes, the forms and the API. Django-free, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

PRIORITY_LEVELS = 16
"""A commandable object's priority array has 16 levels; 1 wins over 16."""

DEFAULT_PRIORITY = 16
"""The level a write without a priority commands (ASHRAE 135, 19.2.1.1)."""

MAX_INSTANCE = 4194302
"""The largest object or device instance; 4194303 is the wildcard (Who-Is, 'this device')."""

Value = TypeVar("Value")


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
    """0..4194302 as an int: an object or device instance that may exist."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INSTANCE
