"""What a local object's alarm reporting is, in plain Python (no bacpypes3).

`AlarmSpec` is an object's intrinsic reporting (ASHRAE 135 clause 13.3: OUT_OF_RANGE for
analog objects, CHANGE_OF_STATE for binary and multi-state ones) with its restored state;
`NotificationClassSpec` is a notification class object with its recipient list. These are the one
home of the alarm rules (high > low, deadband >= 0, alarm values that the object can take...):
the database, its services and the device all build them, so an alarm the device would refuse is
never stored. `EventTransition` and `AlarmAcknowledgement` are what the device tells the product.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from bms.bacnet import commanding
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import (
    ANALOG_TYPES,
    BINARY_TYPES,
    MULTISTATE_TYPES,
    ObjectRef,
    PresentValue,
)

Bits3 = tuple[bool, bool, bool]  # BACnetEventTransitionBits: to-offnormal, to-fault, to-normal

TRANSITIONS = ("to-offnormal", "to-fault", "to-normal")
EVENT_STATES = ("normal", "fault", "offnormal", "high-limit", "low-limit")
NOTIFY_TYPES = ("alarm", "event")
# Intrinsic reporting served here. Binary and multi-state outputs report COMMAND_FAILURE
# (feedback value) in the standard, which we do not serve.
REPORTING_TYPES = ANALOG_TYPES | (BINARY_TYPES | MULTISTATE_TYPES) - {
    "binary-output",
    "multi-state-output",
}
MAX_TIME_DELAY = 2**32 - 1
MAX_PRIORITY = 255
MAX_PROCESS_ID = 2**32 - 1


def transition_of(event_state: str) -> str:
    """The transition that leads into `event_state`: "high-limit" -> "to-offnormal"."""
    if event_state == "normal":
        return "to-normal"
    if event_state == "fault":
        return "to-fault"
    return "to-offnormal"


def _bits(value: Any, what: str, length: int = 3) -> tuple[bool, ...]:
    bits = tuple(value)
    if len(bits) != length or not all(isinstance(bit, bool) for bit in bits):
        raise InvalidValueError(f"{what} needs {length} true/false values, got {value!r}")
    return bits


def _non_negative_int(value: Any, what: str, high: int = MAX_TIME_DELAY) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise InvalidValueError(f"{what} must be a whole number from 0 to {high}, got {value!r}")
    return value


@dataclass(frozen=True)
class AlarmSpec:
    """An object's intrinsic reporting and its restored event state.

    Analog objects: a limit that is None is disabled (limit-enable), the other is checked;
    a return to normal needs the value back inside the limit by `deadband`. Binary and
    multi-state objects: `alarm_values` are the values that are off-normal (one for binary).
    `time_delay` (seconds) a condition must hold before the transition; `time_delay_normal`
    for the return to normal (None: the same).
    """

    notification_class: int
    high_limit: float | None = None
    low_limit: float | None = None
    deadband: float = 0.0
    alarm_values: tuple[PresentValue, ...] = ()
    time_delay: int = 0
    time_delay_normal: int | None = None
    event_enable: Bits3 = (True, True, True)
    notify_type: str = "alarm"
    # State restored from an earlier run.
    event_state: str = "normal"
    acked_transitions: Bits3 = (True, True, True)
    event_time_stamps: tuple[datetime | None, datetime | None, datetime | None] = (None, None, None)

    def __post_init__(self) -> None:
        commanding.checked_instance(self.notification_class, "notification class")
        _non_negative_int(self.time_delay, "time delay")
        if self.time_delay_normal is not None:
            _non_negative_int(self.time_delay_normal, "time delay normal")
        object.__setattr__(self, "event_enable", _bits(self.event_enable, "event enable"))
        object.__setattr__(
            self, "acked_transitions", _bits(self.acked_transitions, "acked transitions")
        )
        object.__setattr__(self, "alarm_values", tuple(self.alarm_values))
        stamps = tuple(self.event_time_stamps)
        if len(stamps) != 3:
            raise InvalidValueError("event time stamps needs 3 entries")
        object.__setattr__(self, "event_time_stamps", stamps)
        if self.notify_type not in NOTIFY_TYPES:
            raise InvalidValueError(f"notify type must be alarm or event, not {self.notify_type!r}")
        if self.event_state not in EVENT_STATES:
            raise InvalidValueError(f"unknown event state {self.event_state!r}")
        self._check_limits()

    def _check_limits(self) -> None:
        if self.deadband is None or not self.deadband >= 0:
            raise InvalidValueError(f"the deadband must be 0 or more, got {self.deadband!r}")
        high, low = self.high_limit, self.low_limit
        for what, limit in (("the high limit", high), ("the low limit", low)):
            if limit is not None:
                commanding.coerce_number(limit, what)  # finite, a number
        if high is not None and low is not None and not high > low:
            raise InvalidValueError(f"the high limit ({high}) must be above the low limit ({low})")

    @property
    def limit_enable(self) -> tuple[bool, bool]:
        """BACnetLimitEnable: (low-limit-enable, high-limit-enable)."""
        return (self.low_limit is not None, self.high_limit is not None)

    def for_object(self, object_type: str, state_texts: tuple[str, ...] = ()) -> AlarmSpec:
        """This spec checked against the object it reports on, alarm values normalised
        ("on" -> "active"); InvalidValueError says what does not fit."""
        if object_type not in REPORTING_TYPES:
            raise InvalidValueError(f"{object_type} has no intrinsic alarm reporting here")
        if object_type in ANALOG_TYPES:
            return self._for_analog()
        return self._for_states(object_type, state_texts)

    def _for_analog(self) -> AlarmSpec:
        if self.alarm_values:
            raise InvalidValueError("an analog object alarms on limits, not alarm values")
        if self.high_limit is None and self.low_limit is None:
            raise InvalidValueError("an analog alarm needs a high limit, a low limit or both")
        if self.event_state not in ("normal", "fault", "high-limit", "low-limit"):
            raise InvalidValueError(f"an analog object cannot be in {self.event_state}")
        return self

    def _for_states(self, object_type: str, state_texts: tuple[str, ...]) -> AlarmSpec:
        if self.high_limit is not None or self.low_limit is not None:
            raise InvalidValueError(f"{object_type} alarms on alarm values, not limits")
        if not self.alarm_values:
            raise InvalidValueError(f"{object_type} needs at least one alarm value")
        if object_type in BINARY_TYPES and len(self.alarm_values) != 1:
            raise InvalidValueError("a binary object has exactly one alarm value")
        if self.event_state not in ("normal", "fault", "offnormal"):
            raise InvalidValueError(f"{object_type} cannot be in {self.event_state}")
        values = tuple(
            commanding.coerce_present_value(object_type, value, state_texts=state_texts)
            for value in self.alarm_values
        )
        return dataclasses.replace(self, alarm_values=values)


def _check_address(address: str) -> None:
    host, _, port = address.partition(":")
    try:
        ipaddress.IPv4Address(host)
        if port and not 1 <= int(port) <= 65535:
            raise ValueError(port)
    except ValueError as exc:
        raise InvalidValueError(
            f"a recipient address is an IPv4 address and optional port, not {address!r}"
        ) from exc


@dataclass(frozen=True)
class Destination:
    """One entry of a notification class's recipient list (BACnetDestination).

    The recipient is a device instance (its address found with Who-Is) or an IPv4 address
    with an optional port ("127.0.0.3:47808", "192.168.1.20": port 47808).
    """

    process_id: int
    device: int | None = None
    address: str | None = None
    confirmed: bool = False
    transitions: Bits3 = (True, True, True)
    valid_days: tuple[bool, ...] = (True,) * 7  # Monday first, as BACnet's DaysOfWeek
    from_time: time = time(0, 0)
    to_time: time = time(23, 59, 59, 990000)

    def __post_init__(self) -> None:
        _non_negative_int(self.process_id, "process identifier", MAX_PROCESS_ID)
        if (self.device is None) == (self.address is None):
            raise InvalidValueError("a recipient is a device instance or an address, not both")
        if self.device is not None:
            commanding.checked_instance(self.device, "recipient device")
        if self.address is not None:
            _check_address(self.address)
        object.__setattr__(self, "transitions", _bits(self.transitions, "transitions"))
        object.__setattr__(self, "valid_days", _bits(self.valid_days, "valid days", 7))
        if not self.from_time <= self.to_time:
            raise InvalidValueError("a recipient's from-time must not be after its to-time")

    def takes(self, transition: str, when: datetime) -> bool:
        """Whether this recipient wants `transition` at local time `when`."""
        return (
            self.transitions[TRANSITIONS.index(transition)]
            and self.valid_days[when.weekday()]
            and self.from_time <= when.time() <= self.to_time
        )


@dataclass(frozen=True)
class NotificationClassSpec:
    """A notification class object: priorities and ack-required per transition, recipients."""

    instance: int
    name: str
    description: str = ""
    priorities: tuple[int, int, int] = (100, 100, 200)  # to-offnormal, to-fault, to-normal
    ack_required: Bits3 = (True, True, False)
    recipients: tuple[Destination, ...] = ()

    def __post_init__(self) -> None:
        commanding.checked_instance(self.instance, "notification class")
        if not str(self.name).strip():
            raise InvalidValueError("a notification class needs a name")
        priorities = tuple(self.priorities)
        if len(priorities) != 3:
            raise InvalidValueError("a notification class has 3 priorities")
        for priority in priorities:
            _non_negative_int(priority, "an event priority", MAX_PRIORITY)
        object.__setattr__(self, "priorities", priorities)
        object.__setattr__(self, "ack_required", _bits(self.ack_required, "ack required"))
        object.__setattr__(self, "recipients", tuple(self.recipients))

    def priority_of(self, transition: str) -> int:
        return self.priorities[TRANSITIONS.index(transition)]

    def needs_ack(self, transition: str) -> bool:
        return self.ack_required[TRANSITIONS.index(transition)]


@dataclass(frozen=True)
class EventTransition:
    """A local object changed event state (what the product records)."""

    ref: ObjectRef
    object_name: str
    from_state: str
    to_state: str
    time_stamp: datetime
    event_type: str  # "out-of-range", "change-of-state"
    notification_class: int
    priority: int
    notify_type: str
    ack_required: bool
    message: str
    acked_transitions: Bits3  # after the transition
    event_time_stamps: tuple[datetime | None, datetime | None, datetime | None]

    @property
    def transition(self) -> str:
        return transition_of(self.to_state)


@dataclass(frozen=True)
class AlarmAcknowledgement:
    """A peer acknowledged one transition of a local object (AcknowledgeAlarm)."""

    ref: ObjectRef
    acknowledged_state: str
    transition: str
    event_time_stamp: datetime
    process_id: int
    source: str  # the acknowledgment-source text (who acknowledged)
    acknowledged_at: datetime
    source_address: str
    acked_transitions: Bits3  # after the acknowledgement
