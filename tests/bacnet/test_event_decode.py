"""event_decode reads event notifications from their octets: the same RemoteEvent as bacpypes3's
decoder gives, bacpypes3's parameters still there for whoever reads them, and anything unusual
left to bacpypes3 (so malformed ones fail as before)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from bacpypes3.apdu import (
    APDU,
    APCISequence,
    ConfirmedEventNotificationRequest,
    UnconfirmedEventNotificationRequest,
)
from bacpypes3.basetypes import (
    DateTime,
    EventState,
    EventType,
    NotificationParametersOutOfRange,
    NotifyType,
    StatusFlags,
    TimeStamp,
)
from bacpypes3.pdu import PDU, Address
from bacpypes3.primitivedata import Date, ObjectIdentifier, Time

from bms.bacnet import event_decode, fast_decode
from bms.bacnet.event_client import MalformedEvent, RemoteEvent, remote_event

SOURCE = Address("127.0.0.5:47808")


def notification(confirmed: bool = False, **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "processIdentifier": 1,
        "initiatingDeviceIdentifier": ObjectIdentifier(("device", 7001)),
        "eventObjectIdentifier": ObjectIdentifier(("analog-input", 3)),
        "timeStamp": TimeStamp(
            dateTime=DateTime(date=Date((126, 12, 7, 1)), time=Time((0, 30, 5, 42)))
        ),
        "notificationClass": 5,
        "priority": 100,
        "eventType": EventType("outOfRange"),
        "messageText": "42 1796000000.123456",
        "notifyType": NotifyType("alarm"),
        "ackRequired": True,
        "fromState": EventState("normal"),
        "toState": EventState("highLimit"),
    }
    fields.update(changes)
    fields = {name: value for name, value in fields.items() if value is not None}
    cls = ConfirmedEventNotificationRequest if confirmed else UnconfirmedEventNotificationRequest
    request = cls(destination=Address("127.0.0.1:47808"), **fields)
    if confirmed:  # what the client's state machine sets before it sends one
        request.apduInvokeID = 7
        request.apduSeg = request.apduMor = request.apduSA = False
        request.apduMaxSegs, request.apduMaxResp = 0, 5
    return request


def octets(request: Any) -> bytes:
    """The APDU's octets as they travel."""
    return bytes(request.encode().encode().pduData)


def received(data: bytes) -> Any:
    """The APDU as the application service access point hands it to APCISequence.decode (a new
    one each time: decoding consumes its data)."""
    return APDU.decode(PDU(bytearray(data), source=SOURCE))


def both_readings(data: bytes | Any) -> tuple[Any, Any]:
    """`data` (octets or a request) read by event_decode and by bacpypes3 alone."""
    data = data if isinstance(data, bytes) else octets(data)
    event_decode.install()
    return APCISequence.decode(received(data)), fast_decode.bacpypes3_decode(received(data))


def same_event(fast: RemoteEvent, plain: RemoteEvent, stamped: bool = True) -> None:
    if stamped:
        assert fast == plain
    else:  # no date-time stamp: both say "now", a few microseconds apart
        assert dataclasses.replace(fast, time_stamp=plain.time_stamp) == plain
        assert abs((fast.time_stamp - plain.time_stamp).total_seconds()) < 1


OUT_OF_RANGE_VALUES = NotificationParametersOutOfRange(
    exceedingValue=35.0,
    statusFlags=StatusFlags([1, 0, 0, 0]),
    deadband=1.0,
    exceededLimit=30.0,
)

CASES = {
    "raise": {},
    "return, no ack": {
        "fromState": EventState("highLimit"),
        "toState": EventState("normal"),
        "ackRequired": False,
        "priority": 200,
    },
    "no message, no ack-required, no from-state": {
        "messageText": None,
        "ackRequired": None,
        "fromState": None,
    },
    "UTF-8 message": {"messageText": "Température > 30 °C ✓"},
    "long message": {"messageText": "x" * 300},
    "large numbers": {
        "processIdentifier": 4_294_967_295,
        "initiatingDeviceIdentifier": ObjectIdentifier(("device", 4_194_302)),
        "eventObjectIdentifier": ObjectIdentifier(("multi-state-value", 123_456)),
        "notificationClass": 65_535,
        "priority": 255,
    },
    "change of state, event": {
        "eventType": EventType("changeOfState"),
        "notifyType": NotifyType("event"),
        "toState": EventState("offnormal"),
    },
    "ack notification": {"notifyType": NotifyType("ackNotification")},
    "event values": {"eventValues": None},  # replaced below (needs the choice)
}


