"""Recording alarms of remote devices: their event notifications and GetEventInformation.

A remote alarm is one Alarm per (device instance, object) with source_kind "remote"; `point`
names the BACnetPoint when the object is one the BMS knows. `record_remote_events` stores
notifications (an ack-notification marks the transition acknowledged); `reconcile_device`
makes the stored alarms of one device agree with its GetEventInformation after the worker was
away: what it lists is created or updated, what we hold active and it no longer lists returned
to normal meanwhile, recorded with that reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, transaction
from django.utils import timezone

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.rows import EVENT_FIELDS, db_value, insert_transitions, transition_row
from bms.alarms.signals import announce_alarms
from bms.bacnet.event_client import EventSummary, RemoteEvent
from bms.bacnet.local.alarm_spec import TRANSITIONS, transition_of
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetPoint

NOT_LISTED = "returned to normal while the BMS was not listening (no longer in GetEventInformation)"
UPDATE_ROWS = 500  # alarms per UPDATE ... FROM (VALUES ...) on PostgreSQL
SYNCED = "active at the device when the BMS started listening (GetEventInformation)"


@dataclass
class RecordedEvents:
    """What one call of record_remote_events stored."""

    transitions: int
    alarms: list[Alarm]  # the alarms it changed, as stored (a live publish needs no query)


RemoteAlarmIds = dict[tuple[int, ObjectRef], int]
"""(device instance, object) -> Alarm id, kept by the caller between batches."""


def record_remote_events(
    events: Sequence[RemoteEvent], known: RemoteAlarmIds | None = None, *, announce: bool = True
) -> RecordedEvents:
    """Store notifications in order in one transaction.

    Built for group commit (the worker's alarm console): the batch's alarms are read and locked
    in one query (by id when `known` holds it: the caller's cache, updated here), the missing
    ones created in bulk, transitions inserted in bulk and each alarm updated once. With
    `announce` one alarms_changed goes out on commit; without, the caller publishes
    `RecordedEvents.alarms` itself (the worker, from its event loop).
    """
    if not events:
        return RecordedEvents(0, [])
    known = {} if known is None else known
    with transaction.atomic():
        alarms = _remote_alarms(events, known)
        pending: list[AlarmTransition] = []
        changed: dict[int, Alarm] = {}
        for event in events:
            alarm = alarms[(event.device_instance, event.ref)]
            if event.notify_type == "ack-notification":
                # Rare: the transitions so far go in first, the ack may be of one of them.
                insert_transitions(pending)
                pending = []
                _record_remote_ack(alarm, event)
            else:
                _apply_transition(alarm, event)
                pending.append(transition_row(alarm, event))
            changed[alarm.pk] = alarm
        insert_transitions(pending)
        _save_alarms(changed.values())
        if announce:
            announce_alarms(changed.values())
    stored = sum(1 for event in events if event.notify_type != "ack-notification")
    return RecordedEvents(stored, list(changed.values()))


def reconcile_device(device_instance: int, summaries: Sequence[EventSummary]) -> dict[str, int]:
    """Make the device's stored alarms agree with its GetEventInformation."""
    listed = {summary.ref: summary for summary in summaries}
    changed: list[Alarm] = []
    counts = {"listed": len(listed), "created_or_updated": 0, "returned_to_normal": 0}
    with transaction.atomic():
        for ref, summary in listed.items():
            alarm = _remote_alarm(device_instance, ref)
            if _adopt_summary(alarm, summary):
                counts["created_or_updated"] += 1
            changed.append(alarm)
        held = Alarm.objects.select_for_update().filter(
            source_kind="remote", device_instance=device_instance
        )
        for alarm in held.exclude(event_state="normal"):
            if ObjectRef(alarm.object_type, alarm.instance or 0) not in listed:
                _to_normal(alarm, timezone.now(), NOT_LISTED)
                counts["returned_to_normal"] += 1
                changed.append(alarm)
        announce_alarms(changed)
    return counts


def _remote_alarm(device_instance: int, ref: ObjectRef) -> Alarm:
    alarm = (
        Alarm.objects.select_for_update()
        .filter(
            source_kind="remote",
            device_instance=device_instance,
            object_type=ref.object_type,
            instance=ref.instance,
        )
        .first()
    )
    if alarm is not None:
        return alarm
    point = BACnetPoint.objects.filter(
        device__device_instance=device_instance,
        object_type=ref.object_type,
        instance=ref.instance,
    ).first()
    return Alarm.objects.create(
        source_kind="remote",
        point=point,
        device_instance=device_instance,
        object_type=ref.object_type,
        instance=ref.instance,
        name=point.name if point is not None and point.name else str(ref),
    )


def _remote_alarms(
    events: Sequence[RemoteEvent], known: RemoteAlarmIds
) -> dict[tuple[int, ObjectRef], Alarm]:
    """The alarms of the batch's objects, locked: by id those `known` names (one query), the
    others found by their source or created, in bulk. `known` learns every one."""
    wanted = {(event.device_instance, event.ref) for event in events}
    found: dict[tuple[int, ObjectRef], Alarm] = {}
    ids = {known[key] for key in wanted if key in known}
    if ids:
        rows = Alarm.objects.select_for_update().filter(pk__in=ids, source_kind="remote")
        for alarm in rows.order_by("id"):
            key = _source_key(alarm)
            if key in wanted:  # an id the cache kept for a source edited since is not used
                found[key] = alarm
    missing = wanted - found.keys()
    if missing:
        found.update(_found_by_source(missing))
        found.update(_created(wanted - found.keys()))
    for key, alarm in found.items():
        known[key] = alarm.pk
    return found


def _source_key(alarm: Alarm) -> tuple[int, ObjectRef]:
    return (alarm.device_instance or 0, ObjectRef(alarm.object_type, alarm.instance or 0))


def _found_by_source(
    wanted: set[tuple[int, ObjectRef]],
) -> dict[tuple[int, ObjectRef], Alarm]:
    """Existing alarms of `wanted`, locked, in one query: a superset by IN lists, narrowed
    here (an OR of 500 (device, object) terms costs the ORM about a second to build)."""
    rows = (
        Alarm.objects.select_for_update()
        .filter(
            source_kind="remote",
            device_instance__in={device for device, _ in wanted},
            object_type__in={ref.object_type for _, ref in wanted},
            instance__in={ref.instance for _, ref in wanted},
        )
        .order_by("id")
    )
    found: dict[tuple[int, ObjectRef], Alarm] = {}
    for alarm in rows:
        key = _source_key(alarm)
        if key in wanted:
            found.setdefault(key, alarm)  # the oldest, as .first() of one object chose
    return found


def _created(wanted: set[tuple[int, ObjectRef]]) -> dict[tuple[int, ObjectRef], Alarm]:
    """New alarms for `wanted`, named after the point the BMS knows (one query), in bulk."""
    if not wanted:
        return {}
    points: dict[tuple[int, ObjectRef], BACnetPoint] = {}
    rows = BACnetPoint.objects.select_related("device").filter(
        device__device_instance__in={device for device, _ in wanted},
        object_type__in={ref.object_type for _, ref in wanted},
        instance__in={ref.instance for _, ref in wanted},
    )
    for point in rows.order_by("id"):
        key = (point.device.device_instance, ObjectRef(point.object_type, point.instance))
        if key in wanted:
            points.setdefault(key, point)
    created = {key: _new_alarm(key, points.get(key)) for key in sorted(wanted)}
    Alarm.objects.bulk_create(created.values())
    return created


def _new_alarm(key: tuple[int, ObjectRef], point: BACnetPoint | None) -> Alarm:
    device_instance, ref = key
    return Alarm(
        source_kind="remote",
        point=point,
        device_instance=device_instance,
        object_type=ref.object_type,
        instance=ref.instance,
        name=point.name if point is not None and point.name else str(ref),
    )


def _apply_transition(alarm: Alarm, event: RemoteEvent) -> None:
    acked = list(alarm.acked_transitions)
    acked[TRANSITIONS.index(event.transition)] = not event.ack_required
    alarm.event_state = event.to_state
    alarm.event_type = event.event_type
    alarm.acked_transitions = acked
    alarm.priority = event.priority
    alarm.notify_type = event.notify_type
    alarm.notification_class = event.notification_class
    alarm.message = event.message
    alarm.last_transition_at = event.time_stamp


def _save_alarms(alarms: Iterable[Alarm]) -> None:
    """Write the EVENT_FIELDS of `alarms`: on PostgreSQL one UPDATE ... FROM (VALUES ...) per
    UPDATE_ROWS alarms, elsewhere one UPDATE run for each (executemany).

    Why by hand: bulk_update's CASE WHEN for 500 alarms cost the ORM over 3 seconds to build;
    executemany of 500 UPDATEs cost ~40 ms of the worker's store thread per batch, which on a
    busy machine waited for the GIL after each round trip (the alarm console's group commit,
    bench/alarms.py).
    """
    fields = [field for field in Alarm._meta.concrete_fields if field.name in EVENT_FIELDS]
    connection = connections[Alarm.objects.db]
    rows = []
    for alarm in alarms:  # db_value sets updated_at (auto_now) as save() would
        rows.append([*(db_value(field, alarm, connection) for field in fields), alarm.pk])
    quote = connection.ops.quote_name
    table = quote(Alarm._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
            # Names from the model, quoted; every value a parameter.
            sql = f"UPDATE {table} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
            cursor.executemany(sql, rows)
            return
        # VALUES columns are typed by their literals: each is cast to its column's type.
        assignments = ", ".join(
            f"{quote(field.column)} = CAST(v.{quote(field.column)} AS {field.db_type(connection)})"
            for field in fields
        )
        names = ", ".join([*(quote(field.column) for field in fields), quote("id")])
        row_marks = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
        for start in range(0, len(rows), UPDATE_ROWS):
            chunk = rows[start : start + UPDATE_ROWS]
            marks = ", ".join([row_marks] * len(chunk))
            sql = (
                f"UPDATE {table} AS a SET {assignments} FROM (VALUES {marks}) AS v({names}) "  # noqa: S608
                f"WHERE a.{quote('id')} = v.{quote('id')}"
            )
            cursor.execute(sql, [value for row in chunk for value in row])


def _record_remote_ack(alarm: Alarm, event: RemoteEvent) -> None:
    """The device says a transition was acknowledged (by us or another workstation)."""
    acked = list(alarm.acked_transitions)
    acked[TRANSITIONS.index(event.transition)] = True
    alarm.acked_transitions = acked
    alarm.save(update_fields=["acked_transitions", "updated_at"])
    latest = (
        alarm.transitions.filter(transition=event.transition, acked_at__isnull=True)
        .order_by("-time_stamp", "-id")
        .first()
    )
    if latest is not None:
        latest.acked_at = event.time_stamp
        latest.ack_source = latest.ack_source or "acknowledged at the device"
        latest.ack_address = event.device_address[:80]
        latest.save(update_fields=["acked_at", "ack_source", "ack_address"])


def _adopt_summary(alarm: Alarm, summary: EventSummary) -> bool:
    """Take the device's state; a state we did not hold becomes a transition. True if changed."""
    transition = transition_of(summary.event_state)
    index = TRANSITIONS.index(transition)
    when = summary.event_time_stamps[index] or timezone.now()
    same = (
        alarm.event_state == summary.event_state
        and tuple(alarm.acked_transitions) == summary.acked_transitions
    )
    if same:
        return False
    if alarm.event_state != summary.event_state:
        AlarmTransition.objects.create(
            alarm=alarm,
            from_state=alarm.event_state,
            to_state=summary.event_state,
            transition=transition,
            time_stamp=when,
            priority=summary.priorities[index],
            notify_type=summary.notify_type,
            event_type=alarm.event_type,
            ack_required=not summary.acked_transitions[index],
            message=SYNCED,
        )
        alarm.last_transition_at = when
        alarm.message = SYNCED
    alarm.event_state = summary.event_state
    alarm.acked_transitions = list(summary.acked_transitions)
    alarm.priority = summary.priorities[index]
    alarm.notify_type = summary.notify_type
    alarm.save()
    return True


def _to_normal(alarm: Alarm, when: datetime, reason: str) -> None:
    AlarmTransition.objects.create(
        alarm=alarm,
        from_state=alarm.event_state,
        to_state="normal",
        transition="to-normal",
        time_stamp=when,
        priority=alarm.priority,
        notify_type=alarm.notify_type,
        event_type=alarm.event_type,
        message=reason,
    )
    alarm.event_state = "normal"
    alarm.message = reason
    alarm.last_transition_at = when
    alarm.save()
