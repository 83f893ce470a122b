"""The monitoring service in-process: an engine against real bacpypes3 devices on loopback,
into the test database (SQLite here)."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice, BACnetReading, DeviceHealthEvent
from tests.worker.monitoring_rig import (
    LIFETIME,
    POINTS,
    PeerDevice,
    RunningMonitoring,
    eventually,
    make_device_rows,
    options,
)

pytestmark = pytest.mark.django_db(transaction=True)

AI = ObjectRef("analog-input", 1)


def readings(instance: int, source: str, value: object = None) -> list[BACnetReading]:
    rows = BACnetReading.objects.select_related("point").filter(
        point__device__device_instance=instance, source=source
    )
    if value is not None:
        rows = rows.filter(point__object_type=AI.object_type, point__instance=AI.instance)
        return [r for r in rows if r.value == value]
    return list(rows)


@pytest.fixture
async def devices(bacnet_port: int):
    started: list[PeerDevice] = []

    async def start(host: int, instance: int, **kwargs) -> PeerDevice:
        device = PeerDevice(bacnet_port, host, instance, **kwargs)
        await device.start()
        started.append(device)
        return device

    yield start
    for device in started:
        if device.app is not None:
            await device.silence()


async def test_cov_is_subscribed_at_start_and_a_change_reaches_the_database_without_a_poll(
    bacnet_port, devices
):
    device = await devices(2, 1001)
    await sync_to_async(make_device_rows)([device], monitored=True)
    async with RunningMonitoring(bacnet_port) as service:
        await eventually(lambda: device.subscribes >= len(POINTS), what="subscriptions")
        device.set_value(AI, 30.0)
        stored = await eventually(lambda: readings(1001, "cov", 30.0), what="the COV reading")
        monitor = service.monitors[stored[0].point.device_id]
        assert len(monitor.subscribed) == len(POINTS)
        assert monitor.polls == 0
    assert await sync_to_async(readings)(1001, "poll") == []
    point = stored[0].point
    await sync_to_async(point.refresh_from_db)()
    assert point.last_value == 30.0
    assert point.status_flags == [False, False, False, False]
    # The worker stopped: it told the device to stop notifying.
    assert device.cancels == len(POINTS)


async def test_subscriptions_are_renewed_before_they_expire(bacnet_port, devices):
    device = await devices(2, 1001)
    await sync_to_async(make_device_rows)([device], monitored=True)
    async with RunningMonitoring(bacnet_port):
        await eventually(lambda: device.subscribes >= len(POINTS), what="subscriptions")
        started = time.monotonic()
        await eventually(lambda: device.subscribes >= 2 * len(POINTS), what="renewals")
        # The claim, timed at the device: each object's renewal came before its first
        # subscription's lifetime ran out (not from when the test saw them, which a loaded
        # machine delays).
        assert len(device.subscribed_at) == len(POINTS)
        for times in device.subscribed_at.values():
            assert times[1] - times[0] < LIFETIME, times
        await asyncio.sleep(LIFETIME + 0.5 - (time.monotonic() - started))
        # Past the first lifetime: the device still notifies.
        device.set_value(AI, 41.0)
        await eventually(lambda: readings(1001, "cov", 41.0), what="a change after expiry")


async def test_subscriptions_are_made_again_after_the_device_restarts(bacnet_port, devices):
    device = await devices(2, 1001)
    await sync_to_async(make_device_rows)([device], monitored=True)
    async with RunningMonitoring(bacnet_port):
        await eventually(lambda: device.subscribes >= len(POINTS), what="subscriptions")
        await device.silence()
        await device.start()  # a new device process: it knows no subscriptions
        assert device.subscribes >= len(POINTS)
        before = device.subscribes
        await eventually(
            lambda: device.subscribes >= before + 1,
            timeout=LIFETIME + 3,
            what="a subscription at the restarted device",
        )
        await asyncio.sleep(0.5)
        device.set_value(AI, 52.0)
        await eventually(lambda: readings(1001, "cov", 52.0), what="a change after the restart")


async def test_subscriptions_are_made_again_after_the_worker_restarts(bacnet_port, devices):
    device = await devices(2, 1001)
    await sync_to_async(make_device_rows)([device], monitored=True)
    async with RunningMonitoring(bacnet_port):
        await eventually(lambda: device.subscribes >= len(POINTS), what="first subscriptions")
    assert device.cancels == len(POINTS)
    first_run = device.subscribes
    async with RunningMonitoring(bacnet_port):
        await eventually(
            lambda: device.subscribes >= first_run + len(POINTS), what="subscriptions again"
        )
        device.set_value(AI, 63.0)
        await eventually(lambda: readings(1001, "cov", 63.0), what="a change after the restart")


async def test_a_device_that_refuses_cov_is_polled_and_the_refusal_outlives_a_restart(
    bacnet_port, devices
):
    device = await devices(3, 1002, refuses_cov=True)
    rows = await sync_to_async(make_device_rows)([device], monitored=True, poll_seconds=1)
    async with RunningMonitoring(bacnet_port):
        await eventually(lambda: len(readings(1002, "poll")) >= len(POINTS), what="polls")
    stored = await sync_to_async(BACnetDevice.objects.get)(id=rows[1002].id)
    assert list(stored.cov_refused) == ["*"]
    assert "unrecognized-service" in stored.cov_refused["*"]["reason"]
    assert device.subscribes == 1  # learnt once, for the whole device

    polled_before = len(await sync_to_async(readings)(1002, "poll"))
    async with RunningMonitoring(bacnet_port):
        await eventually(
            lambda: len(readings(1002, "poll")) >= polled_before + len(POINTS),
            what="polls after the restart",
        )
    assert device.subscribes == 1  # not learnt again by failing
    assert await sync_to_async(readings)(1002, "cov") == []


async def test_a_silenced_device_goes_unreachable_then_offline_while_the_others_keep_their_rate(
    bacnet_port, devices
):
    steady = await devices(2, 1001)
    flaky = await devices(4, 1003)
    rows = await sync_to_async(make_device_rows)(
        [steady, flaky], monitored=True, monitor_mode="poll", poll_seconds=1
    )
    async with RunningMonitoring(bacnet_port) as service:
        await eventually(lambda: readings(1003, "poll"), what="first poll of the flaky device")
        await flaky.silence()
        steady_monitor = service.monitors[rows[1001].id]
        polls_before, started = steady_monitor.polls, time.monotonic()
        await eventually(
            lambda: BACnetDevice.objects.get(id=rows[1003].id).health == "offline",
            timeout=10,
            what="offline",
        )
        elapsed = time.monotonic() - started
        # Polled every second all along, although the other device timed out meanwhile.
        assert steady_monitor.polls - polls_before >= int(elapsed) - 1
        assert (await sync_to_async(BACnetDevice.objects.get)(id=rows[1001].id)).online

        await flaky.start()
        await eventually(
            lambda: BACnetDevice.objects.get(id=rows[1003].id).health == "online",
            timeout=5,
            what="back online",
        )
    events = await sync_to_async(list)(
        DeviceHealthEvent.objects.filter(device_id=rows[1003].id).order_by("time", "id")
    )
    assert [(e.from_health, e.to_health) for e in events] == [
        ("online", "unreachable"),
        ("unreachable", "offline"),
        ("offline", "online"),
    ]
    assert "2 requests failed" in events[0].reason
    flaky_row = await sync_to_async(BACnetDevice.objects.get)(id=rows[1003].id)
    assert flaky_row.online
    assert flaky_row.health_reason == "answered"


def subscriptions_held_per_object(app: object) -> dict[str, int]:
    """What the bacpypes3 device holds: its COV subscriptions, by monitored object."""
    detections = app._cov_detections  # type: ignore[attr-defined]
    return {str(d.obj.objectIdentifier): len(d.cov_subscriptions) for d in detections.values()}


async def test_an_unreachable_then_online_cycle_leaves_one_subscription_per_point_at_the_device(
    bacnet_port, devices
):
    device = await devices(2, 1001)
    rows = await sync_to_async(make_device_rows)([device], monitored=True)
    # A long lifetime: the device still holds the first subscriptions when the worker,
    # believing it unreachable, drops them and later subscribes again.
    async with RunningMonitoring(bacnet_port, options(lifetime=300)) as service:
        monitor = await eventually(lambda: service.monitors.get(rows[1001].id), what="monitor")
        await eventually(lambda: len(monitor.subscribed) == len(POINTS), what="subscriptions")
        first = dict(monitor._subs)
        for _ in range(2):  # failures_to_unreachable is 2: two requests lost in a row
            service.book.failed(rows[1001].id, "lost datagram")
        await eventually(lambda: not monitor.subscribed, what="subscriptions dropped")
        await eventually(
            lambda: device.subscribes >= 2 * len(POINTS) and len(monitor.subscribed) == 4,
            what="subscribed again once back online",
        )
        again = dict(monitor._subs)
        held = subscriptions_held_per_object(device.app)
    assert {p: s.process_id for p, s in again.items()} == {
        p: s.process_id for p, s in first.items()
    }
    assert len(held) == len(POINTS)
    assert set(held.values()) == {1}  # replaced at the device, not doubled


async def test_a_notification_between_timed_out_requests_keeps_a_busy_device_online(
    bacnet_port, devices
):
    device = await devices(2, 1001)
    rows = await sync_to_async(make_device_rows)([device], monitored=True)
    async with RunningMonitoring(bacnet_port, options(lifetime=300)) as service:
        monitor = await eventually(lambda: service.monitors.get(rows[1001].id), what="monitor")
        await eventually(lambda: len(monitor.subscribed) == len(POINTS), what="subscriptions")
        service.book.failed(rows[1001].id, "renewal timed out")  # 1 of the 2 in a row
        device.set_value(AI, 31.0)  # the device is busy, not gone: it still notifies
        await eventually(lambda: readings(1001, "cov", 31.0), what="the COV reading")
        service.book.failed(rows[1001].id, "renewal timed out")  # the run started again
        assert service.book.health(rows[1001].id).reachable
        assert len(monitor.subscribed) == len(POINTS)
