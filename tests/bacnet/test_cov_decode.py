"""cov_decode reads COV notifications from their octets: the same CovNotification as bacpypes3's
decoder and cov.cov_notification give, bacpypes3's parameters still there for whoever reads
them, and anything unusual left to bacpypes3 (so malformed ones fail as before)."""

from __future__ import annotations

from typing import Any

import pytest
from bacpypes3.apdu import (
    APDU,
    APCISequence,
    ConfirmedCOVNotificationRequest,
    UnconfirmedCOVNotificationRequest,
)
from bacpypes3.basetypes import BinaryPV, PropertyValue, StatusFlags
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.pdu import PDU, Address
from bacpypes3.primitivedata import (
    CharacterString,
    Double,
    ObjectIdentifier,
    ObjectType,
    Real,
    Unsigned,
)

from bms.bacnet import cov_decode, fast_decode
from bms.bacnet.cov import cov_notification
from bms.bacnet.types import ObjectRef

SOURCE = Address("127.0.0.5:47808")


def value(prop: str, element: Any, **extra: Any) -> PropertyValue:
    return PropertyValue(propertyIdentifier=prop, value=AnyValue(element), **extra)


def notification(
    ref: ObjectRef, values: list[PropertyValue], confirmed: bool = False, **changes: Any
) -> Any:
    fields: dict[str, Any] = {
        "subscriberProcessIdentifier": 4_000_000,
        "initiatingDeviceIdentifier": ObjectIdentifier(("device", 1001)),
        "monitoredObjectIdentifier": ObjectIdentifier((ref.object_type, ref.instance)),
        "timeRemaining": 117,
        "listOfValues": values,
    }
    fields.update(changes)
    cls = ConfirmedCOVNotificationRequest if confirmed else UnconfirmedCOVNotificationRequest
    request = cls(destination=Address("127.0.0.1:47808"), **fields)
    if confirmed:  # what the client's state machine sets before it sends one
        request.apduInvokeID = 9
        request.apduSeg = request.apduMor = request.apduSA = False
        request.apduMaxSegs, request.apduMaxResp = 0, 5
    return request


def octets(request: Any) -> bytes:
    return bytes(request.encode().encode().pduData)


def received(data: bytes) -> Any:
    """The APDU as the application service access point hands it to APCISequence.decode."""
    return APDU.decode(PDU(bytearray(data), source=SOURCE))


def both_readings(request: Any) -> tuple[Any, Any]:
    """The request's octets read with cov_decode installed, and by the decode it wraps."""
    data = octets(request)
    cov_decode.install()
    return APCISequence.decode(received(data)), fast_decode.bacpypes3_decode(received(data))


AI = ObjectRef("analog-input", 3)
FLAGS = value("status-flags", StatusFlags([0, 1, 0, 1]))
CASES = {
    "analog": (AI, [value("present-value", Real(1001.25)), FLAGS]),
    "analog float32": (ObjectRef("analog-value", 9), [value("present-value", Real(0.1)), FLAGS]),
    "negative": (ObjectRef("analog-output", 1), [value("present-value", Real(-273.5))]),
    "binary": (ObjectRef("binary-input", 2), [value("present-value", BinaryPV("active")), FLAGS]),
    "binary inactive": (ObjectRef("binary-value", 4), [value("present-value", BinaryPV(0))]),
    "multi-state": (ObjectRef("multi-state-value", 5), [value("present-value", Unsigned(3))]),
    "large process id and instance": (
        ObjectRef("analog-input", 4_194_302),
        [value("present-value", Real(5.0))],
    ),
    "flags only": (AI, [FLAGS]),
    "no values": (AI, []),
    "priority given": (AI, [value("present-value", Real(2.0), priority=8)]),
    "unknown property skipped": (
        AI,
        [value("present-value", Real(2.0)), value("description", CharacterString("x"))],
    ),
}


@pytest.mark.parametrize("confirmed", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_the_same_notification_as_bacpypes3s_reading(case, confirmed):
    ref, values = CASES[case]
    fast, slow = both_readings(notification(ref, values, confirmed))
    if case == "unknown property skipped":
        # description is a known property of the object, but not one we read here: bacpypes3
        fast_fields = cov_decode.fast_fields(fast)
        assert fast_fields is None or "description" in fast_fields.values
    assert type(fast).__name__ == type(slow).__name__  # the same do_ handler
    assert cov_decode.fast_fields(slow) is None
    assert cov_notification(fast, ref, confirmed) == cov_notification(slow, ref, confirmed)
    # bacpypes3's parameters are still there, decoded by bacpypes3 when first read
    assert fast.subscriberProcessIdentifier == slow.subscriberProcessIdentifier
    assert fast.timeRemaining == slow.timeRemaining
    assert (fast.pduSource, fast.apduType) == (slow.pduSource, slow.apduType)
    if confirmed:
        assert fast.apduInvokeID == slow.apduInvokeID == 9


def test_the_usual_notifications_are_read_here():
    for case in ("analog", "binary", "multi-state", "flags only", "priority given"):
        ref, values = CASES[case]
        fast, _slow = both_readings(notification(ref, values))
        fields = cov_decode.fast_fields(fast)
        assert fields is not None, case
        assert (fields.process_id, fields.device_instance, fields.ref) == (4_000_000, 1001, ref)
    fast, _slow = both_readings(notification(*CASES["analog"]))
    assert cov_decode.fast_fields(fast).values == {
        "present-value": 1001.25,
        "status-flags": (False, True, False, True),
    }


@pytest.mark.parametrize(
    "values",
    [
        [value("present-value", Double(1.5))],  # a type the property does not have
        [value("present-value", CharacterString("21.5"))],
        [value("priority-array", Unsigned(1), propertyArrayIndex=1)],
    ],
)
def test_anything_unusual_is_left_to_bacpypes3(values):
    fast, slow = both_readings(notification(AI, values))
    assert cov_decode.fast_fields(fast) is None
    assert type(fast) is type(slow)


def test_truncated_octets_fail_as_bacpypes3s_do():
    data = octets(notification(*CASES["analog"]))
    cov_decode.install()
    for cut in range(1, len(data) - 1):
        short = data[:cut]
        try:
            expected: Any = fast_decode.bacpypes3_decode(received(short))
        except Exception as exc:  # bacpypes3's own failure, any kind
            with pytest.raises(type(exc)):
                APCISequence.decode(received(short))
            continue
        got = APCISequence.decode(received(short))
        assert cov_decode.fast_fields(got) is None
        assert type(got) is type(expected)


def test_a_non_device_initiator_is_left_to_bacpypes3():
    request = notification(
        *CASES["analog"], initiatingDeviceIdentifier=ObjectIdentifier(("analog-input", 1))
    )
    fast, _slow = both_readings(request)
    assert cov_decode.fast_fields(fast) is None


def test_an_unnamed_object_type_value_is_the_number_bacpypes3_gives():
    """ObjectType 72 has no name: an identifier's type is "72", an object-type value 72 (as
    cov_notification gives it), whichever of the two was read first."""
    proprietary = ObjectIdentifier((72, 5))
    both_readings(notification(AI, [FLAGS], monitoredObjectIdentifier=proprietary))  # "72" first
    device = ObjectRef("device", 1001)
    fast, slow = both_readings(notification(device, [value("object-type", ObjectType(72))]))
    assert cov_decode.fast_fields(fast).values == {"object-type": 72}
    assert cov_notification(fast, device, False) == cov_notification(slow, device, False)
