"""What a simulated device contains: one air-handling unit and the zones it serves (pure data).

A device with M objects gets the AHU points first, then zone points for zone 1, 2, ... until it
has M. Names, units and descriptions look like a real site so the UI and tests see realistic
data; analog inputs carry the bounds of the random walk that keeps them moving.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bms.bacnet.types import ObjectRef


@dataclass(frozen=True)
class Walk:
    """A bounded random walk: each step moves at most `step`, never outside [low, high]."""

    low: float
    high: float
    step: float

    def next(self, value: float, rng: random.Random) -> float:
        moved = value + rng.uniform(-self.step, self.step)
        return round(min(self.high, max(self.low, moved)), 2)

    def start(self, rng: random.Random) -> float:
        # Start near the middle so a fresh building does not sit at its limits.
        middle = (self.low + self.high) / 2
        spread = (self.high - self.low) / 6
        return round(rng.uniform(middle - spread, middle + spread), 2)


@dataclass(frozen=True)
class PointTemplate:
    """One kind of point; `name` may contain "{zone}"."""

    object_type: str
    name: str
    description: str
    units: str | None = None
    initial: float | int | str = 0
    walk: Walk | None = None
    states: tuple[str, ...] = ()
    commandable: bool = False


@dataclass(frozen=True)
class PointSpec:
    """One concrete point of one device: a template, its identifier and its name."""

    ref: ObjectRef
    template: PointTemplate
    name: str
    description: str


AHU_POINTS: tuple[PointTemplate, ...] = (
    PointTemplate(
        "analog-input",
        "AHU Supply Air Temperature",
        "Supply air temperature after the cooling coil",
        "degreesCelsius",
        walk=Walk(10.0, 18.0, 0.3),
    ),
    PointTemplate(
        "analog-input",
        "AHU Return Air Temperature",
        "Mixed return air temperature from all zones",
        "degreesCelsius",
        walk=Walk(19.0, 26.0, 0.2),
    ),
    PointTemplate(
        "analog-input",
        "Outside Air Temperature",
        "Outside air temperature, north facade sensor",
        "degreesCelsius",
        walk=Walk(-5.0, 30.0, 0.4),
    ),
    PointTemplate(
        "analog-input",
        "AHU Duct Static Pressure",
        "Supply duct static pressure, two-thirds down the main duct",
        "pascals",
        walk=Walk(150.0, 400.0, 10.0),
    ),
    PointTemplate(
        "binary-input",
        "AHU Supply Fan Status",
        "Supply fan proven running (current switch)",
        initial="active",
    ),
    PointTemplate(
        "binary-output",
        "AHU Supply Fan Command",
        "Supply fan start/stop command",
        initial="active",
        commandable=True,
    ),
    PointTemplate(
        "analog-value",
        "AHU Supply Air Temperature Setpoint",
        "Supply air temperature setpoint",
        "degreesCelsius",
        initial=13.0,
        commandable=True,
    ),
    PointTemplate(
        "multi-state-input",
        "AHU Filter Status",
        "Filter differential pressure state",
        initial=1,
        states=("Clean", "Dirty", "Replace"),
    ),
    PointTemplate(
        "multi-state-output",
        "AHU Supply Fan Speed",
        "Supply fan speed stage",
        initial=3,
        states=("Off", "Low", "Medium", "High"),
        commandable=True,
    ),
    PointTemplate(
        "binary-value",
        "Night Setback Enable",
        "Allow the night setback schedule to lower zone setpoints",
        initial="inactive",
        commandable=True,
    ),
)

ZONE_POINTS: tuple[PointTemplate, ...] = (
    PointTemplate(
        "analog-input",
        "Zone {zone} Temperature",
        "Zone {zone} space temperature",
        "degreesCelsius",
        walk=Walk(18.0, 26.0, 0.2),
    ),
    PointTemplate(
        "analog-input",
        "Zone {zone} Humidity",
        "Zone {zone} relative humidity",
        "percentRelativeHumidity",
        walk=Walk(30.0, 65.0, 1.0),
    ),
    PointTemplate(
        "analog-value",
        "Zone {zone} Temperature Setpoint",
        "Zone {zone} occupied temperature setpoint",
        "degreesCelsius",
        initial=21.0,
        commandable=True,
    ),
    PointTemplate(
        "analog-output",
        "Zone {zone} Damper Position",
        "Zone {zone} VAV damper position command",
        "percent",
        initial=40.0,
        commandable=True,
    ),
    PointTemplate(
        "analog-input",
        "Zone {zone} CO2",
        "Zone {zone} carbon dioxide concentration",
        "partsPerMillion",
        walk=Walk(400.0, 1200.0, 20.0),
    ),
    PointTemplate(
        "binary-input",
        "Zone {zone} Occupancy Sensor",
        "Zone {zone} presence detector",
        initial="inactive",
    ),
    PointTemplate(
        "multi-state-value",
        "Zone {zone} Occupancy Mode",
        "Zone {zone} occupancy mode",
        initial=1,
        states=("Occupied", "Unoccupied", "Standby"),
        commandable=True,
    ),
    PointTemplate(
        "analog-output",
        "Zone {zone} Reheat Valve",
        "Zone {zone} reheat valve position command",
        "percent",
        initial=0.0,
        commandable=True,
    ),
)


def device_points(count: int) -> list[PointSpec]:
    """The first `count` points of a device: AHU points, then zones 1, 2, ..."""
    specs: list[PointSpec] = []
    next_instance: dict[str, int] = {}
    for position in range(count):
        template, zone = _template_at(position)
        instance = next_instance.get(template.object_type, 1)
        next_instance[template.object_type] = instance + 1
        ref = ObjectRef(template.object_type, instance)
        name = template.name.format(zone=zone)
        specs.append(PointSpec(ref, template, name, template.description.format(zone=zone)))
    return specs


def _template_at(position: int) -> tuple[PointTemplate, int]:
    if position < len(AHU_POINTS):
        return AHU_POINTS[position], 0
    zone_index, offset = divmod(position - len(AHU_POINTS), len(ZONE_POINTS))
    return ZONE_POINTS[offset], zone_index + 1
