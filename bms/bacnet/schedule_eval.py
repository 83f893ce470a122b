"""What a Schedule object commands at a given time, and when that next changes (pure).

Theory of operation (ASHRAE 135 clause 12.24.4, the rules of revision 4 onwards). At a local
wall time inside the effective period, the schedule's value is the first of:
1. the special events (exception-schedule) that apply today, highest priority first (1 is the
   highest; the earlier in the list wins a tie): the value of the event's latest time-value at
   or before now, unless that value is NULL (then the event has let go and the next one counts);
2. today's weekly-schedule list, the same way;
3. schedule-default.
Each day starts afresh at 00:00: nothing carries over from yesterday's lists. Outside the
effective period the schedule-default is in force. A NULL result relinquishes the schedule's
priority in the objects it writes.

Time zones. The rules speak of wall time; the worker lives in instants. `wall_clock` reads an
instant as a wall time that never runs backwards: in the hour that repeats when daylight saving
time ends, the clock is held at the end of the first pass, so an entry at 02:30 fires once and
nothing reverts. `first_instant` is the first instant whose wall time has reached a given one:
a wall time that the spring jump skips is reached at the jump. `state_at` puts the two together.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bms.bacnet.types import PresentValue

__all__ = [
    "CalendarEntry",
    "DatePattern",
    "DateRange",
    "Schedule",
    "ScheduleState",
    "SpecialEvent",
    "TimeValue",
    "WeekNDay",
    "calendar_active",
    "first_instant",
    "next_transition",
    "state_at",
    "value_at",
    "wall_clock",
]

LOOKAHEAD_DAYS = 8  # a weekly schedule repeats within a week; exceptions further are re-found
ODD, EVEN = 13, 14  # month (and, plus 20, day) wildcards of BACnet dates
LAST_DAY, ODD_DAY, EVEN_DAY = 32, 33, 34


@dataclass(frozen=True)
class DatePattern:
    """A BACnet Date: None is "any"; month 13/14 odd/even; day 32 last, 33/34 odd/even;
    weekday 1 (Monday) .. 7."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None


@dataclass(frozen=True)
class DateRange:
    """From `start` to `end`, both included; None leaves that end open."""

    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class WeekNDay:
    """A BACnet WeekNDay: month (13/14 odd/even), week of the month (1..5: days 1-7, 8-14, ...;
    6: the last 7 days; 7, 8, 9: the 7 days before the last 7, 14, 21), weekday 1..7."""

    month: int | None = None
    week: int | None = None
    weekday: int | None = None


CalendarEntry = DatePattern | DateRange | WeekNDay


@dataclass(frozen=True)
class TimeValue:
    time: time
    value: PresentValue  # None: NULL (let go)


@dataclass(frozen=True)
class SpecialEvent:
    """A list of time-values for the days `period` names: calendar entries, or the instance
    of a Calendar object (its date-list)."""

    period: tuple[CalendarEntry, ...] | int
    times: tuple[TimeValue, ...]
    priority: int = 16


@dataclass(frozen=True)
class Schedule:
    weekly: tuple[tuple[TimeValue, ...], ...] = ((),) * 7  # Monday first
    exceptions: tuple[SpecialEvent, ...] = ()
    effective_period: DateRange = field(default_factory=DateRange)
    default: PresentValue = None


@dataclass(frozen=True)
class ScheduleState:
    value: PresentValue
    next_change: datetime | None  # aware UTC; None: no change within the lookahead


Calendars = Mapping[int, Sequence[CalendarEntry]]


# ---- dates -----------------------------------------------------------------------------------


def _matches_month(month: int, pattern: int | None) -> bool:
    if pattern is None:
        return True
    if pattern in (ODD, EVEN):
        return month % 2 == (1 if pattern == ODD else 0)
    return month == pattern


def _matches_day(day: date, pattern: int | None) -> bool:
    if pattern is None:
        return True
    if pattern == LAST_DAY:
        return day.day == calendar.monthrange(day.year, day.month)[1]
    if pattern in (ODD_DAY, EVEN_DAY):
        return day.day % 2 == (1 if pattern == ODD_DAY else 0)
    return day.day == pattern


def _matches_week(day: date, week: int | None) -> bool:
    if week is None:
        return True
    if 1 <= week <= 5:
        return (day.day - 1) // 7 + 1 == week
    last = calendar.monthrange(day.year, day.month)[1]
    days_from_end = last - day.day  # 0 on the last day
    return days_from_end // 7 == week - 6  # 6: last 7 days, 7: the 7 before, ...


def matches(entry: CalendarEntry, day: date) -> bool:
    """Whether `day` is one of the days `entry` names."""
    weekday = day.isoweekday()
    if isinstance(entry, DateRange):
        return (entry.start is None or entry.start <= day) and (
            entry.end is None or day <= entry.end
        )
    if isinstance(entry, WeekNDay):
        return (
            _matches_month(day.month, entry.month)
            and _matches_week(day, entry.week)
            and entry.weekday in (None, weekday)
        )
    return (
        entry.year in (None, day.year)
        and _matches_month(day.month, entry.month)
        and _matches_day(day, entry.day)
        and entry.weekday in (None, weekday)
    )


