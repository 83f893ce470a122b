"""Device 8888 as an alarm source, checked over real UDP by a bacpypes3 recipient.

The recipient is in the notification class's recipient list (confirmed, process 42) and a
second destination takes the same events unconfirmed (process 43). A virtual AI with a high
limit of 30 crosses it, holds it for the time delay, and comes back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.app import Application
from bacpypes3.basetypes import TimeStamp
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import LocalDevice, ObjectSpec, serve_device
from bms.bacnet.local.alarm_spec import (
    AlarmAcknowledgement,
    AlarmSpec,
    Destination,
    EventTransition,
    NotificationClassSpec,
)
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import to_python
from tests.bacnet.event_peers import (
    RecipientApplication,
    acknowledge,
    event_information,
    next_notification,
)

WAIT = 5.0
TEMPERATURE = ObjectSpec(
    "AI",
    1,
    "Virtual_7_Temperature",
    present_value=22.0,
    alarm=AlarmSpec(notification_class=5, high_limit=30.0, low_limit=10.0, deadband=1.0),
)
ALARM_SWITCH = ObjectSpec(
    "BV", 2, "Virtual_7_Alarm", alarm=AlarmSpec(notification_class=5, alarm_values=("active",))
)
PLAIN = ObjectSpec("AV", 3, "Virtual_7_Setpoint")
A_STAMP = TimeStamp.as_dateTime()


@dataclass
class Rig:
    device: LocalDevice
    app: Application
    client: RecipientApplication
    server: Address
    transitions: list[EventTransition]
    acks: list[AlarmAcknowledgement]

    async def read(self, object_id: tuple[str, int], prop: str) -> object:
        async with asyncio.timeout(WAIT):
            value = await self.client.read_property(self.server, ObjectIdentifier(object_id), prop)
        return to_python(value)


def notification_class(port: int) -> NotificationClassSpec:
    recipient = f"127.0.0.3:{port}"
    return NotificationClassSpec(
        5,
        "Alarms",
        priorities=(10, 20, 30),
        ack_required=(True, True, False),
        recipients=(
            Destination(42, address=recipient, confirmed=True),
            Destination(43, address=recipient, confirmed=False, transitions=(True, True, False)),
        ),
    )


@pytest.fixture(name="rig")
async def alarm_rig(bacnet_port: int) -> AsyncIterator[Rig]:
    transitions: list[EventTransition] = []
    acks: list[AlarmAcknowledgement] = []

    async def store_ack(ack: AlarmAcknowledgement) -> None:
        acks.append(ack)

    app, device = await serve_device(EngineConfig(address=f"127.0.0.2/8:{bacnet_port}"))
    client = None
    try:
        device.set_event_hooks(transitions.append, store_ack)
        device.add_notification_class(notification_class(bacnet_port))
        for spec in (TEMPERATURE, ALARM_SWITCH, PLAIN):
            device.add_object(spec)
        client = await open_application(
            EngineConfig(address=f"127.0.0.3/8:{bacnet_port}", device_instance=9002),
            app_class=RecipientApplication,
        )
        yield Rig(device, app, client, Address(f"127.0.0.2:{bacnet_port}"), transitions, acks)
    finally:
        await app.notifier.finish(1.0)
        if client is not None:
            close_application(client)
        close_application(app)


async def test_crossing_the_high_limit_notifies_high_limit_then_normal(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    first, second = await next_notification(rig.client), await next_notification(rig.client)
    assert {first.confirmed, second.confirmed} == {True, False}
    assert {first.process_id, second.process_id} == {42, 43}
    assert first.object_id == ("analog-input", 1)
    assert (first.from_state, first.to_state) == ("normal", "high-limit")
    assert (first.event_type, first.notify_type) == ("out-of-range", "alarm")
    assert (first.priority, first.ack_required) == (10, True)
    assert first.values["exceeded-limit"] == 30.0
    assert await rig.read(("analog-input", 1), "event-state") == "high-limit"
    assert await rig.read(("analog-input", 1), "status-flags") == (True, False, False, False)
    assert await rig.read(("analog-input", 1), "acked-transitions") == ("to-fault", "to-normal")

    rig.device.set_present_value("AI:1", 29.5)  # inside the limit, not by the deadband
    rig.device.set_present_value("AI:1", 28.0)
    back = await next_notification(rig.client)  # process 43 does not take to-normal
    assert (back.process_id, back.from_state, back.to_state) == (42, "high-limit", "normal")
    assert (back.priority, back.ack_required) == (30, False)
    assert [(t.from_state, t.to_state) for t in rig.transitions] == [
        ("normal", "high-limit"),
        ("high-limit", "normal"),
    ]
    assert rig.client.notifications.empty()


async def test_time_delay_holds_the_transition_back(rig: Rig) -> None:
    slow = ObjectSpec(
        "AI",
        4,
        "Virtual_7_Slow",
        present_value=20.0,
        alarm=AlarmSpec(notification_class=5, high_limit=30.0, time_delay=1),
    )
    rig.device.add_object(slow)
    started = time.monotonic()
    rig.device.set_present_value("AI:4", 31.0)
    notified = await next_notification(rig.client)
    assert notified.object_id == ("analog-input", 4)
    assert notified.to_state == "high-limit"
    assert time.monotonic() - started >= 1.0


async def test_a_blip_shorter_than_the_time_delay_is_not_an_alarm(rig: Rig) -> None:
    slow = ObjectSpec(
        "AI",
        4,
        "Virtual_7_Slow",
        present_value=20.0,
        alarm=AlarmSpec(notification_class=5, high_limit=30.0, time_delay=1),
    )
    rig.device.add_object(slow)
    rig.device.set_present_value("AI:4", 31.0)
    await asyncio.sleep(0.3)
    rig.device.set_present_value("AI:4", 25.0)
    with pytest.raises(TimeoutError):
        await next_notification(rig.client, timeout=1.5)
    assert rig.device.get("AI:4").alarm.event_state == "normal"  # type: ignore[union-attr]


async def test_acknowledge_alarm_sets_acked_transitions_and_notifies_the_ack(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    alarm = await next_notification(rig.client)
    await next_notification(rig.client)  # the unconfirmed copy
    await acknowledge(rig.client, rig.server, alarm.object_id, "high-limit", alarm.time_stamp)
    assert await rig.read(("analog-input", 1), "acked-transitions") == (
        "to-offnormal",
        "to-fault",
        "to-normal",
    )
    (stored,) = rig.acks
    assert (stored.transition, stored.source, stored.process_id) == ("to-offnormal", "operator", 7)
    ack_notes = {(await next_notification(rig.client)).notify_type for _ in range(2)}
    assert ack_notes == {"ack-notification"}


async def test_get_event_information_lists_the_active_event_only(rig: Rig) -> None:
    assert await event_information(rig.client, rig.server) == []
    rig.device.set_present_value("AI:1", 35.0)
    await next_notification(rig.client)
    (summary,) = await event_information(rig.client, rig.server)
    assert summary["object-identifier"] == ObjectRef("analog-input", 1)
    assert summary["event-state"] == "high-limit"
    assert summary["acknowledged-transitions"] == ("to-fault", "to-normal")
    assert summary["event-priorities"] == [10, 20, 30]


async def test_binary_alarm_value_is_a_change_of_state(rig: Rig) -> None:
    rig.device.set_present_value("BV:2", "active")
    notified = await next_notification(rig.client)
    assert (notified.object_id, notified.event_type) == (("binary-value", 2), "change-of-state")
    assert (notified.from_state, notified.to_state) == ("normal", "offnormal")
    assert await rig.read(("binary-value", 2), "alarm-value") == "active"


async def test_acknowledging_an_unknown_object_is_unknown_object(rig: Rig) -> None:
    with pytest.raises(ErrorRejectAbortNack) as refused:
        await acknowledge(rig.client, rig.server, ("analog-input", 99), "high-limit", A_STAMP)
    assert (str(refused.value.errorClass), str(refused.value.errorCode)) == (
        "object",
        "unknown-object",
    )


async def test_acknowledging_twice_is_an_invalid_event_state(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    alarm = await next_notification(rig.client)
    await acknowledge(rig.client, rig.server, alarm.object_id, "high-limit", alarm.time_stamp)
    with pytest.raises(ErrorRejectAbortNack) as refused:
        await acknowledge(rig.client, rig.server, alarm.object_id, "high-limit", alarm.time_stamp)
    assert (str(refused.value.errorClass), str(refused.value.errorCode)) == (
        "services",
        "invalid-event-state",
    )
    assert len(rig.acks) == 1


async def test_acknowledging_with_another_time_stamp_is_refused(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    alarm = await next_notification(rig.client)
    wrong = type(alarm.time_stamp).as_dateTime(time.time() - 3600)
    with pytest.raises(ErrorRejectAbortNack) as refused:
        await acknowledge(rig.client, rig.server, alarm.object_id, "high-limit", wrong)
    assert str(refused.value.errorCode) == "invalid-time-stamp"
    assert await rig.read(("analog-input", 1), "acked-transitions") == ("to-fault", "to-normal")


async def test_an_object_without_reporting_has_no_alarm_configured(rig: Rig) -> None:
    with pytest.raises(ErrorRejectAbortNack) as refused:
        await acknowledge(rig.client, rig.server, ("analog-value", 3), "offnormal", A_STAMP)
    assert str(refused.value.errorCode) == "no-alarm-configured"


async def test_a_failing_ack_store_refuses_the_ack_and_changes_nothing(rig: Rig) -> None:
    async def broken(ack: AlarmAcknowledgement) -> None:
        raise RuntimeError("database gone")

    rig.device.set_event_hooks(rig.transitions.append, broken)
    rig.device.set_present_value("AI:1", 35.0)
    alarm = await next_notification(rig.client)
    with pytest.raises(ErrorRejectAbortNack) as refused:
        await acknowledge(rig.client, rig.server, alarm.object_id, "high-limit", alarm.time_stamp)
    assert str(refused.value.errorCode) == "operational-problem"
    assert await rig.read(("analog-input", 1), "acked-transitions") == ("to-fault", "to-normal")


async def test_alarm_properties_are_readable(rig: Rig) -> None:
    ai = ("analog-input", 1)
    assert await rig.read(ai, "notification-class") == 5
    assert await rig.read(ai, "high-limit") == 30.0
    assert await rig.read(ai, "low-limit") == 10.0
    assert await rig.read(ai, "deadband") == 1.0
    assert await rig.read(ai, "limit-enable") == ("low-limit-enable", "high-limit-enable")
    assert await rig.read(ai, "event-enable") == ("to-offnormal", "to-fault", "to-normal")
    assert await rig.read(ai, "notify-type") == "alarm"
    assert await rig.read(ai, "time-delay") == 0
    assert len(await rig.read(ai, "event-time-stamps")) == 3  # type: ignore[arg-type]
    nc = ("notification-class", 5)
    assert await rig.read(nc, "priority") == [10, 20, 30]
    assert await rig.read(nc, "ack-required") == ("to-offnormal", "to-fault")
    recipients = await rig.read(nc, "recipient-list")
    assert [entry["process-identifier"] for entry in recipients] == [42, 43]  # type: ignore[union-attr]


async def test_protocol_services_supported_lists_the_alarm_services(rig: Rig) -> None:
    supported = await rig.read(("device", 8888), "protocol-services-supported")
    for service in ("acknowledge-alarm", "get-event-information", "get-alarm-summary"):
        assert service in supported  # type: ignore[operator]
    types = await rig.read(("device", 8888), "protocol-object-types-supported")
    assert "notification-class" in types  # type: ignore[operator]
