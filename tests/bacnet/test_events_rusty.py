"""Device 8888's alarm services as rusty-bacnet (an independent Rust stack) sees them:
GetAlarmSummary, GetEnrollmentSummary, GetEventInformation and AcknowledgeAlarm, decoded by
its own codec (the bacpypes3 recipient of tests/bacnet/test_events.py triggers the alarm)."""

from __future__ import annotations

from datetime import datetime

import pytest
from rusty_bacnet import BacnetProtocolError, BACnetTimeStamp, ErrorClass, ErrorCode, EventState

from tests.bacnet.event_peers import next_notification
from tests.bacnet.rusty_peers import rusty_client, rusty_oid
from tests.bacnet.test_events import Rig, alarm_rig  # noqa: F401 (the fixture `rig`)


def rusty_stamp(when: datetime) -> BACnetTimeStamp:
    local = when.astimezone()
    return BACnetTimeStamp.date_time(
        (local.year, local.month, local.day, local.isoweekday()),
        (local.hour, local.minute, local.second, local.microsecond // 10000),
    )


async def raise_high_limit(rig: Rig) -> BACnetTimeStamp:
    rig.device.set_present_value("AI:1", 35.0)
    await next_notification(rig.client)
    alarm = rig.device.get("AI:1").alarm
    assert alarm is not None
    assert alarm.event_time_stamps[0] is not None
    return rusty_stamp(alarm.event_time_stamps[0])


async def test_rust_client_reads_the_alarm_and_enrollment_summaries(rig: Rig) -> None:
    await raise_high_limit(rig)
    address = str(rig.server)
    async with rusty_client() as client:
        (summary,) = await client.get_alarm_summary(address)
        enrollments = await client.get_enrollment_summary(address)
        events = await client.get_event_information(address)
    assert summary["object_id"] == rusty_oid("AI:1")
    assert summary["alarm_state"] == EventState.HIGH_LIMIT
    by_object = {entry["object_id"]: entry for entry in enrollments}
    assert by_object[rusty_oid("AI:1")]["event_state"] == EventState.HIGH_LIMIT
    assert by_object[rusty_oid("AI:1")]["priority"] == 10
    assert by_object[rusty_oid("BV:2")]["event_state"] == EventState.NORMAL
    assert by_object[rusty_oid("BV:2")]["notification_class"] == 5
    assert b"\x0c\x00\x00\x00\x01" in bytes(events)  # [0] analog-input,1 in the summary


async def test_rust_client_acknowledges_and_a_second_ack_is_refused(rig: Rig) -> None:
    stamp = await raise_high_limit(rig)
    address = str(rig.server)
    now = rusty_stamp(datetime.now())
    async with rusty_client() as client:
        await client.acknowledge_alarm_request(
            address, 11, rusty_oid("AI:1"), EventState.HIGH_LIMIT, stamp, "rusty", now
        )
        with pytest.raises(BacnetProtocolError) as refused:
            await client.acknowledge_alarm_request(
                address, 11, rusty_oid("AI:1"), EventState.HIGH_LIMIT, stamp, "rusty", now
            )
    assert (refused.value.error_class, refused.value.error_code) == (
        ErrorClass.SERVICES.to_raw(),
        ErrorCode.INVALID_EVENT_STATE.to_raw(),
    )
    assert await rig.read(("analog-input", 1), "acked-transitions") == (
        "to-offnormal",
        "to-fault",
        "to-normal",
    )
    (ack,) = rig.acks
    assert (ack.source, ack.process_id) == ("rusty", 11)
