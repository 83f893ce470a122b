"""Device health and alarms in the worker: a silenced peer raises its comm-loss alarm and
returns it to normal when it answers again (the monitoring service's health changes, handed to
the alarm console as the worker does); a device back online has its alarms synced with
GetEventInformation (what it raised while the BMS could not hear it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from bms.alarms.comm_loss import rule_name
from bms.alarms.models import Alarm
from bms.alarms.remote import SYNCED
from bms.bacnet.health import HealthChange
from bms.devices.models import BACnetDevice
from bms.worker.alarm_console import AlarmConsole
from tests.worker.monitoring_rig import PeerDevice, RunningMonitoring, eventually, make_device_rows
from tests.worker.test_alarm_console import REMOTE, Rig, alarms, wait_for
from tests.worker.test_alarm_console import console_rig as rig  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def comm_loss_state(instance: int) -> str | None:
    alarm = Alarm.objects.filter(rule=rule_name(instance)).first()
    return None if alarm is None else alarm.event_state


async def test_a_silenced_device_raises_comm_loss_and_clears_it_when_it_answers(bacnet_port):
    peer = PeerDevice(bacnet_port, 2, 1001)
    await peer.start()
    await sync_to_async(make_device_rows)([peer], monitored=True)
    console = AlarmConsole()
    kept: set[asyncio.Task[Any]] = set()

    def health_changed(device: BACnetDevice, change: HealthChange) -> None:
        kept.add(
            asyncio.create_task(
                console.health_changed(device, change.old, change.new, change.reason),
                name=f"alarm-health-{device.device_instance}",
            )
        )

    try:
        async with RunningMonitoring(bacnet_port) as service:
            service.on_health_change = health_changed
            await peer.silence()
            await eventually(lambda: comm_loss_state(1001) == "fault", what="comm-loss raised")
            await peer.start()
            await eventually(lambda: comm_loss_state(1001) == "normal", what="back to normal")
        for task in kept:
            task.result()  # a failure of the console fails the test
    finally:
        if peer.app is not None:
            await peer.silence()
    alarm = await sync_to_async(Alarm.objects.get)(rule=rule_name(1001))
    transitions = await sync_to_async(list)(alarm.transitions.order_by("id"))
    assert [t.transition for t in transitions] == ["to-fault", "to-normal"]


async def test_a_device_back_online_has_its_alarms_synced(rig: Rig) -> None:  # noqa: F811
    rig.device.set_present_value("AI:1", 35.0)
    await wait_for(lambda: Alarm.objects.filter(event_state="high-limit").exists())
    await sync_to_async(Alarm.objects.all().delete)()  # raised while the BMS could not hear it
    device = await sync_to_async(BACnetDevice.objects.get)(device_instance=REMOTE)

    await rig.console.health_changed(device, "unreachable", "online", "answered again")

    (alarm,) = await sync_to_async(alarms)()
    assert (alarm.event_state, alarm.message) == ("high-limit", SYNCED)


async def test_a_device_that_goes_unreachable_is_not_synced(rig: Rig) -> None:  # noqa: F811
    rig.device.set_present_value("AI:1", 35.0)
    await wait_for(lambda: Alarm.objects.filter(event_state="high-limit").exists())
    await sync_to_async(Alarm.objects.filter(source_kind="remote").delete)()
    device = await sync_to_async(BACnetDevice.objects.get)(device_instance=REMOTE)

    await rig.console.health_changed(device, "online", "unreachable", "silent")

    assert await sync_to_async(alarms)() == []
    assert await sync_to_async(comm_loss_state)(REMOTE) == "fault"
