"""The worker reads a remote device's trend log into history with ReadRange, over real UDP.

The remote device (127.0.0.2) is device 8888's own code serving AI 1 and a trend log of it
over an in-memory buffer of 50 records, one record a minute; the worker's engine is on
127.0.0.3. Between runs the worker is "away" while the device keeps logging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import ObjectSpec, serve_device
from bms.bacnet.engine import Engine
from bms.bacnet.local.trendlog import TrendLogSpec
from bms.bacnet.read_range import MemoryRecords
from bms.bacnet.stack import close_application
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading
from bms.simulator.building import SimulatedBuilding
from bms.tasks.models import BACnetTask
from bms.tasks.queue import enqueue
from bms.worker import jobs
from bms.worker.jobs import JobSettings
from bms.worker.trendlog_backfill import (
    backfill_device,
    backfill_trendlog,
    queue_startup_backfills,
    store_trend_logs,
)

pytestmark = pytest.mark.django_db(transaction=True)
LOG = ObjectRef("trend-log", 1)
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BUFFER = 50


@dataclass
class Rig:
    engine: Engine
    records: MemoryRecords
    device_pk: int
    logged: int = 0

    def log_minutes(self, count: int) -> None:
        """The device logs `count` more records, one a minute, value = its number."""
        for _ in range(count):
            self.logged += 1
            self.records.append(LOG, START + timedelta(minutes=self.logged), float(self.logged))


@pytest.fixture(name="rig")
async def backfill_rig(bacnet_port: int) -> AsyncIterator[Rig]:
    remote_config = EngineConfig(address=f"127.0.0.2/8:{bacnet_port}", time_zone="UTC")
    remote_app, remote = await serve_device(
        remote_config, objects=[ObjectSpec("AI", 1, "Supply_Temp")]
    )
    records = MemoryRecords()
    remote.trend_logs.source = records
    remote.trend_logs.put(
        TrendLogSpec(1, "Supply_Temp_Log", ObjectRef("analog-input", 1), buffer_size=BUFFER)
    )
    device = await sync_to_async(BACnetDevice.objects.create)(
        device_instance=8888, address=f"127.0.0.2:{bacnet_port}"
    )
    await sync_to_async(BACnetPoint.objects.create)(
        device=device, object_type="analog-input", instance=1, name="Supply_Temp"
    )
    try:
        engine_config = EngineConfig(address=f"127.0.0.3/8:{bacnet_port}", device_instance=9003)
        async with Engine(engine_config) as engine:
            yield Rig(engine, records, device.pk)
    finally:
        close_application(remote_app)


def stored_values() -> list[float]:
    rows = BACnetReading.objects.filter(source="trendlog").order_by("timestamp", "id")
    return [row.value for row in rows]


async def test_the_trend_log_object_is_stored_with_the_point_it_logs(rig: Rig) -> None:
    assert await store_trend_logs(rig.engine, rig.device_pk) == 1
    log_point = await sync_to_async(BACnetPoint.objects.select_related("logged_point").get)(
        object_type="trend-log", instance=1
    )
    assert log_point.name == "Supply_Temp_Log"
    assert log_point.logged_point is not None
    assert log_point.logged_point.object_type == "analog-input"


async def test_backfill_after_an_absence_leaves_no_gap_and_no_duplicate(rig: Rig) -> None:
    await store_trend_logs(rig.engine, rig.device_pk)
    rig.log_minutes(30)
    first = await backfill_device(rig.engine, rig.device_pk)
    assert (first.stored, first.lost, first.errors) == (30, 0, [])
    again = await backfill_device(rig.engine, rig.device_pk)
    assert again.stored == 0  # run twice: nothing stored twice

    rig.log_minutes(40)  # the worker was away 40 minutes; the buffer (50) wrapped, not past us
    later = await backfill_device(rig.engine, rig.device_pk)
    assert (later.stored, later.lost) == (40, 0)
    values = await sync_to_async(stored_values)()
    assert values == [float(n) for n in range(1, 71)]  # no gap, no duplicate
    cursor = await sync_to_async(
        lambda: BACnetPoint.objects.get(object_type="trend-log").log_sequence
    )()
    assert cursor == 70


async def test_an_absence_longer_than_the_buffer_counts_the_records_lost(rig: Rig) -> None:
    await store_trend_logs(rig.engine, rig.device_pk)
    rig.log_minutes(10)
    await backfill_device(rig.engine, rig.device_pk)
    rig.log_minutes(80)  # records 11..40 dropped by the device before we came back
    result = await backfill_device(rig.engine, rig.device_pk)
    assert (result.stored, result.lost) == (50, 30)
    values = await sync_to_async(stored_values)()
    assert values == [float(n) for n in [*range(1, 11), *range(41, 91)]]


async def test_backfill_from_a_simulated_device_after_the_worker_was_stopped(
    bacnet_port: int,
) -> None:
    building = SimulatedBuilding(devices=1, objects=6, port=bacnet_port, trend_interval=3600)
    async with building:
        sim = building.devices[0]
        device = await sync_to_async(BACnetDevice.objects.create)(
            device_instance=sim.instance, address=sim.address
        )
        logged = next(ref for ref in sim.objects if ref.object_type == "analog-input")
        await sync_to_async(BACnetPoint.objects.create)(
            device=device, object_type=logged.object_type, instance=logged.instance
        )
        config = EngineConfig(address=f"127.0.0.9/8:{bacnet_port}", device_instance=9005)
        for _ in range(5):
            building.log_trends()
        async with Engine(config) as engine:  # the worker runs, then stops
            assert await store_trend_logs(engine, device.pk) == 1
            assert (await backfill_device(engine, device.pk)).stored == 5
        for _ in range(7):  # logged while the worker is stopped
            building.log_trends()
        await asyncio.sleep(0.2)  # the stopped engine's socket closes on a later loop turn
        async with Engine(config) as engine:  # and starts again
            again = await backfill_device(engine, device.pk)
            twice = await backfill_device(engine, device.pk)
    assert (again.stored, again.lost, twice.stored) == (7, 0, 0)
    count = await sync_to_async(BACnetReading.objects.filter(source="trendlog").count)()
    assert count == 12


async def test_the_backfill_task_stores_the_logs_and_reads_them(rig: Rig) -> None:
    rig.log_minutes(12)
    task = await sync_to_async(enqueue)("backfill_trendlog", {"device_id": 8888}, site="default")
    messages: list[str] = []

    async def progress(**fields: Any) -> None:
        messages.append(str(fields.get("message")))

    result = await backfill_trendlog(rig.engine, task, progress, JobSettings("default", 0))
    assert (result["trend_logs"], result["stored"], result["lost"]) == (1, 12, 0)
    assert messages == ["reading the trend logs of device 8888"]


async def test_a_restart_queues_one_backfill_per_monitored_device_with_trend_logs(
    rig: Rig,
) -> None:
    await store_trend_logs(rig.engine, rig.device_pk)
    await sync_to_async(BACnetDevice.objects.filter(pk=rig.device_pk).update)(monitored=True)
    assert await sync_to_async(queue_startup_backfills)("default") == 1
    assert await sync_to_async(queue_startup_backfills)("default") == 0  # one already pending
    await sync_to_async(BACnetDevice.objects.filter(pk=rig.device_pk).update)(monitored=False)
    await sync_to_async(BACnetTask.objects.all().delete)()
    assert await sync_to_async(queue_startup_backfills)("default") == 0  # not monitored


async def test_a_read_points_task_stores_the_trend_log_with_its_buffer_description(
    rig: Rig,
) -> None:
    rig.log_minutes(3)
    task = await sync_to_async(enqueue)("read_points", {"device_id": 8888}, site="default")

    async def progress(**fields: Any) -> None:
        pass

    result = await jobs.read_points(rig.engine, task, progress, JobSettings("default", 0))
    assert (result["points"], result["trend_logs"]) == (1, 1)
    log_point = await sync_to_async(BACnetPoint.objects.select_related("logged_point").get)(
        object_type="trend-log", instance=1
    )
    assert log_point.name == "Supply_Temp_Log"
    assert log_point.logged_point is not None
    assert log_point.logged_point.instance == 1
    properties = log_point.properties
    assert (properties["buffer-size"], properties["record-count"]) == (BUFFER, 3)
    assert properties["total-record-count"] == 3
    assert properties["enable"] is True
    # The backfill can run on it straight away.
    assert (await backfill_device(rig.engine, rig.device_pk)).stored == 3
