"""How changes reach the monitoring service: settings changed in the database (the site's
monitoring revision), a device that restarts and announces itself (I-Am), and what the jobs'
requests tell device health. In-process against real bacpypes3 devices on loopback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.types import ObjectRef
from bms.devices import monitoring as settings_service
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading, DeviceHealthEvent
from bms.simulator.building import SimulatedBuilding
from bms.tasks import queue
from bms.worker import jobs
from bms.worker.monitoring import Monitoring
from tests.worker.monitoring_rig import (
    POINTS,
    PeerDevice,
    RunningMonitoring,
    eventually,
    make_device_rows,
    options,
)

pytestmark = pytest.mark.django_db(transaction=True)

AI = ObjectRef("analog-input", 1)
# A change announced by the revision arrives in about a second; the reload timer in these tests
# is 600 s. The bound tells the two apart with room for a loaded machine.
REVISION_PATH_SECONDS = 10.0


@pytest.fixture
async def peer(bacnet_port: int):
    device = PeerDevice(bacnet_port, 2, 1001)
    await device.start()
    yield device
    if device.app is not None:
        await device.silence()


def point_selects(queries: list[dict[str, Any]]) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and "devices_bacnetpoint" in q["sql"]
    ]


async def captured(service: Monitoring) -> list[dict[str, Any]]:
    """The queries of one `check()`, captured in the worker's one ORM thread."""
    context = CaptureQueriesContext(connection)
    await sync_to_async(context.__enter__)()
    try:
        await service.check()
    finally:
        await sync_to_async(context.__exit__)(None, None, None)
    # Read there too: `connection` is the calling thread's.
    return await sync_to_async(lambda: context.captured_queries)()


# ---- settings changed in a page or the API reach the worker at once, and cheaply


async def test_a_point_no_longer_monitored_is_cancelled_at_the_device_by_the_revision_check(
    bacnet_port, peer
):
    rows = await sync_to_async(make_device_rows)([peer], monitored=True)
    # The safety-net reload is far away (600 s): only the revision, read every CHECK_SECONDS
    # (1 s), can bring the change within REVISION_PATH_SECONDS. The bound sits between the two
    # so that a loaded machine does not fail it and the reload path still does.
    async with RunningMonitoring(bacnet_port, options(reload_seconds=600)) as service:
        await eventually(lambda: peer.subscribes >= len(POINTS), what="subscriptions")
        monitor = service.monitors[rows[1001].id]
        await eventually(lambda: len(monitor.subscribed) == len(POINTS), what="all subscribed")
        point = await sync_to_async(BACnetPoint.objects.get)(
            device=rows[1001], object_type=AI.object_type, instance=AI.instance
        )
        changed_at = time.monotonic()
        await sync_to_async(settings_service.set_point_monitoring)(point, monitored=False)
        await eventually(
            lambda: peer.cancels >= 1, timeout=REVISION_PATH_SECONDS, what="the cancellation"
        )
        assert time.monotonic() - changed_at < REVISION_PATH_SECONDS
        assert peer.cancels == 1
        assert len(monitor.subscribed) == len(POINTS) - 1
        assert point.id not in monitor.subscribed


async def test_a_check_with_nothing_changed_reads_one_row_and_no_point(bacnet_port, peer):
    rows = await sync_to_async(make_device_rows)([peer], monitored=True)
    await sync_to_async(BACnetDevice.objects.create)(  # another device: its points not read
        device_instance=1009, address="127.0.0.9", monitored=True
    )
    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", timeout=0.5, retries=0)
    async with Engine(config) as engine:
        # Its checks called one by one here, not by its loop: nothing else queries meanwhile.
        service = Monitoring(engine, options(reload_seconds=600))
        try:
            await service.check()  # the first one loads everything
            reloads = service.reloads

            quiet = await captured(service)
            assert len(quiet) == 1
            assert "monitoringrevision" in quiet[0]["sql"]

            service._next_sweep = 0.0  # the safety net's turn: device rows, still no point
            swept = await captured(service)
            assert len(swept) == 2
            assert point_selects(swept) == []
            assert service.reloads == reloads

            # A change: only its device's points are read.
            await sync_to_async(settings_service.set_device_monitoring)(rows[1001], poll_seconds=30)
            changed = await captured(service)
            [select] = point_selects(changed)
            assert f'"device_id" IN ({rows[1001].id})' in select, select  # not `other`
            assert service.reloads == reloads + 1
        finally:
            await service._stop_all()


# ---- a device that restarts announces itself: subscriptions are made again at once


