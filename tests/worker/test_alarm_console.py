"""The worker's alarm console over real UDP: a LocalDevice with intrinsic reporting (device
8888's own code as the remote device) notifies the console, whose rows land in the database;
GetEventInformation after a (re)start brings back what it missed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from bacpypes3.apdu import UnconfirmedEventNotificationRequest
from bacpypes3.basetypes import EventState, EventType, NotifyType, TimeStamp
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.remote import NOT_LISTED, SYNCED
from bms.bacnet.config import EngineConfig
from bms.bacnet.device import LocalDevice, ObjectSpec, serve_device
from bms.bacnet.local.alarm_spec import AlarmSpec, Destination, NotificationClassSpec
from bms.bacnet.requester import parse_peer
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice
from bms.worker.alarm_console import AlarmConsole

pytestmark = pytest.mark.django_db(transaction=True)
REMOTE = 8888  # serve_device's instance: the remote device here
TEMPERATURE = ObjectSpec(
    "AI",
    1,
    "Remote_Temperature",
    present_value=22.0,
    alarm=AlarmSpec(notification_class=5, high_limit=30.0, deadband=1.0),
)


@dataclass
class Rig:
    device: LocalDevice
    console: AlarmConsole
    port: int


def alarms() -> list[Alarm]:
    return list(Alarm.objects.filter(source_kind="remote").order_by("id"))


async def wait_for(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await sync_to_async(check)():
            await asyncio.sleep(0.05)


@pytest.fixture(name="rig")
async def console_rig(bacnet_port: int) -> AsyncIterator[Rig]:
    device_app, device = await serve_device(EngineConfig(address=f"127.0.0.2/8:{bacnet_port}"))
    worker_app = None
    console = None
    try:
        recipient = Destination(1, address=f"127.0.0.3:{bacnet_port}", confirmed=True)
        device.add_notification_class(
            NotificationClassSpec(5, "Alarms", priorities=(10, 20, 30), recipients=(recipient,))
        )
        device.add_object(TEMPERATURE)
        config = EngineConfig(address=f"127.0.0.3/8:{bacnet_port}", device_instance=9002)
        worker_app = await open_application(config)
        console = AlarmConsole()
        console.listen(worker_app, config)
        await sync_to_async(BACnetDevice.objects.create)(
            device_instance=REMOTE,
            address=f"127.0.0.2:{bacnet_port}",
            services_supported=["read-property", "get-event-information"],
        )
        yield Rig(device, console, bacnet_port)
    finally:
        await device_app.notifier.finish(1.0)
        if console is not None:
            await console.close()
        if worker_app is not None:
            close_application(worker_app)
        close_application(device_app)


async def test_an_event_notification_is_stored_as_a_remote_alarm(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    await wait_for(lambda: Alarm.objects.filter(event_state="high-limit").exists())
    (alarm,) = await sync_to_async(alarms)()
    assert (alarm.device_instance, alarm.object_type, alarm.instance) == (REMOTE, "analog-input", 1)
    assert alarm.priority == 10
    assert alarm.acked_transitions == [False, True, True]
    transition = await sync_to_async(alarm.transitions.get)()
    assert (transition.from_state, transition.to_state) == ("normal", "high-limit")


async def test_a_sync_after_a_restart_brings_back_an_alarm_raised_meanwhile(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    await wait_for(lambda: Alarm.objects.filter(event_state="high-limit").exists())
    await sync_to_async(Alarm.objects.all().delete)()  # what a worker that was down never stored
    outcome = await rig.console.sync_all("default")
    assert outcome[REMOTE] == {"listed": 1, "created_or_updated": 1, "returned_to_normal": 0}
    (alarm,) = await sync_to_async(alarms)()
    assert alarm.event_state == "high-limit"
    assert alarm.message == SYNCED


async def test_a_return_to_normal_missed_while_down_is_reconciled(rig: Rig) -> None:
    rig.device.set_present_value("AI:1", 35.0)
    await wait_for(lambda: Alarm.objects.filter(event_state="high-limit").exists())
    (raised,) = await sync_to_async(alarms)()
    assert raised.last_transition_at is not None
    peer = parse_peer(f"127.0.0.2:{rig.port}")
    ref = ObjectRef("analog-input", 1)
    # Acknowledged, then back to normal: GetEventInformation no longer lists it.
    await rig.console.events.acknowledge(peer, ref, "high-limit", raised.last_transition_at, "op")
    rig.device.set_present_value("AI:1", 20.0)
    await wait_for(lambda: Alarm.objects.filter(event_state="normal").exists())
    # Pretend the worker missed that notification: it still holds the alarm active.
    await sync_to_async(Alarm.objects.update)(event_state="high-limit")
    outcome = await rig.console.sync_all("default")
    assert outcome[REMOTE]["returned_to_normal"] == 1  # type: ignore[index]
    (alarm,) = await sync_to_async(alarms)()
    assert (alarm.event_state, alarm.message) == ("normal", NOT_LISTED)


async def send_unconfirmed_notifications(app: Any, port: int, count: int, objects: int) -> None:
    """`count` UnconfirmedEventNotifications from `app` (device 7001) to the console, as fast
    as the sender goes, alternating raise and return over `objects` inputs."""
    for seq in range(count):
        alarmed = (seq // objects) % 2 == 0
        await app.request(
            UnconfirmedEventNotificationRequest(
                processIdentifier=1,
                initiatingDeviceIdentifier=ObjectIdentifier(("device", 7001)),
                eventObjectIdentifier=ObjectIdentifier(("analog-input", seq % objects)),
                timeStamp=TimeStamp.as_dateTime(),
                notificationClass=1,
                priority=100 if alarmed else 200,
                eventType=EventType("outOfRange"),
                messageText=f"n{seq}",
                notifyType=NotifyType("alarm"),
                ackRequired=alarmed,
                fromState=EventState("normal" if alarmed else "highLimit"),
                toState=EventState("highLimit" if alarmed else "normal"),
                destination=Address(f"127.0.0.3:{port}"),
            )
        )


async def test_a_burst_of_notifications_is_stored_whole_in_a_few_group_commits(rig: Rig) -> None:
    sender = await open_application(
        EngineConfig(address=f"127.0.0.4/8:{rig.port}", device_instance=7001)
    )
    try:
        await send_unconfirmed_notifications(sender, rig.port, 500, objects=50)
        async with asyncio.timeout(20.0):  # the counter moves once the commit is back
            while rig.console.batcher.stored < 500:
                await asyncio.sleep(0.05)
    finally:
        close_application(sender)
    messages = await sync_to_async(
        lambda: sorted(AlarmTransition.objects.values_list("message", flat=True))
    )()
    assert messages == sorted(f"n{seq}" for seq in range(500))  # none lost, none twice
    assert rig.console.batcher.dropped == 0
    assert 1 <= rig.console.batcher.batches < 100  # not a transaction per notification
    # 500 notifications over 50 inputs, each seen 10 times: raised 5 times, returned 5 times,
    # the last one a return; one alarm per input.
    states = await sync_to_async(
        lambda: set(
            Alarm.objects.filter(device_instance=7001).values_list("event_state", flat=True)
        )
    )()
    assert states == {"normal"}
    assert await sync_to_async(Alarm.objects.filter(device_instance=7001).count)() == 50
