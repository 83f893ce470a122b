"""Event notifications read without bacpypes3's generic decoder (the alarm console's hot path).

Why: at 1,000 notifications a second (bench/alarms.py) py-spy put ~45 % of the worker's event
loop samples in bacpypes3's `APCISequence.decode` of UnconfirmedEventNotification: a TagList of
tag objects, then `Sequence.decode` building an element object per parameter. The parameters
of an event notification (clause 13.8.1) are a short, flat list of context tags, read here
straight from the octets.

How it stays bacpypes3's service: `install()` wraps `APCISequence.decode`. A Confirmed or
UnconfirmedEventNotification whose parameters this module reads cleanly becomes an instance of
a subclass *named like bacpypes3's class* (so the Application dispatches it to the same
`do_...` handler), with bacpypes3's header fields, plus `fast_fields` (plain values read here).
Its bacpypes3 parameters (`apdu.toState`, ...) are decoded by bacpypes3, from the same octets,
the first time anything reads one: a bacpypes3 peer in the same process, a log line. Anything
this reader does not take as it is (a character set other than UTF-8, an unexpected tag, a
length that does not fit, a date-time that is not one) goes to bacpypes3's decode untouched,
so malformed notifications fail exactly as before. tests/bacnet/test_event_decode.py compares
both readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import (
    APCISequence,
    ConfirmedEventNotificationRequest,
    ConfirmedRequestPDU,
    UnconfirmedEventNotificationRequest,
    UnconfirmedRequestPDU,
)
from bacpypes3.basetypes import EventState, EventType, NotifyType
from bacpypes3.primitivedata import ObjectType

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


class _NotRead(Exception):
    """This reader does not take the octets as they are: bacpypes3 decodes them."""


# ---- tags (clause 20.2.1) ---------------------------------------------------------------------

PRIMITIVE, OPENING, CLOSING = 0, 1, 2
APPLICATION_BOOLEAN = 1
APPLICATION_DATE = 10
APPLICATION_TIME = 11


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self) -> tuple[int, bool, int]:
        """(tag number, context class, PRIMITIVE/OPENING/CLOSING) of the next tag."""
        saved = self.pos
        number, context, kind, _ = self.tag()
        self.pos = saved
        return number, context, kind

    def tag(self) -> tuple[int, bool, int, bytes]:
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise _NotRead("no more tags")
        octet = data[pos]
        pos += 1
        number = octet >> 4
        if number == 0x0F:
            number, pos = _octet(data, pos), pos + 1
        context = bool(octet & 0x08)
        lvt = octet & 0x07
        if context and lvt == 6:
            self.pos = pos
            return number, True, OPENING, b""
        if context and lvt == 7:
            self.pos = pos
            return number, True, CLOSING, b""
        if not context and number == APPLICATION_BOOLEAN:  # the value is in the tag itself
            self.pos = pos
            return number, False, PRIMITIVE, bytes([lvt])
        length = lvt
        if lvt == 5:
            length, pos = _octet(data, pos), pos + 1
            if length == 254:
                length, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
            elif length == 255:
                length, pos = int.from_bytes(data[pos : pos + 4], "big"), pos + 4
        if pos + length > len(data):
            raise _NotRead("a tag runs past the end")
        self.pos = pos + length
        return number, context, PRIMITIVE, data[pos : pos + length]

    def context(self, number: int) -> bytes:
        tag_number, context, kind, value = self.tag()
        if (tag_number, context, kind) != (number, True, PRIMITIVE):
            raise _NotRead(f"context tag {number} expected")
        return value

    def unsigned(self, number: int) -> int:
        value = self.context(number)
        if not 1 <= len(value) <= 4:
            raise _NotRead("an unsigned of 1-4 octets expected")
        return int.from_bytes(value, "big")

    def optional(self, number: int) -> bool:
        if self.at_end():
            return False
        tag_number, context, kind = self.peek()
        return (tag_number, context, kind) == (number, True, PRIMITIVE)

    def opening(self, number: int) -> None:
        if self.tag()[:3] != (number, True, OPENING):
            raise _NotRead(f"opening tag {number} expected")

    def closing(self, number: int) -> None:
        if self.tag()[:3] != (number, True, CLOSING):
            raise _NotRead(f"closing tag {number} expected")

    def skip_constructed(self, number: int) -> None:
        """Past the closing tag of the opening tag `number` just read (nested ones counted)."""
        depth = 1
        while depth:
            _, _, kind, _ = self.tag()
            depth += 1 if kind == OPENING else -1 if kind == CLOSING else 0


def _octet(data: bytes, pos: int) -> int:
    if pos >= len(data):
        raise _NotRead("a tag runs past the end")
    return data[pos]


# ---- the service parameters (clause 21: ConfirmedEventNotification-Request) -------------------


def read_event_fields(data: bytes) -> EventFields:
    """The parameters of an event notification; _NotRead if they are not plainly readable."""
    reader = _Reader(data)
    process_id = reader.unsigned(0)
    device = _object_identifier(reader.context(1))
    if device[0] != "device":
        raise _NotRead("initiating-device-identifier is not a device")
    object_type, instance = _object_identifier(reader.context(2))
    date_time = _time_stamp(reader)
    notification_class = reader.unsigned(4)
    priority = reader.unsigned(5)
    event_type = _name(EventType, reader.unsigned(6))
    message = _text(reader.context(7)) if reader.optional(7) else None
    notify_type = _name(NotifyType, reader.unsigned(8))
    ack_required = _boolean(reader.context(9)) if reader.optional(9) else None
    from_state = _name(EventState, reader.unsigned(10)) if reader.optional(10) else None
    to_state = _name(EventState, reader.unsigned(11))
    if not reader.at_end():
        reader.opening(12)  # event-values: not used by the console
        reader.skip_constructed(12)
    if not reader.at_end():
        raise _NotRead("octets after the last parameter")
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


def _object_identifier(value: bytes) -> tuple[str, int]:
    if len(value) != 4:
        raise _NotRead("an object identifier of 4 octets expected")
    number = int.from_bytes(value, "big")
    return _name(ObjectType, number >> 22), number & 0x3FFFFF


def _time_stamp(reader: _Reader) -> tuple[int, int, int, int, int, int, int] | None:
    reader.opening(3)
    number, context, kind, value = reader.tag()
    stamp = None
    if (number, context, kind) == (2, True, OPENING):
        date = _application(reader, APPLICATION_DATE)
        time = _application(reader, APPLICATION_TIME)
        reader.closing(2)
        stamp = (date[0], date[1], date[2], time[0], time[1], time[2], time[3])
    elif (number, context, kind) not in ((0, True, PRIMITIVE), (1, True, PRIMITIVE)):
        raise _NotRead("a time stamp choice expected")
    elif number == 0 and len(value) != 4:
        raise _NotRead("a time of 4 octets expected")
    reader.closing(3)
    return stamp


def _application(reader: _Reader, number: int) -> bytes:
    tag_number, context, kind, value = reader.tag()
    if (tag_number, context, kind) != (number, False, PRIMITIVE) or len(value) != 4:
        raise _NotRead(f"application tag {number} of 4 octets expected")
    return value


def _text(value: bytes) -> str:
    if not value or value[0] != 0:  # other character sets: bacpypes3's decode
        raise _NotRead("a UTF-8 character string expected")
    try:
        return value[1:].decode("utf-8", "strict")
    except UnicodeDecodeError as exc:  # bacpypes3 falls back to latin-1: let it
        raise _NotRead("not UTF-8") from exc


def _boolean(value: bytes) -> bool:
    if len(value) != 1 or value[0] > 1:
        raise _NotRead("a boolean of one octet expected")
    return value[0] == 1


_NAMES: dict[tuple[type, int], str] = {}
NAMES_CACHED = 4096  # enumeration values remembered (a peer cannot grow the cache without end)


def _name(enumeration: type, number: int) -> str:
    """bacpypes3's name of an enumeration value (str(EventState(3)) == "high-limit")."""
    key = (enumeration, number)
    name = _NAMES.get(key)
    if name is None:
        try:
            name = str(enumeration(number))
        except (ValueError, TypeError) as exc:
            raise _NotRead(f"{enumeration.__name__} {number}") from exc
        if len(_NAMES) < NAMES_CACHED:
            _NAMES[key] = name
    return name


