"""A site's devices as stored, described for the simulator (`bacnet_simulate --from-site`).

Reads the site's devices and their points (the analog, binary and multi-state objects that a
discovery and a collect stored) into bms.simulator.clone's description: same instances, names,
descriptions, units and state texts, and the quirks a client meets on the site:

- what the worker's capability cache saw the device do (BACnetDevice.learned_*, kept by
  bms.worker.capability_book): no RPM, no segmentation, its max APDU. Observations beat claims,
  as in the cache: a device that says it segments and aborts our segmented reads is cloned as
  one that cannot segment;
- where nothing was seen, what the device claimed: segmentation and max APDU as in its I-Am
  (stored by discovery), and no ReadPropertyMultiple when its protocol-services-supported (read
  with its device object) leaves it out. A device whose services were never read is assumed to
  take RPM.

Every device becomes a BACnet/IP device of its own on loopback, routed ones (MS/TP behind a
router) too.

Trend logs: the trend-log objects stored (by a trend-log backfill) with the analog point of the
same device they log; the clone's log records that point from the start.

Values: each point's stored readings of the last `history_hours`, oldest first (at most
`max_values` of the newest), replayed by the simulator; without readings, its last value.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from bms.bacnet.capabilities import SEGMENTED_TRANSMIT
from bms.bacnet.commanding import is_cov_increment
from bms.bacnet.types import ANALOG_TYPES, POINT_TYPES
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading
from bms.simulator.clone import (
    NOT_SEGMENTED,
    SEGMENTATIONS,
    SEGMENTED,
    ClonedDevice,
    ClonedPoint,
    ClonedTrendLog,
    CloneError,
    nearest_max_apdu,
    replay_values,
)

READ_PROPERTY_MULTIPLE = "read-property-multiple"  # as protocol-services-supported names it
DEFAULT_HISTORY_HOURS = 24.0
DEFAULT_MAX_VALUES = 10_000  # per point: a day of 10 s readings


def clone_site(
    site: str,
    *,
    history_hours: float = DEFAULT_HISTORY_HOURS,
    max_values: int = DEFAULT_MAX_VALUES,
    now: datetime | None = None,
) -> tuple[ClonedDevice, ...]:
    """The site's devices as a simulator description; CloneError if it has none."""
    if history_hours < 0 or max_values < 1:
        raise CloneError("history hours must be >= 0 and the values per point >= 1")
    devices = list(BACnetDevice.objects.filter(site=site).order_by("device_instance"))
    if not devices:
        raise CloneError(f"site {site!r} has no devices in the database: discover it first")
    points = BACnetPoint.objects.filter(device__site=site, object_type__in=POINT_TYPES).order_by(
        "device_id", "object_type", "instance"
    )
    since = (now or timezone.now()) - timedelta(hours=history_hours)
    history = _history(site, since, max_values)
    by_device: dict[int, list[ClonedPoint]] = defaultdict(list)
    for point in points:
        by_device[point.device_id].append(cloned_point(point, history.get(point.pk, [])))
    logs = _trend_logs(site)
    return tuple(cloned_device(device, by_device[device.pk], logs[device.pk]) for device in devices)


def cloned_device(
    device: BACnetDevice, points: list[ClonedPoint], trend_logs: Sequence[ClonedTrendLog] = ()
) -> ClonedDevice:
    return ClonedDevice(
        instance=device.device_instance,
        name=device.name or f"Device {device.device_instance}",
        points=tuple(points),
        segmentation=_segmentation(device),
        supports_rpm=_supports_rpm(device),
        max_apdu=nearest_max_apdu(
            device.max_apdu if device.learned_max_apdu is None else device.learned_max_apdu
        ),
        description=device.description,
        vendor_id=device.vendor_id,
        vendor_name=device.vendor_name,
        model_name=device.model_name,
        location=device.location,
        trend_logs=tuple(trend_logs),
    )


def _segmentation(device: BACnetDevice) -> str:
    """As seen if it was (the claim's wording kept when it agrees), else as claimed."""
    claimed = device.segmentation if device.segmentation in SEGMENTATIONS else SEGMENTED
    if device.learned_segmentation is None:
        return claimed
    if device.learned_segmentation:
        return claimed if claimed in SEGMENTED_TRANSMIT else SEGMENTED
    return NOT_SEGMENTED


def _supports_rpm(device: BACnetDevice) -> bool:
    if device.learned_rpm is not None:
        return device.learned_rpm
    services = device.services_supported or []
    return not services or READ_PROPERTY_MULTIPLE in services


def cloned_point(point: BACnetPoint, readings: list[object]) -> ClonedPoint:
    state_texts = tuple(str(text) for text in point.state_texts or ())
    raw = readings or [point.last_value]
    return ClonedPoint(
        object_type=point.object_type,
        instance=point.instance,
        name=point.name or f"{point.object_type} {point.instance}",
        description=point.description,
        units=point.units,
        state_texts=state_texts,
        commandable=point.commandable,
        values=replay_values(point.object_type, raw, state_texts),
        cov_increment=_cov_increment(point),
    )


def _cov_increment(point: BACnetPoint) -> float | None:
    """An analog point's COV increment as read with all its properties (a read_object task)."""
    value = (point.properties or {}).get("cov-increment")
    if point.object_type not in ANALOG_TYPES or isinstance(value, bool):
        return None
    if not isinstance(value, int | float) or not is_cov_increment(float(value)):
        return None
    return float(value)


def _trend_logs(site: str) -> dict[int, list[ClonedTrendLog]]:
    """Each device's stored trend logs of one of its analog points, by device pk."""
    rows = (
        BACnetPoint.objects.filter(
            device__site=site,
            object_type="trend-log",
            logged_point__object_type__in=ANALOG_TYPES,
            logged_point__device_id=F("device_id"),
        )
        .order_by("device_id", "instance")
        .values_list(
            "device_id", "instance", "name", "logged_point__object_type", "logged_point__instance"
        )
    )
    logs: dict[int, list[ClonedTrendLog]] = defaultdict(list)
    for device_id, instance, name, logged_type, logged_instance in rows:
        logs[device_id].append(
            ClonedTrendLog(instance, name or f"trend-log {instance}", logged_type, logged_instance)
        )
    return logs


def _history(site: str, since: datetime, max_values: int) -> dict[int, list[object]]:
    """Each point's readings since `since`, oldest first, the newest `max_values` of them."""
    readings = (
        BACnetReading.objects.filter(
            point__device__site=site, point__object_type__in=POINT_TYPES, timestamp__gte=since
        )
        .order_by("point_id", "timestamp", "id")
        .values_list("point_id", "value")
    )
    history: dict[int, deque[object]] = defaultdict(lambda: deque(maxlen=max_values))
    for point_id, value in readings.iterator(chunk_size=5000):
        if value is not None:  # a reading of an unanswered read
            history[point_id].append(value)
    return {point_id: list(values) for point_id, values in history.items()}
