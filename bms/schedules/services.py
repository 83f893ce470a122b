"""Schedules and calendars: checked, stored, audited, and handed to the worker as specs.

What makes a schedule well formed is bms.bacnet.schedule_codec's; whether its values suit the
objects it writes is bms.bacnet.commanding's (the same rules an operator's command meets). Both
are asked here, for a schedule created by an operator and for a peer's write alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from bms.bacnet import commanding, schedule_codec
from bms.bacnet.errors import InvalidValueError, WriteRefused
from bms.bacnet.local.schedule import CalendarSpec, ScheduleSpec
from bms.bacnet.schedule_eval import Schedule as Evaluated
from bms.bacnet.schedule_services import ScheduleWrite
from bms.bacnet.types import ANALOG_TYPES, BINARY_TYPES, MULTISTATE_TYPES, ObjectRef
from bms.devices.models import WriteAudit
from bms.devices.signals import announce_audit
from bms.schedules.models import Calendar, Schedule
from bms.virtual.commands import command_virtual_object
from bms.virtual.models import VirtualObject
from bms.virtual.services import VirtualDeviceError

__all__ = [
    "ScheduleError",
    "calendar_specs",
    "check_schedule",
    "command_targets",
    "create_calendar",
    "create_schedule",
    "kind_of",
    "schedule_json",
    "schedule_specs",
    "store_schedule_write",
    "update_schedule",
]

_COLUMNS = {"weekly-schedule": "weekly", "exception-schedule": "exceptions"}


class ScheduleError(InvalidValueError):
    """A schedule or calendar the BMS device would refuse; the message says why."""


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


def create_schedule(targets: Iterable[VirtualObject] = (), **fields: Any) -> Schedule:
    """A new schedule, checked (ScheduleError), stored with its targets."""
    targets = list(targets)
    with transaction.atomic():
        row = Schedule(**fields)
        row.full_clean()
        check_schedule(row, targets)
        row.save()
        row.targets.set(targets)
    return row


def create_calendar(**fields: Any) -> Calendar:
    row = Calendar(**fields)
    try:
        schedule_codec.entries_from_json(row.date_list)
    except InvalidValueError as exc:
        raise ScheduleError(str(exc)) from exc
    row.full_clean()
    row.save()
    return row


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


def command_targets(instance: int, value: Any) -> list[str]:
    """Write the schedule's value in force to its targets, as an operator's command would be
    (bms.virtual.commands: validated, stored with a reading and an audit): commandable objects
    at its priority-for-writing (NULL relinquishes it), inputs as a plain value (NULL leaves
    them). Returns what was refused, one line each (the refusals are audited)."""
    row = Schedule.objects.prefetch_related("targets__device").filter(instance=instance).first()
    if row is None:
        return [f"schedule {instance} no longer exists"]
    refused = []
    for target in row.targets.all():
        if value is None and not target.commandable:
            continue
        try:
            command_virtual_object(
                target,
                value,
                row.priority_for_writing if target.commandable else None,
                relinquish=value is None,
                user=f"schedule,{instance} {row.name}",
                source="schedule",
            )
        except VirtualDeviceError as exc:
            refused.append(f"{target}: {exc}")
    return refused


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
