"""Schedules and calendars of remote devices, read and written (SCHED-A: view and modify).

The values travel as the JSON of bms.bacnet.schedule_codec (the shapes the BMS stores for its
own schedules), encoded and decoded with the same code device 8888 serves them with
(bms.bacnet.local.schedule), and checked by schedule_codec before anything is sent: a
malformed week never reaches the wire.

A schedule's "kind" (analog, binary, multistate) is the datatype of its values. A peer does
not say it outright: it is read from the schedule-default, else the first value of the week or
of the exceptions, else the present value. A schedule with no typed value at all (every entry
NULL) is "unknown", and the caller names the kind when it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bacpypes3.basetypes import ArrayOfDailySchedule, DailySchedule, DateRange
from bacpypes3.errors import PropertyError
from bacpypes3.primitivedata import Enumerated, Null, Real, Unsigned

from bms.bacnet import schedule_codec as codec
from bms.bacnet import schedule_eval as ev
from bms.bacnet.boundary import object_identifier
from bms.bacnet.errors import InvalidValueError, LocalError
from bms.bacnet.local.schedule import (
    ArrayOfSpecialEvent,
    ListOfCalendarEntry,
    _date,
    _decode_date,
    _decode_event,
    _decode_times,
    _encode_event,
    _times,
    decode_entry,
    decode_value,
    encode_entry,
    encode_value,
)
from bms.bacnet.requester import Peer, Requester, parse_peer
from bms.bacnet.types import ObjectRef, PresentValue

__all__ = ["SCHEDULE_PROPERTIES", "RemoteSchedule", "ScheduleClient", "kind_of_value"]

# The properties a workstation edits, as the API and the tasks name them.
SCHEDULE_PROPERTIES = (
    "weekly-schedule",
    "exception-schedule",
    "schedule-default",
    "effective-period",
)
UNKNOWN = "unknown"


@dataclass(frozen=True)
class RemoteSchedule:
    """A remote Schedule object's editable properties, as schedule_codec JSON."""

    ref: ObjectRef
    kind: str  # codec.VALUE_KINDS, or "unknown"
    weekly: list[Any]
    exceptions: list[Any]
    default: PresentValue
    effective_period: dict[str, Any]
    present_value: PresentValue

    def as_json(self) -> dict[str, Any]:
        return {
            "object": str(self.ref),
            "kind": self.kind,
            "weekly": self.weekly,
            "exceptions": self.exceptions,
            "default": self.default,
            "effective_period": self.effective_period,
            "present_value": self.present_value,
        }


def kind_of_value(value: Any) -> str | None:
    """The schedule kind of one decoded atomic value (None for NULL or a type no kind has)."""
    if isinstance(value, Real):
        return "analog"
    if isinstance(value, Enumerated):
        return "binary"
    if isinstance(value, Unsigned):
        return "multistate"
    return None


def _atomic(value: Any) -> Any:
    getter = getattr(value, "get_value", None)
    return getter() if getter is not None else value


def _kind(default: Any, weekly: Any, exceptions: Any, present: Any) -> str:
    candidates = [default]
    candidates += [entry.value for day in weekly or () for entry in day.daySchedule or ()]
    candidates += [e.value for event in exceptions or () for e in event.listOfTimeValues or ()]
    candidates.append(present)
    for candidate in candidates:
        if candidate is None:
            continue
        kind = kind_of_value(_atomic(candidate))
        if kind is not None:
            return kind
    return UNKNOWN


def _decoded(what: str, decode: Any, *args: Any) -> Any:
    """Run a local/schedule.py decoder on a peer's value; its refusal is the peer's fault."""
    try:
        return decode(*args)
    except PropertyError as exc:
        raise LocalError(f"{what}: the device sent a value we cannot read ({exc})") from exc


def _value(what: str, kind: str, value: Any) -> PresentValue:
    if value is None:
        return None
    if not hasattr(value, "get_value"):
        raise LocalError(f"{what}: the device sent {value!r} where a value goes")
    return _decoded(what, decode_value, kind, value)  # type: ignore[no-any-return]


