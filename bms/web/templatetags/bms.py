"""Formatting shared by templates (live.js formats live values the same way)."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()

FLAG_NAMES = ("alarm", "fault", "overridden", "out of service")


@register.filter
def flags(status_flags: list[bool] | None) -> list[str]:
    """[in-alarm, fault, overridden, out-of-service] as the names of the ones set."""
    return [name for name, on in zip(FLAG_NAMES, status_flags or [], strict=False) if on]


@register.filter
def pv(value: Any, object_type: str = "") -> str:
    """A present value for a table cell: analog values and floats to 2 decimals, None as a
    dash (live.js formats live values by the same rule)."""
    if value is None:
        return "—"
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and (isinstance(value, float) or object_type.startswith("analog")):
        return f"{float(value):.2f}"
    return str(value)


@register.filter
def priorities(array: list[Any] | None) -> list[tuple[int, Any]]:
    """The commanded levels of a priority array as (priority, value), highest first."""
    return [(level, value) for level, value in enumerate(array or [], start=1)
            if value is not None]


@register.filter
def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
