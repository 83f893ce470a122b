"""Alarms (the console's rows, their transitions, an operator's acknowledgement) and device
8888's notification classes. Reading is for every signed-in user; acknowledging and editing
notification classes need the operator role. Every acknowledgement is recorded on the
transition it acknowledges (who, when, comment)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from bms.alarms import queries
from bms.alarms.models import Alarm
from bms.alarms.services import AlarmRefused, request_acknowledgement
from bms.api.auth import require_operator
from bms.api.fields import BodyIn, Kept, StrictBool, StrictInt, Text
from bms.api.paging import limit_field, offset_field, page
from bms.api.responses import reading, writing
from bms.bacnet.commanding import MAX_INSTANCE
from bms.virtual import notification_classes as classes
from bms.virtual.models import NotificationClass

router = Router(tags=["alarms"])


class AlarmQuery(Schema):
    state: str = Field(
        default="",
        pattern=f"^(|{'|'.join(queries.STATE_FILTERS)})$",
        description="active, unacknowledged, acknowledged (active and acked) or normal; empty: all",
    )
    priority_min: int | None = Field(default=None, ge=0, le=255)
    priority_max: int | None = Field(default=None, ge=0, le=255)
    site: Text = Field(default="", max_length=100, description="remote devices of this site")
    device: int | None = Field(default=None, ge=0, le=MAX_INSTANCE, description="device instance")
    limit: int = limit_field(100)
    offset: int = offset_field()

    def chosen(self) -> queries.AlarmFilter:
        return queries.AlarmFilter(
            state=self.state,
            priority_min=self.priority_min,
            priority_max=self.priority_max,
            site=self.site,
            device=self.device,
        )


class AlarmOut(Schema):
    id: int
    source_kind: str
    name: str
    rule: str
    device_instance: int | None
    object_type: str
    instance: int | None
    event_state: str
    event_type: str
    acked_transitions: list[bool]
    unacknowledged: bool
    priority: int
    notify_type: str
    notification_class: int | None
    message: str
    last_transition_at: datetime | None


class TransitionOut(Schema):
    id: int
    from_state: str
    to_state: str
    transition: str
    time_stamp: datetime
    priority: int
    notify_type: str
    event_type: str
    ack_required: bool
    message: str
    acked_at: datetime | None
    acked_by: str | None = Field(description="the user who acknowledged it here")
    ack_source: str = Field(description="a BACnet peer's acknowledgment source")
    ack_comment: str

    @staticmethod
    def resolve_acked_by(row: Any) -> str | None:
        return row.acked_by.get_username() if row.acked_by else None


class AlarmDetailOut(AlarmOut):
    transitions: list[TransitionOut]


class AlarmPage(Schema):
    count: int
    items: list[AlarmOut]


class AlarmCounts(Schema):
    active: int
    unacknowledged: int


class AcknowledgeIn(BodyIn):
    comment: Text = Field(default="", max_length=1000)


def get_alarm(alarm_id: int) -> Alarm:
    alarm = Alarm.objects.filter(pk=alarm_id).first()
    if alarm is None:
        raise HttpError(404, f"there is no alarm with id {alarm_id}")
    return alarm


def alarm_detail(alarm: Alarm) -> dict[str, Any]:
    transitions = alarm.transitions.select_related("acked_by").order_by("-time_stamp", "-id")
    return {**AlarmOut.model_validate(alarm).model_dump(), "transitions": list(transitions)}


@router.get("/alarms", response=reading(AlarmPage, lookup=False))
def list_alarms(request: HttpRequest, query: Query[AlarmQuery]) -> dict:
    """Unacknowledged first, then acknowledged active, then history; newest first in each."""
    return page(queries.console(query.chosen()), query.limit, query.offset)


@router.get("/alarms/counts", response=reading(AlarmCounts, lookup=False, query=False))
def alarm_counts(request: HttpRequest) -> dict[str, int]:
    return queries.counts()


@router.get("/alarms/{alarm_id}", response=reading(AlarmDetailOut))
def read_alarm(request: HttpRequest, alarm_id: int) -> dict:
    return alarm_detail(get_alarm(alarm_id))


@router.post("/alarms/{alarm_id}/acknowledge", response=writing(200, AlarmDetailOut))
def acknowledge_alarm(request: HttpRequest, alarm_id: int, body: AcknowledgeIn) -> dict:
    """Acknowledge the alarm's latest unacknowledged transition, recorded with your name and
    the comment. 409 when nothing waits for an acknowledgement."""
    require_operator(request)
    alarm = get_alarm(alarm_id)
    try:
        request_acknowledgement(alarm, request.user, body.comment)
    except AlarmRefused as refused:
        raise HttpError(409, str(refused)) from refused
    alarm.refresh_from_db()
    return alarm_detail(alarm)


# Notification classes -----------------------------------------------------------------------


class RecipientIn(BodyIn):
    process_id: StrictInt = Field(ge=0, le=2**32 - 1)
    device: StrictInt | None = Field(default=None, ge=0, le=MAX_INSTANCE)
    address: Text | None = Field(default=None, max_length=80, description="host:port")
    confirmed: StrictBool = False
    transitions: list[StrictBool] = Field(default=[True, True, True], min_length=3, max_length=3)
    valid_days: list[StrictBool] = Field(default=[True] * 7, min_length=7, max_length=7)
    from_time: Text = Field(default="00:00:00", max_length=20)
    to_time: Text = Field(default="23:59:59", max_length=20)


class NotificationClassOut(Schema):
    id: int
    instance: int
    name: str
    description: str
    priority_to_offnormal: int
    priority_to_fault: int
    priority_to_normal: int
    ack_required: list[bool]
    recipients: list[dict[str, Any]]
    updated_at: datetime


class NotificationClassIn(BodyIn):
    instance: StrictInt = Field(ge=0, le=MAX_INSTANCE)
    name: Text = Field(min_length=1, max_length=255)
    description: Text = Field(default="", max_length=2000)
    priority_to_offnormal: StrictInt = Field(default=100, ge=0, le=255)
    priority_to_fault: StrictInt = Field(default=100, ge=0, le=255)
    priority_to_normal: StrictInt = Field(default=200, ge=0, le=255)
    ack_required: list[StrictBool] = Field(default=[True, True, False], min_length=3, max_length=3)
    recipients: list[RecipientIn] = Field(default=[], max_length=64)


class NotificationClassPatch(BodyIn):
    name: Kept[Text] = Field(default=None, min_length=1, max_length=255)
    description: Kept[Text] = Field(default=None, max_length=2000)
    priority_to_offnormal: Kept[StrictInt] = Field(default=None, ge=0, le=255)
    priority_to_fault: Kept[StrictInt] = Field(default=None, ge=0, le=255)
    priority_to_normal: Kept[StrictInt] = Field(default=None, ge=0, le=255)
    ack_required: Kept[list[StrictBool]] = Field(default=None, min_length=3, max_length=3)
    recipients: Kept[list[RecipientIn]] = Field(default=None, max_length=64)


def get_class(instance: int) -> NotificationClass:
    row = NotificationClass.objects.filter(instance=instance).first()
    if row is None:
        raise HttpError(404, f"there is no notification class {instance}")
    return row


def _recipients(body: Any) -> Any:
    """Recipients as the model stores them: null device or address left out."""
    return [
        {key: value for key, value in entry.model_dump().items() if value is not None}
        for entry in body
    ]


@router.get(
    "/notification-classes",
    response=reading(list[NotificationClassOut], lookup=False, query=False),
)
def list_classes(request: HttpRequest) -> list[NotificationClass]:
    return list(NotificationClass.objects.all())


@router.post("/notification-classes", response=writing(201, NotificationClassOut))
def create_class(request: HttpRequest, body: NotificationClassIn) -> Status[Any]:
    """A notification class served by device 8888, checked as the worker serves it (400 with
    the reason otherwise); a taken instance or name is 409."""
    require_operator(request)
    fields = body.model_dump(exclude={"instance", "name", "recipients"})
    row = classes.create_notification_class(
        body.instance, body.name, recipients=_recipients(body.recipients), **fields
    )
    return Status(201, row)


@router.get("/notification-classes/{instance}", response=reading(NotificationClassOut))
def read_class(request: HttpRequest, instance: int) -> NotificationClass:
    return get_class(instance)


@router.patch("/notification-classes/{instance}", response=writing(200, NotificationClassOut))
def update_class(request: HttpRequest, instance: int, body: NotificationClassPatch) -> Any:
    require_operator(request)
    changes = body.model_dump(exclude_unset=True, exclude={"recipients"})
    if body.recipients is not None:
        changes["recipients"] = _recipients(body.recipients)
    return classes.update_notification_class(get_class(instance), **changes)


@router.delete("/notification-classes/{instance}", response=writing(204, None))
def delete_class(request: HttpRequest, instance: int) -> Status[Any]:
    """409 while virtual objects still report through it (the reason names them)."""
    require_operator(request)
    classes.delete_notification_class(get_class(instance))
    return Status(204, None)
