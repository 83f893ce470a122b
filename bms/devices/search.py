"""Finding devices and points: text search, filters and sorts, as the pages' GET parameters
name them. Every sort is a whitelisted key (a typo or a crafted one falls back to the default),
every filter a plain lookup: what reaches the ORM is never a field name from the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, Q, QuerySet

from bms.devices.models import BACnetDevice, BACnetPoint

if TYPE_CHECKING:  # django-stubs is a development dependency
    from django_stubs_ext import WithAnnotations

DEVICE_SORTS = {
    "instance": ("device_instance",),
    "name": ("name", "device_instance"),
    "address": ("address", "device_instance"),
    "vendor": ("vendor_name", "device_instance"),
    "model": ("model_name", "device_instance"),
    "points": ("point_count", "device_instance"),
    "last_seen": ("last_seen", "device_instance"),
    "state": ("online", "device_instance"),
}
POINT_SORTS = {
    "object": ("object_type", "instance"),
    "name": ("name", "object_type", "instance"),
    "value_at": ("last_value_at", "object_type", "instance"),
    "device": ("device__device_instance", "object_type", "instance"),
}
POINT_TYPES = (
    "analog-input",
    "analog-output",
    "analog-value",
    "binary-input",
    "binary-output",
    "binary-value",
    "multi-state-input",
    "multi-state-output",
    "multi-state-value",
)


class PointCount(TypedDict):
    point_count: int


@dataclass(frozen=True)
class Sort:
    """A sort key from the request, checked: `key` is one of the table's, `descending` its way."""

    key: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str, allowed: dict[str, tuple[str, ...]], default: str) -> Sort:
        descending = text.startswith("-")
        key = text.removeprefix("-")
        return cls(key, descending) if key in allowed else cls(default)

    def fields(self, allowed: dict[str, tuple[str, ...]]) -> list[str]:
        first, *rest = allowed[self.key]
        return [f"-{first}" if self.descending else first, *rest]

    def __str__(self) -> str:
        return f"-{self.key}" if self.descending else self.key


@dataclass(frozen=True)
class DeviceTotals:
    """What the devices page counts above its table: every matching device, not one page."""

    devices: int
    online: int
    points: int


def devices(
    text: str = "", site: str = "", state: str = "", sort: Sort | None = None
) -> QuerySet[WithAnnotations[BACnetDevice, PointCount]]:
    """Devices matching `text` (in name, description, location, vendor, model, address, or the
    instance), of `site`, "online" or "offline", with their point counts, sorted."""
    found = _matching_devices(text, site, state).annotate(point_count=Count("points"))
    sort = sort or Sort("instance")
    return found.order_by("site", *sort.fields(DEVICE_SORTS))


def device_totals(text: str = "", site: str = "", state: str = "") -> DeviceTotals:
    """The devices `devices()` finds with these filters, how many are online and their points,
    counted by the database (two queries, whatever the number of devices)."""
    matching = _matching_devices(text, site, state).order_by()
    counts = matching.aggregate(devices=Count("id"), online=Count("id", filter=Q(online=True)))
    points = BACnetPoint.objects.filter(device__in=matching.values("id")).count()
    return DeviceTotals(devices=counts["devices"], online=counts["online"], points=points)


def _matching_devices(text: str, site: str, state: str) -> QuerySet[BACnetDevice]:
    found = BACnetDevice.objects.all()
    text = _searchable(text)
    if text:
        match = (
            Q(name__icontains=text)
            | Q(description__icontains=text)
            | Q(location__icontains=text)
            | Q(vendor_name__icontains=text)
            | Q(model_name__icontains=text)
            | Q(address__icontains=text)
        )
        if text.isdigit():
            match |= Q(device_instance=int(text))
        found = found.filter(match)
    if site:
        found = found.filter(site=site)
    if state in ("online", "offline"):
        found = found.filter(online=state == "online")
    return found


def points(
    text: str = "",
    object_type: str = "",
    commandable: str = "",
    site: str = "",
    device: BACnetDevice | None = None,
    sort: Sort | None = None,
) -> QuerySet[BACnetPoint]:
    """Points matching `text` in their name or description (across devices unless `device`),
    of one object type, commandable "yes" or "no", of `site`, sorted."""
    found = BACnetPoint.objects.select_related("device")
    text = _searchable(text)
    if text:
        found = found.filter(Q(name__icontains=text) | Q(description__icontains=text))
    if object_type in POINT_TYPES:
        found = found.filter(object_type=object_type)
    if commandable in ("yes", "no"):
        found = found.filter(commandable=commandable == "yes")
    if site:
        found = found.filter(device__site=site)
    if device is not None:
        found = found.filter(device=device)
    sort = sort or Sort("object")
    return found.order_by(*sort.fields(POINT_SORTS), "device_id")


def _searchable(text: str) -> str:
    # PostgreSQL refuses NUL in a string literal: it can match nothing stored anyway.
    return text.replace("\x00", "").strip()[:200]
