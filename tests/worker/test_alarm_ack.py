"""An operator's acknowledgement reaches the alarm's source and the device sees it.

Remote: a LocalDevice with intrinsic reporting (device 8888's own code as the remote device)
notifies the worker's engine; request_acknowledgement queues the task, the acknowledge_alarm job
sends AcknowledgeAlarm, and acked-transitions read back from the device over UDP is all set; a
refusal is stored on the transition. Device 8888: the real worker process runs the queued task
and a recipient reads acked-transitions back and gets the ack notification.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Boolean, ObjectIdentifier, Real
from django.contrib.auth import get_user_model

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.services import ACCEPTED, request_acknowledgement
from bms.bacnet.config import EngineConfig
from bms.bacnet.device import LocalDevice, ObjectSpec, serve_device
from bms.bacnet.engine import Engine
from bms.bacnet.errors import ErrorResponse
from bms.bacnet.local.alarm_spec import AlarmSpec, Destination, NotificationClassSpec
from bms.bacnet.stack import close_application
from bms.bacnet.values import to_python
from bms.devices.models import BACnetDevice
from bms.tasks.models import BACnetTask
from bms.worker.alarm_console import AlarmConsole
from bms.worker.alarm_jobs import acknowledge_alarm
from tests.bacnet.event_peers import next_notification
from tests.worker.conftest import Process, manage, sql, start_worker
from tests.worker.test_alarm_source import WAIT, configure, read, recipient, write

REMOTE = 8888  # serve_device's instance
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
    engine: Engine
    port: int


async def no_progress(**fields: Any) -> None:
    return None


@pytest.fixture(name="rig")
async def remote_rig(bacnet_port: int) -> AsyncIterator[Rig]:
    device_app, device = await serve_device(EngineConfig(address=f"127.0.0.2/8:{bacnet_port}"))
    engine = Engine(EngineConfig(address=f"127.0.0.3/8:{bacnet_port}", device_instance=9003))
    try:
        recipient_ = Destination(1, address=f"127.0.0.3:{bacnet_port}", confirmed=True)
        device.add_notification_class(
            NotificationClassSpec(5, "Alarms", priorities=(10, 20, 30), recipients=(recipient_,))
        )
        device.add_object(TEMPERATURE)
        await engine.start()
        AlarmConsole().listen(engine.app, engine.config)
        await sync_to_async(BACnetDevice.objects.create)(
            device_instance=REMOTE, address=f"127.0.0.2:{bacnet_port}"
        )
        yield Rig(device, engine, bacnet_port)
    finally:
        await device_app.notifier.finish(1.0)
        await engine.stop()
        close_application(device_app)


async def raised_alarm(rig: Rig) -> Alarm:
    rig.device.set_present_value("AI:1", 35.0)
    async with asyncio.timeout(WAIT):
        while True:
            alarm = await sync_to_async(Alarm.objects.filter(event_state="high-limit").first)()
            if alarm is not None:
                return alarm
            await asyncio.sleep(0.05)


async def queued_ack(alarm: Alarm) -> tuple[AlarmTransition, BACnetTask]:
    user = await sync_to_async(_user)()
    pending = await sync_to_async(request_acknowledgement)(alarm, user, "seen")
    task = await sync_to_async(BACnetTask.objects.get)(pk=pending.ack_task_id)
    return pending, task


def _user() -> Any:
    return get_user_model().objects.create_user("olga")


async def acked_transitions(rig: Rig) -> Any:
    value = await rig.engine.app.read_property(
        Address(f"127.0.0.2:{rig.port}"), ObjectIdentifier("analog-input,1"), "acked-transitions"
    )
    return to_python(value)


@pytest.mark.django_db(transaction=True)
async def test_a_remote_alarm_acknowledged_by_an_operator_is_acked_at_the_device(rig: Rig) -> None:
    alarm = await raised_alarm(rig)
    assert await acked_transitions(rig) == ("to-fault", "to-normal")
    pending, task = await queued_ack(alarm)

    result = await acknowledge_alarm(rig.engine, task, no_progress, None)

    assert result["result"] == ACCEPTED
    assert await acked_transitions(rig) == ("to-offnormal", "to-fault", "to-normal")
    await sync_to_async(pending.refresh_from_db)()
    assert (pending.ack_result, pending.ack_source) == (ACCEPTED, "olga")
    assert pending.acked_at is not None
    await sync_to_async(alarm.refresh_from_db)()
    assert not alarm.unacknowledged


@pytest.mark.django_db(transaction=True)
async def test_a_refused_remote_acknowledgement_keeps_the_device_error(rig: Rig) -> None:
    alarm = await raised_alarm(rig)
    pending, task = await queued_ack(alarm)
    # Another workstation acknowledged it first: the device refuses ours.
    rig.device._app.get_object_id(ObjectIdentifier("analog-input,1")).ackedTransitions = [1, 1, 1]  # type: ignore[attr-defined]

    with pytest.raises(ErrorResponse, match="invalid-event-state"):
        await acknowledge_alarm(rig.engine, task, no_progress, None)

    await sync_to_async(pending.refresh_from_db)()
    assert pending.ack_result.startswith("refused: ")
    assert "invalid-event-state" in pending.ack_result
    assert pending.acked_at is None


def queue_operator_ack(database_url: str) -> None:
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from bms.alarms.models import Alarm\n"
        "from bms.alarms.services import request_acknowledgement\n"
        "user = get_user_model().objects.create_user('olga')\n"
        "request_acknowledgement(Alarm.objects.get(), user, 'seen from the console')\n"
    )
    queued = manage(database_url, "shell", "-c", code)
    assert queued.returncode == 0, queued.stderr


async def raise_alarm(port: int, oid: tuple[str, int]) -> None:
    server = Address(f"127.0.0.1:{port}")
    app = await recipient(port)
    try:
        await write(app, server, oid, "out-of-service", Boolean(True))
        await write(app, server, oid, "present-value", Real(35.0))
        alarm = await next_notification(app, WAIT)
        assert alarm.to_state == "high-limit"
    finally:
        close_application(app)


async def acked_after_operator(database_url: str, port: int, oid: tuple[str, int]) -> Any:
    server = Address(f"127.0.0.1:{port}")
    app = await recipient(port)
    try:
        assert await read(app, server, oid, "acked-transitions") == ("to-fault", "to-normal")
        await asyncio.to_thread(queue_operator_ack, database_url)
        ack = await next_notification(app, WAIT)
        return ack, await read(app, server, oid, "acked-transitions")
    finally:
        close_application(app)


def wait_for_rows(database_url: str, query: str) -> list[tuple[Any, ...]]:
    """The rows once there are some; [] after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        rows = sql(database_url, query)
        if rows:
            return rows
        time.sleep(0.1)
    return []


