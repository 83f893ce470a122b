"""Formatting shared by templates (live.js formats live values the same way)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from bms.tasks import describe
from bms.tasks.models import BACnetTask

register = template.Library()

FLAG_NAMES = ("alarm", "fault", "overridden", "out of service")
# BACnet engineering units as engineers write them; anything else is shown as BACnet names it.
UNIT_SYMBOLS = {
    "degrees-celsius": "°C",
    "degrees-fahrenheit": "°F",
    "degrees-kelvin": "K",
    "percent": "%",
    "percent-relative-humidity": "%RH",
    "parts-per-million": "ppm",
    "pascals": "Pa",
    "kilopascals": "kPa",
    "bars": "bar",
    "inches-of-water": "inH₂O",
    "watts": "W",
    "kilowatts": "kW",
    "kilowatt-hours": "kWh",
    "volts": "V",
    "amperes": "A",
    "hertz": "Hz",
    "liters-per-second": "l/s",
    "cubic-meters-per-hour": "m³/h",
    "cubic-feet-per-minute": "cfm",
    "meters-per-second": "m/s",
    "seconds": "s",
    "minutes": "min",
    "hours": "h",
    "revolutions-per-minute": "rpm",
    "lux": "lx",
}


@register.filter
def unit(name: str | None) -> str:
    return UNIT_SYMBOLS.get(name or "", name or "")


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
    if number and isinstance(value, float):
        return f"{value:.2f}"
    if number and object_type.startswith("analog"):
        return f"{value}.00"  # not via float: an int can be too large for one
    return str(value)


@register.filter
def priorities(array: list[Any] | None) -> list[tuple[int, Any]]:
    """The commanded levels of a priority array as (priority, value), highest first."""
    return [(level, value) for level, value in enumerate(array or [], start=1) if value is not None]


@register.filter
def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.simple_tag
def value_text(value: Any, object_type: str, state_texts: list[str] | None) -> str:
    """A value with its state text: "active (On)", "3 · High" (live.js: valueText)."""
    shown = pv(value, object_type)
    texts = state_texts or []
    if object_type.startswith("binary") and len(texts) == 2 and value in ("inactive", "active"):
        return f"{shown} ({texts[value == 'active']})"
    if object_type.startswith("multi-state") and isinstance(value, int) and 0 < value <= len(texts):
        return f"{shown} · {texts[value - 1]}"
    return shown


@register.filter
def result_text(task: BACnetTask) -> str:
    """A task's result as a sentence (bms.tasks.describe, as live rows get it)."""
    return describe.result_text(task)


@register.filter
def requested_by(task: BACnetTask) -> str:
    return describe.requested_by(task)


@register.filter
def local_time(iso: str | None) -> str:
    """An ISO timestamp (as get_status gives them) in the site's time zone."""
    if not iso:
        return "—"
    return timezone.localtime(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M:%S")
