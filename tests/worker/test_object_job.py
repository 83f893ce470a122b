"""The read_object job in-process: "Read all properties" queued through bms.tasks.submission
(what the point page calls), run by an Engine against simulated devices on loopback, keeps every
property on the point, from a device that takes RPM and from one that refuses it."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.errors import InvalidValueError
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.simulator.building import SimulatedBuilding
from bms.tasks import queue, submission
from bms.tasks.models import BACnetTask
from bms.worker import jobs

pytestmark = pytest.mark.django_db(transaction=True)

WITH_RPM, WITHOUT_RPM = 1000, 1001
FAN = "AHU Supply Fan Command"  # a commandable binary-output


async def no_progress(**fields: Any) -> None:
    pass


SETTINGS = jobs.JobSettings(site="default", discovery_cache_seconds=0)


@pytest.fixture
async def engine(bacnet_port: int) -> Any:
    for host, instance in ((2, WITH_RPM), (3, WITHOUT_RPM)):
        await sync_to_async(BACnetDevice.objects.create)(
            device_instance=instance, address=f"127.0.0.{host}:{bacnet_port}", online=True
        )
    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", timeout=2.0, retries=0)
    async with (
        SimulatedBuilding(
            devices=2, objects=12, port=bacnet_port, no_segmentation_index=None, no_rpm_index=1
        ),
        Engine(config) as engine,
    ):
        for instance in (WITH_RPM, WITHOUT_RPM):
            task = await sync_to_async(queue.enqueue)("read_points", {"device_id": instance})
            await jobs.read_points(engine, task, no_progress, SETTINGS)
        yield engine


def fan_of(instance: int) -> BACnetPoint:
    return BACnetPoint.objects.select_related("device").get(
        name=FAN, device__device_instance=instance
    )


async def read_all(engine: Engine, point: BACnetPoint) -> tuple[dict[str, Any], BACnetPoint]:
    task = await sync_to_async(submission.read_object)(point)
    claimed = await sync_to_async(BACnetTask.objects.get)(id=task.id)
    result = await jobs.JOBS["read_object"](engine, claimed, no_progress, SETTINGS)
    return result, await sync_to_async(BACnetPoint.objects.get)(id=point.id)


@pytest.mark.parametrize(
    ("instance", "method"), [(WITH_RPM, "rpm-all"), (WITHOUT_RPM, "standard-properties")]
)
async def test_every_property_of_a_point_is_kept_on_it(engine, instance, method):
    point = await sync_to_async(fan_of)(instance)
    result, stored = await read_all(engine, point)
    assert result["method"] == method
    assert result["point_id"] == point.id
    assert result["properties"] == len(stored.properties) > 10
    assert stored.properties["object-name"] == FAN
    assert stored.properties["priority-array"] == [None] * 16
    assert stored.properties["relinquish-default"] in ("active", "inactive")
    assert stored.properties["out-of-service"] is False
    assert stored.properties_read_at is not None


async def test_a_write_shows_in_the_next_read_of_the_priority_array(engine):
    point = await sync_to_async(fan_of)(WITH_RPM)
    write = await sync_to_async(submission.write_point)(
        point, "active", 5, False, user="otto", source="operator"
    )
    claimed = await sync_to_async(BACnetTask.objects.get)(id=write.id)
    await jobs.write_point(engine, claimed, no_progress, SETTINGS)
    _result, stored = await read_all(engine, point)
    assert stored.properties["priority-array"][4] == "active"
    assert stored.properties["current-command-priority"] == 5


async def test_an_object_that_is_no_point_keeps_its_properties_in_the_result(engine):
    task = await sync_to_async(queue.enqueue)(
        "read_object", {"device_id": WITH_RPM, "object": f"device,{WITH_RPM}"}
    )
    result = await jobs.JOBS["read_object"](engine, task, no_progress, SETTINGS)
    assert result["point_id"] is None
    assert result["values"]["object-identifier"] == f"device,{WITH_RPM}"


async def test_a_malformed_object_fails_the_task_with_a_reason(engine):
    task = await sync_to_async(queue.enqueue)(
        "read_object", {"device_id": WITH_RPM, "object": "no object"}
    )
    with pytest.raises(InvalidValueError, match="bad object 'no object'"):
        await jobs.JOBS["read_object"](engine, task, no_progress, SETTINGS)
