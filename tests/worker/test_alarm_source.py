"""Device 8888 as an alarm source in the real worker process (SQLite and PostgreSQL).

A bacpypes3 recipient in notification class 1 gets the OUT_OF_RANGE notification when the
temperature sensor's AI crosses its high limit; its AcknowledgeAlarm is stored before the
answer; the worker killed with -9 comes back with the same event state, acked transitions and
time stamp, does not alarm again, and still lists the active event in GetEventInformation.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import pytest
from bacpypes3.apdu import WritePropertyRequest
from bacpypes3.app import Application
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Boolean, ObjectIdentifier, Real

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.values import to_python
from tests.bacnet.event_peers import (
    Received,
    RecipientApplication,
    acknowledge,
    event_information,
    next_notification,
)
from tests.worker.conftest import Process, manage, sql, start_worker
from tests.worker.test_external_writes import objects_of

pytestmark = pytest.mark.slow

RECIPIENT_HOST = "127.0.0.9"
WAIT = 10.0


def configure(database_url: str, port: int) -> tuple[str, int]:
    """The template's device, its AI alarming at once, class 1 notifying our recipient."""
    created = manage(
        database_url, "bacnet_virtual", "create", "--device-id", "1001", "--name", "Room",
        "--template", "temperature_sensor",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    recipients = [{"process_id": 42, "address": f"{RECIPIENT_HOST}:{port}", "confirmed": True}]
    code = (
        "from bms.virtual.models import NotificationClass, VirtualObject\n"
        "from bms.virtual import notification_classes, services\n"
        "row = NotificationClass.objects.get(instance=1)\n"
        f"notification_classes.update_notification_class(row, recipients={recipients!r})\n"
        "obj = VirtualObject.objects.get(name='Temperature')\n"
        "services.update_virtual_object(obj, time_delay=0)\n"
    )
    configured = manage(database_url, "shell", "-c", code)
    assert configured.returncode == 0, configured.stderr
    return objects_of(database_url, 1001)["Temperature"]


async def recipient(port: int) -> RecipientApplication:
    return await open_application(
        EngineConfig(address=f"{RECIPIENT_HOST}/8:{port}", device_instance=5009),
        app_class=RecipientApplication,
    )


async def write(app: Application, server: Address, oid: tuple[str, int], prop: str, value: Any):
    request = WritePropertyRequest(
        objectIdentifier=ObjectIdentifier(oid),
        propertyIdentifier=prop,
        propertyValue=AnyValue(value),
        destination=server,
    )
    async with asyncio.timeout(WAIT):
        await app.request(request)


async def read(app: Application, server: Address, oid: tuple[str, int], prop: str) -> Any:
    async with asyncio.timeout(WAIT):
        return to_python(await app.read_property(server, ObjectIdentifier(oid), prop))


async def raise_and_acknowledge(port: int, oid: tuple[str, int]) -> Received:
    server = Address(f"127.0.0.1:{port}")
    app = await recipient(port)
    try:
        await write(app, server, oid, "out-of-service", Boolean(True))
        await write(app, server, oid, "present-value", Real(35.0))
        alarm = await next_notification(app, WAIT)
        assert (alarm.to_state, alarm.priority, alarm.ack_required) == ("high-limit", 100, True)
        await acknowledge(app, server, oid, "high-limit", alarm.time_stamp)
        return alarm
    finally:
        close_application(app)


async def after_restart(port: int, oid: tuple[str, int]) -> dict[str, Any]:
    server = Address(f"127.0.0.1:{port}")
    app = await recipient(port)
    try:
        found = {
            "event-state": await read(app, server, oid, "event-state"),
            "acked-transitions": await read(app, server, oid, "acked-transitions"),
            "event-time-stamps": await read(app, server, oid, "event-time-stamps"),
            "summaries": await event_information(app, server),
        }
        with pytest.raises(TimeoutError):  # restored, not detected again
            await next_notification(app, 1.5)
        await write(app, server, oid, "present-value", Real(20.0))
        found["back"] = await next_notification(app, WAIT)
        return found
    finally:
        close_application(app)


def stored(database_url: str, oid: tuple[str, int]) -> tuple[Any, ...]:
    (row,) = sql(
        database_url,
        "SELECT event_state, acked_transitions FROM virtual_virtualobject "
        "WHERE object_type=%s AND instance=%s",
        *oid,
    )
    state, acked = row
    return state, json.loads(acked) if isinstance(acked, str) else acked


def wait_for_transition_row(database_url: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sql(database_url, "SELECT id FROM alarms_alarmtransition"):
            return
        time.sleep(0.1)
    raise AssertionError("no transition recorded")


def test_an_acknowledged_alarm_survives_kill_9_and_returns_to_normal(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    oid = configure(database_url, bacnet_port)
    worker: Process = start_worker(start_process, database_url, bacnet_port)
    alarm = asyncio.run(raise_and_acknowledge(bacnet_port, oid))
    wait_for_transition_row(database_url)
    assert stored(database_url, oid) == ("high-limit", [True, True, True])
    (ack,) = sql(
        database_url,
        "SELECT t.to_state, t.ack_source, t.ack_process_id FROM alarms_alarmtransition t "
        "WHERE t.acked_at IS NOT NULL",
    )
    assert ack == ("high-limit", "operator", 7)

    worker.stop(signal.SIGKILL)
    worker = start_worker(start_process, database_url, bacnet_port)
    found = asyncio.run(after_restart(bacnet_port, oid))
    assert found["event-state"] == "high-limit"
    assert found["acked-transitions"] == ("to-offnormal", "to-fault", "to-normal")
    assert found["event-time-stamps"][0] == to_python(alarm.time_stamp)
    (summary,) = found["summaries"]
    assert summary["event-state"] == "high-limit"
    back = found["back"]
    assert (back.from_state, back.to_state, back.ack_required) == ("high-limit", "normal", False)
