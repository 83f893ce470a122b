"""BMS alarm rules (on remote points) and alarm notifiers (e-mail, signed webhook) over the API,
through the domain service bms.alarms.configuration: what it refuses is a 400 with its reason,
a taken notifier name a 409, a body that does not fit the schema a 422; every change is audited.

Rules: read by every signed-in user, changed by operators. Notifiers send alarms out of the
building and hold a signing secret: read and changed by admins only, the secret never shown.
Enrolment (operators): a task that adds the BMS to a remote notification class's recipients.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from bms.accounts.roles import ADMIN, has_role
from bms.alarms import configuration as config
from bms.alarms.models import AlarmNotifier, AlarmRule
from bms.api.auth import require_operator, user_name
from bms.api.devices import get_device
from bms.api.fields import BodyIn, Kept, StrictBool, StrictFloat, StrictInt, Text
from bms.api.paging import limit_field, offset_field, page
from bms.api.responses import ErrorOut, reading, writing
from bms.api.schemas import TaskCreated
from bms.api.tasks import created
from bms.bacnet.commanding import MAX_INSTANCE
from bms.bacnet.local.alarm_spec import MAX_PRIORITY, MAX_TIME_DELAY
from bms.devices.models import BACnetPoint
from bms.profiles.built_in import DEFAULT_NOTIFICATION_CLASS
from bms.tasks import submission

router = Router(tags=["alarm settings"])

RuleKind = Literal["high_limit", "low_limit", "binary_state", "stale"]
NotifierKind = Literal["email", "webhook"]
Number = StrictFloat | StrictInt
T = TypeVar("T")


# ---- rules ---------------------------------------------------------------------------------


class RuleOut(Schema):
    id: int
    point_id: int
    device_instance: int
    point_name: str
    kind: str
    high: float | None
    low: float | None
    deadband: float
    delay_seconds: int
    stale_seconds: int
    alarm_value: str
    priority: int
    notification_class: int
    message: str
    enabled: bool
    alarm_name: str = Field(description="the name of its alarm (source 'rule') in /api/alarms")
    updated_at: datetime

    @staticmethod
    def resolve_device_instance(rule: AlarmRule) -> int:
        return rule.point.device.device_instance

    @staticmethod
    def resolve_point_name(rule: AlarmRule) -> str:
        return rule.point.name or f"{rule.point.object_type},{rule.point.instance}"

    @staticmethod
    def resolve_alarm_name(rule: AlarmRule) -> str:
        return rule.rule_name


class RuleIn(BodyIn):
    point_id: StrictInt = Field(ge=1, description="the remote point watched (GET /api/points)")
    kind: RuleKind
    high: Number | None = Field(default=None, description="high_limit: alarm above this")
    low: Number | None = Field(default=None, description="low_limit: alarm below this")
    deadband: Number = Field(default=0.0, ge=0, description="how far back a limit must clear")
    delay_seconds: StrictInt = Field(default=0, ge=0, le=MAX_TIME_DELAY)
    stale_seconds: StrictInt = Field(default=0, ge=0, le=MAX_TIME_DELAY, description="stale")
    alarm_value: Text = Field(default="active", max_length=40, description="binary_state")
    priority: StrictInt = Field(default=100, ge=0, le=MAX_PRIORITY, description="0 most urgent")
    notification_class: StrictInt = Field(
        default=DEFAULT_NOTIFICATION_CLASS,
        ge=0,
        le=MAX_INSTANCE,
        description="its alarm's class: notifiers limited to a class receive that class's",
    )
    message: Text = Field(default="", max_length=255)
    enabled: StrictBool = True


class RulePatch(BodyIn):
    """Leave a field out to keep it; `high` and `low` may be set to null."""

    kind: Kept[RuleKind] = None
    high: Number | None = None
    low: Number | None = None
    deadband: Kept[Number] = Field(default=None, ge=0)
    delay_seconds: Kept[StrictInt] = Field(default=None, ge=0, le=MAX_TIME_DELAY)
    stale_seconds: Kept[StrictInt] = Field(default=None, ge=0, le=MAX_TIME_DELAY)
    alarm_value: Kept[Text] = Field(default=None, max_length=40)
    priority: Kept[StrictInt] = Field(default=None, ge=0, le=MAX_PRIORITY)
    notification_class: Kept[StrictInt] = Field(default=None, ge=0, le=MAX_INSTANCE)
    message: Kept[Text] = Field(default=None, max_length=255)
    enabled: Kept[StrictBool] = None


def get_rule(rule_id: int) -> AlarmRule:
    rule = AlarmRule.objects.select_related("point__device").filter(pk=rule_id).first()
    if rule is None:
        raise HttpError(404, f"there is no alarm rule {rule_id}")
    return rule


class RuleQuery(Schema):
    point_id: int | None = Field(default=None, ge=1, description="only this point's rules")
    limit: int = limit_field(100)
    offset: int = offset_field()


class RulePage(Schema):
    count: int
    items: list[RuleOut]


@router.get("/alarm-rules", response=reading(RulePage, lookup=False))
def list_rules(request: HttpRequest, query: Query[RuleQuery]) -> dict[str, Any]:
    rules = AlarmRule.objects.select_related("point__device").order_by("id")
    if query.point_id is not None:
        rules = rules.filter(point_id=query.point_id)
    return page(rules, query.limit, query.offset)


@router.post("/alarm-rules", response=writing(201, RuleOut))
def create_rule(request: HttpRequest, body: RuleIn) -> Status[Any]:
    """A rule the worker evaluates on the point's stored values (and, for a stale rule, on a
    clock); 400 with the reason when it cannot work (a limit on a binary point, ...)."""
    require_operator(request)
    point = BACnetPoint.objects.select_related("device").filter(pk=body.point_id).first()
    if point is None:
        raise HttpError(404, f"there is no point {body.point_id}")
    rule = _refusing(config.create_rule, point, **body.model_dump(exclude={"point_id"}))
    return Status(201, rule)


@router.get("/alarm-rules/{rule_id}", response=reading(RuleOut))
def read_rule(request: HttpRequest, rule_id: int) -> AlarmRule:
    return get_rule(rule_id)


@router.patch("/alarm-rules/{rule_id}", response=writing(200, RuleOut))
def update_rule(request: HttpRequest, rule_id: int, body: RulePatch) -> AlarmRule:
    require_operator(request)
    return _refusing(config.update_rule, get_rule(rule_id), **body.model_dump(exclude_unset=True))


@router.delete("/alarm-rules/{rule_id}", response=writing(204, None))
def delete_rule(request: HttpRequest, rule_id: int) -> Status[Any]:
    """The rule goes; its alarm and the alarm's history stay."""
    require_operator(request)
    config.delete_rule(get_rule(rule_id))
    return Status(204, None)


