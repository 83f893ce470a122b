"""What every backend offers; subclasses differ only in how a new task reaches a worker."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from bms.bacnet.commanding import MAX_INSTANCE, is_instance
from bms.devices.models import BACnetPoint
from bms.tasks import queue
from bms.tasks.models import BACnetTask


class BACnetBackend:
    name = "base"

    def __init__(self, site: str | None = None, reason: str = "") -> None:
        self.site = site or settings.BACNET_SITE
        self.reason = reason

    def discover_devices(
        self,
        low: int | None = None,
        high: int | None = None,
        address: str | None = None,
        force: bool = False,
    ) -> int:
        """Who-Is (optionally a range, optionally directed at `address`); `force` skips the
        discovery cache (BACNET_DISCOVERY_CACHE_SECONDS)."""
        _check_range(low, high)
        parameters = {"low": low, "high": high, "address": address or None, "force": force}
        return self._submit("discover", parameters)

    def collect_readings(self, device_ids: list[int] | None = None) -> int:
        """Read the present values of known points (all devices of the site, or these)."""
        if device_ids is not None:
            device_ids = [_device_instance(device_id) for device_id in device_ids]
        return self._submit("collect", {"device_ids": device_ids})

    def read_points(self, device_id: int) -> int:
        """Read a device's object list and the points' descriptive properties."""
        return self._submit("read_points", {"device_id": _device_instance(device_id)})

    def read_object(self, device_id: int, object_ref: str) -> int:
        """Read every property of one object ("analog-output,1") of a device."""
        parameters = {"device_id": _device_instance(device_id), "object": object_ref}
        return self._submit("read_object", parameters)

    def backfill_trendlog(self, device_id: int, log_instance: int | None = None) -> int:
        """Read a device's trend logs (or the one `log_instance`) into history with ReadRange."""
        parameters: dict[str, Any] = {"device_id": _device_instance(device_id)}
        if log_instance is not None:
            parameters["object"] = log_instance
        return self._submit("backfill_trendlog", parameters)

    def write_point(
        self,
        point_id: int,
        value: Any = None,
        priority: int | None = None,
        relinquish: bool = False,
        *,
        user: str | None = None,
        source: str | None = None,
    ) -> int:
        """Write a point's present value, or relinquish (write NULL) at `priority`, for `user`
        through `source` ("operator", "api"), whom the worker's audit names."""
        if not BACnetPoint.objects.filter(id=point_id).exists():
            raise ValueError(f"there is no point with id {point_id}")
        if priority is not None and not 1 <= priority <= 16:
            raise ValueError(f"priority {priority} is outside 1..16")
        if relinquish and value is not None:
            raise ValueError("relinquish writes NULL: give either a value or relinquish, not both")
        if not relinquish and value is None:
            raise ValueError("a value is required unless relinquishing")
        parameters = {
            "point_id": point_id,
            "value": value,
            "priority": priority,
            "relinquish": relinquish,
        }
        writer = {"user": user, "source": source}
        parameters |= {key: value for key, value in writer.items() if value is not None}
        return self._submit("write_point", parameters)

    # --- schedules, calendars and device management of remote devices (issue 16) ----------

    def read_schedule(self, device_id: int, object_ref: str) -> int:
        """Read a remote Schedule ("schedule,1") or Calendar ("calendar,1") object."""
        parameters = {"device_id": _device_instance(device_id), "object": object_ref}
        return self._submit("read_schedule", parameters)

    def write_schedule(
        self, device_id: int, object_ref: str, changes: dict[str, Any], writer: dict[str, str]
    ) -> int:
        """Write properties of a remote Schedule or Calendar (bms.tasks.schedule_submission
        checked them); `writer` is {"user", "source"}, whom the worker's audit names."""
        parameters = {
            "device_id": _device_instance(device_id),
            "object": object_ref,
            "changes": changes,
            **writer,
        }
        return self._submit("write_schedule", parameters)

    def manage_device(
        self,
        service: str,
        device_ids: list[int] | None,
        detail: dict[str, Any],
        writer: dict[str, str],
    ) -> int:
        """DCC, reinitialize (one device, with its password) or time sync (these devices, or
        every device of the site when None)."""
        if device_ids is not None:
            device_ids = [_device_instance(device_id) for device_id in device_ids]
        parameters = {"service": service, "device_ids": device_ids, **detail, **writer}
        return self._submit("manage_device", parameters)

    def acknowledge_alarm(self, transition_id: int) -> int:
        """Send an operator's acknowledgement of an alarm transition to its source (a remote
        device's AcknowledgeAlarm, or device 8888's own object); the transition names who."""
        return self._submit("acknowledge_alarm", {"transition_id": transition_id})

    def enroll_alarms(self, device_id: int, notification_class: int) -> int:
        """Add the BMS to a remote notification class's recipient list, so the device sends
        it that class's event notifications."""
        parameters = {
            "device_id": _device_instance(device_id),
            "notification_class": _device_instance(notification_class),
        }
        return self._submit("enroll_alarms", parameters)

    def get_status(self) -> dict[str, Any]:
        recent = BACnetTask.objects.filter(site=self.site)[:5]
        workers = queue.alive_workers(settings.BACNET_WORKER_ALIVE_SECONDS, site=self.site)
        return {
            "backend": self.name,
            "reason": self.reason,
            "site": self.site,
            "recent_tasks": [_task_summary(task) for task in recent],
            "workers_alive": [
                {
                    "worker_id": w.worker_id,
                    "hostname": w.hostname,
                    "pid": w.pid,
                    "bacnet_address": w.bacnet_address,
                    "bbmd": w.bbmd,
                    "bbmd_registration": w.bbmd_registration,
                    "heartbeat_at": w.heartbeat_at.isoformat(),
                }
                for w in workers
            ],
        }

    def wait(self, task_id: int, timeout: float) -> BACnetTask:
        """Block until the task finishes (TimeoutError otherwise): for callers that choose to."""
        return queue.wait_for(task_id, timeout)

    def _submit(self, task_type: str, parameters: dict[str, Any]) -> int:
        with transaction.atomic():
            task = queue.enqueue(task_type, parameters, self.site)
            self._dispatch(task)
        return task.id

    def _dispatch(self, task: BACnetTask) -> None:
        """Tell a worker about a new task, inside the transaction that created it."""
        raise NotImplementedError


def _device_instance(value: int) -> int:
    if not is_instance(value):
        raise ValueError(f"device instance {value} is outside 0..{MAX_INSTANCE}")
    return value


def _check_range(low: int | None, high: int | None) -> None:
    if (low is None) != (high is None):
        raise ValueError("give both low and high, or neither (BACnet Who-Is ranges have both)")
    if low is not None and high is not None:
        _device_instance(low)
        _device_instance(high)
        if low > high:
            raise ValueError(f"low {low} is above high {high}")


def _task_summary(task: BACnetTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "type": task.task_type,
        "status": task.status,
        "created": task.created_at.isoformat(),
        "progress": task.progress,
    }
