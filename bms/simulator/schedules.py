"""A Schedule and a Calendar on every simulated device, for the BMS to view and edit.

Like a typical controller's: schedule,1 "Occupancy" (binary: Monday to Friday 07:00 active,
19:00 inactive, default inactive) refers to the device's "Night Setback Enable" binary value,
and calendar,1 "Holidays" lists Christmas and New Year's Day. Both take what a peer writes as
a real controller without validation would (bacpypes3 checks only the datatype). The
simulator does not run the schedule: its present value is the schedule-default, so tests see
exactly what they wrote and nothing moves under them.

The properties are encoded with bms.bacnet.local.schedule, the encoder device 8888 uses.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

from bacpypes3.basetypes import (
    ArrayOfDailySchedule,
    DailySchedule,
    DateRange,
    DeviceObjectPropertyReference,
    Reliability,
    StatusFlags,
)
from bacpypes3.constructeddata import AnyAtomic
from bacpypes3.local.object import Object as _LocalObject
from bacpypes3.object import CalendarObject as _CalendarObject
from bacpypes3.object import ScheduleObject as _ScheduleObject
from bacpypes3.primitivedata import Boolean

from bms.bacnet import schedule_codec as codec
from bms.bacnet.local.schedule import (
    ArrayOfSpecialEvent,
    ListOfCalendarEntry,
    ListOfReferences,
    _date,
    _times,
    encode_entry,
    encode_value,
)
from bms.bacnet.types import ObjectRef
from bms.simulator.catalog import PointSpec
from bms.simulator.objects import _shallow_copy

__all__ = [
    "HOLIDAYS",
    "OCCUPANCY_TARGET",
    "OCCUPANCY_WEEK",
    "SimCalendarObject",
    "SimScheduleObject",
    "schedule_objects",
]

OCCUPANCY_TARGET = "Night Setback Enable"
WORKDAY = [["07:00", "active"], ["19:00", "inactive"]]
OCCUPANCY_WEEK: list[list[list[Any]]] = [WORKDAY] * 5 + [[], []]
HOLIDAYS: list[dict[str, Any]] = [
    {"date": {"year": None, "month": 12, "day": 25, "weekday": None}},
    {"date": {"year": None, "month": 1, "day": 1, "weekday": None}},
]


class SimScheduleObject(_LocalObject, _ScheduleObject):  # type: ignore[misc]
    """A schedule that stores what it is written."""


class SimCalendarObject(_LocalObject, _CalendarObject):  # type: ignore[misc]
    """A calendar that stores what it is written; present-value stays False."""

    # A calendar has no notification-class property; bacpypes3's local Object reads it after
    # construction (a task it starts) and would fail with AttributeError without this.
    notificationClass = None


def _schedule(instance: int, target: ObjectRef | None) -> SimScheduleObject:
    weekly = codec.weekly_from_json(OCCUPANCY_WEEK, "binary")
    references = (
        [
            DeviceObjectPropertyReference(
                objectIdentifier=(target.object_type, target.instance),
                propertyIdentifier="presentValue",
            )
        ]
        if target is not None
        else []
    )
    return SimScheduleObject(
        objectIdentifier=("schedule", instance),
        objectName="Occupancy",
        description="Occupied hours of the air-handling unit",
        presentValue=AnyAtomic(encode_value("binary", "inactive")),
        effectivePeriod=DateRange(startDate=_date(None), endDate=_date(None)),
        weeklySchedule=ArrayOfDailySchedule(
            [DailySchedule(daySchedule=_times("binary", day)) for day in weekly]
        ),
        exceptionSchedule=ArrayOfSpecialEvent([]),
        scheduleDefault=AnyAtomic(encode_value("binary", "inactive")),
        listOfObjectPropertyReferences=ListOfReferences(references),
        priorityForWriting=16,
        statusFlags=StatusFlags([0, 0, 0, 0]),
        reliability=Reliability.noFaultDetected,
        outOfService=False,
    )


def _calendar(instance: int) -> SimCalendarObject:
    entries = codec.entries_from_json(HOLIDAYS)
    return SimCalendarObject(
        objectIdentifier=("calendar", instance),
        objectName="Holidays",
        description="Days the building is closed",
        presentValue=Boolean(False),
        dateList=ListOfCalendarEntry([encode_entry(entry) for entry in entries]),
    )


@functools.cache
def _prototypes(target: ObjectRef | None) -> tuple[Any, Any]:
    return _schedule(1, target), _calendar(1)


def _copy(prototype: Any, arrays: tuple[str, ...]) -> Any:
    """A copy of a prototype (building one costs ~3 ms: 3 s over a 1,000-device building),
    with its own copy of what a peer's write by index changes in place, and its own COV
    monitors (bms.simulator.objects explains the shallow copy)."""
    obj = _shallow_copy(prototype)
    obj._property_monitors = defaultdict(list)
    for attr in arrays:
        value = vars(obj)[attr]
        object.__setattr__(obj, attr, type(value)(value))
    return obj


def schedule_objects(points: list[PointSpec]) -> list[Any]:
    """The schedule and the calendar of a device with these points."""
    target = next((spec.ref for spec in points if spec.name == OCCUPANCY_TARGET), None)
    schedule, calendar = _prototypes(target)
    return [
        _copy(schedule, ("weeklySchedule", "exceptionSchedule", "listOfObjectPropertyReferences")),
        _copy(calendar, ("dateList",)),
    ]
