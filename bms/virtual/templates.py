"""Virtual device templates as data (seed 004's object templates, plus two more).

Object types and units use BACnet's hyphenated names like the rest of the code ("analog-input",
"degrees-celsius"; seed 004 wrote analogInput/degreesCelsius). Binary defaults use our value
convention "inactive"/"active" (seed 004's 0/1), with state_texts = [inactive text, active text].
Multi-state values count from 1, so default 1 is the first state text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bms.bacnet.types import PresentValue

DEFAULT_NOTIFICATION_CLASS = 1  # created with the first device whose template alarms


@dataclass(frozen=True)
class ObjectTemplate:
    object_type: str
    name: str
    description: str = ""
    units: str = ""
    default: PresentValue = None
    min_value: float | None = None
    max_value: float | None = None
    state_texts: tuple[str, ...] = ()
    cov_increment: float | None = None
    # VirtualObject alarm columns (notification_class, high_limit, ...), None: no alarms.
    alarm: dict[str, Any] | None = None


@dataclass(frozen=True)
class DeviceTemplate:
    key: str
    description: str
    objects: tuple[ObjectTemplate, ...]


class UnknownTemplate(ValueError):
    pass


_OFF_ON = ("Off", "On")

TEMPLATES: dict[str, DeviceTemplate] = {
    t.key: t
    for t in (
        DeviceTemplate(
            "temperature_sensor",
            "Temperature and humidity monitoring device",
            (
                ObjectTemplate(
                    "analog-input",
                    "Temperature",
                    "Room temperature reading",
                    "degrees-celsius",
                    22.0,
                    -10.0,
                    50.0,
                    cov_increment=0.1,
                    alarm={
                        "notification_class": DEFAULT_NOTIFICATION_CLASS,
                        "high_limit": 30.0,
                        "low_limit": 15.0,
                        "deadband": 0.5,
                        "time_delay": 60,
                    },
                ),
                ObjectTemplate(
                    "analog-input",
                    "Humidity",
                    "Relative humidity reading",
                    "percent",
                    45.0,
                    0.0,
                    100.0,
                    cov_increment=1.0,
                ),
            ),
        ),
        DeviceTemplate(
            "hvac_controller",
            "HVAC system controller with setpoints and fan control",
            (
                ObjectTemplate(
                    "analog-output",
                    "Temperature_Setpoint",
                    "Temperature setpoint control",
                    "degrees-celsius",
                    24.0,
                    18.0,
                    28.0,
                    cov_increment=0.1,
                ),
                ObjectTemplate(
                    "binary-output",
                    "Fan_Control",
                    "Fan on/off control",
                    default="inactive",
                    state_texts=_OFF_ON,
                ),
            ),
        ),
        DeviceTemplate(
            "lighting_controller",
            "Lighting zone with on/off control and scenes",
            (
                ObjectTemplate(
                    "binary-output",
                    "Lights",
                    "Lights on/off",
                    default="inactive",
                    state_texts=_OFF_ON,
                ),
                ObjectTemplate(
                    "multi-state-value",
                    "Scene",
                    "Lighting scene",
                    default=1,
                    state_texts=("Off", "Low", "Medium", "High", "Scene"),
                ),
            ),
        ),
        DeviceTemplate(
            "air_handling_unit",
            "Air handling unit: air temperatures, damper, valve, setpoint, enable and mode",
            (
                ObjectTemplate(
                    "analog-input",
                    "Supply_Air_Temperature",
                    "Supply air temperature",
                    "degrees-celsius",
                    14.0,
                    -20.0,
                    60.0,
                    cov_increment=0.1,
                ),
                ObjectTemplate(
                    "analog-input",
                    "Return_Air_Temperature",
                    "Return air temperature",
                    "degrees-celsius",
                    22.0,
                    -20.0,
                    60.0,
                    cov_increment=0.1,
                ),
                ObjectTemplate(
                    "analog-output",
                    "Damper_Position",
                    "Outside air damper",
                    "percent",
                    0.0,
                    0.0,
                    100.0,
                    cov_increment=1.0,
                ),
                ObjectTemplate(
                    "analog-output",
                    "Valve_Position",
                    "Heating/cooling valve",
                    "percent",
                    0.0,
                    0.0,
                    100.0,
                    cov_increment=1.0,
                ),
                ObjectTemplate(
                    "analog-value",
                    "Supply_Air_Setpoint",
                    "Supply air setpoint",
                    "degrees-celsius",
                    14.0,
                    10.0,
                    25.0,
                    cov_increment=0.1,
                ),
                ObjectTemplate(
                    "binary-value",
                    "Enable",
                    "Unit enable",
                    default="inactive",
                    state_texts=("Disabled", "Enabled"),
                ),
                ObjectTemplate(
                    "multi-state-value",
                    "Mode",
                    "Operating mode",
                    default=1,
                    state_texts=("Off", "Heating", "Cooling", "Ventilation", "Auto"),
                ),
            ),
        ),
    )
}


def get_template(key: str) -> DeviceTemplate:
    try:
        return TEMPLATES[key]
    except KeyError:
        known = ", ".join(sorted(TEMPLATES))
        raise UnknownTemplate(f"unknown template {key!r}; known templates: {known}") from None
