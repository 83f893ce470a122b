"""Intrinsic reporting on our local points and notification class objects, on bacpypes3.

Theory of operation. bacpypes3 0.0.108 ships the event algorithms (`OutOfRangeEventAlgorithm`,
`ChangeOfStateEventAlgorithm`: detection, time delays, event-state and event-time-stamps) and
IR classes for a few object types; we use its algorithms and fix what is wrong around them:

- it links an object to its notification class once, at start-up, and raises in a stray task
  when the class is not there yet; `EventReporting` looks the class up when a transition needs
  it (`_notification_class_object`), so classes and points can come and go in any order;
- its notification step reads priority and ack-required at the wrong index (the event state's
  number, not the transition's), stamps a time without a date, never updates acked-transitions,
  ignores event-enable, treats every day as a Thursday, and sends the notifications from a task
  nobody keeps. `ReportingAlgorithm.send_notifications` hands the transition to the device's
  `EventServices.event_transitioned` instead, which does all of that right (event_services).

Nothing here talks to the network: this module builds objects and converts values.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from datetime import time as clock
from typing import Any

from bacpypes3.basetypes import (
    BinaryPV,
    DateTime,
    DaysOfWeek,
    DeviceAddress,
    EventState,
    EventTransitionBits,
    LimitEnable,
    NotifyType,
    Recipient,
    TimeStamp,
)
from bacpypes3.basetypes import Destination as BacnetDestination
from bacpypes3.constructeddata import ArrayOf, ListOf
from bacpypes3.local.event import ChangeOfStateEventAlgorithm, OutOfRangeEventAlgorithm
from bacpypes3.local.object import Object as _LocalObject
from bacpypes3.object import NotificationClassObject
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Date, ObjectIdentifier, Time, Unsigned

from bms.bacnet.local.alarm_spec import AlarmSpec, Destination, NotificationClassSpec
from bms.bacnet.local.convert import present_value_to_bacnet
from bms.bacnet.types import ANALOG_TYPES, BINARY_TYPES

UNSPECIFIED = (255, 255, 255, 255)
DEFAULT_PRIORITY = 255  # lowest: a transition of an object whose class is missing


# ---- time stamps


def to_timestamp(when: datetime | None) -> TimeStamp:
    """A BACnet date-time stamp in local time (unspecified for None: never happened)."""
    if when is None:
        return TimeStamp(dateTime=DateTime(date=Date(UNSPECIFIED), time=Time(UNSPECIFIED)))
    local = when.astimezone() if when.tzinfo is not None else when
    date = Date((local.year - 1900, local.month, local.day, local.isoweekday()))
    return TimeStamp(dateTime=DateTime(date=date, time=to_time(local.time())))


def to_time(value: clock) -> Time:
    return Time((value.hour, value.minute, value.second, value.microsecond // 10000))


def from_timestamp(stamp: Any) -> datetime | None:
    """An aware local datetime from a date-time stamp; None if unspecified or not a date-time."""
    date_time = getattr(stamp, "dateTime", None)
    if date_time is None:
        return None
    year, month, day, _ = date_time.date
    hour, minute, second, hundredths = date_time.time
    if 255 in (year, month, day, hour, minute, second, hundredths):
        return None
    return datetime(year + 1900, month, day, hour, minute, second, hundredths * 10000).astimezone()


def now_stamp() -> datetime:
    """Now, aware, at the hundredth of a second a BACnet time stamp carries."""
    now = datetime.now().astimezone()
    return now.replace(microsecond=now.microsecond // 10000 * 10000)


def stamp_key(stamp: Any) -> tuple[Any, ...]:
    """A comparable form of a BACnet time stamp (whichever choice it is)."""
    choice = stamp._choice
    value = getattr(stamp, choice)
    if choice == "dateTime":
        return (choice, tuple(value.date), tuple(value.time))
    return (choice, tuple(value) if isinstance(value, tuple) else int(value))


def bits(value: Any) -> tuple[bool, bool, bool]:
    flags = [bool(bit) for bit in value]
    return (flags[0], flags[1], flags[2])


# ---- points with intrinsic reporting


class ReportingAlgorithm:
    """Mixin for bacpypes3's event algorithms: transitions go to the device's EventServices."""

    monitored_object: Any

    def send_notifications(self, params: dict[str, Any]) -> asyncio.Future[None]:
        # bacpypes3 wraps the result in ensure_future: a done future starts no stray task.
        obj = self.monitored_object
        obj._app.event_transitioned(obj, params)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class OutOfRange(ReportingAlgorithm, OutOfRangeEventAlgorithm):
    pass


class ChangeOfState(ReportingAlgorithm, ChangeOfStateEventAlgorithm):
    pass


class _NoNotificationClass:
    """Stands in while an object's notification class is not served (nobody is notified)."""

    priority = (DEFAULT_PRIORITY,) * 3
    ackRequired = EventTransitionBits([0, 0, 0])
    recipientList: tuple[Any, ...] = ()


class EventReporting:
    """Mixin placed first in a local point class that reports intrinsically."""

    _app: Any
    notificationClass: Any

    async def _post_init(self) -> None:
        """bacpypes3 links the notification class here and raises if it is missing; ours is
        looked up when needed."""

    @property
    def _notification_class_object(self) -> Any:
        app = getattr(self, "_app", None)
        found = None if app is None else app.notification_class_object(self.notificationClass)
        return found if found is not None else _NoNotificationClass()