# ---- the bacpypes3 side -------------------------------------------------------------------------


class _ReadHere:
    """Mixin of the fast classes: bacpypes3's parameters decoded by bacpypes3 when first read."""

    _elements: dict[str, Any]
    _octets: bytes
    _header: Any

    def _bacpypes3_reading(self) -> Any:
        full = self.__dict__.get("_full")
        if full is None:
            header = self._header
            header.pduData = bytearray(self._octets)
            full = self.__dict__["_full"] = _original_decode(header)
        return full


def _element(name: str) -> Any:
    def read(self: _ReadHere) -> Any:
        return getattr(self._bacpypes3_reading(), name)

    return read


def _fast_class(base: type) -> type:
    namespace: dict[str, Any] = {"__module__": base.__module__, "__qualname__": base.__qualname__}
    for name in base._elements:  # type: ignore[attr-defined]
        namespace[name] = property(_element(name), doc=f"bacpypes3's {name}, read when first used")
    # The same __name__: Application.indication dispatches on "do_" + the class name.
    return type(base.__name__, (_ReadHere, base), namespace)


_FAST_CLASSES: dict[tuple[int, int], Any] = {
    (ConfirmedRequestPDU.pduType, int(ConfirmedEventNotificationRequest.service_choice)): (
        _fast_class(ConfirmedEventNotificationRequest)
    ),
    (UnconfirmedRequestPDU.pduType, int(UnconfirmedEventNotificationRequest.service_choice)): (
        _fast_class(UnconfirmedEventNotificationRequest)
    ),
}
_original_decode = APCISequence.decode
_installed = False


def _decode(cls: type, apdu: Any) -> Any:
    fast_class = _FAST_CLASSES.get((apdu.apduType, apdu.apduService))
    if fast_class is None:
        return _original_decode.__func__(cls, apdu)  # type: ignore[attr-defined]
    octets = bytes(apdu.pduData)
    try:
        fields = read_event_fields(octets)
    except _NotRead:
        return _original_decode.__func__(cls, apdu)  # type: ignore[attr-defined]
    notification = fast_class.__new__(fast_class)
    notification.__dict__.update(_octets=octets, _header=apdu, pduData=bytearray())
    notification.__dict__[FAST_FIELDS] = fields
    notification.update(apdu)  # bacpypes3's header fields: source, invoke id, ...
    return notification


def install() -> None:
    """Read event notifications here from now on, in this process (idempotent)."""
    global _installed
    if not _installed:
        APCISequence.decode = classmethod(_decode)  # type: ignore[assignment, method-assign]
        _installed = True


def fast_fields(apdu: Any) -> EventFields | None:
    """The EventFields of a notification read here; None for one bacpypes3 decoded."""
    fields = apdu.__dict__.get(FAST_FIELDS) if hasattr(apdu, "__dict__") else None
    return fields if isinstance(fields, EventFields) else None
