"""Schedules: device 8888's own (stored, served by the worker) and remote devices' (read and
written by tasks), and the device-management actions of remote devices.

Values are bms.bacnet.schedule_codec JSON: a week is seven lists (Monday first) of
["HH:MM[:SS]", value] pairs, times increasing; a value is a number (analog), "active" /
"inactive" (binary), a state number from 1 (multistate), or null. A week, exception or date
the codec refuses is a 400 with its reason, and nothing is stored or queued.

Remote work is a task (202 with its status URL; the result, read back from the device, arrives
in the task). Time synchronization, DCC and reinitialize need the admin role; DCC and
reinitialize send the device's password, given in the body each time and never stored past
the task's start.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from bms.accounts.roles import ADMIN, has_role
from bms.api.auth import require_operator, user_name
from bms.api.devices import get_device
from bms.api.fields import BodyIn, InValue, Kept, StrictBool, StrictInt, Text
from bms.api.responses import reading, writing
from bms.api.schemas import TaskCreated
from bms.api.tasks import created
from bms.schedules import services
from bms.schedules.models import Schedule
from bms.tasks import schedule_submission

router = Router(tags=["schedules"])
log = logging.getLogger(__name__)

Kind = Literal["analog", "binary", "multistate"]
# A target: a virtual object's id, or "type,instance" as the schedule's `targets` show it.
TargetRef = StrictInt | Text
TARGETS = (
    "Virtual objects of device 8888 by id or as 'type,instance' (e.g. 'analog-output,1'), "
    "all of the schedule's kind."
)


class ScheduleOut(Schema):
    instance: int
    name: str
    description: str
    kind: str
    weekly: list[Any]
    exceptions: list[Any]
    default: Any
    effective_period: dict[str, Any]
    priority_for_writing: int
    targets: list[str]


class ScheduleIn(BodyIn):
    """A new schedule of device 8888; the lowest free instance unless given."""

    instance: StrictInt | None = Field(default=None, ge=0)
    name: Text = Field(min_length=1, max_length=255)
    description: Text = Field(default="", max_length=2000)
    kind: Kind
    weekly: list[Any] | None = None
    exceptions: list[Any] | None = None
    default: InValue = None
    effective_period: dict[str, Any] | None = None
    priority_for_writing: StrictInt | None = Field(default=None, ge=1, le=16)
    targets: list[TargetRef] = Field(default_factory=list, max_length=256, description=TARGETS)


class ScheduleChange(BodyIn):
    """Only the fields sent change; `default` null is a NULL default."""

    weekly: list[Any] | None = None
    exceptions: list[Any] | None = None
    default: InValue = None
    effective_period: dict[str, Any] | None = None


class ScheduleSettingsChange(ScheduleChange):
    name: Kept[Text] = Field(default=None, min_length=1, max_length=255)
    description: Kept[Text] = Field(default=None, max_length=2000)
    priority_for_writing: Kept[StrictInt] = Field(default=None, ge=1, le=16)
    targets: Kept[list[TargetRef]] = Field(default=None, max_length=256, description=TARGETS)


SETTINGS = ("name", "description", "priority_for_writing", "targets")


class RemoteScheduleChange(ScheduleChange):
    kind: Kind | None = Field(
        default=None,
        description="The schedule's kind: needed to write weekly, exceptions "
        "or default (read it first: the read task's result says it).",
    )
    date_list: list[Any] | None = Field(default=None, description="A calendar's entries.")


class TimeSyncIn(BodyIn):
    utc: StrictBool = Field(
        default=True,
        description="UTCTimeSynchronization; false sends the site's local time (TIME_ZONE).",
    )


class DccIn(BodyIn):
    state: Literal["enable", "disable", "disable-initiation"]
    minutes: StrictInt | None = Field(default=None, ge=1, le=65535)
    password: Text = Field(min_length=1, max_length=20)


class ReinitializeIn(BodyIn):
    state: Literal["coldstart", "warmstart"]
    password: Text = Field(min_length=1, max_length=20)


def require_admin(request: HttpRequest) -> None:
    if not has_role(request.user, ADMIN):
        raise HttpError(403, "this needs the admin role")


def get_schedule(instance: int) -> Schedule:
    row = Schedule.objects.prefetch_related("targets").filter(instance=instance).first()
    if row is None:
        raise HttpError(404, f"device 8888 has no schedule {instance}")
    return row


# ---- device 8888's schedules -----------------------------------------------------------------


@router.get("/schedules", response=reading(list[ScheduleOut], lookup=False, query=False))
def list_schedules(request: HttpRequest) -> list[dict[str, Any]]:
    rows = Schedule.objects.prefetch_related("targets")
    return [services.schedule_json(row) for row in rows]


@router.get("/schedules/{instance}", response=reading(ScheduleOut))
def read_schedule(request: HttpRequest, instance: int) -> dict[str, Any]:
    return services.schedule_json(get_schedule(instance))


@router.post("/schedules", response=writing(201, ScheduleOut))
def create_schedule(request: HttpRequest, body: ScheduleIn) -> Status[Any]:
    """A new schedule, checked as a peer's write is (400 with the reason); a taken instance or
    name is 409, a target that does not exist 404. The worker serves it within seconds."""
    require_operator(request)
    fields = body.model_dump(exclude={"targets", "default"}, exclude_none=True)
    row = services.create_schedule(
        services.resolve_targets(body.targets),
        user=user_name(request),
        source="api",
        schedule_default=body.default,
        **fields,
    )
    return Status(201, services.schedule_json(get_schedule(row.instance)))


@router.patch("/schedules/{instance}", response=writing(200, ScheduleOut))
def change_schedule(
    request: HttpRequest, instance: int, body: ScheduleSettingsChange
) -> dict[str, Any]:
    """Change the week, the exceptions, the default or the effective period (each property
    changed is write-audited), and the name, description, priority or targets (audited as
    configuration; what the schedule stops writing is relinquished at its old priority). All
    or nothing: checked as a peer's write is (400 with the reason, 409 for a taken name)."""
    require_operator(request)
    row = get_schedule(instance)
    week = body.model_dump(exclude_unset=True, exclude=set(SETTINGS))
    settings = body.model_dump(exclude_unset=True, include=set(SETTINGS))
    if "targets" in settings:
        settings["targets"] = services.resolve_targets(settings["targets"])
    if not week and not settings:
        raise HttpError(400, "send at least one field to change")
    who = user_name(request)
    if not settings:  # a refused week keeps its refusal's audit
        services.update_schedule(row, week, user=who, source="api")
        return services.schedule_json(get_schedule(instance))
    with transaction.atomic():
        row = services.update_schedule_settings(row, user=who, source="api", **settings)
        if week:
            services.update_schedule(row, week, user=who, source="api")
    return services.schedule_json(get_schedule(instance))


