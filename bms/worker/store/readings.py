"""The points of remote devices and their readings: the hot path of polling."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from bms.bacnet.types import POINT_TYPES, ObjectRef, PointInfo, PresentValue
from bms.devices import monitoring
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading


def device_by_instance(site: str, device_instance: int) -> BACnetDevice:
    try:
        return BACnetDevice.objects.get(site=site, device_instance=device_instance)
    except BACnetDevice.DoesNotExist as exc:
        raise LookupError(
            f"device {device_instance} is not known on site {site!r}: run a discovery first"
        ) from exc


def devices_to_collect(site: str, device_instances: list[int] | None) -> list[BACnetDevice]:
    devices = BACnetDevice.objects.filter(site=site)
    if device_instances is not None:
        devices = devices.filter(device_instance__in=device_instances)
        missing = set(device_instances) - set(devices.values_list("device_instance", flat=True))
        if missing:
            raise LookupError(f"unknown devices on site {site!r}: {sorted(missing)}")
    else:
        devices = devices.filter(online=True)
    return list(devices)


def point_refs_by_device(device_ids: list[int]) -> dict[int, dict[ObjectRef, int]]:
    """{device id: {object ref: point id}} for all the devices, in one query."""
    refs: dict[int, dict[ObjectRef, int]] = {device_id: {} for device_id in device_ids}
    # Points only: a device's trend logs are stored as points too, but have no present value.
    rows = BACnetPoint.objects.filter(
        device_id__in=device_ids, object_type__in=POINT_TYPES
    ).values_list("device_id", "object_type", "instance", "id")
    for device_id, kind, instance, point_id in rows.iterator(chunk_size=5000):
        refs[device_id][ObjectRef(kind, instance)] = point_id
    return refs


def save_collect_wave(
    point_values: Mapping[int, tuple[PresentValue, tuple[bool, ...] | None]],
    described: list[tuple[BACnetDevice, list[PointInfo]]],
    at: datetime | None = None,
) -> list[int]:
    """One collect wave in one transaction: readings of known points, and new devices' points."""
    with transaction.atomic():
        point_ids = save_readings(point_values, at=at)
        for device, points in described:
            save_points(device, points)
    return point_ids


def save_points(device: BACnetDevice, points: list[PointInfo]) -> int:
    """Upsert the device's points (and their current values as readings); returns how many."""
    now = timezone.now()
    with transaction.atomic():
        existing = {
            (p.object_type, p.instance): p for p in BACnetPoint.objects.filter(device=device)
        }
        to_create, to_update = [], []
        for info in points:
            row = existing.get((info.ref.object_type, info.ref.instance))
            if row is None:
                row = BACnetPoint(
                    device=device, object_type=info.ref.object_type, instance=info.ref.instance
                )
                to_create.append(row)
            else:
                to_update.append(row)
            _fill_point(row, info, now)
        BACnetPoint.objects.bulk_create(to_create)
        BACnetPoint.objects.bulk_update(to_update, _POINT_FIELDS)
        rows = to_create + to_update
        BACnetReading.objects.bulk_create(
            BACnetReading(point=row, value=row.last_value, timestamp=now, source="poll")
            for row in rows
        )
        if to_create:  # new points may be monitored (defaults): the worker's monitoring looks
            monitoring.bump_revision(device.site, [device.id])
    return len(rows)


_POINT_FIELDS = [
    "name",
    "description",
    "units",
    "state_texts",
    "commandable",
    "last_value",
    "last_value_at",
    "status_flags",
]


def _fill_point(row: BACnetPoint, info: PointInfo, now: datetime) -> None:
    row.name = info.name
    row.description = info.description
    row.units = info.units or ""
    row.state_texts = list(info.state_texts)
    row.commandable = info.commandable
    row.last_value = info.present_value
    row.last_value_at = now
    row.status_flags = list(info.status_flags) if info.status_flags else None


def save_readings(
    point_values: Mapping[int, tuple[PresentValue, tuple[bool, ...] | None]],
    source: str = "poll",
    at: datetime | None = None,
) -> list[int]:
    """Store one reading per point (time `at`, default now) and update the points' last values;
    returns the ids of the points stored (those deleted meanwhile are skipped).

    This is the hot path of polling (thousands of points per collect), run in the worker's
    process beside the BACnet loop. PostgreSQL takes a whole chunk as ONE statement over arrays
    (psycopg sends each array as one parameter); elsewhere plain executemany statements, not
    bulk_update's giant CASE expression and not a model instance per row.
    """
    if not point_values:
        return []
    now = at or timezone.now()
    if connection.vendor == "postgresql":
        return _save_readings_one_statement(point_values, source, now)
    stamp = connection.ops.adapt_datetimefield_value(now)
    point_table, reading_table = BACnetPoint._meta.db_table, BACnetReading._meta.db_table
    with transaction.atomic():
        # Points deleted since the collect started are skipped, not an error.
        alive = BACnetPoint.objects.filter(id__in=list(point_values))
        ids = set(alive.values_list("id", flat=True))
        rows = [(point_id, *point_values[point_id]) for point_id in point_values if point_id in ids]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {point_table} SET last_value = %s, last_value_at = %s, "  # noqa: S608
                f"status_flags = COALESCE(%s, status_flags) WHERE id = %s",
                [
                    (
                        _json(value),
                        stamp,
                        _json(list(flags)) if flags is not None else None,
                        point_id,
                    )
                    for point_id, value, flags in rows
                ],
            )
            cursor.executemany(
                f"INSERT INTO {reading_table} (point_id, virtual_object_id, value, timestamp, "  # noqa: S608
                f"source) VALUES (%s, NULL, %s, %s, %s)",
                [(point_id, _json(value), stamp, source) for point_id, value, _flags in rows],
            )
    return [point_id for point_id, _value, _flags in rows]


def _save_readings_one_statement(
    point_values: Mapping[int, tuple[PresentValue, tuple[bool, ...] | None]],
    source: str,
    now: datetime,
) -> list[int]:
    ids, values, flags = [], [], []
    for point_id, (value, status_flags) in point_values.items():
        ids.append(point_id)
        values.append(_json(value))
        flags.append(None if status_flags is None else _json(list(status_flags)))
    statement = _READINGS_STATEMENT.format(
        point=BACnetPoint._meta.db_table, reading=BACnetReading._meta.db_table
    )
    with connection.cursor() as cursor:  # one statement: atomic on its own
        cursor.execute(statement, [ids, values, flags, now, now, source])
        (stored,) = cursor.fetchone()
    return list(stored or [])


# The chunk's points and values as arrays; the update returns the points still there, and only
# those get a reading (a point deleted since the collect started is skipped, not an error).
_READINGS_STATEMENT = (
    "WITH v (id, value, flags) AS (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[])), "
    "u AS (UPDATE {point} AS p SET last_value = v.value::jsonb, last_value_at = %s, "
    "status_flags = COALESCE(v.flags::jsonb, p.status_flags) FROM v WHERE p.id = v.id "
    "RETURNING p.id), "
    "r AS (INSERT INTO {reading} (point_id, virtual_object_id, value, timestamp, source) "
    "SELECT v.id, NULL, v.value::jsonb, %s, %s FROM v JOIN u ON u.id = v.id RETURNING point_id) "
    "SELECT array_agg(point_id) FROM r"
)


def _json(value: Any) -> str:
    return json.dumps(value)
