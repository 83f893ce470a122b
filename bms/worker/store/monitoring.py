"""The monitoring service's database side: what to watch, its readings, refusals and health."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from bms.bacnet import health as health_rules
from bms.bacnet.cov_plan import WatchedPoint
from bms.bacnet.health import HealthChange
from bms.bacnet.types import POINT_TYPES, ObjectRef, PresentValue
from bms.devices import monitoring
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.worker import events
from bms.worker.health_book import StoredHealth
from bms.worker.store.readings import save_readings


@dataclass
class DeviceWatch:
    """One device as the monitoring service watches it, as stored."""

    device_id: int
    instance: int
    address: str
    health: str
    health_since: float  # seconds since the epoch
    cov_refused: dict[str, Any]
    revision: int = 0  # the device's monitor_revision when loaded
    points: list[WatchedPoint] = field(default_factory=list)


@dataclass(frozen=True)
class ReadingRow:
    """A value learnt by COV or polling, waiting for the next group commit."""

    point_id: int
    device_id: int
    ref: ObjectRef
    value: PresentValue
    status_flags: tuple[bool, ...] | None
    source: str  # "cov" or "poll"


def device_states(site: str) -> dict[int, tuple[int, str]]:
    """{device id: (monitor revision, address)} of the site's devices: one query, no points.
    A device whose pair moved (or that is new or gone) is the only one reloaded."""
    rows = BACnetDevice.objects.filter(site=site).values_list("id", "monitor_revision", "address")
    return {device_id: (revision, address) for device_id, revision, address in rows}


def load_watches(
    site: str, defaults: monitoring.MonitorDefaults, device_ids: Collection[int] | None = None
) -> list[DeviceWatch]:
    """The site's devices (or those of `device_ids`) with their monitored points, settings
    resolved, in two queries."""
    rows = BACnetDevice.objects.filter(site=site)
    if device_ids is not None:
        rows = rows.filter(id__in=list(device_ids))
    devices = {d.id: d for d in rows}
    watches = {
        device.id: DeviceWatch(
            device_id=device.id,
            instance=device.device_instance,
            address=device.address,
            health=device.health,
            health_since=_epoch(device.health_changed_at),
            cov_refused=dict(device.cov_refused),
            revision=device.monitor_revision,
        )
        for device in devices.values()
    }
    # Points only: trend logs stored as points are read with ReadRange, not watched.
    points = BACnetPoint.objects.filter(
        device_id__in=list(devices), object_type__in=POINT_TYPES
    ).only(
        "id", "device_id", "object_type", "instance", "monitored", "monitor_mode", "poll_seconds"
    )
    for point in points.iterator(chunk_size=5000):
        setting = monitoring.effective(point, devices[point.device_id], defaults)
        if setting.monitored:
            watches[point.device_id].points.append(
                WatchedPoint(
                    point_id=point.id,
                    device_id=point.device_id,
                    ref=ObjectRef(point.object_type, point.instance),
                    mode=setting.mode,
                    poll_seconds=float(setting.poll_seconds),
                )
            )
    return list(watches.values())


def _epoch(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


def save_monitored_readings(rows: list[ReadingRow], at: datetime) -> list[int]:
    """Store a group commit of readings (time `at`) in one transaction; returns the points
    stored (a point deleted meanwhile is skipped).

    save_readings takes one value per point and source, so a point that changed twice within
    the window is stored in a second round: no notification is lost to the batching.
    """
    rounds: list[tuple[str, dict[int, tuple[PresentValue, Any]]]] = []
    for row in rows:
        target = next(
            (
                values
                for source, values in rounds
                if source == row.source and row.point_id not in values
            ),
            None,
        )
        if target is None:
            target = {}
            rounds.append((row.source, target))
        target[row.point_id] = (row.value, row.status_flags)
    if len(rounds) == 1:  # the usual case: one statement on PostgreSQL, atomic on its own
        # (no BEGIN and COMMIT round trips around it: a third of a commit's time at 200/s)
        source, values = rounds[0]
        return save_readings(values, source=source, at=at)
    stored: list[int] = []
    with transaction.atomic():
        for source, values in rounds:
            stored.extend(save_readings(values, source=source, at=at))
    return stored


def save_cov_refusal(device_id: int, key: str, reason: str) -> None:
    monitoring.record_cov_refusal(device_id, key, reason, timezone.now())


def save_health_change(device_id: int, change: HealthChange) -> BACnetDevice | None:
    at = datetime.fromtimestamp(change.at, tz=UTC)
    return monitoring.record_health_change(device_id, change.old, change.new, change.reason, at)


def stored_health(device_id: int) -> StoredHealth | None:
    row = BACnetDevice.objects.filter(id=device_id).values_list("health", "health_changed_at")
    found = next(iter(row), None)
    if found is None:
        return None
    return StoredHealth(found[0], _epoch(found[1]))


def mark_discovery(
    site: str,
    answered: set[int],
    low: int | None,
    high: int | None,
    address: str | None,
    now: datetime,
) -> list[BACnetDevice]:
    """After a scan at `now`: devices that answered are online, known devices in the scanned
    range that did not are unreachable ("did not answer discovery"). Each change is an event;
    those that did not answer are published here (the caller publishes those that did)."""
    devices = BACnetDevice.objects.filter(site=site)
    if low is not None and high is not None:
        devices = devices.filter(device_instance__gte=low, device_instance__lte=high)
    changed = []
    for device in devices:
        if device.device_instance in answered:
            new, reason = health_rules.ONLINE, "answered discovery"
        elif address and not _asked(device.address, address):
            continue  # a directed Who-Is asked one address, not this device
        elif device.health == health_rules.ONLINE:
            new, reason = health_rules.UNREACHABLE, health_rules.MISSED_DISCOVERY
        else:
            continue  # already unreachable or offline: its own clock runs on
        if device.health != new:
            stored = monitoring.record_health_change(device.id, device.health, new, reason, now)
            if stored is not None:
                changed.append(stored)
    if changed:  # the worker's monitoring adopts the new health at once
        monitoring.bump_revision(site, [device.id for device in changed])
    events.devices_changed([d for d in changed if d.device_instance not in answered])
    return changed


def _asked(device_address: str, scanned: str) -> bool:
    """Whether a Who-Is sent to `scanned` was sent to the device itself. A directed broadcast
    (a prefix, or a routed network's "*") asks devices we cannot list, so none counts."""
    if "/" in scanned or scanned.endswith(":*"):
        return False
    return device_address == scanned or device_address.split(":")[0] == scanned