@pytest.mark.parametrize("confirmed", [False, True], ids=["unconfirmed", "confirmed"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_reading_is_bacpypes3s(case: str, confirmed: bool) -> None:
    changes = dict(CASES[case])
    request = notification(confirmed, **changes)
    if case == "event values":
        from bacpypes3.basetypes import NotificationParameters

        request.eventValues = NotificationParameters(outOfRange=OUT_OF_RANGE_VALUES)
    fast, plain = both_readings(request)
    assert event_decode.fast_fields(fast) is not None, "read here, not by bacpypes3"
    assert event_decode.fast_fields(plain) is None
    assert type(fast).__name__ == type(plain).__name__  # the Application's do_... dispatch
    assert isinstance(fast, type(plain))
    same_event(remote_event(fast, confirmed=confirmed), remote_event(plain, confirmed=confirmed))


@pytest.mark.parametrize(
    "stamp",
    [TimeStamp(time=Time((10, 20, 30, 40))), TimeStamp(sequenceNumber=17)],
    ids=["time", "sequence number"],
)
def test_a_stamp_that_is_not_a_date_time_is_now_in_both(stamp: TimeStamp) -> None:
    fast, plain = both_readings(notification(timeStamp=stamp))
    assert event_decode.fast_fields(fast) is not None
    same_event(
        remote_event(fast, confirmed=False), remote_event(plain, confirmed=False), stamped=False
    )


def test_an_unspecified_date_is_now_in_both() -> None:
    stamp = TimeStamp(dateTime=DateTime(date=Date((255, 255, 255, 255)), time=Time((1, 2, 3, 4))))
    fast, plain = both_readings(notification(timeStamp=stamp))
    same_event(
        remote_event(fast, confirmed=False), remote_event(plain, confirmed=False), stamped=False
    )


def test_bacpypes3s_parameters_are_there_when_read() -> None:
    """A bacpypes3 handler in the same process (a peer, a log) still reads them."""
    fast, plain = both_readings(notification(confirmed=True))
    for name in ConfirmedEventNotificationRequest._elements:
        assert getattr(fast, name) == getattr(plain, name), name
    assert (fast.pduSource, fast.apduInvokeID) == (plain.pduSource, plain.apduInvokeID)


def test_a_latin1_message_is_left_to_bacpypes3() -> None:
    data = octets(notification(messageText="Temperature"))
    utf8 = b"\x00Temperature"
    assert utf8 in data
    fast, plain = both_readings(data.replace(utf8, b"\x05Temperature"))  # ISO 8859-1
    assert event_decode.fast_fields(fast) is None  # bacpypes3 read it
    assert remote_event(fast, confirmed=False) == remote_event(plain, confirmed=False)
    assert remote_event(fast, confirmed=False).message == "Temperature"


def test_a_truncated_notification_fails_as_bacpypes3s_does() -> None:
    data = octets(notification())[:-1]  # the to-state's value is missing
    event_decode.install()
    with pytest.raises(Exception) as fast_error:  # noqa: PT011 - whatever bacpypes3 raises
        APCISequence.decode(received(data))
    with pytest.raises(Exception) as plain_error:  # noqa: PT011
        fast_decode.bacpypes3_decode(received(data))
    assert type(fast_error.value) is type(plain_error.value)


def test_an_unknown_event_state_is_malformed_either_way() -> None:
    data = octets(notification())
    assert data[-2:] == bytes([0xB9, 3])  # [11] to-state, one octet: high-limit (3)
    for apdu in both_readings(data[:-1] + bytes([200])):  # no such event state
        with pytest.raises(MalformedEvent):
            remote_event(apdu, confirmed=False)
