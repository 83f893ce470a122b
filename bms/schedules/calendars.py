"""Calendars of device 8888: created, changed and deleted by an operator, checked with
bms.bacnet.schedule_codec and audited. A calendar that a schedule's exceptions name cannot be
deleted (the schedule would name an object the device no longer has)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from bms.bacnet import schedule_codec
from bms.bacnet.errors import InvalidValueError
from bms.devices.models import WriteAudit
from bms.devices.signals import announce_audit
from bms.schedules.models import Calendar, Schedule
from bms.schedules.records import (
    ScheduleConflict,
    ScheduleError,
    audit_changes,
    audit_config,
    check_row,
    next_free_instance,
    refuse_unknown,
)

__all__ = [
    "CALENDAR_FIELDS",
    "calendar_json",
    "create_calendar",
    "delete_calendar",
    "update_calendar",
]

CALENDAR_FIELDS = ("instance", "name", "description", "date_list")
_SETTINGS = ("name", "description")


def calendar_json(row: Calendar) -> dict[str, Any]:
    """A stored calendar as the API and the pages show it."""
    return {field: getattr(row, field) for field in CALENDAR_FIELDS}


def _checked(row: Calendar) -> Calendar:
    try:
        row.date_list = schedule_codec.entries_to_json(
            schedule_codec.entries_from_json(row.date_list)
        )
    except InvalidValueError as exc:
        raise ScheduleError(str(exc)) from exc
    check_row(row, "calendar")
    return row


def create_calendar(*, user: str = "system", source: str = "operator", **fields: Any) -> Calendar:
    """A new calendar (the lowest free instance unless given), checked (ScheduleError, and
    ScheduleConflict for a taken instance or name: nothing stored), audited as `user`'s.
    `source` is where the request came from; a creation has no write audit to carry it."""
    refuse_unknown(fields, CALENDAR_FIELDS, "a calendar")
    with transaction.atomic():
        if fields.get("instance") is None:
            fields["instance"] = next_free_instance(Calendar)
        row = _checked(Calendar(**fields))
        _save(row)
        audit_config("calendar_created", row, user, after=calendar_json(row))
    return row


def update_calendar(row: Calendar, changes: dict[str, Any], *, user: str, source: str) -> Calendar:
    """Change the name, description or date list, checked (nothing stored if refused). A new
    date list is write-audited as a peer's write of date-list is; name and description are
    configuration (before and after)."""
    refuse_unknown(changes, (*_SETTINGS, "date_list"), "a calendar change")
    with transaction.atomic():
        row = Calendar.objects.select_for_update().get(pk=row.pk)
        before = calendar_json(row)
        for field, value in changes.items():
            setattr(row, field, value)
        _save(_checked(row))
        after = calendar_json(row)
        audit_changes("calendar_changed", row, user, before, after, _SETTINGS)
        if before["date_list"] != after["date_list"]:
            _audit_date_list(row, before["date_list"], user, source)
    return row


def delete_calendar(row: Calendar, *, user: str, source: str) -> None:
    """Delete the calendar; ScheduleConflict naming the schedules whose exceptions use it."""
    with transaction.atomic():
        row = Calendar.objects.select_for_update().get(pk=row.pk)
        users = [str(s) for s in Schedule.objects.all() if _names_calendar(s, row.instance)]
        if users:
            raise ScheduleConflict(
                f"{row} is used by the exception schedule of {', '.join(users)}: "
                "remove those exceptions first"
            )
        audit_config("calendar_deleted", row, user, before=calendar_json(row))
        row.delete()


def _names_calendar(schedule: Schedule, instance: int) -> bool:
    return any(
        isinstance(event, dict) and event.get("calendar") == instance
        for event in schedule.exceptions or []
    )


def _save(row: Calendar) -> None:
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:  # taken meanwhile by another request
        raise ScheduleConflict(f"calendar {row.instance} or its name was just taken") from exc


def _audit_date_list(row: Calendar, old: Any, user: str, source: str) -> None:
    audit = WriteAudit.objects.create(
        source=source,
        who=user,
        object_ref=f"calendar,{row.instance}",
        property="date-list",
        old_value=old,
        new_value=row.date_list,
        accepted=True,
    )
    announce_audit(audit)
