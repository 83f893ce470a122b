"""Remote trend logs: stored as points, read with ReadRange into history (source "trendlog").

A device's trend-log objects are stored as BACnetPoint rows of type trend-log, with
`logged_point` the point of the same device whose present value they log (when it is one):
bms.worker.trendlog_objects, also when a collect or a read_points task reads the device.
Backfill reads each such log by sequence number from the one after `log_sequence` (the last
record stored), pages of PAGE records until the device says there are no more, and stores the
records as readings of the logged point together with the new cursor in one transaction: a
second run, or a run after a crash, stores nothing twice. When the log has wrapped past the
cursor (the worker was away longer than its buffer lasts), reading starts at the oldest record
still there and the records lost are counted in the result. A log's first read takes its
whole buffer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from bms.bacnet.clock import site_zone
from bms.bacnet.errors import BACnetError
from bms.bacnet.read_range import BySequence, LogEntry
from bms.bacnet.requester import Requester, parse_peer
from bms.bacnet.trendlog_client import TrendLogClient
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import to_python
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading
from bms.devices.monitoring import MonitorDefaults, device_effective
from bms.tasks import states
from bms.tasks.models import BACnetTask
from bms.tasks.queue import enqueue
from bms.worker.db import run_db
from bms.worker.store.readings import device_by_instance
from bms.worker.trendlog_objects import store_device_trend_logs

__all__ = [
    "TRENDLOG_JOBS",
    "BackfillResult",
    "backfill_device",
    "backfill_trendlog",
    "queue_startup_backfills",
    "store_trend_logs",
]

log = logging.getLogger(__name__)

PAGE = 1000  # records asked for in one ReadRange (the device may send fewer: more-items)
MAX_PAGES = 1000  # per log and run: a bound, not a target


@dataclass
class BackfillResult:
    logs: int = 0
    stored: int = 0
    lost: int = 0  # records the log dropped before we read them
    errors: list[str] = field(default_factory=list)


# ---- storing the trend-log objects -----------------------------------------------------------


async def store_trend_logs(engine: Any, device_pk: int) -> int:
    """Read the device's object list and store its trend-log objects; returns how many."""
    device = await run_db(BACnetDevice.objects.get, pk=device_pk)
    return await store_device_trend_logs(engine, device)


# ---- reading them into history ----------------------------------------------------------------


async def backfill_device(
    engine: Any, device_pk: int, instance: int | None = None
) -> BackfillResult:
    """Read the device's stored trend logs (or the one `instance`) into history."""
    device, logs = await run_db(_logs_of, device_pk, instance)
    zone = site_zone(engine.config.time_zone)
    reader = TrendLogClient(Requester(engine.app, engine.config), zone)
    result = BackfillResult()
    for log_point in logs:
        result.logs += 1
        try:
            await _backfill_log(engine, reader, device, log_point, result)
        except BACnetError as exc:
            log.warning("%s trend-log %s: %s", device.address, log_point.instance, exc)
            result.errors.append(f"trend-log,{log_point.instance}: {exc}")
    return result


def _logs_of(device_pk: int, instance: int | None) -> tuple[BACnetDevice, list[BACnetPoint]]:
    device = BACnetDevice.objects.get(pk=device_pk)
    logs = BACnetPoint.objects.filter(
        device=device, object_type="trend-log", logged_point__isnull=False
    )
    if instance is not None:
        logs = logs.filter(instance=instance)
    return device, list(logs)


async def _backfill_log(
    engine: Any, reader: TrendLogClient, device: BACnetDevice, log_point: BACnetPoint, result: Any
) -> None:
    peer = parse_peer(device.address)
    ref = ObjectRef("trend-log", log_point.instance)
    requester = Requester(engine.app, engine.config)
    total = int(to_python(await requester.read(peer, ref, "total-record-count")))
    in_buffer = int(to_python(await requester.read(peer, ref, "record-count")))
    oldest = total - in_buffer + 1
    cursor = log_point.log_sequence or 0
    next_sequence = max(cursor + 1, oldest)
    if cursor and next_sequence > cursor + 1:
        lost = next_sequence - cursor - 1
        result.lost += lost
        log.warning("%s %s: %d records dropped before read", device.address, ref, lost)
    for _ in range(MAX_PAGES):
        if next_sequence > total:  # nothing new (newer records wait for the next run)
            return
        page = await reader.read_range(peer, ref, BySequence(next_sequence, PAGE))
        if not page.entries:
            return
        result.stored += await run_db(_store_page, log_point.pk, page.entries)
        next_sequence = page.entries[-1].sequence + 1
        if not page.more_items and len(page.entries) < PAGE:
            return


def _store_page(log_pk: int, entries: list[LogEntry]) -> int:
    """Store the records after the log's cursor and move it, in one transaction."""
    with transaction.atomic():
        log_point = BACnetPoint.objects.select_for_update().get(pk=log_pk)
        cursor = log_point.log_sequence or 0
        fresh = [entry for entry in entries if entry.sequence > cursor]
        if not fresh:
            return 0
        BACnetReading.objects.bulk_create(
            [
                BACnetReading(
                    point_id=log_point.logged_point_id,
                    value=entry.value,
                    timestamp=entry.timestamp,
                    source="trendlog",
                )
                for entry in fresh
            ],
            batch_size=1000,
        )
        log_point.log_sequence = fresh[-1].sequence
        log_point.save(update_fields=["log_sequence"])
    return len(fresh)


# ---- the task -------------------------------------------------------------------------------


async def backfill_trendlog(engine: Any, task: Any, progress: Any, cfg: Any) -> dict[str, Any]:
    """Task "backfill_trendlog": parameters device_id (instance) and optional object (the
    trend log's instance). Stores the device's trend-log objects, then reads them into history.
    `progress` and `cfg` are bms.worker.jobs' Progress and JobSettings."""
    params = task.parameters
    device = await run_db(device_by_instance, cfg.site, int(params["device_id"]))
    instance = params.get("object")
    await progress(message=f"reading the trend logs of device {device.device_instance}")
    found = await store_trend_logs(engine, device.pk)
    result = await backfill_device(
        engine, device.pk, int(instance) if instance not in (None, "") else None
    )
    return {
        "device_id": device.device_instance,
        "trend_logs": found,
        "logs_read": result.logs,
        "stored": result.stored,
        "lost": result.lost,
        "errors": result.errors,
    }


TRENDLOG_JOBS = {"backfill_trendlog": backfill_trendlog}


def queue_startup_backfills(site: str) -> int:
    """After a (re)start, one backfill_trendlog task for each monitored device of the site
    with stored trend logs, unless one is already pending: what the devices logged while the
    worker was away comes into history. Returns how many were queued."""
    defaults = MonitorDefaults.from_settings()
    devices = BACnetDevice.objects.filter(
        site=site, points__object_type="trend-log", points__logged_point__isnull=False
    ).distinct()
    pending = {
        task.parameters.get("device_id")
        for task in BACnetTask.objects.filter(
            site=site, task_type="backfill_trendlog", status=states.PENDING
        )
    }
    queued = 0
    for device in devices:
        if device.device_instance in pending or not device_effective(device, defaults).monitored:
            continue
        enqueue("backfill_trendlog", {"device_id": device.device_instance}, site=site)
        queued += 1
    return queued
