"""What each task type does: BACnet through the engine, results through `store`.

Each job takes the engine, the claimed task row and a `Progress` reporter, and returns the JSON
result stored on the task. A job raises to fail its task; the runtime records the message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError
from bms.bacnet.types import DeviceInfo, IAmRecord, ObjectRef, PointInfo, PresentValue
from bms.devices.models import BACnetDevice
from bms.realtime.payloads import reading_payload
from bms.tasks.models import BACnetTask
from bms.worker import events, history_child, store
from bms.worker.alarm_jobs import acknowledge_alarm, enroll_alarms
from bms.worker.capability_book import CapabilityBook
from bms.worker.db import run_db
from bms.worker.object_job import read_object
from bms.worker.schedule_jobs import SCHEDULE_JOBS
from bms.worker.trendlog_backfill import TRENDLOG_JOBS
from bms.worker.trendlog_objects import store_device_trend_logs, store_trend_logs_of_new_devices

log = logging.getLogger(__name__)

# Devices a collect reads at once. The engine's in-flight caps (per peer, and 64 requests in
# all) bound what reaches the network; this bounds the devices in progress. 16 left the network
# idle while a window's slowest devices finished (polling 50 devices: 1,170 -> 1,588 points/s).
COLLECT_DEVICES = 64
COLLECT_CHUNK = 16  # finished devices stored per transaction, while the next ones are read

# A history task runs steps of at most BMS_HISTORY_MAX_ROWS rows for this long: at 50,000 rows
# a step, one step a minute would cap the roll-up at ~830 readings/s, below a busy site's rate.
HISTORY_RUN_SECONDS = 20.0
HISTORY_TIMEOUT_SECONDS = 300.0  # a child still busy then is stopped: its task fails, said why

Progress = Callable[..., Awaitable[None]]
Job = Callable[[Engine, BACnetTask, Progress, "JobSettings"], Awaitable[dict[str, Any]]]


# Told of the (point id, value) pairs a collect stored, after their commit (the worker's alarm
# rules, bms.worker.alarm_rules.RuleRunner.values_stored).
ValuesStored = Callable[[list[tuple[int, Any]], datetime], Awaitable[None]]


class JobSettings:
    def __init__(
        self,
        site: str,
        discovery_cache_seconds: int,
        on_values: ValuesStored | None = None,
        capabilities: CapabilityBook | None = None,
    ) -> None:
        self.site = site
        self.discovery_cache_seconds = discovery_cache_seconds
        self.on_values = on_values
        # Seeds the client's capability cache from the rows and keeps what it learns there.
        self.capabilities = capabilities

    async def seed_capabilities(self, records: list[IAmRecord]) -> None:
        if self.capabilities is not None:
            await self.capabilities.seed_answering(records)

    def seed_capability_rows(self, devices: list[BACnetDevice]) -> None:
        if self.capabilities is not None:
            self.capabilities.seed_rows(devices)

    async def save_capabilities(self, devices: list[BACnetDevice]) -> None:
        if self.capabilities is not None:
            await self.capabilities.save(devices)


async def discover(
    engine: Engine, task: BACnetTask, progress: Progress, cfg: JobSettings
) -> dict[str, Any]:
    params = task.parameters or {}
    who_is_params = {k: params.get(k) for k in ("low", "high", "address")}
    if not params.get("force"):
        cached = await run_db(
            store.cached_scan, cfg.site, who_is_params, cfg.discovery_cache_seconds
        )
        if cached is not None:
            return {"cached": True, "scan_id": cached.id, "devices_found": cached.devices_found}
    started = timezone.now()
    await progress(message="sending Who-Is")
    records = await engine.client.who_is(
        low=who_is_params["low"], high=who_is_params["high"], address=who_is_params["address"]
    )
    await cfg.seed_capabilities(records)  # before their properties are read
    await progress(
        done=0,
        total=len(records),
        found=len(records),
        message=f"{len(records)} devices answered; reading their properties",
    )
    infos = await _read_device_infos(engine, records, progress)
    scan, devices = await run_db(
        store.save_discovery, cfg.site, records, infos, who_is_params, started, task.id
    )
    await run_db(events.devices_changed, devices)
    await cfg.save_capabilities(devices)
    return {
        "cached": False,
        "scan_id": scan.id,
        "devices_found": len(records),
        "devices": sorted(record.device_instance for record in records),
        "unreadable": sorted(set(r.device_instance for r in records) - set(infos)),
    }


async def _read_device_infos(
    engine: Engine, records: list[IAmRecord], progress: Progress
) -> dict[int, DeviceInfo]:
    # All at once: the client's own limits (per peer, and in flight in total) pace them.
    infos: dict[int, DeviceInfo] = {}
    reporter = _Throttled(progress, total=len(records), verb="read")

    async def read_one(record: IAmRecord) -> None:
        try:
            infos[record.device_instance] = await engine.client.read_device_info(
                record.address, record.device_instance, i_am=record
            )
        except BACnetError as exc:
            # One silent device must not sink the scan; it is reported in the result.
            log.warning(
                "device %s at %s: properties not read: %s",
                record.device_instance,
                record.address,
                exc,
            )
        await reporter.step()

    await _gather_results("read-device-info", [read_one(r) for r in records])
    return infos


async def read_points(
    engine: Engine, task: BACnetTask, progress: Progress, cfg: JobSettings
) -> dict[str, Any]:
    device_id = int(task.parameters["device_id"])
    device = await run_db(store.device_by_instance, cfg.site, device_id)
    cfg.seed_capability_rows([device])
    await progress(message=f"reading the object list of device {device_id}")
    refs = await engine.client.read_object_list(device.address, device.device_instance)
    points = await engine.client.read_points(device.address, device.device_instance, refs)
    count = await run_db(store.save_points, device, points)
    trend_logs = await store_device_trend_logs(engine, device, refs)  # after the points they log
    await run_db(events.device_points_changed, device)
    await cfg.save_capabilities([device])
    result: dict[str, Any] = {"device_id": device_id, "points": count, "trend_logs": trend_logs}
    expected = await run_db(store.expected_point_counts, [device.id])
    if expected:  # the device has expected points (EDE): how its points compare
        result["expected_points"] = expected[device.device_instance]
    return result


async def collect(
    engine: Engine, task: BACnetTask, progress: Progress, cfg: JobSettings
) -> dict[str, Any]:
    """Read every point of the chosen devices, COLLECT_DEVICES at a time, storing as they finish.

    A device starts as soon as another finishes (nothing waits for the slowest of a wave), and
    finished devices are stored COLLECT_CHUNK at a time in ONE transaction while the reads go
    on: the database's round trips overlap the network's instead of leaving it idle, and no
    collect costs a transaction per device.
    """
    devices = await run_db(store.devices_to_collect, cfg.site, task.parameters.get("device_ids"))
    cfg.seed_capability_rows(devices)
    refs_by_device = await run_db(store.point_refs_by_device, [d.id for d in devices])
    point_refs = {
        point_id: (device_pk, ref)
        for device_pk, refs in refs_by_device.items()
        for ref, point_id in refs.items()
    }
    slots = asyncio.Semaphore(COLLECT_DEVICES)

    async def read_one(device: BACnetDevice) -> tuple[BACnetDevice, Any]:
        async with slots:
            return device, await _read_device(engine, device, refs_by_device.get(device.id, {}))

    readings = 0
    failed: list[int] = []
    new_devices: list[BACnetDevice] = []
    finished: list[tuple[BACnetDevice, Any]] = []
    storing: asyncio.Task[int] | None = None
    reads = [
        asyncio.create_task(read_one(d), name=f"collect-{task.id}-{d.device_instance}")
        for d in devices
    ]
    try:
        for done, next_read in enumerate(asyncio.as_completed(reads), start=1):
            finished.append(await next_read)
            if len(finished) < COLLECT_CHUNK and done < len(devices):
                continue
            values, described, chunk_failed = _sort_outcomes(finished)
            finished, failed = [], failed + chunk_failed
            new_devices += [device for device, _points in described]
            if storing is not None:
                readings += await storing
            storing = asyncio.create_task(
                _store_chunk(values, described, point_refs, cfg.on_values),
                name=f"collect-{task.id}-store-{done}",
            )
            await progress(
                done=done,
                total=len(devices),
                message=f"collected {done} of {len(devices)} devices",
                readings=readings,
            )
        if storing is not None:
            readings += await storing
            storing = None
    finally:
        await _cancel_all([*reads, *([storing] if storing is not None else [])])
    # New devices' trend logs, once the points they log are stored (issue 15).
    trend_logs = await store_trend_logs_of_new_devices(engine, new_devices)
    await cfg.save_capabilities(devices)
    result: dict[str, Any] = {
        "devices": len(devices),
        "readings": readings,
        "failed_devices": sorted(failed),
        "trend_logs": trend_logs,
    }
    # The trending poll's collects compare only the devices whose points they described: a
    # read of values changes no point's name, units or state texts.
    compared = new_devices if task.parameters.get("scheduled") else devices
    expected = await run_db(store.expected_point_counts, [device.id for device in compared])
    if expected:
        result["expected_points"] = {str(instance): counts for instance, counts in expected.items()}
    return result


async def _cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel what is still running and wait for it to end (nothing is left behind)."""
    running = [t for t in tasks if not t.done()]
    for t in running:
        t.cancel()
    if running:
        await asyncio.wait(running)


