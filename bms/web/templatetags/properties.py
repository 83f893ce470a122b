"""How the property browser shows a property's value (stored as JSON by the read_object task)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

LONG_LIST = 8  # longer lists are shown one entry per line


@register.filter
def property_text(value: Any) -> str:
    """NULL for null, lists comma-separated (or one per line when long), dicts as key: value."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        separator = "\n" if len(value) > LONG_LIST else ", "
        return "[" + separator.join(property_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {property_text(item)}" for key, item in value.items()) + "}"
    return str(value)
