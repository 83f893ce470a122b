"""Virtual devices and their objects: create, read, update, delete, and an object's readings.
The worker serves them on BACnet and picks up changes within its sync interval; nothing here
touches the network."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status
from ninja.errors import HttpError

from bms.api.auth import require_operator, user_name
from bms.api.readings import READING_ERRORS, ReadingQuery, readings_page
from bms.api.responses import reading, writing
from bms.api.schemas import (
    ReadingPage,
    VirtualCommandIn,
    VirtualCommandOut,
    VirtualDeviceDetailOut,
    VirtualDeviceIn,
    VirtualDeviceOut,
    VirtualDevicePatch,
    VirtualObjectIn,
    VirtualObjectOut,
    VirtualObjectPatch,
)
from bms.devices.services import default_write_priority
from bms.virtual import commands, services
from bms.virtual.models import VirtualBACnetDevice, VirtualObject

router = Router(tags=["virtual devices"])


def get_virtual(device_id: int) -> VirtualBACnetDevice:
    device = VirtualBACnetDevice.objects.filter(device_id=device_id).first()
    if device is None:
        raise HttpError(404, f"there is no virtual device {device_id}")
    return device


def get_object(object_pk: int) -> VirtualObject:
    obj = VirtualObject.objects.select_related("device").filter(id=object_pk).first()
    if obj is None:
        raise HttpError(404, f"there is no virtual object with id {object_pk}")
    return obj


def detail(device: VirtualBACnetDevice) -> dict[str, Any]:
    return {
        **VirtualDeviceOut.model_validate(device).model_dump(),
        "objects": list(device.virtual_objects.all()),
    }


@router.get("/virtual-devices", response=reading(list[VirtualDeviceOut], lookup=False, query=False))
def list_virtual(request: HttpRequest) -> list[VirtualBACnetDevice]:
    return list(VirtualBACnetDevice.objects.all())


@router.post("/virtual-devices", response=writing(201, VirtualDeviceDetailOut))
def create_virtual(request: HttpRequest, body: VirtualDeviceIn) -> Status[Any]:
    require_operator(request)
    device = services.create_virtual_device(
        body.device_id, body.device_name, body.description, body.template
    )
    return Status(201, detail(device))


@router.get("/virtual-devices/{device_id}", response=reading(VirtualDeviceDetailOut))
def read_virtual(request: HttpRequest, device_id: int) -> dict:
    return detail(get_virtual(device_id))


@router.patch("/virtual-devices/{device_id}", response=writing(200, VirtualDeviceDetailOut))
def update_virtual(request: HttpRequest, device_id: int, body: VirtualDevicePatch) -> dict:
    """Rename, describe, start (is_running true) or stop a virtual device."""
    require_operator(request)
    changes = body.model_dump(exclude_unset=True)
    return detail(services.update_virtual_device(get_virtual(device_id), **changes))


@router.delete("/virtual-devices/{device_id}", response=writing(204, None))
def delete_virtual(request: HttpRequest, device_id: int) -> Status[Any]:
    require_operator(request)
    services.delete_virtual_device(get_virtual(device_id).device_id)
    return Status(204, None)


@router.get("/virtual-devices/{device_id}/objects", response=reading(list[VirtualObjectOut]))
def list_objects(request: HttpRequest, device_id: int) -> list[VirtualObject]:
    return list(get_virtual(device_id).virtual_objects.all())


@router.post("/virtual-devices/{device_id}/objects", response=writing(201, VirtualObjectOut))
def create_object(request: HttpRequest, device_id: int, body: VirtualObjectIn) -> Status[Any]:
    """A new object of the device, checked as the worker will serve it: anything it would
    refuse (limits crossed, a multi-state without state texts, a value outside the limits) is a
    400 with the reason, and nothing is stored."""
    require_operator(request)
    obj = services.create_virtual_object(get_virtual(device_id), **body.model_dump())
    return Status(201, obj)


@router.get("/virtual-objects/{object_pk}", response=reading(VirtualObjectOut))
def read_object(request: HttpRequest, object_pk: int) -> VirtualObject:
    return get_object(object_pk)


@router.get(
    "/virtual-objects/{object_pk}/readings",
    response=reading(ReadingPage) | READING_ERRORS,
)
def virtual_object_readings(
    request: HttpRequest, object_pk: int, query: Query[ReadingQuery]
) -> dict:
    """The object's values as external BACnet writes and operator commands left them, oldest
    first, between `since` (default: 24 h before `until`) and `until` (default: now); ISO 8601
    times, in the site's time zone when they carry none."""
    return readings_page(get_object(object_pk).readings.all(), query)


@router.patch("/virtual-objects/{object_pk}", response=writing(200, VirtualObjectOut))
def update_object(request: HttpRequest, object_pk: int, body: VirtualObjectPatch) -> VirtualObject:
    """Definition changes (name, description, units, limits, out_of_service, COV increment)."""
    require_operator(request)
    return services.update_virtual_object(
        get_object(object_pk), **body.model_dump(exclude_unset=True)
    )


@router.post("/virtual-objects/{object_pk}/command", response=writing(200, VirtualCommandOut))
def command_object(request: HttpRequest, object_pk: int, body: VirtualCommandIn) -> dict:
    """Command a virtual object as an operator would: the row changes at once (audited), the
    worker applies it to the live BACnet object within its sync interval (about 2 s)."""
    require_operator(request)
    obj = get_object(object_pk)
    obj = commands.command_virtual_object(
        obj, body.value, body.priority, body.relinquish, user=user_name(request), source="api"
    )
    level = (body.priority or default_write_priority()) if obj.commandable else None
    return {**VirtualObjectOut.model_validate(obj).model_dump(), "priority": level}


@router.delete("/virtual-objects/{object_pk}", response=writing(204, None))
def delete_object(request: HttpRequest, object_pk: int) -> Status[Any]:
    require_operator(request)
    services.delete_virtual_object(get_object(object_pk))
    return Status(204, None)