def _sort_outcomes(
    finished: list[tuple[BACnetDevice, Any]],
) -> tuple[
    dict[int, tuple[PresentValue, Any]], list[tuple[BACnetDevice, list[PointInfo]]], list[int]
]:
    """Split finished devices' results into point values, new point lists and failed devices."""
    values: dict[int, tuple[PresentValue, Any]] = {}
    described: list[tuple[BACnetDevice, list[PointInfo]]] = []
    failed: list[int] = []
    for device, outcome in finished:
        if isinstance(outcome, BACnetError):
            log.warning("device %s: collect failed: %s", device.device_instance, outcome)
            failed.append(device.device_instance)
        elif isinstance(outcome, list):
            described.append((device, outcome))
        else:
            values.update(outcome)
    return values, described, failed


async def _store_chunk(
    values: dict[int, tuple[PresentValue, Any]],
    described: list[tuple[BACnetDevice, list[PointInfo]]],
    point_refs: dict[int, tuple[int, ObjectRef]],
    on_values: ValuesStored | None = None,
) -> int:
    at = timezone.now()
    point_ids = await run_db(store.save_collect_wave, values, described, at)
    await events.point_readings(_readings_by_device(point_ids, values, point_refs, at))
    if on_values is not None:
        await on_values([(point_id, values[point_id][0]) for point_id in point_ids], at)
    for device, _points in described:
        await run_db(events.device_points_changed, device)
    return len(point_ids)


