"""The real worker serves schedules: an external client writes one, the virtual object it drives
changes at the next transition, a malformed write changes nothing, a restart writes the value
in force again, and a schedule an operator creates (bms.schedules.services) is served and
written by the running worker, then gone and relinquished once deleted. On SQLite and
PostgreSQL, with the site in Europe/Paris.

The worker binds 127.0.0.1; a bacpypes3 client on 127.0.0.11, both on the test's own port.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bacpypes3.apdu import DeviceCommunicationControlRequest, ErrorRejectAbortNack
from bacpypes3.app import Application
from bacpypes3.basetypes import ArrayOfDailySchedule, BinaryPV, DailySchedule, TimeValue
from bacpypes3.constructeddata import AnyAtomic
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Real, Time

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.values import to_python
from tests.worker.conftest import manage, sql, start_worker
from tests.worker.test_external_writes import objects_of

pytestmark = pytest.mark.slow

WAIT = 10.0
PARIS = ZoneInfo("Europe/Paris")
SCHEDULE = "schedule,1"
LEAD_SECONDS = 3


@asynccontextmanager
async def client(port: int) -> AsyncIterator[Application]:
    app = await open_application(EngineConfig(address=f"127.0.0.11/8:{port}", device_instance=9011))
    try:
        yield app
    finally:
        close_application(app)


async def read(app: Application, port: int, ref: str, prop: str, index: int | None = None) -> Any:
    async with asyncio.timeout(WAIT):
        value = await app.read_property(Address(f"127.0.0.1:{port}"), ref, prop, index)
    if isinstance(value, AnyAtomic):  # a schedule's present-value: whatever it commands
        value = value.get_value()
    return to_python(value)


async def write(app: Application, port: int, ref: str, prop: str, value: Any) -> str:
    try:
        async with asyncio.timeout(WAIT):
            await app.write_property(Address(f"127.0.0.1:{port}"), ref, prop, value)
    except ErrorRejectAbortNack as err:
        return f"{err.errorClass}:{err.errorCode}"  # type: ignore[attr-defined]
    return "acknowledged"


def week(*entries: tuple[datetime, Any]) -> ArrayOfDailySchedule:
    """The same day every day: TimeValues at the given wall times."""
    day = DailySchedule(
        daySchedule=[
            TimeValue(time=Time((t.hour, t.minute, t.second, 0)), value=value)
            for t, value in entries
        ]
    )
    return ArrayOfDailySchedule([day] * 7)


def create_schedule(database_url: str, target: tuple[str, int]) -> None:
    code = (
        "from bms.schedules.services import create_schedule\n"
        "from bms.virtual.models import VirtualObject\n"
        f"o = VirtualObject.objects.get(object_type={target[0]!r}, instance={target[1]})\n"
        "create_schedule([o], instance=1, name='Damper_Schedule', kind='analog',"
        " schedule_default=None, priority_for_writing=10)\n"
    )
    done = manage(database_url, "shell", "-c", code)
    assert done.returncode == 0, done.stderr


def stored_weekly(database_url: str) -> Any:
    (value,) = sql(database_url, "SELECT weekly FROM schedules_schedule WHERE instance=1")[0]
    return json.loads(value) if isinstance(value, str) else value


def test_an_external_write_of_a_weekly_schedule_drives_its_object_at_the_transition(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    created = manage(
        database_url, "bacnet_virtual", "create", "--device-id", "1001", "--name", "AHU",
        "--template", "air_handling_unit",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    kind, instance = objects_of(database_url, 1001)["Damper_Position"]
    damper = f"{kind},{instance}"
    create_schedule(database_url, (kind, instance))
    env = {"TIME_ZONE": "Europe/Paris", "BACNET_DEVICE_PASSWORD": "s3cret"}
    worker = start_worker(start_process, database_url, bacnet_port, **env)

    async def scenario() -> None:
        async with client(bacnet_port) as app:
            assert await read(app, bacnet_port, SCHEDULE, "present-value") is None
            now = datetime.now(PARIS).replace(tzinfo=None, microsecond=0)
            if now.time() > (datetime.min + timedelta(hours=23, minutes=59, seconds=40)).time():
                pytest.skip("too close to midnight for a transition a few seconds ahead")
            at = now + timedelta(seconds=LEAD_SECONDS)
            # malformed: out of order, a binary value in an analog schedule, out of the
            # damper's range (0..100, which only the database knows): refused, nothing stored
            backwards = week((at, Real(42.0)), (at - timedelta(seconds=1), Real(1.0)))
            assert await write(app, bacnet_port, SCHEDULE, "weekly-schedule", backwards) == (
                "property:value-out-of-range"
            )
            wrong_type = week((at, BinaryPV("active")))
            assert await write(app, bacnet_port, SCHEDULE, "weekly-schedule", wrong_type) == (
                "property:invalid-data-type"
            )
            too_big = week((at, Real(150.0)))
            assert await write(app, bacnet_port, SCHEDULE, "weekly-schedule", too_big) == (
                "property:value-out-of-range"
            )
            assert stored_weekly(database_url) == [[]] * 7
            assert await read(app, bacnet_port, SCHEDULE, "weekly-schedule", 1) == {
                "day-schedule": []
            }
            # a good one, a transition LEAD_SECONDS ahead
            ok = await write(app, bacnet_port, SCHEDULE, "weekly-schedule", week((at, Real(42.0))))
            assert ok == "acknowledged"
            assert stored_weekly(database_url)[0] == [[at.time().isoformat(), 42.0]]
            assert await read(app, bacnet_port, damper, "present-value") == 0.0
            async with asyncio.timeout(LEAD_SECONDS + WAIT):
                while await read(app, bacnet_port, damper, "present-value") != 42.0:
                    await asyncio.sleep(0.2)
            assert datetime.now(PARIS).replace(tzinfo=None) >= at
            assert await read(app, bacnet_port, damper, "priority-array", 10) == 42.0
            assert await read(app, bacnet_port, SCHEDULE, "present-value") == 42.0
            dcc = DeviceCommunicationControlRequest(
                enableDisable="disable", timeDuration=1, password="guess",
                destination=Address(f"127.0.0.1:{bacnet_port}"),
            )  # fmt: skip
            with pytest.raises(ErrorRejectAbortNack, match="password"):
                async with asyncio.timeout(WAIT):
                    await app.request(dcc)

    asyncio.run(scenario())
    audits = sql(
        database_url,
        "SELECT property, accepted, source, who FROM devices_writeaudit "
        "WHERE property IN ('weekly-schedule', 'device-communication-control') "
        "OR source = 'schedule' ORDER BY id",
    )
    assert [(p, bool(a)) for p, a, _s, _w in audits] == [
        ("present-value", True),  # at start: the value in force (NULL relinquishes 10)
        ("weekly-schedule", False),
        ("weekly-schedule", False),
        ("weekly-schedule", False),
        ("weekly-schedule", True),
        ("present-value", True),  # the schedule's command at the transition
        ("device-communication-control", False),
    ]
    assert audits[5][2:] == ("schedule", "schedule,1 Damper_Schedule")
    worker.stop()

    # An operator takes priority 10 meanwhile; after a restart the schedule writes its value
    # in force again.
    code = (
        "from bms.virtual.commands import command_virtual_object\n"
        "from bms.virtual.models import VirtualObject\n"
        f"o = VirtualObject.objects.get(object_type={kind!r}, instance={instance})\n"
        "command_virtual_object(o, 7.0, 10, user='op')\n"
    )
    assert manage(database_url, "shell", "-c", code).returncode == 0
    start_worker(start_process, database_url, bacnet_port, **env)

    valve_kind, valve_instance = objects_of(database_url, 1001)["Valve_Position"]
    valve = f"{valve_kind},{valve_instance}"

    async def after_restart() -> None:
        async with client(bacnet_port) as app:
            async with asyncio.timeout(WAIT):
                while await read(app, bacnet_port, damper, "priority-array", 10) != 42.0:
                    await asyncio.sleep(0.2)
            # An operator creates a schedule (the next free instance, 2): the running worker
            # serves it and writes its default to the valve; deleted, it is gone and the valve's
            # level 12 is relinquished.
            await asyncio.to_thread(
                operate, database_url, CREATE_VALVE_SCHEDULE % (valve_kind, valve_instance)
            )
            async with asyncio.timeout(WAIT):
                while (
                    await read_or_error(app, bacnet_port, "schedule,2", "object-name") != "Valves"
                ):
                    await asyncio.sleep(0.2)
                while await read(app, bacnet_port, valve, "priority-array", 12) != 33.0:
                    await asyncio.sleep(0.2)
            assert await read(app, bacnet_port, "schedule,2", "present-value") == 33.0
            await asyncio.to_thread(operate, database_url, DELETE_VALVE_SCHEDULE)
            async with asyncio.timeout(WAIT):
                while await read_or_error(app, bacnet_port, "schedule,2", "object-name") != (
                    "object:unknown-object"
                ):
                    await asyncio.sleep(0.2)
                while await read(app, bacnet_port, valve, "priority-array", 12) is not None:
                    await asyncio.sleep(0.2)

    asyncio.run(after_restart())
    configured = sql(
        database_url,
        "SELECT action, who FROM devices_configaudit WHERE action IN "
        "('schedule_created', 'schedule_changed', 'schedule_deleted') ORDER BY id",
    )
    assert [tuple(row) for row in configured] == [
        ("schedule_created", "system"),  # the first one, created by create_schedule above
        ("schedule_created", "op"),
        ("schedule_deleted", "op"),
    ]


CREATE_VALVE_SCHEDULE = (
    "from bms.schedules import services\n"
    "from bms.virtual.models import VirtualObject\n"
    "o = VirtualObject.objects.get(object_type=%r, instance=%d)\n"
    "services.create_schedule([o], user='op', source='api', name='Valves', kind='analog',"
    " schedule_default=33.0, priority_for_writing=12)\n"
)
DELETE_VALVE_SCHEDULE = (
    "from bms.schedules import services\n"
    "from bms.schedules.models import Schedule\n"
    "row = Schedule.objects.get(instance=2)\n"
    "refused = services.delete_schedule(row, user='op', source='api')\n"
    "assert refused == [], refused\n"
)


def operate(database_url: str, code: str) -> None:
    done = manage(database_url, "shell", "-c", code)
    assert done.returncode == 0, done.stderr


async def read_or_error(app: Application, port: int, ref: str, prop: str) -> Any:
    """The value, or the error the device answers ("object:unknown-object")."""
    try:
        return await read(app, port, ref, prop)
    except ErrorRejectAbortNack as err:
        return f"{err.errorClass}:{err.errorCode}"  # type: ignore[attr-defined]
