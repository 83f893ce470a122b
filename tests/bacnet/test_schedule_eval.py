"""The schedule evaluator with an injected clock: no sleeping across real hours.

Dates: 2026-06-01 is a Monday. Europe/Paris jumps 02:00 -> 03:00 on 2026-03-29 (01:00 UTC) and
falls back 03:00 -> 02:00 on 2026-10-25 (01:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bms.bacnet.clock import DeviceClock
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.schedule_codec import entries_from_json, schedule_from_json
from bms.bacnet.schedule_eval import (
    DatePattern,
    DateRange,
    Schedule,
    SpecialEvent,
    TimeValue,
    WeekNDay,
    calendar_active,
    first_instant,
    next_transition,
    state_at,
    value_at,
    wall_clock,
)

PARIS = ZoneInfo("Europe/Paris")
OFFICE_HOURS = [["07:00", 21.0], ["18:00", None]]
WEEKDAYS = [OFFICE_HOURS] * 5 + [[], []]


def office(**changes: object) -> Schedule:
    data: dict[str, object] = {
        "weekly": WEEKDAYS,
        "exceptions": [],
        "effective_period": {"start": None, "end": None},
        "default": 16.0,
    }
    data.update(changes)
    return schedule_from_json("analog", **data)  # type: ignore[arg-type]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_weekly_entries_are_in_force_from_their_time_until_the_next() -> None:
    schedule = office()
    assert value_at(schedule, at("2026-06-01 06:59:59")) == 16.0
    assert value_at(schedule, at("2026-06-01 07:00")) == 21.0
    assert value_at(schedule, at("2026-06-01 17:59")) == 21.0
    # NULL lets go: the default is back
    assert value_at(schedule, at("2026-06-01 18:00")) == 16.0
    assert value_at(schedule, at("2026-06-06 12:00")) == 16.0  # Saturday: no entries


def test_nothing_carries_over_midnight() -> None:
    late = office(weekly=[[["22:00", 25.0]]] * 7)
    assert value_at(late, at("2026-06-01 23:59:59")) == 25.0
    assert value_at(late, at("2026-06-02 00:00")) == 16.0
    assert next_transition(late, at("2026-06-01 23:00")) == at("2026-06-02 00:00")


def test_exceptions_override_the_week_by_priority_and_a_null_lets_the_next_one_through() -> None:
    holiday = {"priority": 5, "entry": {"date": {"month": 6, "day": 1}}, "times": [["00:00", 12.0]]}
    meeting = {
        "priority": 3,
        "entry": {"range": {"start": "2026-05-30", "end": "2026-06-02"}},
        "times": [["09:00", 23.0], ["11:00", None]],
    }
    schedule = office(exceptions=[holiday, meeting])
    assert value_at(schedule, at("2026-06-01 08:00")) == 12.0  # holiday beats the week
    assert value_at(schedule, at("2026-06-01 10:00")) == 23.0  # priority 3 beats 5
    assert value_at(schedule, at("2026-06-01 11:30")) == 12.0  # meeting let go
    assert value_at(schedule, at("2026-06-02 08:00")) == 21.0  # no holiday: the week
    assert value_at(schedule, at("2026-06-02 10:00")) == 23.0


def test_equal_priorities_go_by_list_order() -> None:
    first = {"priority": 8, "entry": {"date": {}}, "times": [["00:00", 1.0]]}
    second = {"priority": 8, "entry": {"date": {}}, "times": [["00:00", 2.0]]}
    assert value_at(office(exceptions=[first, second]), at("2026-06-03 12:00")) == 1.0


def test_a_calendar_reference_applies_on_the_calendars_days_only() -> None:
    closed = {"priority": 1, "calendar": 7, "times": [["00:00", 10.0]]}
    schedule = office(exceptions=[closed])
    calendars = {7: entries_from_json([{"date": {"year": 2026, "month": 12, "day": 25}}])}
    assert value_at(schedule, at("2026-12-25 09:00"), calendars) == 10.0
    assert value_at(schedule, at("2026-12-24 09:00"), calendars) == 21.0
    assert value_at(schedule, at("2026-12-25 09:00"), {}) == 21.0  # unknown calendar: no day


def test_calendar_entries_match_dates_ranges_and_week_n_days() -> None:
    assert calendar_active([DatePattern(month=13, day=32)], date(2026, 1, 31))  # odd, last
    assert not calendar_active([DatePattern(month=13, day=32)], date(2026, 2, 28))
    assert calendar_active([DatePattern(weekday=1)], date(2026, 6, 1))
    assert calendar_active([DateRange(None, date(2026, 1, 1))], date(1999, 5, 5))
    # last Friday of any month (the last 7 days, Friday)
    assert calendar_active([WeekNDay(None, 6, 5)], date(2026, 6, 26))
    assert not calendar_active([WeekNDay(None, 6, 5)], date(2026, 6, 19))
    # second week of November, any day
    assert calendar_active([WeekNDay(11, 2, None)], date(2026, 11, 14))
    assert not calendar_active([WeekNDay(11, 2, None)], date(2026, 11, 15))


def test_outside_the_effective_period_the_default_is_in_force() -> None:
    summer = office(effective_period={"start": "2026-06-01", "end": "2026-08-31"})
    assert value_at(summer, at("2026-06-01 10:00")) == 21.0
    assert value_at(summer, at("2026-09-01 10:00")) == 16.0  # a Tuesday, outside
    assert next_transition(summer, at("2026-05-29 20:00")) == at("2026-06-01 07:00")


def test_next_transition_skips_entries_that_change_nothing() -> None:
    schedule = office(weekly=[[["07:00", 21.0], ["12:00", 21.0], ["18:00", None]]] * 7)
    assert next_transition(schedule, at("2026-06-01 08:00")) == at("2026-06-01 18:00")
    assert next_transition(office(weekly=[[]] * 7), at("2026-06-01 08:00")) is None


def test_spring_forward_an_entry_in_the_skipped_hour_fires_at_the_jump() -> None:
    schedule = office(weekly=[[["02:30", 30.0]]] * 7)
    before = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET
    state = state_at(schedule, before, PARIS)
    assert state.value == 16.0
    assert state.next_change == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert state_at(schedule, state.next_change, PARIS).value == 30.0
    assert first_instant(at("2026-03-29 02:30"), PARIS) == datetime(2026, 3, 29, 1, tzinfo=UTC)


def test_fall_back_an_entry_in_the_repeated_hour_fires_once_and_nothing_reverts() -> None:
    schedule = office(weekly=[[["02:30", 30.0], ["03:00", 40.0]]] * 7)
    first_pass = state_at(schedule, datetime(2026, 10, 25, 0, 0, tzinfo=UTC), PARIS)  # 02:00 CEST
    assert first_pass.value == 16.0
    assert first_pass.next_change == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second_pass = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 CET, the hour again
    assert wall_clock(second_pass, PARIS) == at("2026-10-25 02:59:59.999999")
    state = state_at(schedule, second_pass, PARIS)
    assert state.value == 30.0  # not back to the default
    assert state.next_change == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)  # 03:00 CET


def test_a_restart_in_the_middle_of_a_period_finds_the_value_in_force() -> None:
    clock = DeviceClock(PARIS, lambda: datetime(2026, 6, 1, 12, 34, 56, tzinfo=UTC))
    state = state_at(office(), clock.now(), PARIS)
    assert state.value == 21.0  # 14:34 CEST, inside office hours
    assert state.next_change == datetime(2026, 6, 1, 16, 0, tzinfo=UTC)  # 18:00 CEST


def test_the_device_clock_reports_the_zones_standard_offset_and_dst() -> None:
    summer = DeviceClock(PARIS, lambda: datetime(2026, 6, 1, tzinfo=UTC))
    winter = DeviceClock(PARIS, lambda: datetime(2026, 1, 1, tzinfo=UTC))
    assert (summer.utc_offset_minutes(), summer.daylight_saving()) == (-60, True)
    assert (winter.utc_offset_minutes(), winter.daylight_saving()) == (-60, False)
    new_york = DeviceClock(ZoneInfo("America/New_York"), lambda: datetime(2026, 6, 1, tzinfo=UTC))
    assert new_york.utc_offset_minutes() == 300
    summer.set_time(datetime(2026, 6, 1, 0, 5, tzinfo=UTC))
    assert summer.local_now().time() == time(2, 5)


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ([[["08:00", 1.0], ["07:00", 2.0]]] + [[]] * 6, "out of order"),
        ([[["08:00", 1.0], ["08:00", 2.0]]] + [[]] * 6, "out of order"),
        ([[["25:00", 1.0]]] + [[]] * 6, "is not a time"),
        ([[["08:00", "active"]]] + [[]] * 6, "not a value of a analog"),
        ([[]] * 6, "seven days"),
    ],
)
def test_malformed_schedules_are_refused_saying_why(weekly: object, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        schedule_from_json("analog", weekly, [], {"start": None, "end": None}, None)


def test_special_event_priorities_and_value_kinds_are_checked() -> None:
    bad_priority = [{"priority": 17, "entry": {"date": {}}, "times": []}]
    with pytest.raises(InvalidValueError, match="priority"):
        schedule_from_json("binary", [[]] * 7, bad_priority, {}, "active")
    with pytest.raises(InvalidValueError, match="multistate"):
        schedule_from_json("multistate", [[["08:00", 0]]] * 7, [], {}, 1)
    period = {"start": "2026-02-01", "end": "2026-01-01"}
    with pytest.raises(InvalidValueError, match="before it starts"):
        schedule_from_json("binary", [[]] * 7, [], period, None)


def test_time_values_keep_their_order_and_nulls() -> None:
    schedule = office()
    assert schedule.weekly[0] == (TimeValue(time(7), 21.0), TimeValue(time(18), None))
    event = SpecialEvent(3, (TimeValue(time(0), 1.0),), 4)
    assert value_at(Schedule(exceptions=(event,), default=2.0), at("2026-01-01 00:00")) == 2.0
