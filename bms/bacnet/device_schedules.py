"""The Schedule and Calendar objects our device serves, managed while it runs.

`LocalDevice.schedules` is one of these. Like the points, the objects are added, changed and
removed from specs (the worker's schedule runner keeps them in step with the database); adding
or removing one changes the device's database-revision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.errors import ConfigurationError, LocalError
from bms.bacnet.local.schedule import (
    CalendarSpec,
    LocalCalendarObject,
    LocalScheduleObject,
    ScheduleSpec,
)
from bms.bacnet.types import ObjectRef, PresentValue

__all__ = ["DeviceSchedules"]

log = logging.getLogger(__name__)


class DeviceSchedules:
    def __init__(self, app: Any, objects_changed: Callable[[], None]) -> None:
        self._app = app
        self._objects_changed = objects_changed

    def put_schedule(self, spec: ScheduleSpec) -> None:
        """Serve the schedule, or change the one served (InvalidValueError if malformed)."""
        obj = self._find(spec.ref)
        if isinstance(obj, LocalScheduleObject):
            if obj.spec != spec:
                obj.update(spec)
            return
        self._add(spec.ref, spec.name, LocalScheduleObject(spec))

    def put_calendar(self, spec: CalendarSpec) -> None:
        obj = self._find(spec.ref)
        if isinstance(obj, LocalCalendarObject):
            if obj.spec != spec:
                obj.update(spec)
            return
        self._add(spec.ref, spec.name, LocalCalendarObject(spec))

    def remove(self, ref: ObjectRef) -> None:
        obj = self._find(ref)
        if not isinstance(obj, LocalScheduleObject | LocalCalendarObject):
            raise LocalError(f"no local schedule or calendar {ref}")
        self._app.delete_object(obj)
        self._objects_changed()
        log.info("stopped serving %s", ref)

    def served(self) -> dict[ObjectRef, ScheduleSpec | CalendarSpec]:
        """The specs of every schedule and calendar served, by reference."""
        return {
            obj.ref: obj.spec
            for obj in list(self._app.objectIdentifier.values())
            if isinstance(obj, LocalScheduleObject | LocalCalendarObject)
        }

    def value_now(self, instance: int) -> PresentValue:
        """The schedule's present-value (its value in force on the device clock)."""
        obj = self._find(ObjectRef("schedule", instance))
        if not isinstance(obj, LocalScheduleObject):
            raise LocalError(f"no local schedule {instance}")
        return obj.value_now()

    def _find(self, ref: ObjectRef) -> Any:
        return self._app.get_object_id(ObjectIdentifier((ref.object_type, ref.instance)))

    def _add(self, ref: ObjectRef, name: str, obj: Any) -> None:
        if self._find(ref) is not None:
            raise ConfigurationError(f"object {ref} already exists")
        if self._app.get_object_name(name) is not None:
            raise ConfigurationError(f"an object named {name!r} already exists")
        self._app.add_object(obj)
        self._objects_changed()
        log.info("serving %s %r", ref, name)
