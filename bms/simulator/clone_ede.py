"""An EDE export described for the simulator (`--from-ede FILE [--ede-states FILE]`).

Every device instance in the file becomes a simulated device: its device row (object type
device, if the file has one) gives its name and description, its analog, binary and
multi-state rows its points with their names, descriptions, units, state texts and commandable
flag, starting at the row's present-value-default. Rows of other object types (trend logs,
schedules, ...) are not served by the simulator and are left out. An EDE file says nothing of
segmentation, ReadPropertyMultiple or APDU sizes: the devices are well-behaved ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bms.bacnet.ede import EdeError, EdeObject, parse_ede
from bms.bacnet.types import POINT_TYPES
from bms.simulator.clone import ClonedDevice, ClonedPoint, CloneError, replay_values


def load_ede(main: Path, state_texts: Path | None = None) -> tuple[ClonedDevice, ...]:
    """The devices of an EDE main file (and its state-text file); EdeError naming the line."""
    try:
        main_bytes = main.read_bytes()
        texts_bytes = state_texts.read_bytes() if state_texts is not None else None
    except OSError as exc:
        raise CloneError(f"cannot read the EDE file: {exc}") from exc
    return clone_from_ede(parse_ede(main_bytes, texts_bytes))


def clone_from_ede(objects: Sequence[EdeObject]) -> tuple[ClonedDevice, ...]:
    """The described devices, in instance order."""
    rows: dict[int, list[EdeObject]] = {}
    for obj in objects:
        rows.setdefault(obj.device_instance, []).append(obj)
    if not rows:
        raise CloneError("the EDE file lists no objects")
    return tuple(_device(instance, rows[instance]) for instance in sorted(rows))


def _device(instance: int, rows: list[EdeObject]) -> ClonedDevice:
    own = next(
        (row for row in rows if row.object_type == "device" and row.instance == instance), None
    )
    points = tuple(_point(row) for row in rows if row.object_type in POINT_TYPES)
    try:
        return ClonedDevice(
            instance=instance,
            name=own.object_name if own is not None else f"Device {instance}",
            description=own.description if own is not None else "",
            points=points,
        )
    except CloneError as exc:
        raise EdeError(rows[0].line, str(exc)) from exc


def _point(row: EdeObject) -> ClonedPoint:
    default = [row.present_value_default] if row.present_value_default else []
    try:
        return ClonedPoint(
            object_type=row.object_type,
            instance=row.instance,
            name=row.object_name,
            description=row.description,
            units=row.units,
            state_texts=row.state_texts,
            commandable=row.commandable,
            values=replay_values(row.object_type, default, row.state_texts),
        )
    except CloneError as exc:
        raise EdeError(row.line, str(exc)) from exc
