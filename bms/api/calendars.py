"""/api/calendars: device 8888's Calendar objects (the dates a schedule's exceptions name).

A date list is bms.bacnet.schedule_codec JSON: a list of {"date": {year, month, day, weekday}}
(null for any), {"range": {"start", "end"}} or {"week_n_day": {month, week, weekday}}. One the
codec refuses is a 400 with its reason, and nothing is stored. A taken instance or name is a
409; so is deleting a calendar that a schedule's exceptions still name (the reason says which).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from bms.api.auth import require_operator, user_name
from bms.api.fields import BodyIn, Kept, StrictInt, Text
from bms.api.responses import reading, writing
from bms.schedules import services
from bms.schedules.models import Calendar

router = Router(tags=["schedules"])


class CalendarOut(Schema):
    instance: int
    name: str
    description: str
    date_list: list[Any]


class CalendarIn(BodyIn):
    """A new calendar; the lowest free instance unless given."""

    instance: StrictInt | None = Field(default=None, ge=0)
    name: Text = Field(min_length=1, max_length=255)
    description: Text = Field(default="", max_length=2000)
    date_list: list[Any] = Field(default_factory=list, max_length=1024)


class CalendarChange(BodyIn):
    """Only the fields sent change."""

    name: Kept[Text] = Field(default=None, min_length=1, max_length=255)
    description: Kept[Text] = Field(default=None, max_length=2000)
    date_list: Kept[list[Any]] = Field(default=None, max_length=1024)


def get_calendar(instance: int) -> Calendar:
    row = Calendar.objects.filter(instance=instance).first()
    if row is None:
        raise HttpError(404, f"device 8888 has no calendar {instance}")
    return row


@router.get("/calendars", response=reading(list[CalendarOut], lookup=False, query=False))
def list_calendars(request: HttpRequest) -> list[dict[str, Any]]:
    return [services.calendar_json(row) for row in Calendar.objects.all()]


@router.post("/calendars", response=writing(201, CalendarOut))
def create_calendar(request: HttpRequest, body: CalendarIn) -> Status[Any]:
    """A new calendar, audited; the worker serves it within seconds."""
    require_operator(request)
    row = services.create_calendar(
        user=user_name(request), source="api", **body.model_dump(exclude_none=True)
    )
    return Status(201, services.calendar_json(row))


@router.get("/calendars/{instance}", response=reading(CalendarOut))
def read_calendar(request: HttpRequest, instance: int) -> dict[str, Any]:
    return services.calendar_json(get_calendar(instance))


@router.patch("/calendars/{instance}", response=writing(200, CalendarOut))
def change_calendar(request: HttpRequest, instance: int, body: CalendarChange) -> dict[str, Any]:
    """Name and description are audited as configuration, a new date list as a write of
    date-list (before and after)."""
    require_operator(request)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise HttpError(400, "send at least one of name, description, date_list")
    row = services.update_calendar(
        get_calendar(instance), changes, user=user_name(request), source="api"
    )
    return services.calendar_json(row)


@router.delete("/calendars/{instance}", response=writing(204, None))
def delete_calendar(request: HttpRequest, instance: int) -> Status[None]:
    """409 while a schedule's exceptions name it (the reason says which)."""
    require_operator(request)
    services.delete_calendar(get_calendar(instance), user=user_name(request), source="api")
    return Status(204, None)
