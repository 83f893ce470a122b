"""The four built-in device profiles (seed 004's object templates, plus two more), as data to
seed the database with (migration 0002, and again whenever one is missing: a test database
flushed between tests loses seeded rows).

Object types and units use BACnet's hyphenated names like the rest of the code ("analog-input",
"degrees-celsius"; seed 004 wrote analogInput/degreesCelsius). Binary defaults use our value
convention "inactive"/"active" (seed 004's 0/1), with state_texts = [inactive text, active text].
Multi-state values count from 1, so default 1 is the first state text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, transaction

from bms.profiles.definitions import ObjectDefinition, checked, row_fields

DEFAULT_NOTIFICATION_CLASS = 1  # created with the first device whose profile alarms


@dataclass(frozen=True)
class BuiltIn:
    name: str
    description: str
    objects: tuple[ObjectDefinition, ...]


_OFF_ON = ("Off", "On")

BUILT_IN: tuple[BuiltIn, ...] = (
    BuiltIn(
        "temperature_sensor",
        "Temperature and humidity monitoring device",
        (
            ObjectDefinition(
                "analog-input",
                "Temperature",
                "Room temperature reading",
                "degrees-celsius",
                22.0,
                -10.0,
                50.0,
                cov_increment=0.1,
                notification_class=DEFAULT_NOTIFICATION_CLASS,
                high_limit=30.0,
                low_limit=15.0,
                deadband=0.5,
                time_delay=60,
            ),
            ObjectDefinition(
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
    BuiltIn(
        "hvac_controller",
        "HVAC system controller with setpoints and fan control",
        (
            ObjectDefinition(
                "analog-output",
                "Temperature_Setpoint",
                "Temperature setpoint control",
                "degrees-celsius",
                24.0,
                18.0,
                28.0,
                cov_increment=0.1,
            ),
            ObjectDefinition(
                "binary-output",
                "Fan_Control",
                "Fan on/off control",
                default="inactive",
                state_texts=_OFF_ON,
            ),
        ),
    ),
    BuiltIn(
        "lighting_controller",
        "Lighting zone with on/off control and scenes",
        (
            ObjectDefinition(
                "binary-output",
                "Lights",
                "Lights on/off",
                default="inactive",
                state_texts=_OFF_ON,
            ),
            ObjectDefinition(
                "multi-state-value",
                "Scene",
                "Lighting scene",
                default=1,
                state_texts=("Off", "Low", "Medium", "High", "Scene"),
            ),
        ),
    ),
    BuiltIn(
        "air_handling_unit",
        "Air handling unit: air temperatures, damper, valve, setpoint, enable and mode",
        (
            ObjectDefinition(
                "analog-input",
                "Supply_Air_Temperature",
                "Supply air temperature",
                "degrees-celsius",
                14.0,
                -20.0,
                60.0,
                cov_increment=0.1,
            ),
            ObjectDefinition(
                "analog-input",
                "Return_Air_Temperature",
                "Return air temperature",
                "degrees-celsius",
                22.0,
                -20.0,
                60.0,
                cov_increment=0.1,
            ),
            ObjectDefinition(
                "analog-output",
                "Damper_Position",
                "Outside air damper",
                "percent",
                0.0,
                0.0,
                100.0,
                cov_increment=1.0,
            ),
            ObjectDefinition(
                "analog-output",
                "Valve_Position",
                "Heating/cooling valve",
                "percent",
                0.0,
                0.0,
                100.0,
                cov_increment=1.0,
            ),
            ObjectDefinition(
                "analog-value",
                "Supply_Air_Setpoint",
                "Supply air setpoint",
                "degrees-celsius",
                14.0,
                10.0,
                25.0,
                cov_increment=0.1,
            ),
            ObjectDefinition(
                "binary-value",
                "Enable",
                "Unit enable",
                default="inactive",
                state_texts=("Disabled", "Enabled"),
            ),
            ObjectDefinition(
                "multi-state-value",
                "Mode",
                "Operating mode",
                default=1,
                state_texts=("Off", "Heating", "Cooling", "Ventilation", "Auto"),
            ),
        ),
    ),
)


NAMES = frozenset(profile.name for profile in BUILT_IN)


def seed(profile_model: Any, object_model: Any) -> int:
    """Create the built-in profiles that are missing (by name); returns how many. Takes the
    model classes so the data migration can pass its historical ones."""
    present = set(profile_model.objects.filter(name__in=NAMES).values_list("name", flat=True))
    missing = [profile for profile in BUILT_IN if profile.name not in present]
    return sum(_seeded(built_in, profile_model, object_model) for built_in in missing)


def _seeded(built_in: BuiltIn, profile_model: Any, object_model: Any) -> bool:
    try:
        with transaction.atomic():
            profile = profile_model.objects.create(
                name=built_in.name, description=built_in.description, built_in=True
            )
            object_model.objects.bulk_create(
                object_model(profile=profile, **row_fields(definition))
                for definition in numbered(built_in.objects)
            )
    except IntegrityError:  # seeded at the same time by another request
        return False
    return True


def numbered(objects: tuple[ObjectDefinition, ...]) -> list[ObjectDefinition]:
    """The objects with instances 1, 2, ... per object type, in their order, and commandable
    as their type."""
    counts: dict[str, int] = {}
    out: list[ObjectDefinition] = []
    for definition in objects:
        counts[definition.object_type] = counts.get(definition.object_type, 0) + 1
        out.append(checked(replace(definition, instance=counts[definition.object_type])))
    return out
