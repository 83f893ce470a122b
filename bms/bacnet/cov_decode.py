"""COV notifications read without bacpypes3's generic decoder (the monitoring service's hot path).

Why: at 200 COV notifications a second (bench/cov.py) py-spy put ~22 % of the worker's busy
event-loop samples in bacpypes3's `APCISequence.decode` and the cast of each value
(`cov_notification`): a TagList of tag objects, a Sequence per parameter, an Any per value
cast again to the property's type. The parameters of a COV notification (clause 13.1) are a
short, flat list of context tags and, per value, one application-tagged primitive: read here
straight from the octets, with the property's datatype deciding what a value may be.

How it stays bacpypes3's service: `install()` wraps `APCISequence.decode` (after installing
bms.bacnet.event_decode's wrapper, which it then calls for everything else, so the two compose
in either order of use). A Confirmed or UnconfirmedCOVNotification read cleanly becomes an
instance of a subclass *named like bacpypes3's class* (the Application dispatches it to the same
`do_...` handler: our CovRouter, or bacpypes3's original for a subscription not ours), with
bacpypes3's header fields and `cov_fields` (CovFields, read here). Its bacpypes3 parameters are
decoded by bacpypes3, from the same octets, the first time anything reads one. Anything this
reader does not take as it is (an array index, a value that is not one primitive of the type the
property has, a Double, a tag that does not fit) goes to bacpypes3's decode untouched, so
unusual and malformed notifications are read (or fail) exactly as before. The values are those
`bms.bacnet.cov.cov_notification` would give: tests/bacnet/test_cov_decode.py compares both.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import (
    APCISequence,
    ConfirmedCOVNotificationRequest,
    ConfirmedRequestPDU,
    UnconfirmedCOVNotificationRequest,
    UnconfirmedRequestPDU,
)
from bacpypes3.basetypes import StatusFlags
from bacpypes3.primitivedata import (
    Double,
    Enumerated,
    ObjectType,
    PropertyIdentifier,
    Real,
    Unsigned,
)

from bms.bacnet import event_decode
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import property_datatype, to_python

FAST_FIELDS = "cov_fields"  # the attribute carrying CovFields on a notification read here

APPLICATION_UNSIGNED = 2
APPLICATION_REAL = 4
APPLICATION_BIT_STRING = 8
APPLICATION_ENUMERATED = 9


@dataclass(frozen=True)
class CovFields:
    """A COV notification's parameters as plain values (property names as bacpypes3 prints
    them; values as bms.bacnet.values.to_python gives them)."""

    process_id: int
    device_instance: int
    ref: ObjectRef
    time_remaining: int
    values: dict[str, Any]


class _NotRead(Exception):
    """This reader does not take the octets as they are: bacpypes3 decodes them."""


PRIMITIVE, OPENING, CLOSING = 0, 1, 2


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def tag(self) -> tuple[int, bool, int, bytes]:
        """(tag number, context class, PRIMITIVE/OPENING/CLOSING, value octets)."""
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise _NotRead("no more tags")
        octet = data[pos]
        pos += 1
        number = octet >> 4
        if number == 0x0F:
            raise _NotRead("an extended tag number")  # none in a COV notification
        context = bool(octet & 0x08)
        lvt = octet & 0x07
        if context and lvt == 6:
            self.pos = pos
            return number, True, OPENING, b""
        if context and lvt == 7:
            self.pos = pos
            return number, True, CLOSING, b""
        if not context and number == 1:
            raise _NotRead("a boolean")  # its value is in the tag: not read here
        if lvt == 5:
            raise _NotRead("a long value")  # none of the values read here is
        if pos + lvt > len(data):
            raise _NotRead("a tag runs past the end")
        self.pos = pos + lvt
        return number, context, PRIMITIVE, data[pos : pos + lvt]

    def peek(self) -> tuple[int, bool, int]:
        saved = self.pos
        number, context, kind, _ = self.tag()
        self.pos = saved
        return number, context, kind

    def context(self, number: int) -> bytes:
        tag_number, context, kind, value = self.tag()
        if (tag_number, context, kind) != (number, True, PRIMITIVE):
            raise _NotRead(f"context tag {number} expected")
        return value

    def unsigned(self, number: int) -> int:
        return _unsigned(self.context(number))

    def expect(self, number: int, kind: int) -> None:
        if self.tag()[:3] != (number, True, kind):
            raise _NotRead(f"tag {number} expected")


def _unsigned(value: bytes) -> int:
    if not 1 <= len(value) <= 4:
        raise _NotRead("an unsigned of 1-4 octets expected")
    return int.from_bytes(value, "big")


def read_cov_fields(data: bytes) -> CovFields:
    """The parameters of a COV notification; _NotRead if they are not plainly readable."""
    reader = _Reader(data)
    process_id = reader.unsigned(0)
    device_type, device_instance = _object_identifier(reader.context(1))
    if device_type != "device":
        raise _NotRead("initiating-device-identifier is not a device")
    ref = ObjectRef(*_object_identifier(reader.context(2)))
    time_remaining = reader.unsigned(3)
    reader.expect(4, OPENING)
    values: dict[str, Any] = {}
    while reader.peek() != (4, True, CLOSING):
        name, value = _property_value(reader, ref.object_type)
        if name is not None:
            values[name] = value
    reader.expect(4, CLOSING)
    if not reader.at_end():
        raise _NotRead("octets after the last parameter")
    return CovFields(process_id, device_instance, ref, time_remaining, values)


def try_read_cov_fields(data: bytes) -> CovFields | None:
    """read_cov_fields, or None where bacpypes3 must read them (bms.bacnet.cov_datagram)."""
    try:
        return read_cov_fields(data)
    except _NotRead:
        return None


def _property_value(reader: _Reader, object_type: str) -> tuple[str | None, Any]:
    """One BACnetPropertyValue: (name, value), or (None, None) for a property whose type we do
    not know (cov_notification skips those too)."""
    name = _name(PropertyIdentifier, reader.unsigned(0))
    if reader.peek() == (1, True, PRIMITIVE):
        raise _NotRead("an array index")
    reader.expect(2, OPENING)
    number, context, kind, octets = reader.tag()
    if context or kind != PRIMITIVE:
        raise _NotRead("a value that is not one application-tagged primitive")
    reader.expect(2, CLOSING)
    if reader.peek() == (3, True, PRIMITIVE):
        reader.tag()  # priority: not part of the notification's values
    datatype = _datatype(object_type, name)
    if datatype is None:
        return None, None
    return name, _value(datatype, number, octets)


_DATATYPES: dict[tuple[str, str], type | None] = {}  # property_datatype's answers (standard)


def _datatype(object_type: str, name: str) -> type | None:
    """property_datatype, remembered (py-spy at 1,000/s: 4 % of the loop was spent asking it
    again for the same two properties); None for a property we do not know."""
    key = (object_type, name)
    if key in _DATATYPES:
        return _DATATYPES[key]
    try:
        datatype: type | None = property_datatype(object_type, name, None)
    except InvalidValueError:
        datatype = None
    if len(_DATATYPES) < CACHED:
        _DATATYPES[key] = datatype
    return datatype


def _value(datatype: type, number: int, octets: bytes) -> Any:
    if (
        number == APPLICATION_REAL
        and issubclass(datatype, Real)
        and not issubclass(datatype, Double)
    ):
        if len(octets) != 4:
            raise _NotRead("a real of 4 octets expected")
        return struct.unpack(">f", octets)[0]
    if number == APPLICATION_UNSIGNED and issubclass(datatype, Unsigned):
        return _unsigned(octets)
    if number == APPLICATION_ENUMERATED and issubclass(datatype, Enumerated):
        return _enumerated(datatype, _unsigned(octets))
    if number == APPLICATION_BIT_STRING and datatype is StatusFlags:
        return _status_flags(octets)
    raise _NotRead(f"application tag {number} for {datatype.__name__}")


def _status_flags(octets: bytes) -> tuple[bool, bool, bool, bool]:
    """As values.status_flags_to_python: the first four bits, missing ones False."""
    if not octets or octets[0] > 7 or (len(octets) == 1 and octets[0]):
        raise _NotRead("a bit string expected")
    count = 8 * (len(octets) - 1) - octets[0]
    bits = [bool(octets[1 + i // 8] >> (7 - i % 8) & 1) for i in range(count)] + [False] * 4
    return bits[0], bits[1], bits[2], bits[3]


def _object_identifier(value: bytes) -> tuple[str, int]:
    if len(value) != 4:
        raise _NotRead("an object identifier of 4 octets expected")
    number = int.from_bytes(value, "big")
    return _name(ObjectType, number >> 22), number & 0x3FFFFF


_CACHE: dict[tuple[type, int], Any] = {}
CACHED = 4096  # enumeration values remembered (a peer cannot grow the cache without end)


def _name(enumeration: type, number: int) -> str:
    """bacpypes3's name of an enumeration value (str(PropertyIdentifier(85)) == ...)."""
    return str(_cached(enumeration, number, str))


