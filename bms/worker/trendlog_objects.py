"""A remote device's trend-log objects, stored when the worker reads the device's objects.

When a read_points task or a collect reads a device's object list (bms.worker.jobs), the
trend-log objects in it are read too, in RPM batches (BatchReader, RP each where the device
takes no RPM): name, description, the logged object (log-device-object-property) and the log
buffer's description (log-interval, buffer-size, record-count, total-record-count,
logging-type, enable). Each is stored as a BACnetPoint of type trend-log (the device page lists
it), `logged_point` the point of the same device it logs, and the buffer description in its
`properties` (as a read_object task would store them, merged with what was there). The
backfill task (bms.worker.trendlog_backfill) then reads those with a logged point into history.
Trend logs are never polled nor subscribed to: the monitoring and the collect read point types
only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from bms.bacnet.batching import BatchReader
from bms.bacnet.errors import BACnetError
from bms.bacnet.point_reads import missing_property
from bms.bacnet.requester import Requester, parse_peer
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.worker.db import run_db

__all__ = [
    "LOG_PROPERTIES",
    "TrendLogInfo",
    "read_trend_logs",
    "save_trend_logs",
    "store_device_trend_logs",
]

log = logging.getLogger(__name__)

TREND_LOG = "trend-log"
NEW_DEVICES_AT_ONCE = 16  # devices whose trend logs a collect reads at once (the engine caps more)
# What describes a trend log and its buffer (the buffer itself is read with ReadRange).
LOG_PROPERTIES = (
    "object-name",
    "description",
    "log-device-object-property",
    "log-interval",
    "buffer-size",
    "record-count",
    "total-record-count",
    "logging-type",
    "enable",
)


@dataclass(frozen=True)
class TrendLogInfo:
    ref: ObjectRef
    name: str
    description: str
    logged: ObjectRef | None  # the logged object, when it is on the same device
    properties: dict[str, Any] = field(default_factory=dict)  # JSON: what was read of it
    errors: dict[str, str] = field(default_factory=dict)  # property -> why it was refused


async def read_trend_logs(
    engine: Any, address: str, device_instance: int, refs: list[ObjectRef]
) -> list[TrendLogInfo]:
    """The trend-log objects among `refs` (a device's object list), described."""
    logs = [ref for ref in refs if ref.object_type == TREND_LOG]
    if not logs:
        return []
    reader = BatchReader(Requester(engine.app, engine.config), engine.client.capabilities)
    results = await reader.read_many(parse_peer(address), [(ref, LOG_PROPERTIES) for ref in logs])
    infos = []
    for ref in logs:
        info = _info(ref, results.get(ref, {}), device_instance)
        if info is None:
            log.warning("%s %s: left out, its name could not be read", address, ref)
            continue
        infos.append(info)
    return infos


def _info(ref: ObjectRef, values: dict[str, Any], device_instance: int) -> TrendLogInfo | None:
    properties: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in LOG_PROPERTIES:
        value = values.get(key)
        if isinstance(value, BACnetError):
            if not missing_property(value):
                errors[key] = str(value)
            continue
        if key in values:
            properties[key] = _json(value)
    name = properties.get("object-name")
    if not isinstance(name, str):
        return None
    logged = _logged_ref(properties.get("log-device-object-property"), device_instance)
    description = properties.get("description")
    return TrendLogInfo(
        ref=ref,
        name=name,
        description=description if isinstance(description, str) else "",
        logged=logged,
        properties=properties,
        errors=errors,
    )


def _json(value: Any) -> Any:
    """A read value as JSON (object references as "type,instance")."""
    if isinstance(value, ObjectRef):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _logged_ref(target: Any, device_instance: int) -> ObjectRef | None:
    """The logged object when it is on the same device (the reference names no device, or
    this one)."""
    if not isinstance(target, dict):
        return None
    device = target.get("device-identifier") or target.get("deviceIdentifier")
    if device is not None and ObjectRef.parse(str(device)).instance != device_instance:
        return None
    obj = target.get("object-identifier") or target.get("objectIdentifier")
    return ObjectRef.parse(str(obj)) if obj is not None else None


def save_trend_logs(device_pk: int, infos: list[TrendLogInfo]) -> int:
    """Store the trend logs as points of the device (one transaction); returns how many."""
    if not infos:
        return 0
    points = {
        (p.object_type, p.instance): p for p in BACnetPoint.objects.filter(device_id=device_pk)
    }
    now = timezone.now()
    with transaction.atomic():
        for info in infos:
            logged = info.logged
            logged_point = points.get((logged.object_type, logged.instance)) if logged else None
            held = points.get((TREND_LOG, info.ref.instance))
            properties = {**(held.properties if held else {}), **info.properties}
            BACnetPoint.objects.update_or_create(
                device_id=device_pk,
                object_type=TREND_LOG,
                instance=info.ref.instance,
                defaults={
                    "name": info.name,
                    "description": info.description,
                    "logged_point": logged_point,
                    "properties": properties,
                    "property_errors": info.errors,
                    "properties_read_at": now,
                },
            )
    return len(infos)


async def store_device_trend_logs(
    engine: Any, device: BACnetDevice, refs: list[ObjectRef] | None = None
) -> int:
    """Read and store the device's trend logs (its object list read when `refs` is None, and
    after its points are stored, so each log finds the point it logs); how many."""
    if refs is None:
        refs = await engine.client.read_object_list(device.address, device.device_instance)
    infos = await read_trend_logs(engine, device.address, device.device_instance, refs)
    return await run_db(save_trend_logs, device.pk, infos)


async def store_trend_logs_of_new_devices(engine: Any, devices: list[BACnetDevice]) -> int:
    """After a collect stored new devices' points: their trend logs, NEW_DEVICES_AT_ONCE
    devices at a time; a device that fails is logged and left for a read_points task (the
    collect's values are stored already). How many trend logs were stored."""
    slots = asyncio.Semaphore(NEW_DEVICES_AT_ONCE)

    async def one(device: BACnetDevice) -> int:
        async with slots:
            try:
                return await store_device_trend_logs(engine, device)
            except BACnetError as exc:
                log.warning("device %s: trend logs not read: %s", device.device_instance, exc)
                return 0

    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(one(device), name=f"trend-logs-{device.device_instance}")
            for device in devices
        ]
    return sum(task.result() for task in tasks)
