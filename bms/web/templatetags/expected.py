"""The device page's line about its expected points (bms.profiles.expected)."""

from __future__ import annotations

from django import template

from bms.devices.models import BACnetDevice
from bms.profiles.expected import Comparison, compare

register = template.Library()


@register.simple_tag
def expected_points(device: BACnetDevice) -> Comparison:
    """The device's points against its imported EDE file (expected 0: none imported)."""
    return compare(device)