@router.delete("/schedules/{instance}", response=writing(204, None))
def delete_schedule(request: HttpRequest, instance: int) -> Status[None]:
    """Relinquish what the schedule writes at its priority, then delete it (audited)."""
    require_operator(request)
    refused = services.delete_schedule(
        get_schedule(instance), user=user_name(request), source="api"
    )
    for line in refused:  # audited as refused by the commanding path
        log.warning("schedule %s deleted; its relinquish was refused: %s", instance, line)
    return Status(204, None)


# ---- remote devices --------------------------------------------------------------------------


@router.post("/devices/{device_pk}/schedules/{object_ref}/read", response=writing(202, TaskCreated))
def read_remote(request: HttpRequest, device_pk: int, object_ref: str) -> Status[Any]:
    """Queue a read of a remote schedule or calendar; the task's result holds it."""
    require_operator(request)
    device = get_device(device_pk)
    task = schedule_submission.read_remote_schedule(device, object_ref, user=user_name(request))
    return Status(202, created(task))


@router.post(
    "/devices/{device_pk}/schedules/{object_ref}/write", response=writing(202, TaskCreated)
)
def write_remote(
    request: HttpRequest, device_pk: int, object_ref: str, body: RemoteScheduleChange
) -> Status[Any]:
    """Queue a write of the fields sent; the task audits each and reads the object back."""
    require_operator(request)
    device = get_device(device_pk)
    changes = body.model_dump(exclude_unset=True)
    kind = changes.pop("kind", None)
    task = schedule_submission.write_remote_schedule(
        device, object_ref, kind, changes, user=user_name(request), source="api"
    )
    return Status(202, created(task))


@router.post("/devices/{device_pk}/time-sync", response=writing(202, TaskCreated))
def device_time_sync(request: HttpRequest, device_pk: int, body: TimeSyncIn) -> Status[Any]:
    require_admin(request)
    device = get_device(device_pk)
    task = schedule_submission.synchronize_time(
        device, None, body.utc, user=user_name(request), source="api"
    )
    return Status(202, created(task))


@router.post("/sites/{site}/time-sync", response=writing(202, TaskCreated))
def site_time_sync(request: HttpRequest, site: str, body: TimeSyncIn) -> Status[Any]:
    """Broadcast the time to every device of the site (its worker's network)."""
    require_admin(request)
    task = schedule_submission.synchronize_time(
        None, site, body.utc, user=user_name(request), source="api"
    )
    return Status(202, created(task))


@router.post("/devices/{device_pk}/communication-control", response=writing(202, TaskCreated))
def device_dcc(request: HttpRequest, device_pk: int, body: DccIn) -> Status[Any]:
    require_admin(request)
    task = schedule_submission.communication_control(
        get_device(device_pk),
        body.state,
        body.minutes,
        body.password,
        user=user_name(request),
        source="api",
    )
    return Status(202, created(task))


@router.post("/devices/{device_pk}/reinitialize", response=writing(202, TaskCreated))
def device_reinitialize(request: HttpRequest, device_pk: int, body: ReinitializeIn) -> Status[Any]:
    require_admin(request)
    task = schedule_submission.reinitialize(
        get_device(device_pk), body.state, body.password, user=user_name(request), source="api"
    )
    return Status(202, created(task))
