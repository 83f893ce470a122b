"""Event notifications read without bacpypes3's generic decoder (the alarm console's hot path).

Why: at 1,000 notifications a second (bench/alarms.py) py-spy put ~45 % of the worker's event
loop samples in bacpypes3's `APCISequence.decode` of UnconfirmedEventNotification: a TagList of
tag objects, then `Sequence.decode` building an element object per parameter. The parameters
of an event notification (clause 13.8.1) are a short, flat list of context tags, read here
straight from the octets.

How it stays bacpypes3's service: `install()` hands `read_event_fields` to
bms.bacnet.fast_decode (the tag reader and the `APCISequence.decode` hook it shares with
cov_decode). A Confirmed or UnconfirmedEventNotification whose parameters this module reads
cleanly becomes an instance of a subclass *named like bacpypes3's class* (so the Application
dispatches it to the same `do_...` handler), with bacpypes3's header fields, plus `fast_fields`
(plain values read here). Its bacpypes3 parameters (`apdu.toState`, ...) are decoded by
bacpypes3, from the same octets, the first time anything reads one: a bacpypes3 peer in the same
process, a log line. Anything this reader does not take as it is (a character set other than
UTF-8, an unexpected tag, a length that does not fit, a date-time that is not one) goes to
bacpypes3's decode untouched, so malformed notifications fail exactly as before.
tests/bacnet/test_event_decode.py compares both readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import ConfirmedEventNotificationRequest, UnconfirmedEventNotificationRequest
from bacpypes3.basetypes import EventState, EventType, NotifyType

from bms.bacnet import fast_decode
from bms.bacnet.fast_decode import (
    APPLICATION_DATE,
    APPLICATION_TIME,
    CLOSING,
    OPENING,
    PRIMITIVE,
    NotRead,
    TagReader,
    enum_name,
    object_identifier,
)

FAST_FIELDS = "fast_fields"  # the attribute carrying EventFields on a notification read here


@dataclass(frozen=True)
class EventFields:
    """An event notification's parameters as plain values (names as bacpypes3 prints them)."""

    process_id: int
    device_instance: int
    object_type: str
    instance: int
    # (year, month, day, hour, minute, second, hundredths) of a date-time stamp, or None for a
    # time or sequence-number stamp (event_client treats both as "now", as for bacpypes3's).
    date_time: tuple[int, int, int, int, int, int, int] | None
    notification_class: int
    priority: int
    event_type: str
    message: str | None
    notify_type: str
    ack_required: bool | None
    from_state: str | None
    to_state: str


# ---- the service parameters (clause 21: ConfirmedEventNotification-Request) -------------------


def read_event_fields(data: bytes) -> EventFields:
    """The parameters of an event notification; NotRead if they are not plainly readable."""
    reader = TagReader(data)
    process_id = reader.unsigned(0)
    device = object_identifier(reader.context(1))
    if device[0] != "device":
        raise NotRead("initiating-device-identifier is not a device")
    object_type, instance = object_identifier(reader.context(2))
    date_time = _time_stamp(reader)
    notification_class = reader.unsigned(4)
    priority = reader.unsigned(5)
    event_type = enum_name(EventType, reader.unsigned(6))
    message = _text(reader.context(7)) if reader.optional(7) else None
    notify_type = enum_name(NotifyType, reader.unsigned(8))
    ack_required = _boolean(reader.context(9)) if reader.optional(9) else None
    from_state = enum_name(EventState, reader.unsigned(10)) if reader.optional(10) else None
    to_state = enum_name(EventState, reader.unsigned(11))
    if not reader.at_end():
        reader.expect(12, OPENING)  # event-values: not used by the console
        reader.skip_constructed()
    if not reader.at_end():
        raise NotRead("octets after the last parameter")
    return EventFields(
        process_id=process_id,
        device_instance=device[1],
        object_type=object_type,
        instance=instance,
        date_time=date_time,
        notification_class=notification_class,
        priority=priority,
        event_type=event_type,
        message=message,
        notify_type=notify_type,
        ack_required=ack_required,
        from_state=from_state,
        to_state=to_state,
    )


def _time_stamp(reader: TagReader) -> tuple[int, int, int, int, int, int, int] | None:
    reader.expect(3, OPENING)
    number, context, kind, value = reader.tag()
    stamp = None
    if (number, context, kind) == (2, True, OPENING):
        date = _application(reader, APPLICATION_DATE)
        time = _application(reader, APPLICATION_TIME)
        reader.expect(2, CLOSING)
        stamp = (date[0], date[1], date[2], time[0], time[1], time[2], time[3])
    elif (number, context, kind) not in ((0, True, PRIMITIVE), (1, True, PRIMITIVE)):
        raise NotRead("a time stamp choice expected")
    elif number == 0 and len(value) != 4:
        raise NotRead("a time of 4 octets expected")
    reader.expect(3, CLOSING)
    return stamp


def _application(reader: TagReader, number: int) -> bytes:
    tag_number, context, kind, value = reader.tag()
    if (tag_number, context, kind) != (number, False, PRIMITIVE) or len(value) != 4:
        raise NotRead(f"application tag {number} of 4 octets expected")
    return value


def _text(value: bytes) -> str:
    if not value or value[0] != 0:  # other character sets: bacpypes3's decode
        raise NotRead("a UTF-8 character string expected")
    try:
        return value[1:].decode("utf-8", "strict")
    except UnicodeDecodeError as exc:  # bacpypes3 falls back to latin-1: let it
        raise NotRead("not UTF-8") from exc


def _boolean(value: bytes) -> bool:
    if len(value) != 1 or value[0] > 1:
        raise NotRead("a boolean of one octet expected")
    return value[0] == 1


def install() -> None:
    """Read event notifications here from now on, in this process (idempotent)."""
    fast_decode.install(
        read_event_fields,
        FAST_FIELDS,
        ConfirmedEventNotificationRequest,
        UnconfirmedEventNotificationRequest,
    )


def fast_fields(apdu: Any) -> EventFields | None:
    """The EventFields of a notification read here; None for one bacpypes3 decoded."""
    fields = apdu.__dict__.get(FAST_FIELDS) if hasattr(apdu, "__dict__") else None
    return fields if isinstance(fields, EventFields) else None