async def test_a_restarted_device_is_resubscribed_as_soon_as_it_sends_i_am(bacnet_port):
    async with SimulatedBuilding(
        devices=1, objects=12, port=bacnet_port, change_interval=3600
    ) as building:
        device = building.devices[0]
        refs = [r for r in device.objects if r.object_type in ("analog-input", "binary-input")]
        row = await sync_to_async(make_rows_for)(device.instance, device.address, refs)
        switch = building.switch(device.instance)
        # Lifetime 300 s: a renewal would come in ~4 minutes; the I-Am must not wait for it.
        async with RunningMonitoring(bacnet_port, options(lifetime=300)) as service:
            await eventually(lambda: switch.subscriptions() == len(refs), what="subscriptions")
            monitor = service.monitors[row.id]

            assert await building.restart(device.instance, seconds=0.3) == len(refs)
            assert switch.subscriptions() == 0
            # 10 s: far less than the ~4 minutes a renewal would take, and room for a loaded
            # machine.
            await eventually(
                lambda: switch.subscriptions() == len(refs), timeout=10.0, what="resubscribed"
            )
            assert monitor.resubscriptions == 1
            building.set_value(device.instance, refs[0], 42.0)
            await eventually(
                lambda: BACnetReading.objects.filter(
                    point__device=row, source="cov", value=42.0
                ).exists(),
                what="a change after the restart",
            )


async def test_an_i_am_answering_our_own_who_is_resubscribes_nothing(bacnet_port):
    async with SimulatedBuilding(
        devices=1, objects=12, port=bacnet_port, change_interval=3600
    ) as building:
        device = building.devices[0]
        refs = [r for r in device.objects if r.object_type == "analog-input"]
        row = await sync_to_async(make_rows_for)(device.instance, device.address, refs)
        switch = building.switch(device.instance)
        running = RunningMonitoring(bacnet_port, options(lifetime=300))
        async with running as service:
            await eventually(lambda: switch.subscriptions() == len(refs), what="subscriptions")
            found = await running.engine.client.who_is(device.instance, device.instance)
            assert [r.device_instance for r in found] == [device.instance]
            await asyncio.sleep(0.5)
            assert service.monitors[row.id].resubscriptions == 0


async def test_an_i_am_brings_an_unreachable_device_back_online_at_once(bacnet_port):
    async with SimulatedBuilding(
        devices=1, objects=12, port=bacnet_port, change_interval=3600
    ) as building:
        device = building.devices[0]
        refs = [r for r in device.objects if r.object_type == "analog-input"]
        row = await sync_to_async(make_rows_for)(
            device.instance, device.address, refs, health="unreachable"
        )
        switch = building.switch(device.instance)
        # Its next probe is 30 s away: only the I-Am can bring it back within the test.
        slow_retry = options(retry_first=30.0, retry_max=60.0, offline_after=600.0)
        async with RunningMonitoring(bacnet_port, slow_retry):
            await asyncio.sleep(1.0)
            assert switch.subscriptions() == 0
            await building.restart(device.instance, seconds=0.0)
            # 10 s: well before the 30 s probe, and room for a loaded machine.
            await eventually(
                lambda: BACnetDevice.objects.get(id=row.id).health == "online",
                timeout=10.0,
                what="online",
            )
            await eventually(
                lambda: switch.subscriptions() == len(refs), timeout=10.0, what="subscribed"
            )
    event = await sync_to_async(DeviceHealthEvent.objects.get)(device_id=row.id)
    assert (event.from_health, event.to_health, event.reason) == (
        "unreachable",
        "online",
        "sent I-Am",
    )


def make_rows_for(
    instance: int, address: str, refs: list[ObjectRef], health: str = "online"
) -> BACnetDevice:
    row = BACnetDevice.objects.create(
        device_instance=instance,
        address=address,
        monitored=True,
        monitor_mode="cov",
        health=health,
        health_changed_at=timezone.now(),
        online=health == "online",
    )
    BACnetPoint.objects.bulk_create(
        BACnetPoint(device=row, object_type=ref.object_type, instance=ref.instance) for ref in refs
    )
    return row


# ---- the jobs' requests move the same device health


async def run_job(name: str, engine: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    async def progress(**_fields: Any) -> None:
        pass

    task = await sync_to_async(queue.enqueue)(name, parameters)
    settings = jobs.JobSettings(site="default", discovery_cache_seconds=0)
    return await jobs.JOBS[name](engine, task, progress, settings)


async def test_failed_collects_make_a_device_unreachable_and_a_read_points_brings_it_back(
    bacnet_port, peer
):
    rows = await sync_to_async(make_device_rows)([peer])  # not monitored: no monitor runs
    row = rows[1001]
    running = RunningMonitoring(bacnet_port, options(offline_after=600.0))
    async with running as service:
        await eventually(lambda: row.id in service.book.tracked(), what="tracked")
        assert service.monitors == {}
        await peer.silence()
        for _ in range(2):  # failures_to_unreachable is 2
            result = await run_job("collect", running.engine, {})
            assert result["failed_devices"] == [1001]
        await eventually(
            lambda: BACnetDevice.objects.get(id=row.id).health == "unreachable", what="unreachable"
        )

        await peer.start()
        result = await run_job("read_points", running.engine, {"device_id": 1001})
        assert result["points"] > 0
        await eventually(lambda: BACnetDevice.objects.get(id=row.id).online, what="online")
    events = await sync_to_async(list)(
        DeviceHealthEvent.objects.filter(device_id=row.id).order_by("time", "id")
    )
    assert [(e.from_health, e.to_health) for e in events] == [
        ("online", "unreachable"),
        ("unreachable", "online"),
    ]
    assert "requests failed" in events[0].reason
    assert "no answer" in events[0].reason
