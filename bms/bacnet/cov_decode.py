"""COV notifications read without bacpypes3's generic decoder (the monitoring service's hot path).

Why: at 200 COV notifications a second (bench/cov.py) py-spy put ~22 % of the worker's busy
event-loop samples in bacpypes3's `APCISequence.decode` and the cast of each value
(`cov_notification`): a TagList of tag objects, a Sequence per parameter, an Any per value
cast again to the property's type. The parameters of a COV notification (clause 13.1) are a
short, flat list of context tags and, per value, one application-tagged primitive: read here
straight from the octets, with the property's datatype deciding what a value may be.

How it stays bacpypes3's service: `install()` hands `read_cov_fields` to bms.bacnet.fast_decode
(the tag reader and the `APCISequence.decode` hook it shares with event_decode). A Confirmed or
UnconfirmedCOVNotification read cleanly becomes an instance of a subclass *named like
bacpypes3's class* (the Application dispatches it to the same `do_...` handler: our CovRouter,
or bacpypes3's original for a subscription not ours), with bacpypes3's header fields and
`cov_fields` (CovFields, read here). Its bacpypes3 parameters are decoded by bacpypes3, from the
same octets, the first time anything reads one. Anything this reader does not take as it is (an
array index, a value that is not one primitive of the type the property has, a Double, a tag
that does not fit: StrictTagReader) goes to bacpypes3's decode untouched, so unusual and
malformed notifications are read (or fail) exactly as before. The values are those
`bms.bacnet.cov.cov_notification` would give: tests/bacnet/test_cov_decode.py compares both.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import ConfirmedCOVNotificationRequest, UnconfirmedCOVNotificationRequest
from bacpypes3.basetypes import StatusFlags
from bacpypes3.primitivedata import (
    Double,
    Enumerated,
    PropertyIdentifier,
    Real,
    Unsigned,
)

from bms.bacnet import fast_decode
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.fast_decode import (
    APPLICATION_BIT_STRING,
    APPLICATION_ENUMERATED,
    APPLICATION_REAL,
    APPLICATION_UNSIGNED,
    CACHED,
    CLOSING,
    OPENING,
    PRIMITIVE,
    NotRead,
    StrictTagReader,
    enum_name,
    object_identifier,
    remembered,
    unsigned,
)
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import property_datatype, to_python

FAST_FIELDS = "cov_fields"  # the attribute carrying CovFields on a notification read here


@dataclass(frozen=True)
class CovFields:
    """A COV notification's parameters as plain values (property names as bacpypes3 prints
    them; values as bms.bacnet.values.to_python gives them)."""

    process_id: int
    device_instance: int
    ref: ObjectRef
    time_remaining: int
    values: dict[str, Any]


def read_cov_fields(data: bytes) -> CovFields:
    """The parameters of a COV notification; NotRead if they are not plainly readable."""
    reader = StrictTagReader(data)
    process_id = reader.unsigned(0)
    device_type, device_instance = object_identifier(reader.context(1))
    if device_type != "device":
        raise NotRead("initiating-device-identifier is not a device")
    ref = ObjectRef(*object_identifier(reader.context(2)))
    time_remaining = reader.unsigned(3)
    reader.expect(4, OPENING)
    values: dict[str, Any] = {}
    while reader.peek() != (4, True, CLOSING):
        name, value = _property_value(reader, ref.object_type)
        if name is not None:
            values[name] = value
    reader.expect(4, CLOSING)
    if not reader.at_end():
        raise NotRead("octets after the last parameter")
    return CovFields(process_id, device_instance, ref, time_remaining, values)


def try_read_cov_fields(data: bytes) -> CovFields | None:
    """read_cov_fields, or None where bacpypes3 must read them (bms.bacnet.cov_datagram)."""
    try:
        return read_cov_fields(data)
    except NotRead:
        return None


def _property_value(reader: StrictTagReader, object_type: str) -> tuple[str | None, Any]:
    """One BACnetPropertyValue: (name, value), or (None, None) for a property whose type we do
    not know (cov_notification skips those too)."""
    name = enum_name(PropertyIdentifier, reader.unsigned(0))
    if reader.peek() == (1, True, PRIMITIVE):
        raise NotRead("an array index")
    reader.expect(2, OPENING)
    number, context, kind, octets = reader.tag()
    if context or kind != PRIMITIVE:
        raise NotRead("a value that is not one application-tagged primitive")
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
            raise NotRead("a real of 4 octets expected")
        return struct.unpack(">f", octets)[0]
    if number == APPLICATION_UNSIGNED and issubclass(datatype, Unsigned):
        return unsigned(octets)
    if number == APPLICATION_ENUMERATED and issubclass(datatype, Enumerated):
        return _enumerated(datatype, unsigned(octets))
    if number == APPLICATION_BIT_STRING and datatype is StatusFlags:
        return _status_flags(octets)
    raise NotRead(f"application tag {number} for {datatype.__name__}")


def _status_flags(octets: bytes) -> tuple[bool, bool, bool, bool]:
    """As values.status_flags_to_python: the first four bits, missing ones False."""
    if not octets or octets[0] > 7 or (len(octets) == 1 and octets[0]):
        raise NotRead("a bit string expected")
    count = 8 * (len(octets) - 1) - octets[0]
    bits = [bool(octets[1 + i // 8] >> (7 - i % 8) & 1) for i in range(count)] + [False] * 4
    return bits[0], bits[1], bits[2], bits[3]


_ENUMERATED: dict[tuple[type, int], Any] = {}  # to_python of enumeration values


def _enumerated(datatype: type, number: int) -> Any:
    known = _ENUMERATED.get((datatype, number))
    return known if known is not None else remembered(_ENUMERATED, datatype, number, to_python)


def install() -> None:
    """Read COV notifications here from now on, in this process (idempotent)."""
    fast_decode.install(
        read_cov_fields,
        FAST_FIELDS,
        ConfirmedCOVNotificationRequest,
        UnconfirmedCOVNotificationRequest,
    )


def fast_fields(apdu: Any) -> CovFields | None:
    """The CovFields of a notification read here; None for one bacpypes3 decoded."""
    fields = apdu.__dict__.get(FAST_FIELDS) if hasattr(apdu, "__dict__") else None
    return fields if isinstance(fields, CovFields) else None
