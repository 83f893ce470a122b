"""Request and response shapes of the API (OpenAPI at /api/docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from bms.api.fields import BodyIn, InValue, Kept, StrictBool, StrictFloat, StrictInt, Text
from bms.bacnet.commanding import MAX_INSTANCE
from bms.tasks.sites import SITE_PATTERN

JSONValue = float | int | str | bool | None


def instance(**kwargs: Any) -> Any:
    """A device instance field: 0..MAX_INSTANCE (one more is the Who-Is wildcard)."""
    return Field(ge=0, le=MAX_INSTANCE, **kwargs)


class DeviceOut(Schema):
    id: int
    site: str
    device_instance: int
    address: str
    name: str
    vendor_name: str
    model_name: str
    online: bool
    first_seen: datetime
    last_seen: datetime


class DeviceDetailOut(DeviceOut):
    network_number: int | None
    mac: str
    vendor_id: int | None
    firmware_revision: str
    application_software_version: str
    protocol_revision: int | None
    description: str
    location: str
    max_apdu: int | None
    segmentation: str
    services_supported: list[Any]
    # What the worker saw it do (None: not known), which beats the claims above.
    learned_rpm: bool | None
    learned_segmentation: bool | None
    learned_max_apdu: int | None
    learned_at: datetime | None


class PointOut(Schema):
    id: int
    device_id: int
    object_type: str
    instance: int
    name: str
    description: str
    units: str
    state_texts: list[Any]
    commandable: bool
    last_value: JSONValue
    last_value_at: datetime | None
    status_flags: list[bool] | None


class ReadingOut(Schema):
    value: JSONValue
    timestamp: datetime
    source: str


class ReadingPage(Schema):
    count: int
    items: list[ReadingOut]


def site_name(**kwargs: Any) -> Any:
    """A site name as BACNET_SITE takes it (it names a Celery queue): letters, digits, _ . -"""
    return Field(pattern=SITE_PATTERN.pattern, max_length=100, **kwargs)


class SiteOut(Schema):
    name: str
    default: bool  # this installation's BACNET_SITE: where tasks go when no site is given
    workers_alive: int


class TaskOut(Schema):
    id: int
    site: str
    type: str
    status: str
    parameters: dict[str, Any]
    progress: dict[str, Any]
    result: Any
    error: str
    created: datetime
    started: datetime | None
    completed: datetime | None
    attempts: int


class TaskPage(Schema):
    count: int
    items: list[TaskOut]


class TaskCreated(Schema):
    task_id: int
    site: str
    status: str
    status_url: str


class DiscoverParams(BodyIn):
    low: StrictInt | None = instance(default=None)
    high: StrictInt | None = instance(default=None)
    address: Text | None = Field(default=None, max_length=100)
    force: StrictBool = False


class CollectParams(BodyIn):
    device_ids: list[StrictInt] | None = None


class ReadPointsParams(BodyIn):
    device_id: StrictInt = instance()


class WriteIn(BodyIn):
    value: InValue = None
    priority: StrictInt | None = None
    relinquish: StrictBool = False


class WritePointParams(WriteIn):
    point_id: StrictInt


class TaskIn(BodyIn):
    type: Literal["discover", "collect", "read_points", "write_point"]
    parameters: dict[str, Any] = {}
    site: str | None = site_name(
        default=None,
        description="The site whose worker runs the task (GET /api/sites). Default: the "
        "site of the devices named, else this installation's BACNET_SITE. A write goes to "
        "its point's site.",
    )


class TaskStatusOut(Schema):
    """Seed 000's /api/task-status/<id>/, field for field (and `finished`)."""

    id: int
    status: str
    type: str
    created: datetime
    completed: datetime | None
    result: Any
    error: str
    finished: bool


class SeedErrorOut(Schema):
    error: str  # "Task not found", as seed 000 said it


class VirtualObjectOut(Schema):
    id: int
    object_type: str
    instance: int
    name: str
    description: str
    units: str
    min_value: float | None
    max_value: float | None
    state_texts: list[Any]
    present_value: JSONValue
    priority_array: list[JSONValue] | None
    relinquish_default: JSONValue
    out_of_service: bool
    cov_increment: float | None
    commandable: bool


class VirtualCommandIn(BodyIn):
    """A value at a priority (1..16, default 16), or relinquish that priority; inputs take a
    plain value and no priority. Values as every write takes them (bms.bacnet.commanding):
    binary "active"/"inactive" (or on/off, 1/0, true/false); multi-state a state number from 1
    or one of its state texts; analog a finite number within the object's limits."""

    value: InValue = None
    priority: StrictInt | None = None
    relinquish: StrictBool = False


class VirtualCommandOut(VirtualObjectOut):
    priority: int | None  # the level commanded; null for inputs


class VirtualDeviceOut(Schema):
    device_id: int
    device_name: str
    description: str
    template: str
    is_running: bool
    last_external_write: datetime | None
    created_at: datetime
    updated_at: datetime


class VirtualDeviceDetailOut(VirtualDeviceOut):
    objects: list[VirtualObjectOut]


class VirtualDeviceIn(BodyIn):
    device_id: StrictInt = instance()
    device_name: Text = Field(min_length=1, max_length=255)
    description: Text = ""
    template: Text = Field(default="temperature_sensor", max_length=60)


class VirtualDevicePatch(BodyIn):
    device_name: Kept[Text] = Field(default=None, min_length=1, max_length=255)
    description: Kept[Text] = None
    is_running: Kept[StrictBool] = None


OBJECT_NAME = r"^[A-Za-z0-9_]+$"


class VirtualObjectIn(BodyIn):
    object_type: Text = Field(max_length=40)
    name: str = Field(min_length=1, max_length=200, pattern=OBJECT_NAME)
    description: Text = ""
    units: Text = Field(default="", max_length=80)
    min_value: StrictFloat | None = None
    max_value: StrictFloat | None = None
    state_texts: list[Text] = []
    present_value: InValue = None
    cov_increment: StrictFloat | None = None


class VirtualObjectPatch(BodyIn):
    name: Kept[str] = Field(default=None, min_length=1, max_length=200, pattern=OBJECT_NAME)
    description: Kept[Text] = None
    units: Kept[Text] = Field(default=None, max_length=80)
    min_value: StrictFloat | None = None  # null clears a limit
    max_value: StrictFloat | None = None
    out_of_service: Kept[StrictBool] = None
    cov_increment: StrictFloat | None = None


class AuditOut(Schema):
    id: int
    time: datetime
    source: str
    who: str
    object_ref: str
    property: str
    old_value: JSONValue
    new_value: JSONValue
    priority: int | None
    accepted: bool
    reason: str


class AuditPage(Schema):
    count: int
    items: list[AuditOut]
