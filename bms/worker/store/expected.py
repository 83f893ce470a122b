"""How a read device's points compare with the points an EDE file said it has (issue 17), for
the results of read_points and collect: bms.profiles.expected's comparison, counted."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch

from bms.devices.models import BACnetDevice, BACnetPoint
from bms.profiles.expected import DIFFERENT, MISSING, UNEXPECTED, Comparison, compare
from bms.profiles.models import ExpectedPoint

# What the comparison looks at: the rest of a point (its properties) need not be loaded.
_COMPARED = ("device_id", "object_type", "instance", "name", "units", "state_texts")


def expected_point_counts(device_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """{device instance: counts} for the given devices that have expected points; three
    queries whatever their number (the devices, their expected points, their points)."""
    with_expected = ExpectedPoint.objects.filter(device_id__in=list(device_ids))
    devices = BACnetDevice.objects.filter(
        pk__in=with_expected.values("device_id")
    ).prefetch_related("expected_points", Prefetch("points", BACnetPoint.objects.only(*_COMPARED)))
    return {device.device_instance: counted(compare(device)) for device in devices}


def counted(comparison: Comparison) -> dict[str, int]:
    statuses = [check.status for check in comparison.checks]
    return {
        "expected": comparison.expected,
        "matching": comparison.matching,
        "missing": statuses.count(MISSING),
        "different": statuses.count(DIFFERENT),
        "unexpected": statuses.count(UNEXPECTED),
    }
