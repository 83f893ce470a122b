"""The alarm console's client side over real UDP: a LocalDevice with intrinsic reporting
(device 8888's own code, run here as the remote device) and a plain Application with our
EventReceiver and EventClient."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from bacpypes3.apdu import UnconfirmedEventNotificationRequest
from bacpypes3.app import Application
from bacpypes3.basetypes import EventState, EventType, NotifyType, TimeStamp
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import LocalDevice, ObjectSpec, serve_device
from bms.bacnet.errors import RemoteError
from bms.bacnet.event_client import EventClient, EventReceiver, RemoteEvent
from bms.bacnet.local.alarm_spec import AlarmSpec, Destination, NotificationClassSpec
from bms.bacnet.requester import Requester, parse_peer
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import to_python

WAIT = 5.0
CONSOLE_INSTANCE = 9002
TEMPERATURE = ObjectSpec(
    "AI",
    1,
    "Remote_Temperature",
    present_value=22.0,
    alarm=AlarmSpec(notification_class=5, high_limit=30.0, low_limit=10.0, deadband=1.0),
)


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Return once `condition()` holds, or after `timeout` seconds (the caller asserts)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


@dataclass
class Rig:
    device: LocalDevice
    console: Application
    events: EventClient
    receiver: EventReceiver
    received: asyncio.Queue[RemoteEvent] = field(default_factory=asyncio.Queue)
    port: int = 0

    @property
    def peer(self) -> Any:
        return parse_peer(f"127.0.0.2:{self.port}")

    async def next_event(self) -> RemoteEvent:
        return await asyncio.wait_for(self.received.get(), WAIT)

    async def read(self, ref: tuple[str, int], prop: str) -> Any:
        async with asyncio.timeout(WAIT):
            value = await self.console.read_property(
                Address(f"127.0.0.2:{self.port}"), ObjectIdentifier(ref), prop
            )
        return to_python(value)


@pytest.fixture(name="rig")
async def event_rig(bacnet_port: int) -> AsyncIterator[Rig]:
    device_app, device = await serve_device(EngineConfig(address=f"127.0.0.2/8:{bacnet_port}"))
    console = None
    try:
        device.add_notification_class(
            NotificationClassSpec(
                5,
                "Alarms",
                priorities=(10, 20, 30),
                recipients=(Destination(42, address=f"127.0.0.3:{bacnet_port}", confirmed=True),),
            )
        )
        device.add_object(TEMPERATURE)
        config = EngineConfig(
            address=f"127.0.0.3/8:{bacnet_port}", device_instance=CONSOLE_INSTANCE
        )
        console = await open_application(config)
        received: asyncio.Queue[RemoteEvent] = asyncio.Queue()

        async def store(event: RemoteEvent) -> None:
            received.put_nowait(event)

        receiver = EventReceiver(console, store)
        yield Rig(
            device,
            console,
            EventClient(Requester(console, config)),
            receiver,
            received,
            bacnet_port,
        )
    finally:
        await device_app.notifier.finish(1.0)
        if console is not None:
            close_application(console)
        close_application(device_app)


async def test_a_confirmed_event_notification_arrives_as_a_remote_event(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    event = await rig.next_event()
    assert event.ref == ObjectRef("analog-input", 1)
    assert (event.from_state, event.to_state, event.transition) == (
        "normal",
        "high-limit",
        "to-offnormal",
    )
    assert (event.priority, event.notify_type, event.confirmed) == (10, "alarm", True)
    assert event.event_type == "out-of-range"
    assert event.device_instance == rig.device.device_instance


async def test_a_notification_the_store_refuses_is_not_acknowledged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(event: RemoteEvent) -> None:
        raise RuntimeError("database is away")

    EventReceiver(rig.console, refuse)
    with caplog.at_level(logging.WARNING):
        rig.device.set_present_value("AI:1", 35.0)
        # The console logs the refusal as the notification arrives, the device's notifier once
        # the error is back: wait for both (bounded), not a fixed second.
        await until(
            lambda: (
                "not stored (database is away): refused" in caplog.text
                and "refused or unanswered" in caplog.text
            )
        )
    assert "not stored (database is away): refused" in caplog.text
    # The device was told: its notifier logs the refusal.
    assert "refused or unanswered" in caplog.text


async def test_a_malformed_event_notification_is_dropped_with_a_log_line(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    request = UnconfirmedEventNotificationRequest(
        processIdentifier=1,
        initiatingDeviceIdentifier=ObjectIdentifier(("device", 77)),
        eventObjectIdentifier=ObjectIdentifier(("analog-input", 9)),
        timeStamp=TimeStamp.as_dateTime(),
        notificationClass=1,
        priority=5,
        eventType=EventType("outOfRange"),
        notifyType=NotifyType("alarm"),
        toState=EventState("lifeSafetyAlarm"),  # no such state for an analog alarm
        destination=Address(f"127.0.0.3:{rig.port}"),
    )
    sender, _ = await serve_device(EngineConfig(address=f"127.0.0.4/8:{rig.port}"))
    try:
        with caplog.at_level(logging.WARNING):
            await sender.request(request)
            await until(lambda: rig.receiver.dropped >= 1)  # bounded, not a fixed half second
    finally:
        close_application(sender)
    assert "malformed event notification from 127.0.0.4" in caplog.text
    assert rig.receiver.dropped == 1
    assert rig.received.empty()


async def test_event_information_lists_the_active_alarm(rig: Rig) -> None:
    assert await rig.events.event_information(rig.peer) == []
    rig.device.set_present_value("AI:1", 35.0)
    await rig.next_event()
    (summary,) = await rig.events.event_information(rig.peer)
    assert summary.ref == ObjectRef("analog-input", 1)
    assert summary.event_state == "high-limit"
    assert summary.acked_transitions == (False, True, True)
    assert summary.priorities == (10, 20, 30)
    assert summary.event_time_stamps[0] is not None


async def test_acknowledge_changes_the_devices_acked_transitions(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    event = await rig.next_event()
    await rig.events.acknowledge(rig.peer, event.ref, "high-limit", event.time_stamp, "alice")
    acked = await rig.read(("analog-input", 1), "acked-transitions")
    assert acked == ("to-offnormal", "to-fault", "to-normal")


async def test_a_second_acknowledge_is_the_devices_bacnet_error(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    event = await rig.next_event()
    await rig.events.acknowledge(rig.peer, event.ref, "high-limit", event.time_stamp, "alice")
    with pytest.raises(RemoteError, match="invalid-event-state"):
        await rig.events.acknowledge(rig.peer, event.ref, "high-limit", event.time_stamp, "bob")
