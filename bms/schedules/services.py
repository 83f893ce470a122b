"""Schedules and calendars: checked, stored, audited, and handed to the worker as specs.

What makes a schedule well formed is bms.bacnet.schedule_codec's; whether its values suit the
objects it writes is bms.bacnet.commanding's (the same rules an operator's command meets). Both
are asked here, for a schedule created by an operator and for a peer's write alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from bms.bacnet import commanding, schedule_codec
from bms.bacnet.errors import InvalidValueError, WriteRefused
from bms.bacnet.local.schedule import CalendarSpec, ScheduleSpec
from bms.bacnet.schedule_eval import Schedule as Evaluated
from bms.bacnet.schedule_services import ScheduleWrite
from bms.bacnet.types import ANALOG_TYPES, BINARY_TYPES, MULTISTATE_TYPES, ObjectRef
from bms.devices.models import WriteAudit
from bms.devices.signals import announce_audit
from bms.schedules.calendars import calendar_json, create_calendar, delete_calendar, update_calendar
from bms.schedules.models import Calendar, Schedule
from bms.schedules.records import (
    ScheduleConflict,
    ScheduleError,
    UnknownObject,
    audit_changes,
    audit_config,
    check_row,
    next_free_instance,
    refuse_unknown,
)
from bms.schedules.targets import resolve_targets
from bms.virtual.commands import command_virtual_object
from bms.virtual.models import VirtualObject
from bms.virtual.services import VirtualDeviceError

__all__ = [
    "SCHEDULE_FIELDS",
    "ScheduleConflict",
    "ScheduleError",
    "UnknownObject",
    "calendar_json",
    "calendar_specs",
    "check_schedule",
    "command_targets",
    "create_calendar",
    "create_schedule",
    "delete_calendar",
    "delete_schedule",
    "kind_of",
    "next_free_instance",
    "resolve_targets",
    "schedule_json",
    "schedule_specs",
    "store_schedule_write",
    "update_calendar",
    "update_schedule",
    "update_schedule_settings",
]

_COLUMNS = {"weekly-schedule": "weekly", "exception-schedule": "exceptions"}
SCHEDULE_FIELDS = (
    "instance",
    "name",
    "description",
    "kind",
    "weekly",
    "exceptions",
    "effective_period",
    "schedule_default",
    "priority_for_writing",
)


def kind_of(object_type: str) -> str:
    if object_type in ANALOG_TYPES:
        return "analog"
    if object_type in BINARY_TYPES:
        return "binary"
    if object_type in MULTISTATE_TYPES:
        return "multistate"
    raise ScheduleError(f"a schedule cannot write a {object_type}")


def _values(schedule: Evaluated) -> set[Any]:
    days = [*schedule.weekly, *(event.times for event in schedule.exceptions)]
    values = {entry.value for day in days for entry in day}
    values.add(schedule.default)
    values.discard(None)
    return values


def check_schedule(row: Schedule, targets: Iterable[VirtualObject]) -> Evaluated:
    """The row's schedule, checked: well formed, calendars that exist, targets of its kind,
    and every value one each target would take. ScheduleError says what is wrong."""
    try:
        schedule = schedule_codec.schedule_from_json(
            row.kind, row.weekly, row.exceptions, row.effective_period, row.schedule_default
        )
    except InvalidValueError as exc:
        raise ScheduleError(str(exc)) from exc
    calendars = {e.period for e in schedule.exceptions if isinstance(e.period, int)}
    missing = calendars - set(
        Calendar.objects.filter(instance__in=calendars).values_list("instance", flat=True)
    )
    if missing:
        raise ScheduleError(f"calendar {sorted(missing)[0]} does not exist")
    for target in targets:
        _check_target(row, schedule, target)
    return schedule


def _check_target(row: Schedule, schedule: Evaluated, target: VirtualObject) -> None:
    if kind_of(target.object_type) != row.kind:
        raise ScheduleError(f"{target} is not {row.kind}: a {row.kind} schedule cannot write it")
    texts = list(target.state_texts or [])
    for value in _values(schedule):
        try:
            commanding.coerce_present_value(
                target.object_type,
                value,
                min_value=target.min_value,
                max_value=target.max_value,
                state_texts=texts,
                number_of_states=len(texts) if target.object_type in MULTISTATE_TYPES else None,
                name=target.name,
            )
        except InvalidValueError as exc:
            raise ScheduleError(f"{value!r} does not suit {target}: {exc}") from exc


def store_schedule_write(write: ScheduleWrite) -> None:
    """A peer's write to a schedule or calendar of our device, stored with its audit in one
    transaction before the device acknowledges it; WriteRefused (value-out-of-range) if the
    new value breaks a rule only the database knows (a value a target would not take)."""
    with transaction.atomic():
        if write.ref.object_type == "calendar":
            _store_calendar(write)
        else:
            _store_schedule(write)
        audit = WriteAudit.objects.create(
            source="bacnet",
            who=write.source_address,
            object_ref=str(write.ref),
            property=write.property,
            old_value=write.old_value,
            new_value=write.new_value,
            accepted=True,
        )
        announce_audit(audit)


def _store_schedule(write: ScheduleWrite) -> Schedule:
    row = Schedule.objects.select_for_update().filter(instance=write.ref.instance).first()
    column = _COLUMNS.get(write.property)
    if row is None or column is None:
        raise WriteRefused(
            f"{write.ref} {write.property} is not stored", error_code="write-access-denied"
        )
    setattr(row, column, write.new_value)
    try:
        check_schedule(row, row.targets.all())
    except ScheduleError as exc:
        raise WriteRefused(str(exc), error_code="value-out-of-range") from exc
    row.save(update_fields=[column, "updated_at"])
    return row


def _store_calendar(write: ScheduleWrite) -> Calendar:
    row = Calendar.objects.select_for_update().filter(instance=write.ref.instance).first()
    if row is None or write.property != "date-list":
        raise WriteRefused(
            f"{write.ref} {write.property} is not stored", error_code="write-access-denied"
        )
    row.date_list = write.new_value
    row.save(update_fields=["date_list", "updated_at"])
    return row


def schedule_specs() -> list[ScheduleSpec]:
    """Every stored schedule as the device serves it (the worker's sync)."""
    rows = Schedule.objects.prefetch_related("targets")
    return [
        ScheduleSpec(
            instance=row.instance,
            name=row.name,
            kind=row.kind,
            weekly=row.weekly,
            exceptions=row.exceptions,
            effective_period=row.effective_period,
            default=row.schedule_default,
            targets=tuple(
                ObjectRef(t.object_type, t.instance)
                for t in sorted(row.targets.all(), key=lambda t: (t.object_type, t.instance))
            ),
            priority_for_writing=row.priority_for_writing,
            description=row.description,
        )
        for row in rows
    ]


def calendar_specs() -> list[CalendarSpec]:
    return [
        CalendarSpec(row.instance, row.name, row.date_list, row.description)
        for row in Calendar.objects.all()
    ]


# ---- an operator's or a script's change (the week-grid editor, the API) ---------------------

# Field of a change -> (model column, the BACnet property it is served as).
CHANGEABLE = {
    "weekly": ("weekly", "weekly-schedule"),
    "exceptions": ("exceptions", "exception-schedule"),
    "default": ("schedule_default", "schedule-default"),
    "effective_period": ("effective_period", "effective-period"),
}


def schedule_json(row: Schedule) -> dict[str, Any]:
    """A stored schedule as the API and the pages show it."""
    return {
        "instance": row.instance,
        "name": row.name,
        "description": row.description,
        "kind": row.kind,
        "weekly": row.weekly,
        "exceptions": row.exceptions,
        "default": row.schedule_default,
        "effective_period": row.effective_period,
        "priority_for_writing": row.priority_for_writing,
        "targets": [str(t) for t in row.targets.all()],
    }


def _normalized(schedule: Evaluated) -> dict[str, Any]:
    """What is stored: the codec's canonical JSON ("08:00" is kept as "08:00:00")."""
    return {
        "weekly": schedule_codec.weekly_to_json(schedule.weekly),
        "exceptions": [schedule_codec.event_to_json(e) for e in schedule.exceptions],
        "schedule_default": schedule.default,
        "effective_period": schedule_codec.period_to_json(schedule.effective_period),
    }


def update_schedule(row: Schedule, changes: dict[str, Any], *, user: str, source: str) -> Schedule:
    """Change a schedule of device 8888, checked as a peer's write is (ScheduleError says
    why, and nothing is stored); each property changed is audited with who, before and after
    (WriteAudit), a refusal too. The worker serves it within its resync (a few seconds)."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown or not changes:
        raise ScheduleError(f"a schedule change names {', '.join(CHANGEABLE)}; got {unknown}")
    before = {field: getattr(row, CHANGEABLE[field][0]) for field in changes}
    try:
        with transaction.atomic():
            row = Schedule.objects.select_for_update().get(pk=row.pk)
            before = {field: getattr(row, CHANGEABLE[field][0]) for field in changes}
            for field, value in changes.items():
                setattr(row, CHANGEABLE[field][0], value)
            for column, value in _normalized(check_schedule(row, row.targets.all())).items():
                setattr(row, column, value)
            row.save()
            for field in changes:
                after = getattr(row, CHANGEABLE[field][0])
                if after != before[field]:
                    _audit(row, field, before[field], after, user, source)
    except ScheduleError as exc:
        for field, value in changes.items():
            _audit(row, field, before[field], value, user, source, str(exc))
        raise
    return row


def _audit(
    row: Schedule, field: str, old: Any, new: Any, user: str, source: str, refused: str = ""
) -> None:
    audit = WriteAudit.objects.create(
        source=source,
        who=user,
        object_ref=f"schedule,{row.instance}",
        property=CHANGEABLE[field][1],
        old_value=old,
        new_value=new,
        accepted=not refused,
        reason=refused,
    )
    announce_audit(audit)


# ---- writing the targets ---------------------------------------------------------------------


def command_targets(instance: int, value: Any) -> list[str]:
    """Write the schedule's value in force to its targets, as an operator's command would be
    (bms.virtual.commands: validated, stored with a reading and an audit): commandable objects
    at its priority-for-writing (NULL relinquishes it), inputs as a plain value (NULL leaves
    them). Returns what was refused, one line each (the refusals are audited).

    The schedule row stays locked meanwhile, so a change of its targets or priority (which
    locks it first too) never interleaves: a target it drops is not written again after."""
    with transaction.atomic():
        row = Schedule.objects.select_for_update().filter(instance=instance).first()
        if row is None:
            return [f"schedule {instance} no longer exists"]
        targets = list(row.targets.select_related("device"))
        return _command(row, targets, row.priority_for_writing, value)


def _command(row: Schedule, targets: list[VirtualObject], priority: int, value: Any) -> list[str]:
    refused = []
    for target in targets:
        if value is None and not target.commandable:
            continue
        try:
            command_virtual_object(
                target,
                value,
                priority if target.commandable else None,
                relinquish=value is None,
                user=f"schedule,{row.instance} {row.name}",
                source="schedule",
            )
        except VirtualDeviceError as exc:
            refused.append(f"{target}: {exc}")
    return refused


# ---- created, configured and deleted by an operator (configuration audit) --------------------


def _settings(row: Schedule) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "priority_for_writing": row.priority_for_writing,
        "targets": sorted(f"{t.object_type},{t.instance}" for t in row.targets.all()),
    }


def create_schedule(
    targets: Iterable[VirtualObject] = (),
    *,
    user: str = "system",
    source: str = "operator",
    **fields: Any,
) -> Schedule:
    """A new schedule (the lowest free instance unless given), checked (ScheduleError says
    why, ScheduleConflict for a taken instance or name; nothing stored), stored with its
    targets and audited as `user`'s. The worker serves it and writes its value in force
    within its resync. `source` is where the request came from; a creation has no write
    audit to carry it."""
    refuse_unknown(fields, SCHEDULE_FIELDS, "a schedule")
    targets = list(targets)
    with transaction.atomic():
        if fields.get("instance") is None:
            fields["instance"] = next_free_instance(Schedule)
        row = Schedule(**fields)
        check_row(row, "schedule")
        for column, value in _normalized(check_schedule(row, targets)).items():
            setattr(row, column, value)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError as exc:  # taken meanwhile by another request
            raise ScheduleConflict(f"schedule {row.instance} or its name was just taken") from exc
        row.targets.set(targets)
        audit_config("schedule_created", row, user, after={**schedule_json(row), **_settings(row)})
    return row


def update_schedule_settings(
    row: Schedule,
    *,
    user: str,
    source: str,
    name: str | None = None,
    description: str | None = None,
    priority_for_writing: int | None = None,
    targets: Iterable[VirtualObject] | None = None,
) -> Schedule:
    """Change what is not a week, exception or default: checked as a creation is (targets of
    the schedule's kind that take its values, a free name), audited with before and after.
    What the schedule no longer writes is relinquished at the priority it wrote at: dropped
    targets, or every old target if the priority moves (the worker writes the new ones)."""
    with transaction.atomic():
        row = Schedule.objects.select_for_update().get(pk=row.pk)
        old_targets = list(row.targets.select_related("device"))
        old_priority, before = row.priority_for_writing, _settings(row)
        new_targets = old_targets if targets is None else list(targets)
        changes = {
            "name": name,
            "description": description,
            "priority_for_writing": priority_for_writing,
        }
        for field, value in changes.items():
            if value is not None:
                setattr(row, field, value)
        check_row(row, "schedule")
        check_schedule(row, new_targets)
        row.save()
        row.targets.set(new_targets)
        after = _settings(row)
        audit_changes("schedule_changed", row, user, before, after, after)
        kept = {t.pk for t in new_targets} if row.priority_for_writing == old_priority else set()
        dropped = [t for t in old_targets if t.pk not in kept]
        # A refusal is audited by the commanding path; a relinquish is refused only if the
        # object is gone, which leaves nothing stuck.
        _command(row, dropped, old_priority, None)
    return row


def delete_schedule(row: Schedule, *, user: str, source: str) -> list[str]:
    """Relinquish what the schedule writes, then delete it (audited); returns the targets that
    refused the relinquish, one line each. The worker stops serving it within its resync."""
    with transaction.atomic():
        refused = command_targets(row.instance, None)
        row = Schedule.objects.select_for_update().get(pk=row.pk)
        audit_config("schedule_deleted", row, user, before={**schedule_json(row), **_settings(row)})
        row.delete()
    return refused
