"""What the worker and the web views call to update open pages. Sync, and safe anywhere:

Each function reads the object now and sends when the current transaction commits (at once in
autocommit), so a page never hears of a row it cannot read yet, and a rolled-back change is
never announced. A failed send (Redis down) is logged by Django's robust on_commit and does not
undo or fail the committed change: the page catches up on its next load.

Call from sync code (the worker's sync_to_async ORM functions, views); not from inside a running
event loop's thread, where async_to_sync cannot work (use `await sync_to_async(publish_x)(...)`).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import Count

from bms.alarms import queries as alarm_queries
from bms.alarms.models import Alarm
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading, ConfigAudit, WriteAudit
from bms.realtime import groups, payloads
from bms.realtime.layer import DatabaseChannelLayer
from bms.tasks.models import BACnetTask
from bms.virtual.models import VirtualBACnetDevice, VirtualObject

# The consumer method that forwards a message's "event" to the browser as it is.
EVENT = "realtime.event"
EVENTS = "realtime.events"  # a batch: {"events": [event, ...]}, forwarded one by one
EVENTS_BATCH = 100
# Seed 004's message type for external writes (VirtualDeviceConsumer.external_write_notification).
EXTERNAL_WRITE = "external_write_notification"
EXTERNAL_WRITES = "external_writes_notification"  # a batch: {"writes": [payload, ...]}
EXTERNAL_WRITES_BATCH = 100  # writes per message at most
# The worker's batched values of many devices: {"events": [points event, ...]} to groups.POINTS;
# each consumer forwards the events of the devices its page asked for (LiveConsumer).
POINTS_EVENTS = "realtime.points"
POINTS_BATCH = 2000  # point values per message at most (a message of a few hundred kB)


def prepare_layer() -> None:
    """Build the configured channel layer now, importing its backend.

    Channels builds a layer on its first use; a long-running process that must answer fast
    (the worker acknowledging writes) calls this at start-up instead of paying the import
    inside its first live update. Raises, like any send would, if none is configured.
    """
    if get_channel_layer() is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured; live updates need a channel layer")


def publish_task(task: BACnetTask) -> None:
    """A task was created or changed status, progress, result or error (group `tasks`)."""
    _event(groups.TASKS, {"type": "task", "task": payloads.task_payload(task)})


def publish_device(device: BACnetDevice) -> None:
    """A remote device was found or changed, or got points (group `devices`)."""
    publish_devices([device])


def publish_devices(devices: Sequence[BACnetDevice]) -> None:
    """publish_device for each device, with the point counts of all of them in one query (a
    discovery announces every device that answered)."""
    counts = _point_counts([device.id for device in devices])
    _events(
        groups.DEVICES,
        [
            {"type": "device", "device": payloads.device_payload(device, counts.get(device.id, 0))}
            for device in devices
        ],
    )


def _point_counts(device_ids: list[int]) -> dict[int, int]:
    rows = (
        BACnetPoint.objects.filter(device_id__in=device_ids)
        .order_by()
        .values_list("device_id")
        .annotate(count=Count("id"))
    )
    return dict(rows)


def publish_point_values(points: Iterable[BACnetPoint]) -> None:
    """New values of remote points: one message per device (group `device-<device pk>`)."""
    by_device: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for point in points:
        by_device[point.device_id].append(payloads.point_payload(point))
    for device_pk, values in by_device.items():
        event = {"type": "points", "device_pk": device_pk, "points": values}
        _event(groups.device_group(device_pk), event)


def publish_external_write(virtual_object: VirtualObject, event: Any) -> None:
    """A BACnet client wrote one of our virtual objects (group `virtual_devices`).

    `event`: a dict or a bms.bacnet.types.WriteEvent; see payloads.external_write_payload.
    """
    message = {"type": EXTERNAL_WRITE, **payloads.external_write_payload(virtual_object, event)}
    _send_on_commit(groups.VIRTUAL_DEVICES, message)


async def apublish_external_writes(writes: Iterable[tuple[VirtualObject, Any]]) -> None:
    """publish_external_write for writes already committed, from the event loop.

    The worker acknowledges hundreds of writes a second: sending each from the ORM thread
    through async_to_sync fell behind at 200/s, and a channel-layer message per write cost the
    worker a quarter of its CPU in Redis round trips. So the writes go as ONE message per
    EXTERNAL_WRITES_BATCH (the consumers hand the page seed 004's message per write, in order),
    awaited on the loop. The rows must carry their device already: nothing here may query.
    """
    payloads_ = [payloads.external_write_payload(obj, event) for obj, event in writes]
    await _asend_all(
        [
            (
                groups.VIRTUAL_DEVICES,
                {
                    "type": EXTERNAL_WRITES,
                    "writes": payloads_[start : start + EXTERNAL_WRITES_BATCH],
                },
            )
            for start in range(0, len(payloads_), EXTERNAL_WRITES_BATCH)
        ]
    )


async def apublish_point_readings(by_device: Mapping[int, list[dict[str, Any]]]) -> None:
    """publish_point_values for values a collect or the monitoring service just stored, from
    the event loop.

    `by_device`: device pk -> payloads.reading_payload dicts. Built from the caller's memory,
    so nothing here queries. The values of every device go as ONE message (per POINTS_BATCH
    values) to the building-wide group groups.POINTS, which each page's consumer filters down to
    the devices it asked for, as one "points" event per device, as before: a channel-layer
    message per device cost the worker 4 Redis round trips each (channels_redis's group_send),
    and a group commit of COV values from 50 devices spent longer publishing than storing
    (bench/cov.py, py-spy: a quarter of the worker's samples).
    """
    events = [
        {"type": "points", "device_pk": device_pk, "points": values}
        for device_pk, values in by_device.items()
        if values
    ]
    await _asend_all(
        [(groups.POINTS, {"type": POINTS_EVENTS, "events": chunk}) for chunk in _chunks(events)]
    )


def _chunks(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Whole device events, at most POINTS_BATCH values a message (one device's may exceed it)."""
    chunks: list[list[dict[str, Any]]] = []
    size = POINTS_BATCH
    for event in events:
        if size + len(event["points"]) > POINTS_BATCH:
            chunks.append([])
            size = 0
        chunks[-1].append(event)
        size += len(event["points"])
    return chunks


async def asend_messages(messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Send group messages from the event loop: the groups concurrently, each group's messages
    in their order. For batches already committed (nothing here waits for a transaction)."""
    await _asend_all(list(messages))


async def _asend_all(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured; live updates need a channel layer")
    if isinstance(layer, DatabaseChannelLayer):
        await sync_to_async(_store_all)(layer, messages)
        return
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for group, message in messages:
        by_group[group].append(message)
    # Each group_send is a few round trips to Redis: groups in parallel, not one after another.
    # Every send is awaited to its end even when another fails; the first error is raised.
    results = await asyncio.gather(
        *(_asend_in_order(layer, group, queued) for group, queued in by_group.items()),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _asend_in_order(layer: Any, group: str, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        await layer.group_send(group, message)


def _store_all(layer: DatabaseChannelLayer, messages: list[tuple[str, dict[str, Any]]]) -> None:
    for group, message in messages:
        layer.store(group, message)


def publish_virtual_object(
    virtual_object: VirtualObject, reading: BACnetReading | None = None, deleted: bool = False
) -> None:
    """A virtual object was created, edited, commanded or `deleted` (group `virtual_devices`).
    A command's `reading` (the value it stored for the trend) goes with it, so an open trend
    grows by the point a reload would show. A deleted object is described as it was."""
    event: dict[str, Any] = {
        "type": "virtual_object",
        "deleted": deleted,
        "object": payloads.virtual_object_payload(virtual_object),
    }
    if reading is not None:
        event["reading"] = payloads.stored_reading_payload(reading)
    _event(groups.VIRTUAL_DEVICES, event)


def publish_virtual_device(device: VirtualBACnetDevice, deleted: bool = False) -> None:
    """A virtual device was created, edited, started, stopped or deleted."""
    event = {
        "type": "virtual_device",
        "deleted": deleted,
        "device": payloads.virtual_device_payload(device),
    }
    _event(groups.VIRTUAL_DEVICES, event)


def publish_audit(audit: WriteAudit) -> None:
    """A write was audited outside the worker's external-write batches: an operator or API
    write, a refused command, a refused external write (group `audit`). Accepted external
    writes reach the audit page as the `virtual_devices` group's external_write messages."""
    _event(groups.AUDIT, {"type": "audit", "audit": payloads.audit_payload(audit)})


def publish_config_audit(audit: ConfigAudit) -> None:
    """A configuration change or sign-in was audited (group `audit`)."""
    _event(groups.AUDIT, {"type": "config_audit", "audit": payloads.config_audit_payload(audit)})


def publish_alarms(alarm_ids: Sequence[int]) -> None:
    """Alarms changed state or were acknowledged (group `alarms`): each alarm as it is now,
    and the counts the navigation bar shows, in one message."""
    rows = Alarm.objects.filter(pk__in=alarm_ids).select_related("point__device")
    _event(groups.ALARMS, alarms_event(rows))


def alarms_event(alarms: Iterable[Alarm]) -> dict[str, Any]:
    """The `alarms` group's event: `alarms` as given (read no further) and the counts (one
    query). Build it after the commit that changed them."""
    return {
        "type": "alarms",
        "alarms": [payloads.alarm_payload(alarm) for alarm in alarms],
        "counts": alarm_queries.counts(),
    }


async def apublish_alarms_event(event: dict[str, Any]) -> None:
    """Send an alarms_event already built (from committed rows) from the event loop: the
    worker's alarm console sends one per group commit of hundreds of notifications, on the
    loop's own channel-layer connection, instead of one on_commit send from its store thread
    (which made that thread, and so the next commit, wait for Redis)."""
    await _asend_all([(groups.ALARMS, {"type": EVENT, "event": event})])


def _event(group: str, event: dict[str, Any]) -> None:
    _send_on_commit(group, {"type": EVENT, "event": event})


def _events(group: str, events: list[dict[str, Any]]) -> None:
    """Many events as one message per EVENTS_BATCH (a discovery announces a thousand devices:
    a message each cost the worker a second); the consumers forward them one by one, in order."""
    for start in range(0, len(events), EVENTS_BATCH):
        _send_on_commit(group, {"type": EVENTS, "events": events[start : start + EVENTS_BATCH]})


def _send_on_commit(group: str, message: dict[str, Any]) -> None:
    transaction.on_commit(partial(send_now, group, message), robust=True)


def send_now(group: str, message: dict[str, Any]) -> None:
    """Send one group message through the configured layer, from sync code."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured; live updates need a channel layer")
    if isinstance(layer, DatabaseChannelLayer):
        # Straight to the table in the caller's thread: no event loop needed.
        layer.store(group, message)
    else:
        async_to_sync(layer.group_send)(group, message)