@pytest.mark.slow
def test_device_8888_alarm_acknowledged_by_an_operator_through_the_real_worker(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    oid = configure(database_url, bacnet_port)
    worker: Process = start_worker(start_process, database_url, bacnet_port)
    try:
        asyncio.run(raise_alarm(bacnet_port, oid))
        assert wait_for_rows(database_url, "SELECT id FROM alarms_alarmtransition")
        ack, acked = asyncio.run(acked_after_operator(database_url, bacnet_port, oid))
        assert (ack.notify_type, ack.to_state) == ("ack-notification", "high-limit")
        assert acked == ("to-offnormal", "to-fault", "to-normal")
        assert wait_for_rows(
            database_url, "SELECT id FROM alarms_alarmtransition WHERE ack_result <> ''"
        ), worker.output()
        (row,) = sql(
            database_url,
            "SELECT ack_result, ack_source, ack_comment, acked_at IS NOT NULL "
            "FROM alarms_alarmtransition",
        )
        assert row == (ACCEPTED, "olga", "seen from the console", True), worker.output()
        # The job stores the result on the transition and then the task runner marks the task
        # done, in its own transaction: wait for the task to reach a final status.
        finished = wait_for_rows(
            database_url,
            "SELECT status FROM tasks_bacnettask WHERE task_type='acknowledge_alarm' "
            "AND status IN ('completed', 'failed')",
        )
        assert finished == [("completed",)], worker.output()
    finally:
        worker.stop()