_REPORTING_CLASSES: dict[type, type] = {}


def reporting_class(cls: type) -> type:
    """`cls` with intrinsic reporting (one subclass per point class, made once)."""
    reporting = _REPORTING_CLASSES.get(cls)
    if reporting is None:
        reporting = _REPORTING_CLASSES[cls] = type(
            f"{cls.__name__}Reporting", (EventReporting, cls), {}
        )
    return reporting


def alarm_kwargs(object_type: str, alarm: AlarmSpec) -> dict[str, Any]:
    """The bacpypes3 properties of `alarm` on an `object_type` point."""
    kwargs: dict[str, Any] = {
        "eventState": EventState(alarm.event_state),
        "eventEnable": EventTransitionBits([int(b) for b in alarm.event_enable]),
        "ackedTransitions": EventTransitionBits([int(b) for b in alarm.acked_transitions]),
        "notifyType": NotifyType(alarm.notify_type),
        "eventTimeStamps": ArrayOf(TimeStamp, _length=3)(
            [to_timestamp(when) for when in alarm.event_time_stamps]
        ),
        "notificationClass": alarm.notification_class,
        "timeDelay": alarm.time_delay,
        "eventDetectionEnable": True,
    }
    if alarm.time_delay_normal is not None:
        kwargs["timeDelayNormal"] = alarm.time_delay_normal
    if object_type in ANALOG_TYPES:
        low_enabled, high_enabled = alarm.limit_enable
        kwargs |= {
            # A disabled limit is still a required property; it is never compared.
            "highLimit": float(alarm.high_limit if alarm.high_limit is not None else 0.0),
            "lowLimit": float(alarm.low_limit if alarm.low_limit is not None else 0.0),
            "deadband": float(alarm.deadband),
            "limitEnable": LimitEnable([int(low_enabled), int(high_enabled)]),
        }
    elif object_type in BINARY_TYPES:
        kwargs["alarmValue"] = BinaryPV(present_value_to_bacnet(object_type, alarm.alarm_values[0]))
    else:
        kwargs["alarmValues"] = ListOf(Unsigned)([int(v) for v in alarm.alarm_values])  # type: ignore[arg-type]
    return kwargs


def live_alarm(alarm: AlarmSpec, obj: Any) -> AlarmSpec:
    """`alarm` with the object's live event state, acked transitions and time stamps."""
    return dataclasses.replace(
        alarm,
        event_state=str(EventState(obj.eventState)),
        acked_transitions=bits(obj.ackedTransitions),
        event_time_stamps=tuple(from_timestamp(stamp) for stamp in obj.eventTimeStamps),  # type: ignore[arg-type]
    )


def attach_reporting(obj: Any, object_type: str) -> None:
    """Start the object's event algorithm and have it look at the present value once (a
    restored object may already be out of range: its transition was lost with the process)."""
    algorithm_class = OutOfRange if object_type in ANALOG_TYPES else ChangeOfState
    algorithm = algorithm_class(None, obj)
    obj._event_algorithm = algorithm
    algorithm._execute_handle = asyncio.get_running_loop().call_soon(algorithm._execute)


def detach_reporting(obj: Any) -> None:
    """Stop the algorithm of an object no longer served (pending evaluations and delays too)."""
    algorithm = getattr(obj, "_event_algorithm", None)
    if algorithm is None:
        return
    for handle in (algorithm._execute_handle, algorithm._transition_timeout_handle):
        if handle is not None:
            handle.cancel()
    algorithm._execute_handle = algorithm._transition_timeout_handle = None
    algorithm.unbind()
    obj._event_algorithm = None


# ---- notification classes


class LocalNotificationClass(_LocalObject, NotificationClassObject):  # type: ignore[misc]
    """A notification class served by our device; `spec` is its plain description."""

    _spec: NotificationClassSpec

    @property
    def spec(self) -> NotificationClassSpec:
        return self._spec

    async def _post_init(self) -> None:
        """Nothing to link (bacpypes3 would look for this object's own class)."""


def build_notification_class(spec: NotificationClassSpec) -> LocalNotificationClass:
    obj = LocalNotificationClass(
        objectIdentifier=("notification-class", spec.instance),
        objectName=spec.name,
        description=spec.description,
        notificationClass=spec.instance,
        priority=ArrayOf(Unsigned)(list(spec.priorities)),
        ackRequired=EventTransitionBits([int(b) for b in spec.ack_required]),
        recipientList=ListOf(BacnetDestination)([_destination(d) for d in spec.recipients]),
    )
    obj._spec = spec
    return obj


def _destination(destination: Destination) -> BacnetDestination:
    return BacnetDestination(
        validDays=DaysOfWeek([int(b) for b in destination.valid_days]),
        fromTime=to_time(destination.from_time),
        toTime=to_time(destination.to_time),
        recipient=recipient_of(destination),
        processIdentifier=destination.process_id,
        issueConfirmedNotifications=destination.confirmed,
        transitions=EventTransitionBits([int(b) for b in destination.transitions]),
    )


def recipient_of(destination: Destination) -> Recipient:
    if destination.device is not None:
        return Recipient(device=ObjectIdentifier(("device", destination.device)))
    return Recipient(address=DeviceAddress(Address(destination.address)))
