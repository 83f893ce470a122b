"""Schedules and calendars as plain JSON (how the database stores them), checked both ways.

The one home of what makes a schedule well formed: times specific and in order within a list,
priorities 1..16, values of the schedule's kind (or NULL). Whether a value suits the objects a
schedule writes (an analog's limits, a multi-state's states) is the commanding rules' business,
asked where the objects are known (bms.schedules).

JSON shapes (times "HH:MM[:SS[.ff]]", dates "YYYY-MM-DD", None for NULL / "any" / "open"):
- a time-value list: [["08:00", 21.0], ["18:00", null]]
- weekly: seven such lists, Monday first
- a calendar entry: {"date": {"year": null, "month": 12, "day": 25, "weekday": null}},
  {"range": {"start": "2026-12-24", "end": "2027-01-02"}}, or
  {"week_n_day": {"month": null, "week": 6, "weekday": 5}}
- a special event: {"priority": 10, "times": [...], "calendar": 1} or {..., "entry": <entry>}
- an effective period: {"start": null, "end": null}
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.schedule_eval import (
    CalendarEntry,
    DatePattern,
    DateRange,
    Schedule,
    SpecialEvent,
    TimeValue,
    WeekNDay,
)
from bms.bacnet.types import PresentValue

__all__ = [
    "VALUE_KINDS",
    "check_value",
    "entries_from_json",
    "entries_to_json",
    "entry_from_json",
    "entry_to_json",
    "event_from_json",
    "event_to_json",
    "period_from_json",
    "period_to_json",
    "schedule_from_json",
    "times_from_json",
    "times_to_json",
    "weekly_from_json",
    "weekly_to_json",
]

# What a schedule writes: analog (a number), binary ("active"/"inactive"), multistate (1..).
VALUE_KINDS = ("analog", "binary", "multistate")


def _bad(message: str) -> InvalidValueError:
    return InvalidValueError(message)


def check_value(kind: str, value: Any) -> PresentValue:
    """`value` as a value of `kind` in our convention, or InvalidValueError; None is NULL."""
    if value is None:
        return None
    if kind == "analog" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "binary" and value in ("active", "inactive"):
        return str(value)
    if (
        kind == "multistate"
        and isinstance(value, int)
        and not isinstance(value, bool)
        and value >= 1
    ):
        return value
    raise _bad(f"{value!r} is not a value of a {kind} schedule")


def _time(text: Any) -> time:
    try:
        return time.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise _bad(f"{text!r} is not a time (HH:MM or HH:MM:SS)") from exc


def times_from_json(data: Any, kind: str) -> tuple[TimeValue, ...]:
    """A list of [time, value], times strictly increasing."""
    if not isinstance(data, list):
        raise _bad("a list of time-values must be a list of [time, value]")
    entries: list[TimeValue] = []
    for item in data:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise _bad(f"{item!r} is not a [time, value] pair")
        entry = TimeValue(_time(item[0]), check_value(kind, item[1]))
        if entries and entry.time <= entries[-1].time:
            raise _bad(f"time {item[0]} is not after {entries[-1].time.isoformat()}: out of order")
        entries.append(entry)
    return tuple(entries)


def times_to_json(times: tuple[TimeValue, ...]) -> list[list[Any]]:
    return [[entry.time.isoformat(), entry.value] for entry in times]


def weekly_from_json(data: Any, kind: str) -> tuple[tuple[TimeValue, ...], ...]:
    if not isinstance(data, list) or len(data) != 7:
        raise _bad("a weekly schedule has seven days, Monday first")
    return tuple(times_from_json(day, kind) for day in data)


def weekly_to_json(weekly: tuple[tuple[TimeValue, ...], ...]) -> list[list[list[Any]]]:
    return [times_to_json(day) for day in weekly]


def _date(text: Any) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise _bad(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def period_from_json(data: Any) -> DateRange:
    if not isinstance(data, dict):
        raise _bad("a date range is {'start': date or null, 'end': date or null}")
    period = DateRange(_date(data.get("start")), _date(data.get("end")))
    if period.start and period.end and period.end < period.start:
        raise _bad(f"date range ends ({period.end}) before it starts ({period.start})")
    return period


def period_to_json(period: DateRange) -> dict[str, str | None]:
    return {
        "start": period.start.isoformat() if period.start else None,
        "end": period.end.isoformat() if period.end else None,
    }


def _field(data: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(f"{name} {value!r} is outside {low}..{high} (or null for any)")
    return value


def entry_from_json(data: Any) -> CalendarEntry:
    if not isinstance(data, dict) or len(data) != 1:
        raise _bad("a calendar entry is one of {'date': ...}, {'range': ...}, {'week_n_day': ...}")
    ((kind, body),) = data.items()
    if kind == "range":
        return period_from_json(body)
    if not isinstance(body, dict):
        raise _bad(f"{kind} must be an object")
    if kind == "date":
        return DatePattern(
            _field(body, "year", 1900, 2154),
            _field(body, "month", 1, 14),
            _field(body, "day", 1, 34),
            _field(body, "weekday", 1, 7),
        )
    if kind == "week_n_day":
        return WeekNDay(
            _field(body, "month", 1, 14), _field(body, "week", 1, 9), _field(body, "weekday", 1, 7)
        )
    raise _bad(f"unknown calendar entry {kind!r}")


def entry_to_json(entry: CalendarEntry) -> dict[str, Any]:
    if isinstance(entry, DateRange):
        return {"range": period_to_json(entry)}
    if isinstance(entry, WeekNDay):
        return {"week_n_day": {"month": entry.month, "week": entry.week, "weekday": entry.weekday}}
    return {
        "date": {
            "year": entry.year,
            "month": entry.month,
            "day": entry.day,
            "weekday": entry.weekday,
        }
    }


def entries_from_json(data: Any) -> tuple[CalendarEntry, ...]:
    if not isinstance(data, list):
        raise _bad("a date list must be a list of calendar entries")
    return tuple(entry_from_json(item) for item in data)


def entries_to_json(entries: tuple[CalendarEntry, ...]) -> list[dict[str, Any]]:
    return [entry_to_json(entry) for entry in entries]


def event_from_json(data: Any, kind: str) -> SpecialEvent:
    if not isinstance(data, dict):
        raise _bad("a special event is {'priority', 'times', and 'calendar' or 'entry'}")
    priority = _field(data, "priority", 1, 16)
    if priority is None:
        raise _bad("a special event needs a priority 1..16")
    calendar = data.get("calendar")
    if calendar is not None:
        if not isinstance(calendar, int) or isinstance(calendar, bool) or calendar < 0:
            raise _bad(f"calendar {calendar!r} is not a calendar instance")
        period: tuple[CalendarEntry, ...] | int = calendar
    else:
        period = (entry_from_json(data.get("entry")),)
    return SpecialEvent(period, times_from_json(data.get("times"), kind), priority)


def event_to_json(event: SpecialEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"priority": event.priority, "times": times_to_json(event.times)}
    if isinstance(event.period, int):
        data["calendar"] = event.period
    else:
        (entry,) = event.period
        data["entry"] = entry_to_json(entry)
    return data


def schedule_from_json(
    kind: str, weekly: Any, exceptions: Any, effective_period: Any, default: Any
) -> Schedule:
    """The evaluator's Schedule from the stored JSON, checked (InvalidValueError says what)."""
    if kind not in VALUE_KINDS:
        raise _bad(f"unknown schedule kind {kind!r} (one of {', '.join(VALUE_KINDS)})")
    if not isinstance(exceptions, list):
        raise _bad("the exception schedule must be a list of special events")
    return Schedule(
        weekly=weekly_from_json(weekly, kind),
        exceptions=tuple(event_from_json(item, kind) for item in exceptions),
        effective_period=period_from_json(effective_period),
        default=check_value(kind, default),
    )
