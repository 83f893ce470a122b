"""Remote schedules, calendars and device management over real UDP.

Device 8888 (bms.bacnet.device.serve_device) on 127.0.0.2 serves a binary schedule and a
calendar, with password PASSWORD; the client under test is a bacpypes3 Application on
127.0.0.4 with its own Requester, both on the test's own port.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import LocalDevice, serve_device
from bms.bacnet.device_management_client import DeviceManagementClient
from bms.bacnet.errors import BACnetTimeoutError, ErrorResponse, InvalidValueError
from bms.bacnet.local.schedule import CalendarSpec, ScheduleSpec
from bms.bacnet.requester import Requester
from bms.bacnet.schedule_client import ScheduleClient
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import to_python

PASSWORD = "s3cret"
MINUTE = 2.0  # how long a DCC "minute" lasts on the device under test
WAIT = 10.0  # bounds a wait for the in-process device; each returns as soon as it is done
# How far a synchronised clock may be from the time sent: whole seconds on the wire plus the
# request's way, on a loaded machine. The mistakes it catches are a zone or UTC mix-up (hours).
CLOCK_SLACK = timedelta(seconds=10)
WEEK = [[["08:00", "active"], ["18:00", "inactive"]], *([[]] * 6)]
HOLIDAYS = [{"date": {"year": None, "month": 12, "day": 25, "weekday": None}}]


@dataclass
class Rig:
    app: Any
    device: LocalDevice
    client_app: Any
    port: int
    schedules: ScheduleClient
    management: DeviceManagementClient
    reinitialized: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.2:{self.port}"


@pytest.fixture
async def rig(bacnet_port: int) -> AsyncIterator[Rig]:
    config = EngineConfig(
        address=f"127.0.0.2/8:{bacnet_port}", device_password=PASSWORD, time_zone="Europe/Paris"
    )
    app, device = await serve_device(config)
    app.dcc_seconds_per_minute = MINUTE
    device.schedules.put_calendar(CalendarSpec(1, "Holidays", HOLIDAYS))
    device.schedules.put_schedule(
        ScheduleSpec(
            instance=1,
            name="Lights",
            kind="binary",
            weekly=[[] for _ in range(7)],
            exceptions=[],
            effective_period={"start": None, "end": None},
            default="inactive",
        )
    )
    client_config = EngineConfig(
        address=f"127.0.0.4/8:{bacnet_port}", device_instance=9001, timeout=1.0, retries=0
    )
    try:
        client_app = await open_application(client_config)
    except BaseException:
        close_application(app)
        raise
    requester = Requester(client_app, client_config)
    rig = Rig(
        app,
        device,
        client_app,
        bacnet_port,
        ScheduleClient(requester),
        DeviceManagementClient(requester),
    )

    async def reinitialize(state: str) -> None:
        rig.reinitialized.append(state)

    app.reinitialize_hook = reinitialize
    yield rig
    app.enable_communications()
    await requester.stop()
    close_application(client_app)
    close_application(app)


async def test_a_remote_schedule_reads_as_codec_json_with_its_kind(rig: Rig) -> None:
    read = await rig.schedules.read_schedule(rig.address, 1)

    assert read.ref == ObjectRef("schedule", 1)
    assert read.kind == "binary"
    assert read.weekly == [[] for _ in range(7)]
    assert read.default == "inactive"
    assert read.effective_period == {"start": None, "end": None}
    assert read.present_value == "inactive"


async def test_a_written_weekly_schedule_reads_back_and_the_device_holds_it(rig: Rig) -> None:
    await rig.schedules.write_weekly(rig.address, 1, "binary", WEEK)

    read = await rig.schedules.read_schedule(rig.address, 1)
    assert read.weekly == [[["08:00:00", "active"], ["18:00:00", "inactive"]], *([[]] * 6)]
    served = rig.device.schedules.served()[ObjectRef("schedule", 1)]
    assert isinstance(served, ScheduleSpec)
    assert served.weekly == read.weekly


async def test_exceptions_with_a_calendar_reference_and_a_date_read_back(rig: Rig) -> None:
    exceptions = [
        {"priority": 5, "times": [["00:00", "inactive"]], "calendar": 1},
        {
            "priority": 10,
            "times": [["09:00", "active"]],
            "entry": {"range": {"start": "2026-12-24", "end": "2027-01-02"}},
        },
    ]
    await rig.schedules.write_exceptions(rig.address, 1, "binary", exceptions)

    read = await rig.schedules.read_schedule(rig.address, 1)
    assert read.exceptions == [
        {"priority": 5, "times": [["00:00:00", "inactive"]], "calendar": 1},
        {
            "priority": 10,
            "times": [["09:00:00", "active"]],
            "entry": {"range": {"start": "2026-12-24", "end": "2027-01-02"}},
        },
    ]


async def test_a_calendar_date_list_is_written_and_read_back(rig: Rig) -> None:
    entries = [
        *HOLIDAYS,
        {"week_n_day": {"month": None, "week": 6, "weekday": 5}},
        {"range": {"start": "2026-08-01", "end": "2026-08-15"}},
    ]
    await rig.schedules.write_date_list(rig.address, 1, entries)

    assert await rig.schedules.read_date_list(rig.address, 1) == entries


async def test_a_malformed_week_is_refused_before_sending_and_the_device_keeps_its_own(
    rig: Rig,
) -> None:
    out_of_order = [[["18:00", "active"], ["08:00", "inactive"]], *([[]] * 6)]
    with pytest.raises(InvalidValueError, match="out of order"):
        await rig.schedules.write_weekly(rig.address, 1, "binary", out_of_order)
    with pytest.raises(InvalidValueError, match="not a value of a binary"):
        await rig.schedules.write_weekly(rig.address, 1, "binary", [[["08:00", 21.5]]] + [[]] * 6)

    assert (await rig.schedules.read_schedule(rig.address, 1)).weekly == [[]] * 7


async def test_the_devices_refusal_comes_back_as_its_error(rig: Rig) -> None:
    missing_calendar = [{"priority": 5, "times": [["00:00", "active"]], "calendar": 99}]
    with pytest.raises(ErrorResponse) as refused:
        await rig.schedules.write_exceptions(rig.address, 1, "binary", missing_calendar)
    assert refused.value.error_code == "value-out-of-range"

    with pytest.raises(ErrorResponse) as denied:  # device 8888 keeps its default in the BMS
        await rig.schedules.write_default(rig.address, 1, "binary", "active")
    assert denied.value.error_code == "write-access-denied"


async def test_dcc_with_a_wrong_password_is_refused(rig: Rig) -> None:
    with pytest.raises(ErrorResponse) as refused:
        await rig.management.communication_control(rig.address, "disable", "wrong", 1)

    assert refused.value.error_code == "password-failure"
    assert rig.app.communication == "enable"


async def test_dcc_disable_silences_the_device_for_its_minutes_then_it_answers_again(
    rig: Rig,
) -> None:
    await rig.management.communication_control(rig.address, "disable", PASSWORD, 1)

    with pytest.raises(BACnetTimeoutError):
        await rig.schedules.read_date_list(rig.address, 1)
    await asyncio.sleep(MINUTE)
    assert await rig.schedules.read_date_list(rig.address, 1) == HOLIDAYS


async def test_reinitialize_reaches_the_device_with_the_right_password_only(rig: Rig) -> None:
    with pytest.raises(ErrorResponse):
        await rig.management.reinitialize(rig.address, "warmstart", "wrong")
    await rig.management.reinitialize(rig.address, "warmstart", PASSWORD)

    async with asyncio.timeout(WAIT):  # returns as soon as it is there
        while not rig.reinitialized:
            await asyncio.sleep(0.01)
    assert rig.reinitialized == ["warmstart"]


@pytest.mark.parametrize("utc", [True, False])
async def test_time_synchronization_sets_the_devices_clock(rig: Rig, utc: bool) -> None:
    sent_at = datetime.now(UTC) + timedelta(hours=3)

    rig.management.synchronize_time(rig.address, sent_at, utc=utc, zone=ZoneInfo("Europe/Paris"))

    async with asyncio.timeout(WAIT):  # returns as soon as it is there
        while abs(rig.app.clock.offset - timedelta(hours=3)) > CLOCK_SLACK:
            await asyncio.sleep(0.01)
    assert abs(rig.app.clock.now() - sent_at) < CLOCK_SLACK


async def test_management_arguments_are_checked_before_sending(rig: Rig) -> None:
    with pytest.raises(InvalidValueError):
        await rig.management.communication_control(rig.address, "off", PASSWORD)
    with pytest.raises(InvalidValueError):
        await rig.management.reinitialize(rig.address, "warmstart", "x" * 21)
    with pytest.raises(InvalidValueError):
        rig.management.synchronize_time(
            rig.address, datetime(2026, 1, 1), utc=True, zone=ZoneInfo("UTC")
        )


async def test_to_python_converts_a_schedules_any_atomic_values(rig: Rig) -> None:
    """values.to_python, the generic reader's converter, on what a schedule's present-value
    and schedule-default come back as (an AnyAtomic)."""
    app = rig.client_app
    schedule = ObjectIdentifier(("schedule", 1))
    rig.device.schedules.put_schedule(
        dataclasses.replace(
            rig.device.schedules.served()[ObjectRef("schedule", 1)],  # type: ignore[arg-type]
            kind="analog",
            default=21.5,
        )
    )
    async with asyncio.timeout(WAIT):
        default = await app.read_property(Address(rig.address), schedule, "schedule-default")
        present = await app.read_property(Address(rig.address), schedule, "present-value")

    assert to_python(default) == 21.5
    assert to_python(present) == 21.5
