"""The worker's database side: small synchronous ORM functions, each one short transaction.

They run in a thread through `sync_to_async` (see `bms.worker.db`); none of them is ever called
while a transaction is held across BACnet I/O.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.db import connection, transaction
from django.utils import timezone

from bms.bacnet.errors import WriteRefused
from bms.bacnet.types import (
    DeviceInfo,
    IAmRecord,
    ObjectRef,
    PointInfo,
    PresentValue,
    RefusedWrite,
    WriteEvent,
)
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading, NetworkScan, WriteAudit
from bms.realtime import publish  # audits announce themselves after commit (on_commit)
from bms.tasks.models import BACnetTask
from bms.virtual.models import VirtualBACnetDevice, VirtualObject

# ---- discovery ------------------------------------------------------------------------------


def cached_scan(site: str, parameters: dict[str, Any], max_age_seconds: int) -> NetworkScan | None:
    """The newest scan with the same parameters younger than `max_age_seconds`, if any."""
    since = timezone.now() - timedelta(seconds=max_age_seconds)
    return (
        NetworkScan.objects.filter(site=site, parameters=parameters, scan_time__gte=since)
        .order_by("-scan_time")
        .first()
    )


def save_discovery(
    site: str,
    records: list[IAmRecord],
    infos: dict[int, DeviceInfo],
    parameters: dict[str, Any],
    started: datetime,
    task_id: int | None,
) -> tuple[NetworkScan, list[BACnetDevice]]:
    """Upsert the devices that answered and record the scan, in one transaction.

    A few statements whatever the number of devices (INSERT ... ON CONFLICT DO UPDATE in
    batches, then one read back), not a SELECT FOR UPDATE and a write per device: a scan of
    1,000 devices was 2,000 round trips in the worker's process. A device whose properties
    could not be read keeps the ones stored before; first_seen is set only on insert.
    """
    now = timezone.now()
    latest = {record.device_instance: record for record in records}  # the last answer wins
    with_info = [_device_row(site, r, infos[i], now) for i, r in latest.items() if i in infos]
    without = [_device_row(site, r, None, now) for i, r in latest.items() if i not in infos]
    with transaction.atomic():
        for rows, fields in ((with_info, _DEVICE_INFO_FIELDS), (without, _I_AM_FIELDS)):
            if rows:
                BACnetDevice.objects.bulk_create(
                    rows,
                    batch_size=500,
                    update_conflicts=True,
                    unique_fields=["site", "device_instance"],
                    update_fields=fields,
                )
        stored = BACnetDevice.objects.filter(site=site, device_instance__in=list(latest))
        by_instance = {device.device_instance: device for device in stored}
        scan = NetworkScan.objects.create(
            site=site,
            scan_time=now,
            parameters=parameters,
            devices_found=len(records),
            duration=now - started,
            task_id=task_id,
        )
    return scan, [by_instance[instance] for instance in latest]


_I_AM_FIELDS = [
    "address",
    "network_number",
    "mac",
    "vendor_id",
    "max_apdu",
    "segmentation",
    "last_seen",
    "online",
]
_DEVICE_INFO_FIELDS = [
    *_I_AM_FIELDS,
    "name",
    "vendor_name",
    "model_name",
    "firmware_revision",
    "application_software_version",
    "protocol_revision",
    "description",
    "location",
    "services_supported",
]


def _device_row(
    site: str, record: IAmRecord, info: DeviceInfo | None, now: datetime
) -> BACnetDevice:
    fields: dict[str, Any] = {
        "address": record.address,
        "network_number": record.network,
        "mac": record.mac or "",
        "vendor_id": record.vendor_id,
        "max_apdu": record.max_apdu,
        "segmentation": record.segmentation,
        "last_seen": now,
        "online": True,
    }
    if info is not None:
        fields.update(
            name=info.name,
            vendor_name=info.vendor_name,
            model_name=info.model_name,
            firmware_revision=info.firmware_revision,
            application_software_version=info.application_software_version,
            protocol_revision=info.protocol_revision,
            description=info.description,
            location=info.location,
            services_supported=list(info.services_supported),
        )
        if info.vendor_id is not None:
            fields["vendor_id"] = info.vendor_id
    return BACnetDevice(site=site, device_instance=record.device_instance, first_seen=now, **fields)


# ---- points and readings --------------------------------------------------------------------


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
    rows = BACnetPoint.objects.filter(device_id__in=device_ids).values_list(
        "device_id", "object_type", "instance", "id"
    )
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


def point_for_write(point_id: int) -> tuple[BACnetPoint, BACnetDevice]:
    point = BACnetPoint.objects.select_related("device").get(id=point_id)
    return point, point.device


@dataclass(frozen=True)
class Writer:
    """Who asked for a write to a remote point, and through what (a WriteAudit source)."""

    who: str
    source: str  # "operator" (the web pages) or "api"

    SOURCES: ClassVar[tuple[str, ...]] = ("operator", "api")

    @classmethod
    def of_task(cls, parameters: Mapping[str, Any]) -> Writer:
        """The writer a write_point task names. A task without a source (queued by an older
        version, or by `bms bacnet_task`) came from an operator, as its audit said before."""
        source = parameters.get("source")
        return cls(
            who=str(parameters.get("user") or "operator"),
            source=source if source in cls.SOURCES else "operator",
        )


def record_point_write(
    writer: Writer,
    point_id: int,
    old: PresentValue,
    new: PresentValue,
    priority: int | None,
    accepted: bool,
    reason: str = "",
    read_back: PresentValue = None,
) -> None:
    """Audit an operator's or API user's write to a remote point; an accepted one also stores
    the read-back. The audit page hears of it when the transaction commits."""

    now = timezone.now()
    with transaction.atomic():
        point = BACnetPoint.objects.select_for_update().get(id=point_id)
        audit = WriteAudit.objects.create(
            time=now,
            source=writer.source,
            who=writer.who,
            point=point,
            object_ref=f"{point.device.device_instance}:{point.object_type},{point.instance}",
            old_value=old,
            new_value=new,
            priority=priority,
            accepted=accepted,
            reason=reason,
        )
        publish.publish_audit(audit)
        if accepted:
            point.last_value, point.last_value_at = read_back, now
            point.save(update_fields=["last_value", "last_value_at"])
            BACnetReading.objects.create(
                point=point, value=read_back, timestamp=now, source="operator_write"
            )


# ---- virtual objects ------------------------------------------------------------------------


def running_virtual_objects() -> list[VirtualObject]:
    return list(VirtualObject.objects.filter(device__is_running=True).select_related("device"))


@dataclass(frozen=True)
class StoredWrite:
    object_id: int
    updated_at: datetime
    merged: bool = False  # stored on top of a newer row: the engine must resync the object


def store_external_write(
    event: WriteEvent, object_id: int, device_pk: int, synced_at: datetime, deadline: float
) -> StoredWrite:
    """One external write; see store_external_writes."""
    return store_external_writes([event], object_id, device_pk, synced_at, deadline)


def store_external_writes(
    events: Sequence[WriteEvent],
    object_id: int,
    device_pk: int,
    synced_at: datetime,
    deadline: float,
) -> StoredWrite:
    """Persist accepted external writes to ONE object, in order: for each its value, priority
    array, reading and audit, all in ONE transaction (group commit: one COMMIT, one WAL flush
    for the batch). Raising here makes the engine refuse every write of the batch, so nothing
    is half-stored.

    The caller (the engine's per-object committer) already serialises writes to the object and
    knows its row ids, so nothing is looked up: it sits on the ack path. Each event was planned
    on the state the one before it leaves. On PostgreSQL the whole batch is ONE statement
    (data-modifying CTEs: the object's final state, every write's reading and audit, the
    device's time), so the transaction is three round trips whatever its size and no ORM query
    is compiled per write; other databases take the same changes through the ORM, per write.
    The first write is conditioned on the row the engine last applied (`synced_at`); the next
    ones on the row this transaction just wrote. If the row had changed (an operator command),
    the first write and every later one are merged into it instead (see _merge_write).
    `deadline` (time.monotonic()) is when the engine stops waiting for us and refuses the
    writes. A transaction that was stuck on a lock past it must not commit afterwards, or the
    database would hold values the writers were told were refused: it is rolled back instead.
    """
    if not events:
        raise ValueError("no writes to store")
    now = timezone.now()
    merged = False
    with transaction.atomic():
        if connection.vendor == "postgresql":
            stored = _store_batch_one_statement(events, object_id, device_pk, now, synced_at)
        else:
            stored = all(
                _store_write_orm(
                    event, object_id, device_pk, now, synced_at if n == 0 else now
                )  # then the row is ours
                for n, event in enumerate(events)
            )  # stops at the first False: only n == 0
        if not stored:
            # Someone (an operator command) changed the row since the worker last applied it,
            # or it is gone: merge the writes into the row instead of overwriting that change.
            merged = True
            for event in events:
                _merge_write(event, object_id, device_pk, now)
        if time.monotonic() > deadline:
            raise WriteRefused(
                f"storing {len(events)} writes to {events[0].ref} took too long; rolled back",
                error_class="device",
                error_code="operational-problem",
            )
    return StoredWrite(object_id, now, merged)


def _merge_write(event: WriteEvent, object_id: int, device_pk: int, now: datetime) -> bool:
    """Store the write on top of the row's newer state: only the written level changes.

    The engine's priority array (in the event) predates the row's change, so storing it would
    erase that change; the worker's next sync applies the merged row to the live object.
    """
    row = VirtualObject.objects.select_for_update().filter(id=object_id).first()
    if row is None:
        raise WriteRefused(
            f"{event.ref} was deleted", error_class="object", error_code="unknown-object"
        )
    if event.property == "present-value" and event.priority_array and row.priority_array:
        levels = list(row.priority_array)
        levels[(event.priority or 16) - 1] = event.new_value
        row.priority_array = levels
        row.present_value = next((v for v in levels if v is not None), row.relinquish_default)
    else:
        for name, value in _object_fields(event, now).items():
            setattr(row, name, value)
    row.updated_at = now
    row.save()
    _record_write(event, object_id, device_pk, now, row.present_value)
    return True


def _object_fields(event: WriteEvent, now: datetime) -> dict[str, Any]:
    fields: dict[str, Any] = {"present_value": event.effective_value, "updated_at": now}
    if event.priority_array:
        fields["priority_array"] = list(event.priority_array)
    if event.property == "out-of-service":
        fields["out_of_service"] = bool(event.new_value)
    return fields


def _store_write_orm(
    event: WriteEvent, object_id: int, device_pk: int, now: datetime, synced_at: datetime
) -> bool:
    unchanged = VirtualObject.objects.filter(id=object_id, updated_at__lte=synced_at)
    if not unchanged.update(**_object_fields(event, now)):
        return False
    _record_write(event, object_id, device_pk, now, event.effective_value)
    return True


def _record_write(
    event: WriteEvent, object_id: int, device_pk: int, now: datetime, value: PresentValue
) -> None:
    BACnetReading.objects.create(
        virtual_object_id=object_id,
        value=value,
        timestamp=now,
        source="external_bacnet_write",
    )
    WriteAudit.objects.create(
        time=now,
        source="bacnet",
        who=event.source_address,
        object_ref=str(event.ref),
        virtual_object_id=object_id,
        property=event.property,
        old_value=event.old_value,
        new_value=event.new_value,
        priority=event.priority,
        accepted=True,
    )
    VirtualBACnetDevice.objects.filter(id=device_pk).update(last_external_write=now)


def _store_batch_one_statement(
    events: Sequence[WriteEvent],
    object_id: int,
    device_pk: int,
    now: datetime,
    synced_at: datetime,
) -> bool:
    """A batch of writes to one object as ONE PostgreSQL statement; False (nothing changed) if
    the row changed since `synced_at` or is gone."""
    statement, params = batch_statement(events, object_id, device_pk, now, synced_at)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        (updated,) = cursor.fetchone()
    return bool(updated)


def batch_statement(
    events: Sequence[WriteEvent],
    object_id: int,
    device_pk: int,
    now: datetime,
    synced_at: datetime,
) -> tuple[str, list[Any]]:
    """The PostgreSQL statement (and its parameters) storing a batch of writes to one object.

    The object takes the state the last write leaves (each was planned on the one before it);
    every write gets its reading and audit row, inserted in the batch's order. The statement
    returns 1 if it stored the batch, 0 (having changed nothing) if the row changed since
    `synced_at` or is gone. One statement is atomic on its own, so it may run in autocommit
    (bms.worker.pg_writes) as well as inside a transaction.
    """
    fields: dict[str, Any] = {}
    for event in events:
        fields.update(_object_fields(event, now))
    assignments = ", ".join(
        f"{name} = %s::jsonb" if name in _JSON_OBJECT_FIELDS else f"{name} = %s" for name in fields
    )
    values = [_json_or_null(v) if name in _JSON_OBJECT_FIELDS else v for name, v in fields.items()]
    rows = ", ".join(
        ["(%s::int, %s::jsonb, %s, %s, %s, %s::jsonb, %s::jsonb, %s::int)"] * len(events)
    )
    statement = _BATCH_STATEMENT_WRITE.format(
        obj=VirtualObject._meta.db_table,
        reading=BACnetReading._meta.db_table,
        audit=WriteAudit._meta.db_table,
        device=VirtualBACnetDevice._meta.db_table,
        assignments=assignments,
        rows=rows,
    )
    params: list[Any] = [*values, object_id, synced_at]
    for n, event in enumerate(events):
        params += [
            n,
            _json_or_null(event.effective_value),
            event.source_address,
            str(event.ref),
            event.property,
            _json_or_null(event.old_value),
            _json_or_null(event.new_value),
            event.priority,
        ]
    params += [now, now, now, device_pk]
    return statement, params


# Data-modifying CTEs all run, in one snapshot, whether or not the outer query reads them; the
# inserts and the device update take their rows from the object update, so a changed or
# deleted object changes nothing and the statement returns 0. The writes are a VALUES list;
# their readings and audits are inserted in its order (ids in the batch's order).
_BATCH_STATEMENT_WRITE = (
    "WITH o AS (UPDATE {obj} SET {assignments} WHERE id = %s AND updated_at <= %s "
    "RETURNING id), "
    "v (n, reading, who, ref, property, old, new, priority) AS (VALUES {rows}), "
    "r AS (INSERT INTO {reading} (point_id, virtual_object_id, value, timestamp, source) "
    "SELECT NULL, o.id, v.reading, %s, 'external_bacnet_write' FROM o CROSS JOIN v "
    "ORDER BY v.n), "
    "a AS (INSERT INTO {audit} (time, source, who, object_ref, virtual_object_id, point_id, "
    "property, old_value, new_value, priority, accepted, reason) "
    "SELECT %s, 'bacnet', v.who, v.ref, o.id, NULL, v.property, v.old, v.new, v.priority, "
    "TRUE, '' FROM o CROSS JOIN v ORDER BY v.n), "
    "d AS (UPDATE {device} SET last_external_write = %s WHERE id = %s "
    "AND EXISTS (SELECT 1 FROM o)) "
    "SELECT count(*) FROM o"
)


_JSON_OBJECT_FIELDS = frozenset({"present_value", "priority_array"})


def _json_or_null(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def record_refused_external_write(refusal: RefusedWrite) -> WriteAudit:
    """Audit a write the engine refused; the audit page hears of it once it is stored (a
    failed live update is logged, never raised: the refusal is audited all the same)."""

    kind, _, instance = refusal.object_id.partition(",")
    audit = WriteAudit.objects.create(
        source="bacnet",
        who=refusal.source_address,
        object_ref=refusal.object_id,
        virtual_object=VirtualObject.objects.select_related("device")
        .filter(object_type=kind, instance=int(instance) if instance.isdigit() else -1)
        .first(),
        property=refusal.property,
        new_value=refusal.value,
        priority=refusal.priority,
        accepted=False,
        reason=refusal.reason,
    )
    publish.publish_audit(audit)
    return audit


def event_payload(event: WriteEvent) -> dict[str, Any]:
    """The event as a dict of plain values. Shallow: its values are immutable already, and
    dataclasses.asdict's deep copy was 6 % of the worker's time per external write."""
    data = {field.name: getattr(event, field.name) for field in _WRITE_EVENT_FIELDS}
    data["ref"] = str(event.ref)
    return data


_WRITE_EVENT_FIELDS = fields(WriteEvent)


def enqueue_poll_if_idle(site: str) -> BACnetTask | None:
    """Queue a collect of all online devices unless one is pending or running already."""
    from bms.tasks import queue, states

    busy = BACnetTask.objects.filter(
        site=site, task_type="collect", status__in=[states.PENDING, states.RUNNING]
    ).exists()
    if busy or not BACnetDevice.objects.filter(site=site, online=True).exists():
        return None
    return queue.enqueue("collect", {"device_ids": None, "scheduled": True}, site)
