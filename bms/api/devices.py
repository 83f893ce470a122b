"""Remote devices, their points, readings, writes to commandable points, and what the worker
monitors on them (bms.api.monitoring)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from bms.api.auth import require_operator, user_name
from bms.api.fields import Text
from bms.api.monitoring import (
    DeviceMonitoringOut,
    HealthEventOut,
    MonitoringPatch,
    PointMonitoringOut,
    apply_device_patch,
    apply_point_patch,
    device_monitoring,
    point_monitoring,
)
from bms.api.paging import LISTED_RESPONSE, MAX_LIMIT, limit_field, listed, offset_field
from bms.api.readings import READING_ERRORS, ReadingQuery, readings_page
from bms.api.responses import reading, writing
from bms.api.schemas import (
    DeviceDetailOut,
    DeviceOut,
    PointOut,
    ReadingPage,
    TaskCreated,
    WriteIn,
)
from bms.api.tasks import created
from bms.devices.models import BACnetDevice, BACnetPoint, DeviceHealthEvent
from bms.tasks import submission

router = Router(tags=["devices"])


def get_device(device_pk: int) -> BACnetDevice:
    device = BACnetDevice.objects.filter(id=device_pk).first()
    if device is None:
        raise HttpError(404, f"there is no device with id {device_pk}")
    return device


def get_point(point_pk: int) -> BACnetPoint:
    point = BACnetPoint.objects.select_related("device").filter(id=point_pk).first()
    if point is None:
        raise HttpError(404, f"there is no point with id {point_pk}")
    return point


class ListPage(Schema):
    """A page of a list answered as a bare array (bms.api.paging.listed): the default is the
    most a page holds, so a client that sends neither gets every row up to that."""

    limit: int = limit_field(MAX_LIMIT)
    offset: int = offset_field()


class DeviceFilters(ListPage):
    site: Text | None = Field(default=None, max_length=100)


@router.get(
    "/devices",
    response=reading(list[DeviceOut], lookup=False),
    openapi_extra=LISTED_RESPONSE,
)
def list_devices(
    request: HttpRequest, filters: Query[DeviceFilters], response: HttpResponse
) -> list[BACnetDevice]:
    """Devices by site and instance, `limit` of them from `offset`; X-Total-Count says how many
    there are in all."""
    devices = BACnetDevice.objects.all()
    if filters.site:
        devices = devices.filter(site=filters.site)
    return listed(devices, filters.limit, filters.offset, response)


@router.get("/devices/{device_pk}", response=reading(DeviceDetailOut))
def device_detail(request: HttpRequest, device_pk: int) -> BACnetDevice:
    return get_device(device_pk)


@router.get(
    "/devices/{device_pk}/points",
    response=reading(list[PointOut]),
    openapi_extra=LISTED_RESPONSE,
)
def device_points(
    request: HttpRequest, device_pk: int, paging: Query[ListPage], response: HttpResponse
) -> list[BACnetPoint]:
    """The device's points by object type and instance, `limit` of them from `offset`;
    X-Total-Count says how many it has."""
    points = get_device(device_pk).points.order_by("object_type", "instance")
    return listed(points, paging.limit, paging.offset, response)


@router.post("/devices/{device_pk}/read-points", response=writing(202, TaskCreated))
def device_read_points(request: HttpRequest, device_pk: int) -> Status[Any]:
    require_operator(request)
    device = get_device(device_pk)
    return Status(
        202,
        created(
            submission.read_points(
                device.device_instance, site=device.site, user=user_name(request)
            )
        ),
    )


@router.post("/devices/{device_pk}/collect", response=writing(202, TaskCreated))
def device_collect(request: HttpRequest, device_pk: int) -> Status[Any]:
    require_operator(request)
    device = get_device(device_pk)
    return Status(
        202,
        created(
            submission.collect([device.device_instance], site=device.site, user=user_name(request))
        ),
    )


@router.get("/points/{point_pk}", response=reading(PointOut))
def point_detail(request: HttpRequest, point_pk: int) -> BACnetPoint:
    return get_point(point_pk)


@router.get("/points/{point_pk}/readings", response=reading(ReadingPage) | READING_ERRORS)
def point_readings(request: HttpRequest, point_pk: int, query: Query[ReadingQuery]) -> dict:
    """Readings oldest first between `since` (default: 24 h before `until`) and `until`
    (default: now); ISO 8601 times, in the site's time zone when they carry none."""
    return readings_page(get_point(point_pk).readings.all(), query)


@router.post("/points/{point_pk}/write", response=writing(202, TaskCreated))
def point_write(request: HttpRequest, point_pk: int, body: WriteIn) -> Status[Any]:
    """Queue a write_point task: `value` (number, "active"/"inactive", state number) at
    `priority` 1..16, or `relinquish` true to release that priority."""
    require_operator(request)
    task = submission.write_point(
        get_point(point_pk),
        body.value,
        body.priority,
        body.relinquish,
        user=user_name(request),
        source="api",
    )
    return Status(202, created(task))


@router.get("/devices/{device_pk}/monitoring", response=reading(DeviceMonitoringOut, query=False))
def device_monitoring_detail(request: HttpRequest, device_pk: int) -> dict[str, Any]:
    """The device's own monitoring settings, what applies after the site's defaults, how many
    of its points are watched by COV and by polling, its health and the COV it refuses."""
    return device_monitoring(get_device(device_pk))


@router.patch("/devices/{device_pk}/monitoring", response=writing(200, DeviceMonitoringOut))
def device_monitoring_update(
    request: HttpRequest, device_pk: int, body: MonitoringPatch
) -> dict[str, Any]:
    """Change what the worker monitors on the device (points that set nothing themselves
    follow it); the worker applies it within about a second."""
    require_operator(request)
    return device_monitoring(apply_device_patch(get_device(device_pk), body))


@router.get("/devices/{device_pk}/health-events", response=reading(list[HealthEventOut]))
def device_health_events(request: HttpRequest, device_pk: int) -> list[DeviceHealthEvent]:
    """The device's last 100 changes of health (online, unreachable, offline), newest first."""
    return list(get_device(device_pk).health_events.order_by("-time", "-id")[:100])


@router.get("/points/{point_pk}/monitoring", response=reading(PointMonitoringOut, query=False))
def point_monitoring_detail(request: HttpRequest, point_pk: int) -> dict[str, Any]:
    return point_monitoring(get_point(point_pk))


@router.patch("/points/{point_pk}/monitoring", response=writing(200, PointMonitoringOut))
def point_monitoring_update(
    request: HttpRequest, point_pk: int, body: MonitoringPatch
) -> dict[str, Any]:
    """Change what the worker monitors on this point (null inherits the device's setting)."""
    require_operator(request)
    return point_monitoring(apply_point_patch(get_point(point_pk), body))
