"""The schedule and device-management jobs in-process: tasks queued through
bms.tasks.schedule_submission (what the web and the API call), run by an Engine against a
simulated device on loopback (bms.simulator.schedules: schedule,1 "Occupancy" and calendar,1
"Holidays"), read back and audited as whoever asked."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.errors import RejectResponse
from bms.devices.models import BACnetDevice, WriteAudit
from bms.realtime.payloads import task_payload
from bms.simulator.building import SimulatedBuilding
from bms.simulator.schedules import HOLIDAYS, OCCUPANCY_WEEK
from bms.tasks import describe, schedule_submission
from bms.tasks.models import BACnetTask
from bms.tasks.submission import Refused
from bms.worker import jobs

pytestmark = pytest.mark.django_db(transaction=True)

DEVICE = 1000
SETTINGS = jobs.JobSettings(site="default", discovery_cache_seconds=0)
AS_READ = [[[t + ":00", v] for t, v in day] for day in OCCUPANCY_WEEK]  # seconds shown
NEW_WEEK = [[["06:30:00", "active"], ["22:00:00", "inactive"]], *AS_READ[1:]]


async def no_progress(**fields: Any) -> None:
    pass


def device() -> BACnetDevice:
    return BACnetDevice.objects.get(device_instance=DEVICE)


async def run(engine: Engine, task: BACnetTask) -> dict[str, Any]:
    claimed = await sync_to_async(BACnetTask.objects.get)(id=task.id)
    return await jobs.JOBS[claimed.task_type](engine, claimed, no_progress, SETTINGS)


def audits() -> list[tuple[str, str, str, str, Any, Any, bool]]:
    return [
        (a.source, a.who, a.object_ref, a.property, a.old_value, a.new_value, a.accepted)
        for a in WriteAudit.objects.order_by("id")
    ]


@pytest.fixture
async def engine(bacnet_port: int) -> Any:
    await sync_to_async(BACnetDevice.objects.create)(
        device_instance=DEVICE, address=f"127.0.0.2:{bacnet_port}", online=True
    )
    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", timeout=2.0, retries=0)
    async with (
        SimulatedBuilding(
            devices=1, objects=12, port=bacnet_port, no_segmentation_index=None, no_rpm_index=None
        ),
        Engine(config) as engine,
    ):
        yield engine


async def test_reading_a_simulated_schedule_gives_its_week_and_kind(engine: Engine) -> None:
    task = await sync_to_async(schedule_submission.read_remote_schedule)(
        await sync_to_async(device)(), "schedule,1", user="otto"
    )
    result = await run(engine, task)

    assert result["kind"] == "binary"
    assert result["weekly"] == AS_READ
    assert result["default"] == "inactive"


async def test_the_worker_writes_a_devices_weekly_schedule_and_reads_back_what_it_wrote(
    engine: Engine,
) -> None:
    task = await sync_to_async(schedule_submission.write_remote_schedule)(
        await sync_to_async(device)(),
        "schedule,1",
        "binary",
        {"weekly": NEW_WEEK},
        user="otto",
        source="operator",
    )
    result = await run(engine, task)

    assert result["written"] == ["weekly-schedule"]
    assert result["weekly"] == NEW_WEEK
    reread = await run(
        engine,
        await sync_to_async(schedule_submission.read_remote_schedule)(
            await sync_to_async(device)(), "schedule,1", user="otto"
        ),
    )
    assert reread["weekly"] == NEW_WEEK
    (audit,) = await sync_to_async(audits)()
    assert audit[:4] == ("operator", "otto", "device,1000 schedule,1", "weekly-schedule")
    assert audit[4] == AS_READ  # before
    assert audit[5:] == (NEW_WEEK, True)


async def test_default_effective_period_and_a_calendar_are_written_and_read_back(
    engine: Engine,
) -> None:
    bacnet_device = await sync_to_async(device)()
    period = {"start": "2026-01-01", "end": "2026-12-31"}
    schedule_task = await sync_to_async(schedule_submission.write_remote_schedule)(
        bacnet_device,
        "schedule,1",
        "binary",
        {"default": "active", "effective_period": period},
        user="api-user",
        source="api",
    )
    entries = [*HOLIDAYS, {"range": {"start": "2026-08-01", "end": "2026-08-15"}}]
    calendar_task = await sync_to_async(schedule_submission.write_remote_schedule)(
        bacnet_device, "calendar,1", None, {"date_list": entries}, user="api-user", source="api"
    )

    schedule = await run(engine, schedule_task)
    calendar = await run(engine, calendar_task)

    assert schedule["default"] == "active"
    assert schedule["effective_period"] == period
    assert calendar["date_list"] == entries
    written = [(row[3], row[6]) for row in await sync_to_async(audits)()]
    assert written == [
        ("schedule-default", True),
        ("effective-period", True),
        ("date-list", True),
    ]


async def test_a_malformed_week_is_refused_before_any_task_is_queued(engine: Engine) -> None:
    bacnet_device = await sync_to_async(device)()
    out_of_order = [[["18:00", "active"], ["08:00", "inactive"]], *([[]] * 6)]

    with pytest.raises(Refused, match="out of order"):
        await sync_to_async(schedule_submission.write_remote_schedule)(
            bacnet_device, "schedule,1", "binary", {"weekly": out_of_order}, user="o", source="api"
        )
    with pytest.raises(Refused, match="kind"):
        await sync_to_async(schedule_submission.write_remote_schedule)(
            bacnet_device, "schedule,1", None, {"weekly": NEW_WEEK}, user="o", source="api"
        )
    assert await sync_to_async(BACnetTask.objects.count)() == 0


async def test_time_sync_to_a_device_is_sent_and_audited(engine: Engine) -> None:
    task = await sync_to_async(schedule_submission.synchronize_time)(
        await sync_to_async(device)(), None, True, user="admin", source="api"
    )
    result = await run(engine, task)

    assert result["service"] == "utc-time-synchronization"
    assert result["to"] == ["device,1000"]
    (audit,) = await sync_to_async(audits)()
    assert audit[:4] == ("api", "admin", "device,1000", "utc-time-synchronization")
    assert audit[5] == {"time": result["time"]}


async def test_a_dcc_the_device_rejects_is_audited_and_its_password_leaves_the_task_row(
    engine: Engine,
) -> None:
    """The simulator serves no DCC (bacpypes3 rejects it): device 8888's answers are in
    tests/bacnet/test_schedule_client.py."""
    task = await sync_to_async(schedule_submission.communication_control)(
        await sync_to_async(device)(), "disable", 1, "pw-123", user="admin", source="operator"
    )
    assert (await sync_to_async(BACnetTask.objects.get)(id=task.id)).parameters["password"]

    with pytest.raises(RejectResponse):
        await run(engine, task)

    stored = await sync_to_async(BACnetTask.objects.get)(id=task.id)
    assert "password" not in stored.parameters
    (audit,) = await sync_to_async(audits)()
    assert audit[:4] == ("operator", "admin", "device,1000", "device-communication-control")
    assert audit[5:] == ({"state": "disable", "minutes": 1}, False)


async def test_the_results_read_as_sentences(engine: Engine) -> None:
    bacnet_device = await sync_to_async(device)()
    write = await sync_to_async(schedule_submission.write_remote_schedule)(
        bacnet_device, "schedule,1", "binary", {"weekly": NEW_WEEK}, user="o", source="api"
    )
    sync = await sync_to_async(schedule_submission.synchronize_time)(
        None, None, False, user="o", source="api"
    )
    for task in (write, sync):
        task.result = await run(engine, task)

    assert describe.result_text(write) == (
        "wrote weekly-schedule; read back schedule,1 of device 1000 (binary): "
        "10 weekly entries, 0 exceptions, now inactive"
    )
    assert describe.result_text(sync).startswith("sent time-synchronization ")
    assert describe.result_text(sync).endswith("to site default (broadcast)")


async def test_a_pending_dcc_shows_its_password_hidden_in_the_task_payload(engine: Engine) -> None:
    task = await sync_to_async(schedule_submission.reinitialize)(
        await sync_to_async(device)(), "warmstart", "pw-123", user="admin", source="api"
    )

    assert task_payload(task)["parameters"]["password"] == "(hidden)"
    assert task.parameters["password"] == "pw-123"  # the worker still gets it
