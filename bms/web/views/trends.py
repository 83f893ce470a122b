"""What a trend card may add to its chart: the other points of the same device, or the other
objects of the same virtual device (their series in the history API)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from bms.devices.models import BACnetPoint
from bms.virtual.models import VirtualObject

MAX_CHOICES = 500  # a device with more points offers its first 500 (by type and instance)


def point_choices(point: BACnetPoint) -> list[dict[str, Any]]:
    others = point.device.points.exclude(pk=point.pk).order_by("object_type", "instance")
    return [
        {
            "label": other.name or f"{other.object_type},{other.instance}",
            "series_url": reverse("api:point_series", args=[other.pk]),
            "units": other.units,
            "object_type": other.object_type,
            "point_id": other.pk,
        }
        for other in others[:MAX_CHOICES]
    ]


def virtual_object_choices(obj: VirtualObject) -> list[dict[str, Any]]:
    others = obj.device.virtual_objects.exclude(pk=obj.pk).order_by("object_type", "instance")
    return [
        {
            "label": other.name,
            "series_url": reverse("api:virtual_object_series", args=[other.pk]),
            "units": other.units,
            "object_type": other.object_type,
            "virtual_object_id": other.pk,
        }
        for other in others[:MAX_CHOICES]
    ]
