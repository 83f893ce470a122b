"""The write_point job in-process: writes queued through bms.tasks.submission (what the web and
the API call), run by an Engine against a simulated device on loopback, are audited as whoever
asked for them."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading, WriteAudit
from bms.simulator.building import SimulatedBuilding
from bms.tasks import queue, submission
from bms.tasks.models import BACnetTask
from bms.worker import jobs

pytestmark = pytest.mark.django_db(transaction=True)

DEVICE = 1000
SETPOINT = "AHU Supply Air Temperature Setpoint"  # a commandable analog-value


async def no_progress(**fields: Any) -> None:
    pass


SETTINGS = jobs.JobSettings(site="default", discovery_cache_seconds=0)


def point_named(name: str) -> BACnetPoint:
    return BACnetPoint.objects.select_related("device").get(name=name)


def missing_point() -> BACnetPoint:
    """A point the database believes in but the device no longer has (unknown-object)."""
    return BACnetPoint.objects.create(
        device=BACnetDevice.objects.get(device_instance=DEVICE),
        object_type="analog-value",
        instance=999,
        name="Removed",
        commandable=True,
    )


async def run_write(engine: Engine, task: BACnetTask) -> dict[str, Any]:
    claimed = await sync_to_async(BACnetTask.objects.get)(id=task.id)
    return await jobs.write_point(engine, claimed, no_progress, SETTINGS)


def audits() -> list[tuple[str, str, bool, Any]]:
    return [(a.source, a.who, a.accepted, a.new_value) for a in WriteAudit.objects.order_by("id")]


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
        task = await sync_to_async(queue.enqueue)("read_points", {"device_id": DEVICE})
        await jobs.read_points(engine, task, no_progress, SETTINGS)
        yield engine


async def test_an_api_write_is_audited_as_the_api_users_and_stores_the_read_back(engine):
    point = await sync_to_async(point_named)(SETPOINT)
    task = await sync_to_async(submission.write_point)(
        point, 15.5, 8, False, user="script", source="api"
    )
    result = await run_write(engine, task)
    assert result["present_value"] == 15.5
    assert await sync_to_async(audits)() == [("api", "script", True, 15.5)]
    reading = await sync_to_async(BACnetReading.objects.filter(point=point).latest)("id")
    assert (reading.value, reading.source) == (15.5, "operator_write")


async def test_a_web_write_stays_the_signed_in_operators(engine):
    point = await sync_to_async(point_named)(SETPOINT)
    task = await sync_to_async(submission.write_point)(
        point, None, 8, True, user="otto", source="operator"
    )
    await run_write(engine, task)
    assert await sync_to_async(audits)() == [("operator", "otto", True, None)]


async def test_a_write_the_device_refuses_is_audited_as_refused_with_its_source(engine):
    point = await sync_to_async(missing_point)()
    task = await sync_to_async(submission.write_point)(
        point, 3.0, 8, False, user="script", source="api"
    )
    with pytest.raises(BACnetError):
        await run_write(engine, task)
    refused = await sync_to_async(WriteAudit.objects.get)(point=point)
    assert (refused.source, refused.who, refused.accepted) == ("api", "script", False)
    assert "unknown-object" in refused.reason


async def test_a_task_queued_without_a_source_is_audited_as_an_operators(engine):
    """As an older version queued it: the user, no source."""
    point = await sync_to_async(point_named)(SETPOINT)
    task = await sync_to_async(queue.enqueue)(
        "write_point",
        {"point_id": point.id, "value": 14.0, "priority": 9, "relinquish": False, "user": "otto"},
    )
    await run_write(engine, task)
    assert await sync_to_async(audits)() == [("operator", "otto", True, 14.0)]
