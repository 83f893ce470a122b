"""A discovered device's points in other shapes: EDE rows, profile objects ("make a virtual device
like this one") and a CSV point list for spreadsheets.

What a point is comes from discovery and the point reads (BACnetPoint); its limits, relinquish
default and alarm settings from the last "read all properties" (BACnetPoint.properties), when one
was made: a property never read is left out rather than guessed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from bms.bacnet import ede, ede_cells
from bms.bacnet.commanding import MAX_INSTANCE, is_cov_increment
from bms.bacnet.types import COMMANDABLE_TYPES, MULTISTATE_TYPES, POINT_TYPES
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.profiles.definitions import ObjectDefinition

CSV_HEADER = [
    "site",
    "device_instance",
    "device_name",
    "object_type",
    "instance",
    "name",
    "description",
    "units",
    "state_texts",
    "commandable",
    "last_value",
    "last_value_at",
]


# ---- EDE


def device_objects(device: BACnetDevice) -> list[ede.EdeObject]:
    """The device row, then one row per point of a standard type, by type and instance."""
    rows = [
        ede.EdeObject(
            device.device_instance,
            device.name or f"Device {device.device_instance}",
            "device",
            device.device_instance,
            description=device.description,
        )
    ]
    return rows + [
        point_object(device, point) for point in device.points.all() if _standard(point.object_type)
    ]


def point_object(device: BACnetDevice, point: BACnetPoint) -> ede.EdeObject:
    props = point.properties or {}
    return ede.EdeObject(
        device_instance=device.device_instance,
        object_name=point_name(point),
        object_type=point.object_type,
        instance=point.instance,
        description=point.description,
        present_value_default=_text(props.get("relinquish-default")),
        min_value=_number(props.get("min-pres-value")),
        max_value=_number(props.get("max-pres-value")),
        commandable=point.commandable,
        supports_cov="cov-increment" in props,
        high_limit=_number(props.get("high-limit")),
        low_limit=_number(props.get("low-limit")),
        state_texts=tuple(str(text) for text in point.state_texts or ()),
        units=_units(point.units),
        notification_class=_instance(props.get("notification-class")),
        cov_increment=_cov_increment(props.get("cov-increment")),
    )


def point_name(point: BACnetPoint) -> str:
    return point.name or f"{point.object_type}_{point.instance}"


def _standard(object_type: str) -> bool:
    try:
        ede_cells.object_type_code(object_type)
    except ValueError:
        return False
    return True


def _units(units: str) -> str:
    """A unit we can number; one a device reported that bacpypes3 does not name is left out."""
    if not units:
        return ""
    try:
        ede_cells.unit_code(units)
    except ValueError:
        return ""
    return units


# ---- profile objects


def point_definitions(device: BACnetDevice) -> list[ObjectDefinition]:
    """The device's analog, binary and multi-state points as profile objects."""
    points = device.points.filter(object_type__in=POINT_TYPES)
    return [point_definition(point) for point in points]


def point_definition(point: BACnetPoint) -> ObjectDefinition:
    props = point.properties or {}
    commandable = point.commandable and point.object_type in COMMANDABLE_TYPES
    default = props.get("relinquish-default") if commandable else point.last_value
    notification_class = _instance(props.get("notification-class"))
    return ObjectDefinition(
        object_type=point.object_type,
        name=point_name(point),
        description=point.description,
        units=_units(point.units),
        default=default if isinstance(default, int | float | str) else None,
        min_value=_number(props.get("min-pres-value")),
        max_value=_number(props.get("max-pres-value")),
        state_texts=_state_texts(point),
        cov_increment=_number(props.get("cov-increment")),
        instance=point.instance,
        commandable=commandable,
        notification_class=notification_class,
        high_limit=_number(props.get("high-limit")) if notification_class is not None else None,
        low_limit=_number(props.get("low-limit")) if notification_class is not None else None,
    )


def _state_texts(point: BACnetPoint) -> tuple[str, ...]:
    """Its state texts; a multi-state point that never told them gets "State 1".. from its
    number-of-states, so a virtual copy can still be commanded."""
    texts = tuple(str(text) for text in point.state_texts or ())
    count = (point.properties or {}).get("number-of-states")
    if not texts and point.object_type in MULTISTATE_TYPES and isinstance(count, int):
        texts = tuple(f"State {n}" for n in range(1, count + 1))
    return texts


# ---- CSV


def csv_rows(points: Iterable[BACnetPoint]) -> Iterator[list[str]]:
    """CSV_HEADER, then one row per point (with its device selected)."""
    yield CSV_HEADER
    for point in points:
        device = point.device
        yield [
            device.site,
            str(device.device_instance),
            _cell(device.name),
            point.object_type,
            str(point.instance),
            _cell(point.name),
            _cell(point.description),
            point.units,
            _cell("|".join(str(text) for text in point.state_texts or ())),
            "yes" if point.commandable else "no",
            _value(point.last_value),
            point.last_value_at.isoformat() if point.last_value_at else "",
        ]


def csv_text(rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) is quoted with '."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _cell(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value)


# ---- property values as read


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _cov_increment(value: Any) -> float | None:
    """A COV increment as read; one the device should not have (below 0) is left out."""
    number = _number(value)
    return number if number is not None and is_cov_increment(number) else None


def _instance(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_INSTANCE else None


def _text(value: Any) -> str:
    if value is None or isinstance(value, list | dict):
        return ""
    return str(value)
