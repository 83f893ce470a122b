"""Models as the JSON the pages receive over websockets (and the API shares for tasks).

Plain dicts of JSON types only: the database layer stores them as JSON and channels_redis as
msgpack, and both must give the browser the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from bms.alarms.models import Alarm
from bms.bacnet.types import ObjectRef, PresentValue
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading, ConfigAudit, WriteAudit
from bms.tasks import describe
from bms.tasks.describe_schedules import shown_parameters
from bms.tasks.models import BACnetTask
from bms.virtual.models import VirtualBACnetDevice, VirtualObject


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def task_payload(task: BACnetTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "type": task.task_type,
        "type_label": task.get_task_type_display(),
        "requested_by": describe.requested_by(task),
        "scheduled": describe.is_scheduled(task),
        "site": task.site,
        "status": task.status,
        "parameters": shown_parameters(task),
        "progress": task.progress,
        "result": task.result,
        "result_text": describe.result_text(task),
        "error": task.error_message,
        "created": iso(task.created_at),
        "started": iso(task.started_at),
        "completed": iso(task.completed_at),
        "attempts": task.attempts,
        "worker_id": task.worker_id,
    }


def device_payload(device: BACnetDevice, point_count: int) -> dict[str, Any]:
    return {
        "id": device.id,
        "device_instance": device.device_instance,
        "site": device.site,
        "address": device.address,
        "name": device.name,
        "vendor_name": device.vendor_name,
        "model_name": device.model_name,
        "online": device.online,
        "health": device.health,
        "health_reason": device.health_reason,
        "health_changed_at": iso(device.health_changed_at),
        "last_seen": iso(device.last_seen),
        "point_count": point_count,
    }


def point_payload(point: BACnetPoint) -> dict[str, Any]:
    return {
        "id": point.id,
        "device_id": point.device_id,
        "object_type": point.object_type,
        "instance": point.instance,
        "name": point.name,
        "units": point.units,
        "value": point.last_value,
        "value_at": iso(point.last_value_at),
        "status_flags": point.status_flags,
        "commandable": point.commandable,
    }


def reading_payload(
    point_id: int,
    device_pk: int,
    ref: ObjectRef,
    value: PresentValue,
    status_flags: Sequence[bool] | None,
    at: datetime,
) -> dict[str, Any]:
    """A polled value as the "points" event carries it, built from what the worker just read
    and stored (no query); pages update value, time and flags, the rest of the row stays."""
    return {
        "id": point_id,
        "device_id": device_pk,
        "object_type": ref.object_type,
        "instance": ref.instance,
        "value": value,
        "value_at": iso(at),
        "status_flags": list(status_flags) if status_flags is not None else None,
    }


def stored_reading_payload(reading: BACnetReading) -> dict[str, Any]:
    """A stored reading as the readings API lists it (ReadingOut), for trends to append."""
    return {"value": reading.value, "timestamp": iso(reading.timestamp), "source": reading.source}


def virtual_object_payload(obj: VirtualObject) -> dict[str, Any]:
    return {
        "id": obj.id,
        "device_id": obj.device.device_id,
        "object_type": obj.object_type,
        "instance": obj.instance,
        "name": obj.name,
        "bacnet_name": obj.bacnet_name,
        "units": obj.units,
        "present_value": obj.present_value,
        "priority_array": obj.priority_array,
        "relinquish_default": obj.relinquish_default,
        "out_of_service": obj.out_of_service,
        "commandable": obj.commandable,
    }


def virtual_device_payload(device: VirtualBACnetDevice) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "device_name": device.device_name,
        "description": device.description,
        "template": device.template,
        "is_running": device.is_running,
        "last_external_write": iso(device.last_external_write),
    }


def external_write_payload(obj: VirtualObject, event: Any) -> dict[str, Any]:
    """Seed 004's external write fields, plus the object, priority, writer and the result.

    `event` is a mapping or a dataclass (bms.bacnet.types.WriteEvent) with at least `new_value`;
    `property`, `priority`, `source_address` (or `address`), `old_value`, `effective_value`,
    `priority_array` and `timestamp` are used when present.
    """
    data = asdict(event) if is_dataclass(event) and not isinstance(event, type) else dict(event)
    timestamp = data.get("timestamp") or timezone.now()
    return {
        "device_id": obj.device.device_id,
        "property": data.get("property", "present-value"),
        "new_value": data.get("new_value"),
        "timestamp": timestamp.isoformat() if isinstance(timestamp, datetime) else timestamp,
        "old_value": data.get("old_value"),
        "priority": data.get("priority"),
        "address": data.get("source_address") or data.get("address") or "",
        "effective_value": data.get("effective_value", obj.present_value),
        "priority_array": list(data.get("priority_array") or obj.priority_array or []) or None,
        "object": virtual_object_payload(obj),
    }


def audit_payload(audit: WriteAudit) -> dict[str, Any]:
    """One audit log row: the audit page's template and live.js both render these fields.

    The subject's object type says how values read (analog to two decimals); the links need the
    point's id or the virtual device's id, so a virtual object should come with its device.
    """
    point, obj = audit.point, audit.virtual_object
    return {
        "id": audit.id,
        "time": iso(audit.time),
        "source": audit.source,
        "source_label": audit.get_source_display(),
        "who": audit.who,
        "object_ref": audit.object_ref,
        "object_type": point.object_type if point else obj.object_type if obj else "",
        "point_id": audit.point_id,
        "virtual_device_id": obj.device.device_id if obj else None,
        "property": audit.property,
        "old_value": audit.old_value,
        "new_value": audit.new_value,
        "priority": audit.priority,
        "accepted": audit.accepted,
        "reason": audit.reason,
    }


def config_audit_payload(audit: ConfigAudit) -> dict[str, Any]:
    """One configuration audit row: the audit page's template and config_audit.js render these."""
    return {
        "id": audit.id,
        "time": iso(audit.time),
        "who": audit.who,
        "address": audit.address,
        "action": audit.action,
        "action_label": audit.get_action_display(),
        "target": audit.target,
        "before": audit.before,
        "after": audit.after,
    }


def alarm_payload(alarm: Alarm) -> dict[str, Any]:
    """An alarm as the console row shows it (its transitions are on its own page)."""
    return {
        "id": alarm.pk,
        "source_kind": alarm.source_kind,
        "name": alarm.name or alarm.rule,
        "device_instance": alarm.device_instance,
        "object_type": alarm.object_type,
        "instance": alarm.instance,
        "event_state": alarm.event_state,
        "event_type": alarm.event_type,
        "priority": alarm.priority,
        "notify_type": alarm.notify_type,
        "message": alarm.message,
        "acked_transitions": list(alarm.acked_transitions),
        "unacknowledged": alarm.unacknowledged,
        "active": alarm.event_state != "normal",
        "last_transition_at": iso(alarm.last_transition_at),
    }
