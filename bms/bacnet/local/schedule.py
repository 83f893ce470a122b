"""Local Schedule and Calendar objects served by our device, and their BACnet encodings.

The objects hold what the database holds (stored JSON, bms.bacnet.schedule_codec) and the
encoded properties peers read. Their present-value is computed when read, from the same
evaluator the worker's schedule runner writes with (bms.bacnet.schedule_eval) and the
device clock, so it is right at any moment without a task to move it.

Decoding a peer's value: a datatype the property does not take (a Real in a binary schedule, a
context tag where a time-value goes) is property / invalid-data-type; a well-typed value that
breaks the rules (times out of order, a priority of 17, a calendar that does not exist) is
property / value-out-of-range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from bacpypes3.basetypes import (
    ArrayOfDailySchedule,
    BinaryPV,
    CalendarEntry,
    DailySchedule,
    DateRange,
    DeviceObjectPropertyReference,
    Reliability,
    SpecialEvent,
    SpecialEventPeriod,
    StatusFlags,
    TimeValue,
    WeekNDay,
)
from bacpypes3.constructeddata import AnyAtomic, ArrayOf, ListOf
from bacpypes3.errors import PropertyError
from bacpypes3.local.object import Object as _LocalObject
from bacpypes3.object import CalendarObject as _CalendarObject
from bacpypes3.object import ScheduleObject as _ScheduleObject
from bacpypes3.primitivedata import Boolean, Date, Enumerated, Null, Real, Time, Unsigned

from bms.bacnet import schedule_codec as codec
from bms.bacnet import schedule_eval as ev
from bms.bacnet.clock import DeviceClock, site_zone
from bms.bacnet.types import ObjectRef, PresentValue

__all__ = [
    "CalendarSpec",
    "LocalCalendarObject",
    "LocalScheduleObject",
    "ScheduleSpec",
    "build_calendar",
    "build_schedule",
    "decode_written",
]

ANY = 255  # a BACnet date or WeekNDay field that matches anything
ArrayOfSpecialEvent = ArrayOf(SpecialEvent)
ListOfCalendarEntry = ListOf(CalendarEntry)
ListOfReferences = ListOf(DeviceObjectPropertyReference)
# The properties a peer may write, with the type one element (an array index) decodes as.
WRITABLE = {
    "weeklySchedule": (ArrayOfDailySchedule, DailySchedule),
    "exceptionSchedule": (ArrayOfSpecialEvent, SpecialEvent),
    "dateList": (ListOfCalendarEntry, None),
}


@dataclass(frozen=True)
class ScheduleSpec:
    """A Schedule object as stored: JSON as schedule_codec reads it."""

    instance: int
    name: str
    kind: str  # schedule_codec.VALUE_KINDS
    weekly: list[Any]
    exceptions: list[Any]
    effective_period: dict[str, Any]
    default: PresentValue
    targets: tuple[ObjectRef, ...] = ()
    priority_for_writing: int = 16
    description: str = ""

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("schedule", self.instance)

    def schedule(self) -> ev.Schedule:
        return codec.schedule_from_json(
            self.kind, self.weekly, self.exceptions, self.effective_period, self.default
        )


@dataclass(frozen=True)
class CalendarSpec:
    instance: int
    name: str
    date_list: list[Any]
    description: str = ""

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("calendar", self.instance)


# ---- our values -> BACnet --------------------------------------------------------------------


def encode_value(kind: str, value: PresentValue) -> Any:
    if value is None:
        return Null(())
    if kind == "analog":
        return Real(float(value))
    if kind == "binary":
        return BinaryPV(str(value))
    return Unsigned(int(value))


def _time(moment: time) -> Time:
    return Time((moment.hour, moment.minute, moment.second, moment.microsecond // 10_000))


def _times(kind: str, times: tuple[ev.TimeValue, ...]) -> list[TimeValue]:
    return [TimeValue(time=_time(t.time), value=encode_value(kind, t.value)) for t in times]


def _date(day: Any) -> Date:
    if day is None:
        return Date((ANY, ANY, ANY, ANY))
    return Date((day.year - 1900, day.month, day.day, day.isoweekday()))


def _or_any(number: int | None) -> int:
    return ANY if number is None else number


def encode_entry(entry: ev.CalendarEntry) -> CalendarEntry:
    if isinstance(entry, ev.DateRange):
        return CalendarEntry(
            dateRange=DateRange(startDate=_date(entry.start), endDate=_date(entry.end))
        )
    if isinstance(entry, ev.WeekNDay):
        octets = bytes(_or_any(n) for n in (entry.month, entry.week, entry.weekday))
        return CalendarEntry(weekNDay=WeekNDay(octets))
    year = ANY if entry.year is None else entry.year - 1900
    fields = (year, _or_any(entry.month), _or_any(entry.day), _or_any(entry.weekday))
    return CalendarEntry(date=Date(fields))


def _encode_event(kind: str, event: ev.SpecialEvent) -> SpecialEvent:
    if isinstance(event.period, int):
        period = SpecialEventPeriod(calendarReference=("calendar", event.period))
    else:
        (entry,) = event.period
        period = SpecialEventPeriod(calendarEntry=encode_entry(entry))
    return SpecialEvent(
        period=period, listOfTimeValues=_times(kind, event.times), eventPriority=event.priority
    )


# ---- BACnet -> our JSON (checked) ------------------------------------------------------------


def _invalid_type() -> PropertyError:
    return PropertyError("invalidDataType")


_KIND_TYPES: dict[str, tuple[type, ...]] = {
    "analog": (Real,),
    "binary": (Enumerated,),
    "multistate": (Unsigned,),
}


def decode_value(kind: str, value: AnyAtomic) -> PresentValue:
    try:
        decoded: Any = value.get_value()
    except (TypeError, ValueError) as exc:
        raise _invalid_type() from exc
    if isinstance(decoded, Null):
        return None
    if not isinstance(decoded, _KIND_TYPES[kind]):
        raise _invalid_type()
    number: Any = decoded
    if kind == "analog":
        return float(number)
    if kind == "binary":
        if int(number) not in (0, 1):
            raise PropertyError("valueOutOfRange")
        return "active" if int(number) else "inactive"
    return int(number)


def _decode_times(kind: str, values: Any) -> list[list[Any]]:
    pairs = []
    for entry in values or ():
        hour, minute, second, hundredth = entry.time
        if ANY in (hour, minute, second):
            raise PropertyError("valueOutOfRange")  # a schedule's times are specific
        moment = time(hour, minute, second, 0 if hundredth == ANY else hundredth * 10_000)
        pairs.append([moment.isoformat(), decode_value(kind, entry.value)])
    return pairs


def _field(number: int) -> int | None:
    return None if number == ANY else number


def _decode_date(value: Any) -> str | None:
    year, month, day, _weekday = value
    if (year, month, day) == (ANY, ANY, ANY):
        return None
    if ANY in (year, month, day) or month > 12 or day > 31:
        raise PropertyError("valueOutOfRange")  # a date range's ends are dates, or open
    return f"{year + 1900:04d}-{month:02d}-{day:02d}"


def decode_entry(entry: Any) -> dict[str, Any]:
    if entry.dateRange is not None:
        return {
            "range": {
                "start": _decode_date(entry.dateRange.startDate),
                "end": _decode_date(entry.dateRange.endDate),
            }
        }
    if entry.weekNDay is not None:
        if len(entry.weekNDay) != 3:
            raise _invalid_type()
        month, week, weekday = (_field(n) for n in entry.weekNDay)
        return {"week_n_day": {"month": month, "week": week, "weekday": weekday}}
    if entry.date is None:
        raise _invalid_type()
    year, month, day, weekday = entry.date
    return {
        "date": {
            "year": None if year == ANY else year + 1900,
            "month": _field(month),
            "day": _field(day),
            "weekday": _field(weekday),
        }
    }


def _decode_event(kind: str, event: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "priority": int(event.eventPriority),
        "times": _decode_times(kind, event.listOfTimeValues),
    }
    reference = event.period.calendarReference
    if reference is not None:
        if str(reference[0]) != "calendar":  # an ObjectType compares as its number
            raise PropertyError("valueOutOfRange")
        data["calendar"] = int(reference[1])
    elif event.period.calendarEntry is not None:
        data["entry"] = decode_entry(event.period.calendarEntry)
    else:
        raise _invalid_type()
    return data


def decode_written(obj: Any, attr: str, value: Any, index: int | None) -> list[Any]:
    """A peer's write of `attr` as the property's whole new JSON value (an index write
    replaces one element), type-checked; schedule_codec checks the rules after."""
    whole_type, element_type = WRITABLE[attr]
    if index is not None and (element_type is None or not 1 <= index <= _length(obj, attr)):
        raise PropertyError("invalidArrayIndex")
    current = obj.stored_json(attr)
    try:
        decoded = value.cast_out(element_type if index is not None else whole_type)
    except (ValueError, TypeError, AttributeError) as exc:
        raise _invalid_type() from exc
    if attr == "dateList":
        return [decode_entry(entry) for entry in decoded]
    kind = obj.kind
    if attr == "weeklySchedule":
        if index is not None:
            return [
                *current[: index - 1],
                _decode_times(kind, decoded.daySchedule),
                *current[index:],
            ]
        return [_decode_times(kind, day.daySchedule) for day in decoded]
    if index is not None:
        return [*current[: index - 1], _decode_event(kind, decoded), *current[index:]]
    return [_decode_event(kind, event) for event in decoded]


def _length(obj: Any, attr: str) -> int:
    return len(obj.stored_json(attr))


# ---- the objects -----------------------------------------------------------------------------


class LocalCalendarObject(_LocalObject, _CalendarObject):  # type: ignore[misc]
    """A Calendar: its date-list, and whether today is in it."""

    # No notification-class property: bacpypes3's local Object reads it in a task it starts
    # after construction, which failed with AttributeError ("Task exception never retrieved").
    notificationClass = None

    def __init__(self, spec: CalendarSpec) -> None:
        super().__init__(
            objectIdentifier=("calendar", spec.instance),
            objectName=spec.name,
            description=spec.description,
        )
        self.update(spec)

    def update(self, spec: CalendarSpec) -> None:
        # bacpypes3's local objects take only their properties and _private attributes
        self._spec = spec
        self._entries = codec.entries_from_json(spec.date_list)
        self.dateList = ListOfCalendarEntry([encode_entry(e) for e in self._entries])

    @property
    def spec(self) -> CalendarSpec:
        return self._spec

    @property
    def entries(self) -> tuple[ev.CalendarEntry, ...]:
        return self._entries

    def stored_json(self, attr: str) -> list[Any]:
        return list(self._spec.date_list)

    @property
    def ref(self) -> ObjectRef:
        return self.spec.ref

    @property
    def presentValue(self) -> Boolean:
        today = _app_clock(self).local_now().date()
        return Boolean(ev.calendar_active(self.entries, today))

    @presentValue.setter
    def presentValue(self, value: Any) -> None:
        """Computed from the date-list; bacpypes3 sets it while building the object."""


class LocalScheduleObject(_LocalObject, _ScheduleObject):  # type: ignore[misc]
    """A Schedule: what it holds, and its value in force now."""

    def __init__(self, spec: ScheduleSpec) -> None:
        super().__init__(
            objectIdentifier=("schedule", spec.instance),
            objectName=spec.name,
            description=spec.description,
            statusFlags=StatusFlags([0, 0, 0, 0]),
            reliability=Reliability.noFaultDetected,
            outOfService=False,
        )
        self.update(spec)

    def update(self, spec: ScheduleSpec) -> None:
        # bacpypes3's local objects take only their properties and _private attributes
        self._spec = spec
        self._evaluated = spec.schedule()
        schedule = self._evaluated
        self.weeklySchedule = ArrayOfDailySchedule(
            [DailySchedule(daySchedule=_times(self.kind, day)) for day in schedule.weekly]
        )
        self.exceptionSchedule = ArrayOfSpecialEvent(
            [_encode_event(self.kind, event) for event in schedule.exceptions]
        )
        period = schedule.effective_period
        self.effectivePeriod = DateRange(startDate=_date(period.start), endDate=_date(period.end))
        self.scheduleDefault = encode_value(self.kind, schedule.default)
        self.priorityForWriting = spec.priority_for_writing
        self.listOfObjectPropertyReferences = ListOfReferences(
            [
                DeviceObjectPropertyReference(
                    objectIdentifier=(ref.object_type, ref.instance),
                    propertyIdentifier="presentValue",
                )
                for ref in spec.targets
            ]
        )

    @property
    def spec(self) -> ScheduleSpec:
        return self._spec

    @property
    def kind(self) -> str:
        return self._spec.kind

    def stored_json(self, attr: str) -> list[Any]:
        return list(self._spec.weekly if attr == "weeklySchedule" else self._spec.exceptions)

    @property
    def ref(self) -> ObjectRef:
        return self.spec.ref

    def value_now(self) -> PresentValue:
        app = getattr(self, "_app", None)
        calendars = {
            obj.spec.instance: obj.entries
            for obj in (app.objectIdentifier.values() if app is not None else ())
            if isinstance(obj, LocalCalendarObject)
        }
        clock = _app_clock(self)
        return ev.value_at(self._evaluated, ev.wall_clock(clock.now(), clock.zone), calendars)

    @property
    def presentValue(self) -> Any:
        return encode_value(self.kind, self.value_now())

    @presentValue.setter
    def presentValue(self, value: Any) -> None:
        """Computed from the schedule; bacpypes3 sets it while building the object."""


def _app_clock(obj: Any) -> DeviceClock:
    app = getattr(obj, "_app", None)
    clock = getattr(app, "clock", None)
    return clock if isinstance(clock, DeviceClock) else DeviceClock(site_zone("UTC"))


def build_schedule(spec: ScheduleSpec) -> LocalScheduleObject:
    return LocalScheduleObject(spec)


def build_calendar(spec: CalendarSpec) -> LocalCalendarObject:
    return LocalCalendarObject(spec)