# ---- notifiers -----------------------------------------------------------------------------


class NotifierOut(Schema):
    id: int
    name: str
    kind: str
    target: str
    has_secret: bool
    min_priority: int
    max_priority: int
    notification_class: int | None
    enabled: bool
    updated_at: datetime

    @staticmethod
    def resolve_has_secret(notifier: AlarmNotifier) -> bool:
        return bool(notifier.secret)


class NotifierIn(BodyIn):
    name: Text = Field(min_length=1, max_length=100)
    kind: NotifierKind
    target: Text = Field(
        min_length=1, max_length=500, description="e-mail: addresses, comma separated; webhook: URL"
    )
    secret: Text = Field(default="", max_length=200, description="webhook: the HMAC key")
    min_priority: StrictInt = Field(default=0, ge=0, le=MAX_PRIORITY)
    max_priority: StrictInt = Field(default=MAX_PRIORITY, ge=0, le=MAX_PRIORITY)
    notification_class: StrictInt | None = Field(
        default=None, ge=0, le=MAX_INSTANCE, description="only this class; null: any"
    )
    enabled: StrictBool = True


class NotifierPatch(BodyIn):
    name: Kept[Text] = Field(default=None, min_length=1, max_length=100)
    kind: Kept[NotifierKind] = None
    target: Kept[Text] = Field(default=None, min_length=1, max_length=500)
    secret: Kept[Text] = Field(default=None, max_length=200)
    min_priority: Kept[StrictInt] = Field(default=None, ge=0, le=MAX_PRIORITY)
    max_priority: Kept[StrictInt] = Field(default=None, ge=0, le=MAX_PRIORITY)
    notification_class: StrictInt | None = Field(default=None, ge=0, le=MAX_INSTANCE)
    enabled: Kept[StrictBool] = None


