"""The properties of one object as a read_object task read them, kept on its point."""

from __future__ import annotations

from django.utils import timezone

from bms.bacnet.object_properties import ObjectProperties
from bms.devices.models import BACnetDevice, BACnetPoint


def save_object_properties(device: BACnetDevice, read: ObjectProperties) -> int | None:
    """Store what was read on the object's point; the point's id, or None if the object is not
    one of the device's known points (its properties then live only in the task's result)."""
    point = BACnetPoint.objects.filter(
        device=device, object_type=read.ref.object_type, instance=read.ref.instance
    ).first()
    if point is None:
        return None
    point.properties = read.values
    point.property_errors = read.errors
    point.properties_read_at = timezone.now()
    point.save(update_fields=["properties", "property_errors", "properties_read_at"])
    return point.id
