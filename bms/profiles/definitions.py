"""One object of a profile as plain data, and its check: the object is described as device 8888
would serve it (bms.bacnet.local.ObjectSpec, with bms.bacnet.commanding's value rules), so a
profile holds nothing a virtual device built from it would refuse."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bms.bacnet.ede_cells import unit_code
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local import ObjectSpec
from bms.bacnet.local.alarm_spec import AlarmSpec
from bms.bacnet.local.spec import normalize_object_type
from bms.bacnet.types import BINARY_TYPES, COMMANDABLE_TYPES, PresentValue

NAME_LENGTH = 200
ALARM_FIELDS = ("notification_class", "high_limit", "low_limit", "deadband", "time_delay")
# ProfileObject.time_delay (and VirtualObject's) is an integer column on PostgreSQL: a longer
# delay, which BACnet's Unsigned would allow, could not be stored.
MAX_STORED_TIME_DELAY = 2**31 - 1


@dataclass(frozen=True)
class ObjectDefinition:
    """What a profile says about one object. `instance` None: the next free one of its type in
    the profile; `commandable` None: as its type (outputs and values are)."""

    object_type: str
    name: str
    description: str = ""
    units: str = ""
    default: PresentValue = None
    min_value: float | None = None
    max_value: float | None = None
    state_texts: tuple[str, ...] = ()
    cov_increment: float | None = None
    instance: int | None = None
    commandable: bool | None = None
    notification_class: int | None = None
    high_limit: float | None = None
    low_limit: float | None = None
    deadband: float = 0.0
    time_delay: int = 0
    trend_log: bool = False

    @property
    def alarm(self) -> dict[str, Any] | None:
        """The VirtualObject alarm columns, or None without a notification class."""
        if self.notification_class is None:
            return None
        return {name: getattr(self, name) for name in ALARM_FIELDS}


FIELDS = tuple(f.name for f in dataclasses.fields(ObjectDefinition))


def checked(definition: ObjectDefinition) -> ObjectDefinition:
    """The definition with its type and default normalised ("AO" -> "analog-output", "on" ->
    "active") and `commandable` decided, or InvalidValueError with what is wrong."""
    kind = normalize_object_type(definition.object_type)
    name = definition.name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidValueError(f"an object needs a name of 1..{NAME_LENGTH} characters")
    commandable = _commandable(kind, definition.commandable, name)
    _check_units(definition.units, name)
    _check_alarm_settings(definition, name)
    spec = _spec(dataclasses.replace(definition, object_type=kind, name=name), commandable)
    return dataclasses.replace(
        definition,
        object_type=kind,
        name=name,
        default=spec.present_value,
        state_texts=tuple(definition.state_texts),
        commandable=commandable,
    )


def _commandable(kind: str, asked: bool | None, name: str) -> bool:
    if asked is None:
        return kind in COMMANDABLE_TYPES
    if asked and kind not in COMMANDABLE_TYPES:
        raise InvalidValueError(f"{name}: {kind} objects cannot be commandable")
    return asked


def _check_units(units: str, name: str) -> None:
    if units:
        try:
            unit_code(units)
        except ValueError as exc:
            raise InvalidValueError(f"{name}: {exc}") from exc


def _check_alarm_settings(definition: ObjectDefinition, name: str) -> None:
    """What is stored even without a notification class (AlarmSpec checks them with one)."""
    if not definition.deadband >= 0:
        raise InvalidValueError(f"{name}: the deadband must be 0 or more")
    delay = definition.time_delay
    if isinstance(delay, bool) or not isinstance(delay, int):
        raise InvalidValueError(f"{name}: the time delay must be a whole number of seconds")
    if not 0 <= delay <= MAX_STORED_TIME_DELAY:
        raise InvalidValueError(
            f"{name}: the time delay must be from 0 to {MAX_STORED_TIME_DELAY} seconds"
        )


def _spec(definition: ObjectDefinition, commandable: bool) -> ObjectSpec:
    """The object as device 8888 would serve it (instance 1 when the profile leaves it open)."""
    texts = tuple(definition.state_texts)
    binary = definition.object_type in BINARY_TYPES
    if binary and len(texts) not in (0, 2):
        raise InvalidValueError(
            f"{definition.name}: a binary object has two state texts (inactive, active)"
        )
    extra: dict[str, Any] = {"inactive_text": texts[0], "active_text": texts[1]} if texts else {}
    return ObjectSpec(
        object_type=definition.object_type,
        instance=1 if definition.instance is None else definition.instance,
        name=definition.name,
        description=definition.description,
        units=definition.units or None,
        present_value=definition.default,
        min_value=definition.min_value,
        max_value=definition.max_value,
        state_texts=() if binary else texts,
        relinquish_default=definition.default if commandable else None,
        cov_increment=definition.cov_increment,
        alarm=_alarm(definition),
        **(extra if binary else {}),
    ).with_checked_values()


def _alarm(definition: ObjectDefinition) -> AlarmSpec | None:
    if definition.notification_class is None:
        return None
    return AlarmSpec(
        notification_class=definition.notification_class,
        high_limit=definition.high_limit,
        low_limit=definition.low_limit,
        deadband=definition.deadband,
        time_delay=definition.time_delay,
    )


def of_row(row: Any) -> ObjectDefinition:
    """A ProfileObject row (or anything with the same attributes) as a definition."""
    values = {name: getattr(row, name) for name in FIELDS}
    values["state_texts"] = tuple(values["state_texts"] or ())
    return ObjectDefinition(**values)


def row_fields(definition: ObjectDefinition) -> dict[str, Any]:
    """The ProfileObject columns of a checked definition with its instance decided."""
    values = dataclasses.asdict(definition)
    values["state_texts"] = list(definition.state_texts)
    return values