def require_admin(request: HttpRequest) -> None:
    if not has_role(request.user, ADMIN):
        raise HttpError(403, "alarm notifiers need the admin role")


def get_notifier(request: HttpRequest, notifier_id: int) -> AlarmNotifier:
    require_admin(request)
    notifier = AlarmNotifier.objects.filter(pk=notifier_id).first()
    if notifier is None:
        raise HttpError(404, f"there is no alarm notifier {notifier_id}")
    return notifier


@router.get(
    "/alarm-notifiers",
    response={**reading(list[NotifierOut], lookup=False, query=False), 403: ErrorOut},
)
def list_notifiers(request: HttpRequest) -> list[AlarmNotifier]:
    require_admin(request)
    return list(AlarmNotifier.objects.all())


@router.post("/alarm-notifiers", response=writing(201, NotifierOut))
def create_notifier(request: HttpRequest, body: NotifierIn) -> Status[Any]:
    """400 with the reason when it cannot send (a webhook without a secret, a bad address);
    409 when the name is taken."""
    require_admin(request)
    return Status(201, _refusing(config.create_notifier, **body.model_dump()))


@router.get("/alarm-notifiers/{notifier_id}", response={**reading(NotifierOut), 403: ErrorOut})
def read_notifier(request: HttpRequest, notifier_id: int) -> AlarmNotifier:
    return get_notifier(request, notifier_id)


@router.patch("/alarm-notifiers/{notifier_id}", response=writing(200, NotifierOut))
def update_notifier(request: HttpRequest, notifier_id: int, body: NotifierPatch) -> Any:
    notifier = get_notifier(request, notifier_id)
    return _refusing(config.update_notifier, notifier, **body.model_dump(exclude_unset=True))


@router.delete("/alarm-notifiers/{notifier_id}", response=writing(204, None))
def delete_notifier(request: HttpRequest, notifier_id: int) -> Status[Any]:
    config.delete_notifier(get_notifier(request, notifier_id))
    return Status(204, None)


# ---- enrolment at a remote device --------------------------------------------------------


class EnrollIn(BodyIn):
    notification_class: StrictInt = Field(ge=0, le=MAX_INSTANCE, description="its instance")


@router.post("/devices/{device_pk}/alarm-enrollment", response=writing(202, TaskCreated))
def enroll(request: HttpRequest, device_pk: int, body: EnrollIn) -> Status[Any]:
    """Queue a task adding the BMS to the device's notification class's recipient list, so the
    device sends it that class's event notifications (the task's result says whether it was
    added or already there; a device that refuses the write fails the task with its error)."""
    require_operator(request)
    device = get_device(device_pk)
    task = submission.enroll_alarms(device, body.notification_class, user=user_name(request))
    return Status(202, created(task))


def _refusing(change: Callable[..., T], *args: Any, **fields: Any) -> T:
    """The service's refusal as the client's error: 409 for a conflict, 400 otherwise."""
    try:
        return change(*args, **fields)
    except config.Conflict as exc:
        raise HttpError(409, str(exc)) from exc
    except config.AlarmConfigError as exc:
        raise HttpError(400, str(exc)) from exc