def calendar_active(entries: Iterable[CalendarEntry], day: date) -> bool:
    """A Calendar object's present-value on `day`."""
    return any(matches(entry, day) for entry in entries)


def _event_applies(event: SpecialEvent, day: date, calendars: Calendars) -> bool:
    if isinstance(event.period, int):  # a calendar nobody serves applies to no day
        return calendar_active(calendars.get(event.period, ()), day)
    return calendar_active(event.period, day)


# ---- one day's lists -------------------------------------------------------------------------

_LET_GO = object()  # the list has nothing in force (no entry yet today, or a NULL)


def _in_force(times: Sequence[TimeValue], now: time) -> object:
    latest: object = _LET_GO
    for entry in times:  # in time order (validated where they are written)
        if entry.time <= now:
            latest = entry.value
    return _LET_GO if latest is None else latest


def value_at(
    schedule: Schedule, wall: datetime, calendars: Calendars | None = None
) -> PresentValue:
    """The schedule's value at a local wall time (naive)."""
    day, now = wall.date(), wall.time()
    if not matches(schedule.effective_period, day):
        return schedule.default
    today = [e for e in schedule.exceptions if _event_applies(e, day, calendars or {})]
    for event in sorted(today, key=lambda e: e.priority):  # stable: list order breaks ties
        value = _in_force(event.times, now)
        if value is not _LET_GO:
            return value  # type: ignore[return-value]
    value = _in_force(schedule.weekly[day.weekday()], now) if schedule.weekly else _LET_GO
    return schedule.default if value is _LET_GO else value  # type: ignore[return-value]


def _change_times(schedule: Schedule, day: date, calendars: Calendars) -> list[time]:
    """The wall times of `day` at which the value may change: midnight and every entry."""
    times = {time(0)}
    if schedule.weekly:
        times.update(entry.time for entry in schedule.weekly[day.weekday()])
    for event in schedule.exceptions:
        if _event_applies(event, day, calendars):
            times.update(entry.time for entry in event.times)
    return sorted(times)


def next_transition(
    schedule: Schedule,
    wall: datetime,
    calendars: Calendars | None = None,
    lookahead_days: int = LOOKAHEAD_DAYS,
) -> datetime | None:
    """The first wall time after `wall` at which the value differs from the value at `wall`."""
    calendars = calendars or {}
    current = value_at(schedule, wall, calendars)
    for days in range(lookahead_days + 1):
        day = wall.date() + timedelta(days=days)
        for moment in _change_times(schedule, day, calendars):
            candidate = datetime.combine(day, moment)
            if candidate > wall and value_at(schedule, candidate, calendars) != current:
                return candidate
    return None


# ---- wall time and instants ------------------------------------------------------------------


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _first_true(low: datetime, high: datetime, reached: Callable[[datetime], bool]) -> datetime:
    """The first whole second in [low, high] (UTC) at which `reached` holds (it holds at
    `high` and keeps holding). Zone transitions fall on whole seconds."""
    low_s, high_s = math.floor(low.timestamp()), math.ceil(high.timestamp())
    while high_s - low_s > 1:
        middle = (low_s + high_s) // 2
        if reached(datetime.fromtimestamp(middle, UTC)):
            high_s = middle
        else:
            low_s = middle
    return datetime.fromtimestamp(high_s, UTC)


def wall_clock(instant: datetime, zone: ZoneInfo) -> datetime:
    """The wall time (naive) at `instant`, held at the end of the first pass through an hour
    that repeats, so it never runs backwards."""
    local = instant.astimezone(zone)
    if not local.fold:
        return local.replace(tzinfo=None)
    repeat = (local.replace(fold=0).utcoffset() or timedelta(0)) - (
        local.utcoffset() or timedelta(0)
    )
    second_pass = _first_true(instant - repeat, instant, lambda at: bool(at.astimezone(zone).fold))
    return _wall(second_pass - timedelta(microseconds=1), zone)


def first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant (aware UTC) whose wall time has reached `wall` (naive)."""
    earliest = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(earliest, zone) == wall:
        return earliest  # fold=0: an ambiguous wall time's first occurrence
    # Skipped by a jump forward: reached when the clocks jump, between the two readings.
    low, high = sorted((earliest, wall.replace(tzinfo=zone, fold=1).astimezone(UTC)))
    return _first_true(low, high, lambda at: _wall(at, zone) >= wall)


def state_at(
    schedule: Schedule,
    instant: datetime,
    zone: ZoneInfo,
    calendars: Calendars | None = None,
    lookahead_days: int = LOOKAHEAD_DAYS,
) -> ScheduleState:
    """The value in force at `instant` (aware) in `zone`, and the instant it next changes."""
    wall = wall_clock(instant, zone)
    value = value_at(schedule, wall, calendars)
    change = next_transition(schedule, wall, calendars, lookahead_days)
    return ScheduleState(value, None if change is None else first_instant(change, zone))
