"""The collect job in-process: an Engine against a simulated building on loopback, into the
test database (SQLite here; the subprocess tests run on both databases). A new device's
trend-log objects are stored by its first collect (issue 15)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading
from bms.simulator.building import SimulatedBuilding
from bms.simulator.trendlogs import DEFAULT_TREND_BUFFER, DEFAULT_TREND_INTERVAL
from bms.tasks import queue
from bms.worker import jobs

pytestmark = pytest.mark.django_db(transaction=True)

DEVICES, OBJECTS = 20, 6  # more devices than one collect chunk (16)
SILENT = 7777  # a device row at an address nobody answers on


def make_devices(port: int) -> None:
    for index in range(DEVICES):
        BACnetDevice.objects.create(
            device_instance=1000 + index, address=f"127.0.0.{2 + index}:{port}", online=True
        )
    BACnetDevice.objects.create(device_instance=SILENT, address=f"127.0.0.99:{port}", online=True)


def check_trend_logs_stored() -> None:
    """Each simulated device's trend log 1 (of its first analog input: simulator/trendlogs.py)
    is a point of type trend-log, with the point it logs and its buffer's description."""
    logs = list(BACnetPoint.objects.filter(object_type="trend-log").select_related("logged_point"))
    assert len(logs) == DEVICES
    for log in logs:
        assert log.instance == 1
        assert log.name.endswith("_Log")
        assert log.logged_point is not None
        assert log.logged_point.device_id == log.device_id
        assert log.logged_point.object_type == "analog-input"
        assert log.properties["buffer-size"] == DEFAULT_TREND_BUFFER
        assert log.properties["log-interval"] == 100 * DEFAULT_TREND_INTERVAL  # hundredths
        assert log.properties["record-count"] >= 0
        assert log.properties["logging-type"] == "polled"
        assert log.properties_read_at is not None


async def run_collect(engine: Engine) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    reports: list[dict[str, Any]] = []

    async def progress(**fields: Any) -> None:
        reports.append(fields)

    task = await sync_to_async(queue.enqueue)("collect", {})
    settings = jobs.JobSettings(site="default", discovery_cache_seconds=0)
    return await jobs.collect(engine, task, progress, settings), reports


async def test_collect_reads_every_device_in_chunks_and_lists_the_silent_one(
    bacnet_port: int,
) -> None:
    await sync_to_async(make_devices)(bacnet_port)
    # The building runs on this test's own event loop beside the engine: give answers time.
    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", timeout=2.0, retries=0)
    async with (
        SimulatedBuilding(
            devices=DEVICES,
            objects=OBJECTS,
            port=bacnet_port,
            no_segmentation_index=None,
            no_rpm_index=None,
        ),
        Engine(config) as engine,
    ):
        # First collect: no point lists yet, so every device's points are read and stored.
        first, _ = await run_collect(engine)
        points = await sync_to_async(BACnetPoint.objects.exclude(object_type="trend-log").count)()
        assert first["failed_devices"] == [SILENT]
        assert first["devices"] == DEVICES + 1
        assert points >= DEVICES * OBJECTS
        # Their trend-log objects too, with the point each logs and its buffer's description.
        assert first["trend_logs"] == DEVICES
        await sync_to_async(check_trend_logs_stored)()
        # Second collect: the values of every point, stored as readings, chunk by chunk.
        before = await sync_to_async(BACnetReading.objects.count)()
        second, reports = await run_collect(engine)
        stored = await sync_to_async(BACnetReading.objects.count)() - before
    assert second == {
        "devices": DEVICES + 1,
        "readings": points,  # trend logs are not polled
        "failed_devices": [SILENT],
        "trend_logs": 0,  # only new devices' are read by a collect
    }
    assert stored == points
    assert [r["done"] for r in reports] == [16, DEVICES + 1]
    assert reports[-1]["total"] == DEVICES + 1
