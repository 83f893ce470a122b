"""Creating and deleting virtual devices from templates (the database side only; the worker
adds and removes the BACnet objects when it sees the change)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from bms.bacnet.types import COMMANDABLE_TYPES
from bms.virtual.models import VirtualBACnetDevice, VirtualObject
from bms.virtual.templates import ObjectTemplate, get_template

MAX_DEVICE_ID = 4194302


class VirtualDeviceError(ValueError):
    """A request the operator can correct: duplicate id, unknown device, bad value."""


def create_virtual_device(
    device_id: int, name: str, description: str = "", template: str = "temperature_sensor"
) -> VirtualBACnetDevice:
    """The device and all its template's objects, in one transaction.

    Instances are allocated per object type after the highest in use. On PostgreSQL two
    simultaneous creations can pick the same instance; the unique constraint then rolls one back
    whole (IntegrityError), so nothing is ever half-created.
    """
    device_template = get_template(template)
    if not 0 <= device_id <= MAX_DEVICE_ID:
        raise VirtualDeviceError(f"device id {device_id} is outside 0..{MAX_DEVICE_ID}")
    if not name.strip():
        raise VirtualDeviceError("a virtual device needs a name")
    with transaction.atomic():
        if VirtualBACnetDevice.objects.filter(device_id=device_id).exists():
            raise VirtualDeviceError(f"virtual device {device_id} already exists")
        device = VirtualBACnetDevice.objects.create(
            device_id=device_id, device_name=name.strip(), description=description,
            template=device_template.key,
        )
        for object_template in device_template.objects:
            _create_object(device, object_template)
    return device


def _create_object(device: VirtualBACnetDevice, spec: ObjectTemplate) -> VirtualObject:
    commandable = spec.object_type in COMMANDABLE_TYPES
    return VirtualObject.objects.create(
        device=device,
        object_type=spec.object_type,
        instance=next_instance(spec.object_type),
        name=spec.name,
        description=spec.description,
        units=spec.units,
        min_value=spec.min_value,
        max_value=spec.max_value,
        state_texts=list(spec.state_texts),
        present_value=spec.default,
        priority_array=[None] * 16 if commandable else None,
        relinquish_default=spec.default if commandable else None,
        cov_increment=spec.cov_increment,
    )


def next_instance(object_type: str) -> int:
    """One above the highest instance of this type on the BMS device (starting at 1)."""
    highest = VirtualObject.objects.filter(object_type=object_type).aggregate(Max("instance"))
    return (highest["instance__max"] or 0) + 1


def delete_virtual_device(device_id: int) -> int:
    """Delete the device and its objects; returns how many objects went with it."""
    with transaction.atomic():
        device = VirtualBACnetDevice.objects.filter(device_id=device_id).first()
        if device is None:
            raise VirtualDeviceError(f"there is no virtual device {device_id}")
        objects = device.virtual_objects.count()
        device.delete()
    return objects
