"""Peers' writes to our Schedule and Calendar objects: checked, stored, then acknowledged.

Theory of operation. `ScheduleServices` is a mixin for the device's Application, before
`DeviceServices` in its bases: a WriteProperty to a local schedule or calendar is handled here,
every other write goes on to DeviceServices. A peer may write weekly-schedule and
exception-schedule (whole, or one element by array index) and a calendar's date-list; every
other property of them is write-access-denied. A write runs as:

1. decode and check it (bms.bacnet.local.schedule, bms.bacnet.schedule_codec): a wrong datatype
   is property / invalid-data-type, broken rules (times out of order, a priority of 17, a
   calendar that is not ours) are property / value-out-of-range;
2. await `schedule_write_hook` with the object's whole new value (the product stores it, and
   checks what only it knows, like the values against the objects the schedule writes); if it
   raises, the writer gets the error and nothing changes;
3. apply the new value to the object, then acknowledge.

Writes to one object are serialised, so the old value the hook is given is the one replaced.
Refusals go to the application's `refusal_hook` (the audit), as DeviceServices' do.
WritePropertyMultiple to these objects is not served (DeviceServices refuses it as
write-access-denied): the tools we know write schedules one property at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import SimpleAckPDU
from bacpypes3.errors import ExecutionError, PropertyError
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.errors import InvalidValueError, WriteRefused
from bms.bacnet.local.objects import property_attr
from bms.bacnet.local.schedule import (
    WRITABLE,
    CalendarSpec,
    LocalCalendarObject,
    LocalScheduleObject,
    ScheduleSpec,
    decode_written,
)
from bms.bacnet.refusals import hyphenated, refused_write
from bms.bacnet.types import ObjectRef

__all__ = ["ScheduleServices", "ScheduleWrite", "ScheduleWriteHook"]

log = logging.getLogger(__name__)

HOOK_TIMEOUT_SECONDS = 2.5  # below a peer's usual 3 s APDU timeout

_SPEC_FIELDS = {
    "weeklySchedule": "weekly",
    "exceptionSchedule": "exceptions",
    "dateList": "date_list",
}


@dataclass(frozen=True)
class ScheduleWrite:
    """A peer's accepted-so-far write: the property's whole value before and after (JSON)."""

    ref: ObjectRef
    property: str  # "weekly-schedule", "exception-schedule", "date-list"
    old_value: list[Any]
    new_value: list[Any]
    source_address: str


ScheduleWriteHook = Callable[[ScheduleWrite], Awaitable[None]]
ScheduleObjects = LocalScheduleObject | LocalCalendarObject


class ScheduleServices:
    """Mixin for the device's Application, before DeviceServices in its bases."""

    schedule_write_hook: ScheduleWriteHook | None = None

    async def do_WritePropertyRequest(self, apdu: Any) -> None:
        obj = self.get_object_id(apdu.objectIdentifier)  # type: ignore[attr-defined]
        if not isinstance(obj, LocalScheduleObject | LocalCalendarObject):
            await super().do_WritePropertyRequest(apdu)  # type: ignore[misc]
            return
        try:
            await self._write_schedule(obj, apdu)
        except ExecutionError as err:
            await self._audit_refusal(apdu, err)
            raise
        await self.response(SimpleAckPDU(context=apdu))  # type: ignore[attr-defined]

    async def _write_schedule(self, obj: ScheduleObjects, apdu: Any) -> None:
        attr = property_attr(apdu.propertyIdentifier)
        if attr not in WRITABLE or attr not in _SPEC_FIELDS or not hasattr(obj, attr):
            raise PropertyError("writeAccessDenied")
        locks: dict[ObjectRef, asyncio.Lock] = self.__dict__.setdefault("_schedule_locks", {})
        async with locks.setdefault(obj.ref, asyncio.Lock()):
            new_value = decode_written(obj, attr, apdu.propertyValue, apdu.propertyArrayIndex)
            spec = self._checked_spec(obj, attr, new_value)
            write = ScheduleWrite(
                obj.ref,
                hyphenated(attr),
                obj.stored_json(attr),
                new_value,
                str(apdu.pduSource),
            )
            await self._run_schedule_hook(write)
            obj.update(spec)  # type: ignore[arg-type]
        log.info("%s %s written by %s", obj.ref, write.property, write.source_address)

    def _checked_spec(
        self, obj: ScheduleObjects, attr: str, new_value: list[Any]
    ) -> ScheduleSpec | CalendarSpec:
        """The object's spec with the new value, or value-out-of-range if it breaks a rule."""
        changes: dict[str, Any] = {_SPEC_FIELDS[attr]: new_value}
        spec: ScheduleSpec | CalendarSpec = dataclasses.replace(obj.spec, **changes)
        try:
            if isinstance(spec, ScheduleSpec):
                spec.schedule()
                self._check_calendars(spec)
            else:
                LocalCalendarObject(spec)  # decodes the date-list as the object will
        except InvalidValueError as exc:
            log.info("write to %s %s refused: %s", obj.ref, attr, exc)
            raise PropertyError("valueOutOfRange") from exc
        return spec

    def _check_calendars(self, spec: ScheduleSpec) -> None:
        for event in spec.exceptions:
            instance = event.get("calendar")
            if instance is None:
                continue
            # The application indexes its objects by ObjectIdentifier: a plain tuple finds nothing.
            calendar = self.get_object_id(ObjectIdentifier(("calendar", instance)))  # type: ignore[attr-defined]
            if not isinstance(calendar, LocalCalendarObject):
                raise InvalidValueError(f"calendar {instance} is not an object of this device")

    async def _run_schedule_hook(self, write: ScheduleWrite) -> None:
        if self.schedule_write_hook is None:
            return
        try:
            async with asyncio.timeout(HOOK_TIMEOUT_SECONDS):
                await self.schedule_write_hook(write)
        except WriteRefused as exc:
            log.info("write to %s %s refused by the hook: %s", write.ref, write.property, exc)
            raise ExecutionError(errorClass=exc.error_class, errorCode=exc.error_code) from exc
        except TimeoutError as exc:
            log.error("schedule write hook overran %ss for %s", HOOK_TIMEOUT_SECONDS, write.ref)
            raise ExecutionError(errorClass="device", errorCode="operationalProblem") from exc
        except Exception as exc:
            log.exception("schedule write hook failed for %s %s", write.ref, write.property)
            raise ExecutionError(errorClass="device", errorCode="operationalProblem") from exc

    async def _audit_refusal(self, apdu: Any, err: ExecutionError) -> None:
        """Tell the refusal hook (DeviceServices' audit trail); its failure is only logged."""
        hook = getattr(self, "refusal_hook", None)
        if hook is None:
            return
        refusal = refused_write(
            apdu.objectIdentifier,
            apdu.propertyIdentifier,
            apdu.propertyValue,
            None,
            apdu.pduSource,
            err,
        )
        try:
            async with asyncio.timeout(HOOK_TIMEOUT_SECONDS):
                await hook(refusal)
        except Exception:
            log.exception("refusal hook failed for %s; the write is refused anyway", refusal)
