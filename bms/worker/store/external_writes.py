"""Peers' writes to our virtual objects: stored before the engine acknowledges them (group
commit), the audit of the ones the engine refused, and the live payload of a write."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from bms.bacnet.commanding import DEFAULT_PRIORITY, priority_winner
from bms.bacnet.errors import WriteRefused
from bms.bacnet.types import PresentValue, RefusedWrite, WriteEvent
from bms.devices.models import BACnetReading, WriteAudit
from bms.realtime import publish  # audits announce themselves after commit (on_commit)
from bms.virtual.models import VirtualBACnetDevice, VirtualObject


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
    """Store the write on top of the row's newer state: only what the write changes changes.

    The engine's priority array and present value (in the event) predate the row's change, so
    storing them would erase that change; the worker's next sync applies the merged row to the
    live object.
    """
    row = VirtualObject.objects.select_for_update().filter(id=object_id).first()
    if row is None:
        raise WriteRefused(
            f"{event.ref} was deleted", error_class="object", error_code="unknown-object"
        )
    if event.property == "present-value" and event.priority_array and row.priority_array:
        levels = list(row.priority_array)
        levels[(event.priority or DEFAULT_PRIORITY) - 1] = event.new_value
        row.priority_array = levels
        row.present_value = priority_winner(levels, row.relinquish_default)
    elif event.property == "present-value":
        row.present_value = event.effective_value
    else:
        column, value = written_column(event)
        setattr(row, column, value)
        if event.property == "relinquish-default" and row.priority_array:
            row.present_value = priority_winner(row.priority_array, row.relinquish_default)
    row.updated_at = now
    row.save()
    _record_write(event, object_id, device_pk, now, row.present_value)
    return True


# The object row's column that stores each property a peer may write, besides present-value
# (stored with the priority array it commands). An ack promises that the value outlives a
# restart, so the device is told to refuse every other property (write-access-denied).
PROPERTY_COLUMNS: dict[str, str] = {
    "out-of-service": "out_of_service",
    "description": "description",
    "cov-increment": "cov_increment",
    "relinquish-default": "relinquish_default",
}
STORED_PROPERTIES = frozenset({"present-value", *PROPERTY_COLUMNS})


def written_column(event: WriteEvent) -> tuple[str, Any]:
    """The row's column a write of a property other than present-value sets, and its value.

    Raises WriteRefused (property / write-access-denied) for a property with no column: the
    device refuses those before they get here, so this is the last guard, not the rule.
    """
    column = PROPERTY_COLUMNS.get(event.property)
    if column is None:
        raise WriteRefused(
            f"{event.property} of {event.ref} is not stored, so it is not writable",
            error_class="property",
            error_code="write-access-denied",
        )
    return column, event.new_value


def _object_fields(event: WriteEvent, now: datetime) -> dict[str, Any]:
    """The row after the write: the engine's present value and array, the written property."""
    fields: dict[str, Any] = {"present_value": event.effective_value, "updated_at": now}
    if event.priority_array:
        fields["priority_array"] = list(event.priority_array)
    if event.property != "present-value":
        column, value = written_column(event)
        fields[column] = value
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


_JSON_OBJECT_FIELDS = frozenset({"present_value", "priority_array", "relinquish_default"})


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