def _enumerated(datatype: type, number: int) -> Any:
    return _cached(datatype, number, to_python)


def _cached(datatype: type, number: int, convert: Any) -> Any:
    key = (datatype, number)
    if key in _CACHE:
        return _CACHE[key]
    try:
        value = convert(datatype(number))
    except (ValueError, TypeError) as exc:
        raise _NotRead(f"{datatype.__name__} {number}") from exc
    if len(_CACHE) < CACHED:
        _CACHE[key] = value
    return value


# ---- the bacpypes3 side (as in event_decode) ------------------------------------------------


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
            full = self.__dict__["_full"] = _next_decode(APCISequence, header)
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
    (ConfirmedRequestPDU.pduType, int(ConfirmedCOVNotificationRequest.service_choice)): (
        _fast_class(ConfirmedCOVNotificationRequest)
    ),
    (UnconfirmedRequestPDU.pduType, int(UnconfirmedCOVNotificationRequest.service_choice)): (
        _fast_class(UnconfirmedCOVNotificationRequest)
    ),
}
_next: Any = None  # the decode this one wraps (event_decode's), set by install()


def _next_decode(cls: type, apdu: Any) -> Any:
    return _next.__func__(cls, apdu)


def _decode(cls: type, apdu: Any) -> Any:
    fast_class = _FAST_CLASSES.get((apdu.apduType, apdu.apduService))
    if fast_class is None:
        return _next_decode(cls, apdu)
    octets = bytes(apdu.pduData)
    try:
        fields = read_cov_fields(octets)
    except _NotRead:
        return _next_decode(cls, apdu)
    notification = fast_class.__new__(fast_class)
    notification.__dict__.update(_octets=octets, _header=apdu, pduData=bytearray())
    notification.__dict__[FAST_FIELDS] = fields
    notification.update(apdu)  # bacpypes3's header fields: source, invoke id, ...
    return notification


def install() -> None:
    """Read COV notifications here from now on, in this process (idempotent)."""
    global _next
    if _next is None:
        event_decode.install()  # first, so it never replaces this wrapper afterwards
        _next = APCISequence.__dict__["decode"]
        APCISequence.decode = classmethod(_decode)  # type: ignore[assignment, method-assign]


def fast_fields(apdu: Any) -> CovFields | None:
    """The CovFields of a notification read here; None for one bacpypes3 decoded."""
    fields = apdu.__dict__.get(FAST_FIELDS) if hasattr(apdu, "__dict__") else None
    return fields if isinstance(fields, CovFields) else None
