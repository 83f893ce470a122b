"""Virtual devices and device profiles (bms.profiles): a profile made from a virtual device, a
virtual device made straight from an EDE file, and device 8888's objects as an EDE file."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from bms.bacnet import ede
from bms.profiles import ede_files
from bms.profiles import services as profiles
from bms.profiles.definitions import ObjectDefinition
from bms.profiles.ede_files import Files
from bms.profiles.models import DeviceProfile
from bms.virtual.models import VirtualBACnetDevice, VirtualObject
from bms.virtual.services import create_virtual_device


def profile_from_virtual_device(
    device: VirtualBACnetDevice, name: str, description: str = ""
) -> DeviceProfile:
    """A profile with the device's objects as they are now: names (without the Virtual_<id>_
    prefix), instances, units, limits, texts, defaults, alarm settings and trend logging."""
    objects = [
        _definition(row) for row in device.virtual_objects.prefetch_related("trend_logs").all()
    ]
    text = description or f"Made from virtual device {device.device_id} {device.device_name}"
    return profiles.create_profile(name, text, objects)


def _definition(row: VirtualObject) -> ObjectDefinition:
    default = row.relinquish_default if row.commandable else row.present_value
    return ObjectDefinition(
        object_type=row.object_type,
        name=row.name,
        description=row.description,
        units=row.units,
        default=default,
        min_value=row.min_value,
        max_value=row.max_value,
        state_texts=tuple(row.state_texts or ()),
        cov_increment=row.cov_increment,
        instance=row.instance,
        commandable=row.commandable,
        notification_class=row.notification_class,
        high_limit=row.high_limit,
        low_limit=row.low_limit,
        deadband=row.deadband,
        time_delay=row.time_delay,
        trend_log=bool(row.trend_logs.all()),
    )


def import_virtual_device(
    device_id: int,
    device_name: str,
    profile_name: str,
    main: bytes,
    state_texts: bytes | None = None,
    device_instance: int | None = None,
) -> tuple[VirtualBACnetDevice, ede_files.ProfileImport]:
    """A profile from the EDE file and a virtual device built from it, both or neither."""
    with transaction.atomic():
        imported = ede_files.import_profile(
            profile_name,
            f"Imported for virtual device {device_id}",
            main,
            state_texts,
            device_instance,
        )
        device = create_virtual_device(device_id, device_name, template=imported.profile.name)
    return device, imported


def bms_device_files() -> Files:
    """Device 8888 as a BACnet client sees it: every virtual object with its BACnet name."""
    instance = settings.BACNET_DEVICE_ID
    rows = [ede.EdeObject(instance, settings.BACNET_DEVICE_NAME, "device", instance)]
    objects = (
        VirtualObject.objects.select_related("device")
        .prefetch_related("trend_logs")
        .order_by("object_type", "instance")
    )
    rows += [_bms_object(instance, row) for row in objects]
    return ede_files.write(rows, f"BMS device {instance}")


def _bms_object(device_instance: int, row: VirtualObject) -> ede.EdeObject:
    default = row.relinquish_default if row.commandable else None
    return ede.EdeObject(
        device_instance=device_instance,
        object_name=row.bacnet_name,
        object_type=row.object_type,
        instance=row.instance,
        description=row.description,
        present_value_default=ede_files.value_text(default),
        min_value=row.min_value,
        max_value=row.max_value,
        commandable=row.commandable,
        supports_cov=True,
        high_limit=row.high_limit,
        low_limit=row.low_limit,
        state_texts=tuple(row.state_texts or ()),
        units=row.units,
        notification_class=row.notification_class,
        cov_increment=row.cov_increment,
        deadband=row.deadband,
        time_delay=row.time_delay,
        trend_log=bool(row.trend_logs.all()),
    )
