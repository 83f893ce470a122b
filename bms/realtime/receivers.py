"""The domain apps' signals, turned into live updates for open pages.

The apps below realtime (devices, tasks, virtual) announce their changes with signals sent on
commit and never import realtime; RealtimeConfig.ready() connects these receivers (wiring only:
nothing is opened until a signal fires).
"""

from __future__ import annotations

from typing import Any

from bms.alarms.signals import alarms_changed
from bms.devices.config_audit import config_audit_recorded
from bms.devices.signals import audit_recorded
from bms.realtime import publish
from bms.tasks.signals import task_submitted
from bms.virtual.signals import virtual_device_changed, virtual_object_changed


def connect() -> None:
    alarms_changed.connect(_alarms, dispatch_uid="realtime.alarms")
    audit_recorded.connect(_audit, dispatch_uid="realtime.audit")
    config_audit_recorded.connect(_config_audit, dispatch_uid="realtime.config_audit")
    task_submitted.connect(_task, dispatch_uid="realtime.task")
    virtual_device_changed.connect(_virtual_device, dispatch_uid="realtime.virtual_device")
    virtual_object_changed.connect(_virtual_object, dispatch_uid="realtime.virtual_object")


def _audit(sender: Any, audit: Any, **kwargs: Any) -> None:
    publish.publish_audit(audit)


def _config_audit(sender: Any, audit: Any, **kwargs: Any) -> None:
    publish.publish_config_audit(audit)


def _task(sender: Any, task: Any, **kwargs: Any) -> None:
    publish.publish_task(task)


def _virtual_device(sender: Any, device: Any, deleted: bool, **kwargs: Any) -> None:
    publish.publish_virtual_device(device, deleted=deleted)


def _virtual_object(
    sender: Any, virtual_object: Any, reading: Any, deleted: bool, **kwargs: Any
) -> None:
    publish.publish_virtual_object(virtual_object, reading, deleted=deleted)


def _alarms(sender: Any, alarm_ids: list[int], **kwargs: Any) -> None:
    publish.publish_alarms(alarm_ids)