class ScheduleClient:
    """Reads and writes of remote Schedule and Calendar objects."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    # ---- reads --------------------------------------------------------------------------

    async def read_schedule(self, address: str, instance: int) -> RemoteSchedule:
        peer = parse_peer(address)
        ref = ObjectRef("schedule", instance)
        weekly = await self._read(peer, ref, "weekly-schedule")
        exceptions = await self._read(peer, ref, "exception-schedule")
        default = await self._read(peer, ref, "schedule-default")
        period = await self._read(peer, ref, "effective-period")
        present = await self._read(peer, ref, "present-value")
        kind = _kind(default, weekly, exceptions, present)
        decode_kind = kind if kind != UNKNOWN else "analog"  # only NULLs to decode then
        what = f"{ref} at {peer.key}"
        return RemoteSchedule(
            ref=ref,
            kind=kind,
            weekly=[
                _decoded(what, _decode_times, decode_kind, day.daySchedule) for day in weekly or ()
            ],
            exceptions=[
                _decoded(what, _decode_event, decode_kind, event) for event in exceptions or ()
            ],
            default=_value(what, decode_kind, default),
            effective_period={
                "start": _decoded(what, _decode_date, period.startDate),
                "end": _decoded(what, _decode_date, period.endDate),
            },
            present_value=_value(what, decode_kind, present),
        )

    async def read_date_list(self, address: str, instance: int) -> list[dict[str, Any]]:
        peer = parse_peer(address)
        ref = ObjectRef("calendar", instance)
        entries = await self._read(peer, ref, "date-list")
        return [_decoded(f"{ref} at {peer.key}", decode_entry, entry) for entry in entries or ()]

    # ---- writes (checked by schedule_codec first) ---------------------------------------

    async def write_weekly(self, address: str, instance: int, kind: str, weekly: Any) -> None:
        days = codec.weekly_from_json(weekly, _checked_kind(kind))
        value = ArrayOfDailySchedule([DailySchedule(daySchedule=_times(kind, d)) for d in days])
        await self._write(address, ObjectRef("schedule", instance), "weekly-schedule", value)

    async def write_exceptions(
        self, address: str, instance: int, kind: str, exceptions: Any
    ) -> None:
        _checked_kind(kind)
        if not isinstance(exceptions, list):
            raise InvalidValueError("the exception schedule must be a list of special events")
        events = [codec.event_from_json(item, kind) for item in exceptions]
        value = ArrayOfSpecialEvent([_encode_event(kind, event) for event in events])
        await self._write(address, ObjectRef("schedule", instance), "exception-schedule", value)

    async def write_default(
        self, address: str, instance: int, kind: str, default: PresentValue
    ) -> None:
        value = encode_value(kind, codec.check_value(_checked_kind(kind), default))
        await self._write(address, ObjectRef("schedule", instance), "schedule-default", value)

    async def write_effective_period(self, address: str, instance: int, period: Any) -> None:
        checked: ev.DateRange = codec.period_from_json(period)
        value = DateRange(startDate=_date(checked.start), endDate=_date(checked.end))
        await self._write(address, ObjectRef("schedule", instance), "effective-period", value)

    async def write_date_list(self, address: str, instance: int, entries: Any) -> None:
        checked = codec.entries_from_json(entries)
        value = ListOfCalendarEntry([encode_entry(entry) for entry in checked])
        await self._write(address, ObjectRef("calendar", instance), "date-list", value)

    # ---- the wire -----------------------------------------------------------------------

    async def _read(self, peer: Peer, ref: ObjectRef, property: str) -> Any:
        value = await self._requester.read(peer, ref, property)
        return None if isinstance(value, Null) else value

    async def _write(self, address: str, ref: ObjectRef, property: str, value: Any) -> None:
        peer = parse_peer(address)
        objid = object_identifier(ref)
        app = self._requester.app
        await self._requester.call(
            peer,
            f"write {ref} {property}",
            lambda: app.write_property(peer.address, objid, property, value),
        )


def _checked_kind(kind: str) -> str:
    if kind not in codec.VALUE_KINDS:
        raise InvalidValueError(
            f"a schedule's kind is one of {', '.join(codec.VALUE_KINDS)}, not {kind!r}"
        )
    return kind
