"""What is monitored and how: the one home of the rules the pages, the API and the worker share.

A point's setting falls back to its device's, and a device's to the site's defaults from
settings: `monitored` None, `monitor_mode` "" and `poll_seconds` None mean "inherit". What the
worker learns (COV refusals, device health) is stored here too, so a restart starts from it.

Service API (pages and API call these; the worker picks changes up at its next reload,
BACNET_MONITOR_RELOAD_SECONDS):
- `set_device_monitoring(device, monitored=, mode=, poll_seconds=)`, `set_point_monitoring(...)`:
  change the settings (pass None / "" to inherit again); bad values raise MonitoringError;
- `effective(point, device, defaults)`: the setting a point is watched with;
- `watch_counts(devices)`: per device, how many points are watched by COV and how many polled;
- `forget_cov_refusals(device)`: try COV again at the next reload;
- `record_cov_refusal`, `record_health_change`: what the worker learnt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from bms.bacnet import cov_plan
from bms.devices.models import BACnetDevice, BACnetPoint, DeviceHealthEvent

UNSET: Any = object()  # a keyword not given: leave that setting as it is
MIN_POLL_SECONDS = 1


class MonitoringError(ValueError):
    """A monitoring setting that cannot be used; the message says why."""


@dataclass(frozen=True)
class MonitorDefaults:
    monitored: bool
    mode: str
    poll_seconds: int

    @classmethod
    def from_settings(cls) -> MonitorDefaults:
        return cls(
            monitored=settings.BACNET_MONITOR_DEFAULT,
            mode=settings.BACNET_MONITOR_DEFAULT_MODE,
            poll_seconds=settings.BACNET_MONITOR_POLL_SECONDS,
        )


@dataclass(frozen=True)
class Effective:
    monitored: bool
    mode: str
    poll_seconds: int


def effective(point: BACnetPoint, device: BACnetDevice, defaults: MonitorDefaults) -> Effective:
    """The point's own setting, else its device's, else the site's."""
    return Effective(
        monitored=_first(point.monitored, device.monitored, defaults.monitored),
        mode=point.monitor_mode or device.monitor_mode or defaults.mode,
        poll_seconds=_first(point.poll_seconds, device.poll_seconds, defaults.poll_seconds),
    )


def _first(*values: Any) -> Any:
    return next(value for value in values if value is not None)


def set_device_monitoring(
    device: BACnetDevice,
    *,
    monitored: bool | None = UNSET,
    mode: str = UNSET,
    poll_seconds: int | None = UNSET,
) -> BACnetDevice:
    _apply(device, monitored, mode, poll_seconds)
    device.save(update_fields=["monitored", "monitor_mode", "poll_seconds"])
    return device


def set_point_monitoring(
    point: BACnetPoint,
    *,
    monitored: bool | None = UNSET,
    mode: str = UNSET,
    poll_seconds: int | None = UNSET,
) -> BACnetPoint:
    _apply(point, monitored, mode, poll_seconds)
    point.save(update_fields=["monitored", "monitor_mode", "poll_seconds"])
    return point


def _apply(row: BACnetDevice | BACnetPoint, monitored: Any, mode: Any, poll_seconds: Any) -> None:
    if monitored is not UNSET:
        if monitored is not None and not isinstance(monitored, bool):
            raise MonitoringError(f"monitored must be true, false or null, not {monitored!r}")
        row.monitored = monitored
    if mode is not UNSET:
        if mode not in ("", None, *cov_plan.MODES):
            raise MonitoringError(
                f"mode must be one of {', '.join(cov_plan.MODES)} (or empty to inherit), "
                f"not {mode!r}"
            )
        row.monitor_mode = mode or ""
    if poll_seconds is not UNSET:
        row.poll_seconds = check_poll_seconds(poll_seconds)


def check_poll_seconds(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_POLL_SECONDS:
        raise MonitoringError(
            f"poll interval must be a whole number of seconds >= {MIN_POLL_SECONDS}, not {value!r}"
        )
    return value


def watch_counts(
    devices: Iterable[BACnetDevice], defaults: MonitorDefaults | None = None
) -> dict[int, dict[str, int]]:
    """{device id: {"cov": n, "poll": n, "unwatched": n}} of monitored points, in one query."""
    defaults = defaults or MonitorDefaults.from_settings()
    by_id = {device.id: device for device in devices}
    counts = {device_id: {"cov": 0, "poll": 0, "unwatched": 0} for device_id in by_id}
    rows = BACnetPoint.objects.filter(device_id__in=list(by_id)).only(
        "device_id", "object_type", "monitored", "monitor_mode", "poll_seconds"
    )
    for point in rows.iterator(chunk_size=5000):
        device = by_id[point.device_id]
        setting = effective(point, device, defaults)
        if not setting.monitored:
            continue
        refused = cov_plan.is_refused(device.cov_refused, point.object_type)
        counts[device.id][cov_plan.way(setting.mode, refused) or "unwatched"] += 1
    return counts


def forget_cov_refusals(device: BACnetDevice) -> None:
    device.cov_refused = {}
    device.save(update_fields=["cov_refused"])


def record_cov_refusal(device_id: int, key: str, reason: str, at: datetime) -> None:
    """Remember that the device refuses COV for `key` (an object type, or "*" for all)."""
    with transaction.atomic():
        device = BACnetDevice.objects.select_for_update().get(id=device_id)
        device.cov_refused = {**device.cov_refused, key: {"reason": reason, "at": at.isoformat()}}
        device.save(update_fields=["cov_refused"])


def record_health_change(
    device_id: int, old: str, new: str, reason: str, at: datetime
) -> BACnetDevice | None:
    """Store the device's new health (and `online`) with an event; None if the device is gone
    or no longer `old` (someone else moved it: the worker adopts the stored health at its next
    reload)."""
    with transaction.atomic():
        updated = BACnetDevice.objects.filter(id=device_id, health=old).update(
            health=new,
            online=new == "online",
            health_changed_at=at,
            health_reason=reason[:255],
        )
        if not updated:
            return None
        DeviceHealthEvent.objects.create(
            device_id=device_id, time=at, from_health=old, to_health=new, reason=reason[:255]
        )
        return BACnetDevice.objects.get(id=device_id)