def _readings_by_device(
    point_ids: list[int],
    values: dict[int, tuple[PresentValue, Any]],
    point_refs: dict[int, tuple[int, ObjectRef]],
    at: datetime,
) -> dict[int, list[dict[str, Any]]]:
    """The stored values as live-update payloads, by device pk (from memory, no query)."""
    by_device: dict[int, list[dict[str, Any]]] = {}
    for point_id in point_ids:
        device_pk, ref = point_refs[point_id]
        value, flags = values[point_id]
        by_device.setdefault(device_pk, []).append(
            reading_payload(point_id, device_pk, ref, value, flags, at)
        )
    return by_device


async def _read_device(
    engine: Engine, device: BACnetDevice, refs: dict[ObjectRef, int]
) -> dict[int, tuple[PresentValue, Any]] | list[PointInfo] | BACnetError:
    """A known device's values by point id; a new device's point descriptions; or its error."""
    try:
        if not refs:
            return await engine.client.read_points(device.address, device.device_instance)
        values = await engine.client.read_point_values(device.address, list(refs))
    except BACnetError as exc:
        return exc
    return {refs[ref]: value for ref, value in values.items()}


async def write_point(
    engine: Engine, task: BACnetTask, progress: Progress, cfg: JobSettings
) -> dict[str, Any]:
    params = task.parameters
    point, device = await run_db(store.point_for_write, int(params["point_id"]))
    ref = ObjectRef(point.object_type, point.instance)
    priority = params.get("priority")
    value: PresentValue = None if params.get("relinquish") else params.get("value")
    writer = store.Writer.of_task(params)
    await progress(message=f"writing {ref} on device {device.device_instance}")
    try:
        if value is None:
            await engine.client.relinquish(device.address, ref, priority or 16)
        else:
            await engine.client.write_property(device.address, ref, value, priority=priority)
    except BACnetError as exc:
        await run_db(
            store.record_point_write,
            writer,
            point.id,
            point.last_value,
            value,
            priority,
            False,
            str(exc),
        )
        raise
    read_back = (await engine.client.read_present_values(device.address, [ref])).get(ref)
    await run_db(
        store.record_point_write,
        writer,
        point.id,
        point.last_value,
        value,
        priority,
        True,
        "",
        read_back,
    )
    await run_db(events.point_values_changed, [point.id])
    return {
        "point_id": point.id,
        "written": value,
        "priority": priority,
        "relinquished": value is None,
        "present_value": read_back,
    }


async def history_upkeep(
    engine: Engine, task: BACnetTask, progress: Progress, cfg: JobSettings
) -> dict[str, Any]:
    """Roll-up and retention steps of the history (no BACnet), each bounded in rows, for up to
    HISTORY_RUN_SECONDS, in a child process (bms.worker.history_child says why)."""
    await progress(message="rolling up readings and dropping expired history")
    return await history_child.run_upkeep(HISTORY_RUN_SECONDS, HISTORY_TIMEOUT_SECONDS)


JOBS: dict[str, Job] = {
    "discover": discover,
    "collect": collect,
    "read_points": read_points,
    "write_point": write_point,
    "read_object": read_object,
    "history": history_upkeep,
    "acknowledge_alarm": acknowledge_alarm,
    "enroll_alarms": enroll_alarms,
    **SCHEDULE_JOBS,  # remote schedules, calendars and device management
    **TRENDLOG_JOBS,  # remote trend logs read into history (issue 15)
}


class _Throttled:
    """Progress for many small steps without a database write per step."""

    def __init__(self, progress: Progress, total: int, verb: str, every: float = 0.25) -> None:
        self._progress, self._total, self._verb, self._every = progress, total, verb, every
        self._done = 0
        self._last = 0.0

    async def step(self) -> None:
        self._done += 1
        now = time.monotonic()
        if self._done == self._total or now - self._last >= self._every:
            self._last = now
            await self._progress(
                done=self._done,
                total=self._total,
                message=f"{self._verb} {self._done} of {self._total}",
            )


async def _gather_results(name: str, coroutines: list[Awaitable[Any]]) -> list[Any]:
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    for index, task in enumerate(tasks):
        task.set_name(f"{name}-{index}")
    try:
        return await asyncio.gather(*tasks)
    finally:
        await _cancel_all(tasks)
