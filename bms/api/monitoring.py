"""What the worker monitors on a device or point, and how (COV, poll, auto): the shapes the API
shows and takes, built from the domain service bms.devices.monitoring (the one home of the
inheritance point -> device -> site and of what a valid setting is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from ninja.errors import HttpError
from pydantic import Field

from bms.api.fields import BodyIn, StrictBool, StrictInt, Text
from bms.bacnet import cov_plan
from bms.devices import monitoring
from bms.devices.models import BACnetDevice, BACnetPoint

INHERIT = "null inherits: a point its device's setting, a device the site's defaults"


class MonitoringPatch(BodyIn):
    """Leave a field out to keep it; null (or "" for mode) inherits it again."""

    monitored: StrictBool | None = Field(default=None, description=f"watched or not; {INHERIT}")
    mode: Text | None = Field(
        default=None,
        max_length=8,
        description=f"one of {', '.join(cov_plan.MODES)} (auto: COV, polled where the device "
        f'refuses it); null or "" inherits',
    )
    poll_seconds: StrictInt | None = Field(
        default=None,
        ge=monitoring.MIN_POLL_SECONDS,
        le=monitoring.MAX_POLL_SECONDS,
        description=f"poll interval in seconds; {INHERIT}",
    )


class OwnSetting(Schema):
    """The row's own values: null / "" where it inherits."""

    monitored: bool | None
    mode: str
    poll_seconds: int | None


class EffectiveSetting(Schema):
    """What applies, after inheritance."""

    monitored: bool
    mode: str
    poll_seconds: int


class WatchCounts(Schema):
    cov: int
    poll: int
    unwatched: int  # monitored, COV only, and the device refuses COV for the type


class DeviceMonitoringOut(Schema):
    device_id: int
    own: OwnSetting
    effective: EffectiveSetting
    points: WatchCounts
    health: str  # online, unreachable or offline
    health_changed_at: datetime | None
    health_reason: str
    cov_refused: dict[str, Any]  # object type (or "*") -> {reason, at}


class PointMonitoringOut(Schema):
    point_id: int
    device_id: int
    own: OwnSetting
    effective: EffectiveSetting
    watched_by: str | None = Field(description="cov, poll, or null when not watched")


class HealthEventOut(Schema):
    time: datetime
    from_health: str
    to_health: str
    reason: str


def apply_device_patch(device: BACnetDevice, body: MonitoringPatch) -> BACnetDevice:
    try:
        return monitoring.set_device_monitoring(device, **_changes(body))
    except monitoring.MonitoringError as exc:
        raise HttpError(400, str(exc)) from exc


def apply_point_patch(point: BACnetPoint, body: MonitoringPatch) -> BACnetPoint:
    try:
        return monitoring.set_point_monitoring(point, **_changes(body))
    except monitoring.MonitoringError as exc:
        raise HttpError(400, str(exc)) from exc


def _changes(body: MonitoringPatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if "mode" in changes and changes["mode"] is None:
        changes["mode"] = ""  # the service's "inherit" for a mode
    return changes


def device_monitoring(device: BACnetDevice) -> dict[str, Any]:
    defaults = monitoring.MonitorDefaults.from_settings()
    counts = monitoring.watch_counts([device], defaults)[device.id]
    return {
        "device_id": device.id,
        "own": _own(device),
        "effective": vars(monitoring.device_effective(device, defaults)),
        "points": counts,
        "health": device.health,
        "health_changed_at": device.health_changed_at,
        "health_reason": device.health_reason,
        "cov_refused": device.cov_refused,
    }


def point_monitoring(point: BACnetPoint) -> dict[str, Any]:
    defaults = monitoring.MonitorDefaults.from_settings()
    setting = monitoring.effective(point, point.device, defaults)
    return {
        "point_id": point.id,
        "device_id": point.device_id,
        "own": _own(point),
        "effective": vars(setting),
        "watched_by": monitoring.watched_by(point, point.device, setting),
    }


def _own(row: BACnetDevice | BACnetPoint) -> dict[str, Any]:
    return {"monitored": row.monitored, "mode": row.monitor_mode, "poll_seconds": row.poll_seconds}
