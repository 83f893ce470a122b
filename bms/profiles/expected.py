"""A real device's points against the points an EDE file said it has (ExpectedPoint): what is
missing, what differs (name, units, state texts), and what the device has that was not expected.
Discovery and point reads keep BACnetPoint current, so each look compares with the latest."""

from __future__ import annotations

from dataclasses import dataclass

from bms.devices.models import BACnetDevice, BACnetPoint
from bms.profiles.models import ExpectedPoint

MISSING = "missing"
DIFFERENT = "different"
UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class PointCheck:
    object_type: str
    instance: int
    name: str  # the expected name (the found one for an unexpected point)
    status: str  # MISSING, DIFFERENT, UNEXPECTED
    differences: tuple[str, ...] = ()  # "units: expected percent, found no-units"


@dataclass(frozen=True)
class Comparison:
    expected: int  # how many points were expected
    matching: int
    checks: tuple[PointCheck, ...]  # the points that do not match, by type and instance


def compare(device: BACnetDevice) -> Comparison:
    expected = list(device.expected_points.all())
    found = {(p.object_type, p.instance): p for p in device.points.all()}
    checks = [check for row in expected if (check := _check(row, found)) is not None]
    if expected:
        wanted = {(row.object_type, row.instance) for row in expected}
        checks += [_unexpected(p) for key, p in found.items() if key not in wanted]
    checks.sort(key=lambda check: (check.object_type, check.instance))
    matching = len(expected) - sum(check.status != UNEXPECTED for check in checks)
    return Comparison(len(expected), matching, tuple(checks))


def _check(row: ExpectedPoint, found: dict[tuple[str, int], BACnetPoint]) -> PointCheck | None:
    point = found.get((row.object_type, row.instance))
    if point is None:
        return PointCheck(row.object_type, row.instance, row.name, MISSING)
    differences = tuple(_differences(row, point))
    if not differences:
        return None
    return PointCheck(row.object_type, row.instance, row.name, DIFFERENT, differences)


def _differences(row: ExpectedPoint, point: BACnetPoint) -> list[str]:
    """Names always; units and state texts when the file gives them."""
    out = []
    if row.name != point.name:
        out.append(f"name: expected {row.name!r}, found {point.name!r}")
    if row.units and row.units != point.units:
        out.append(f"units: expected {row.units}, found {point.units or 'none'}")
    texts = list(point.state_texts or [])
    if row.state_texts and list(row.state_texts) != texts:
        out.append(f"state texts: expected {row.state_texts}, found {texts}")
    return out


def _unexpected(point: BACnetPoint) -> PointCheck:
    return PointCheck(point.object_type, point.instance, point.name, UNEXPECTED)
