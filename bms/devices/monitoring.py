"""What is monitored and how: the one home of the rules the pages, the API and the worker share.

A point's setting falls back to its device's, and a device's to the site's defaults from
settings: `monitored` None, `monitor_mode` "" and `poll_seconds` None mean "inherit". What the
worker learns (COV refusals, device health) is stored here too, so a restart starts from it.

Every change of settings bumps the site's MonitoringRevision and stamps the changed devices
with it, in the change's own transaction (`bump_revision`): the worker reads that one row each
second and reloads only the stamped devices, so a change reaches it within about a second and
costs no read of the site's other points.

Service API (pages and API call these):
- `set_device_monitoring(device, monitored=, mode=, poll_seconds=)`, `set_point_monitoring(...)`:
  change the settings (pass None / "" to inherit again); bad values raise MonitoringError;
- `effective(point, device, defaults)`: the setting a point is watched with;
- `watch_counts(devices)`: per device, how many points are watched by COV and how many polled;
- `forget_cov_refusals(device)`: try COV again at the next reload;
- `bump_revision(site, device_ids)`, `site_revision(site)`: the change signal above;
- `record_cov_refusal`, `record_health_change`: what the worker learnt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from bms.bacnet import cov_plan
from bms.devices.models import BACnetDevice, BACnetPoint, DeviceHealthEvent, MonitoringRevision

UNSET: Any = object()  # a keyword not given: leave that setting as it is
MIN_POLL_SECONDS = 1
MAX_POLL_SECONDS = 7 * 24 * 3600  # a week: slower is not monitoring (and fits the column)


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


def device_effective(device: BACnetDevice, defaults: MonitorDefaults) -> Effective:
    """The setting of a point of `device` that sets nothing of its own."""
    return effective(BACnetPoint(device=device), device, defaults)


def watched_by(point: BACnetPoint, device: BACnetDevice, setting: Effective) -> str | None:
    """ "cov", "poll", or None: not monitored, or COV only and the device refuses it."""
    if not setting.monitored:
        return None
    return cov_plan.way(setting.mode, cov_plan.is_refused(device.cov_refused, point.object_type))


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
    with transaction.atomic():
        device.save(update_fields=["monitored", "monitor_mode", "poll_seconds"])
        device.monitor_revision = bump_revision(device.site, [device.id])
    return device


def set_point_monitoring(
    point: BACnetPoint,
    *,
    monitored: bool | None = UNSET,
    mode: str = UNSET,
    poll_seconds: int | None = UNSET,
) -> BACnetPoint:
    _apply(point, monitored, mode, poll_seconds)
    site = BACnetDevice.objects.filter(id=point.device_id).values_list("site", flat=True).get()
    with transaction.atomic():
        point.save(update_fields=["monitored", "monitor_mode", "poll_seconds"])
        bump_revision(site, [point.device_id])
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
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not whole or not MIN_POLL_SECONDS <= value <= MAX_POLL_SECONDS:
        raise MonitoringError(
            f"poll interval must be a whole number of seconds >= {MIN_POLL_SECONDS} and <= "
            f"{MAX_POLL_SECONDS}, not {value!r}"
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
        if setting.monitored:
            counts[device.id][watched_by(point, device, setting) or "unwatched"] += 1
    return counts


def forget_cov_refusals(device: BACnetDevice) -> None:
    device.cov_refused = {}
    with transaction.atomic():
        device.save(update_fields=["cov_refused"])
        device.monitor_revision = bump_revision(device.site, [device.id])


def bump_revision(site: str, device_ids: Iterable[int]) -> int:
    """The site's next monitoring revision, stamped on `device_ids`; returns it.

    Call it in the transaction of the change it announces. The UPDATE locks the site's row
    until that transaction ends, so revisions commit in order: once the worker reads revision
    n, every change stamped n or lower is committed and visible to it.
    """
    with transaction.atomic():
        if not MonitoringRevision.objects.filter(site=site).update(revision=F("revision") + 1):
            try:
                with transaction.atomic():
                    MonitoringRevision.objects.create(site=site, revision=1)
            except IntegrityError:  # created meanwhile by another change
                MonitoringRevision.objects.filter(site=site).update(revision=F("revision") + 1)
        revision: int = (
            MonitoringRevision.objects.filter(site=site).values_list("revision", flat=True).get()
        )
        BACnetDevice.objects.filter(id__in=list(device_ids)).update(monitor_revision=revision)
    return revision


def site_revision(site: str) -> int:
    """The site's monitoring revision (0 before the first change): one indexed row."""
    revision = MonitoringRevision.objects.filter(site=site).values_list("revision", flat=True)
    return next(iter(revision), 0)


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
