"""What a local object is (ObjectSpec) and what it looks like now (ObjectSnapshot).

Plain dataclasses with no bacpypes3 in them: Django builds specs from its rows and stores
snapshots back, the device side turns them into bacpypes3 objects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from bms.bacnet import commanding
from bms.bacnet.commanding import PRIORITY_LEVELS
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local.alarm_spec import AlarmSpec
from bms.bacnet.types import (
    ANALOG_TYPES,
    BINARY_TYPES,
    COMMANDABLE_TYPES,
    INPUT_TYPES,
    MULTISTATE_TYPES,
    POINT_TYPES,
    SHORT_NAMES,
    VALUE_TYPES,
    ObjectRef,
    PresentValue,
)


def virtual_object_name(device_id: int | str, name: str) -> str:
    """The BACnet object name of point `name` of virtual device `device_id`."""
    if not str(name).strip():
        raise InvalidValueError("a virtual object needs a name")
    return f"Virtual_{device_id}_{name}"


def normalize_object_type(object_type: str) -> str:
    """ "AO" / "analog-output" / "analogOutput" -> "analog-output", or InvalidValueError."""
    text = object_type.strip()
    kind = SHORT_NAMES.get(text.upper(), text)
    if kind not in POINT_TYPES:
        kind = _camel_to_hyphen(kind)
    if kind not in POINT_TYPES:
        raise InvalidValueError(f"unsupported object type {object_type!r}")
    return kind


def served_commandable(object_type: str, asked: bool | None) -> bool:
    """Whether an object of this type is served with a priority array when `asked` (None: as
    its type). BACnet leaves it to the device for a value object only: an output is always
    commandable, whatever a profile or EDE file says, and an input never is."""
    if asked is None or object_type not in VALUE_TYPES:
        return object_type in COMMANDABLE_TYPES
    return asked


def _camel_to_hyphen(text: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in text).lstrip("-")


@dataclass(frozen=True)
class ObjectSpec:
    """One local point: its identity, limits and (restored) state.

    `present_value` is the initial value of an input; for a commandable object it is the
    default for `relinquish_default`. `priority_array` is empty or 16 entries (None = relinquished)
    persisted from an earlier run.
    """

    object_type: str
    instance: int
    name: str
    description: str = ""
    units: str | None = None
    present_value: PresentValue = None
    min_value: float | None = None
    max_value: float | None = None
    state_texts: tuple[str, ...] = ()
    active_text: str = "active"
    inactive_text: str = "inactive"
    relinquish_default: PresentValue = None
    cov_increment: float | None = None
    out_of_service: bool = False
    priority_array: tuple[PresentValue, ...] = ()
    alarm: AlarmSpec | None = None  # intrinsic reporting (alarm_spec), None: none
    commandable: bool | None = None  # None: as its type (served_commandable)

    def __post_init__(self) -> None:
        object.__setattr__(self, "object_type", normalize_object_type(self.object_type))
        object.__setattr__(
            self, "commandable", served_commandable(self.object_type, self.commandable)
        )
        object.__setattr__(self, "state_texts", tuple(self.state_texts))
        object.__setattr__(self, "priority_array", tuple(self.priority_array))
        commanding.checked_instance(self.instance)
        if not self.name:
            raise InvalidValueError("an object needs a name")
        self._check_limits()
        if self.priority_array and len(self.priority_array) != PRIORITY_LEVELS:
            raise InvalidValueError(f"priority_array needs {PRIORITY_LEVELS} entries")
        if self.priority_array and not self.commandable:
            raise InvalidValueError(f"{self.object_type} has no priority array")

    def _check_limits(self) -> None:
        # Our own multi-state objects say how many states they have: a peer cannot be told
        # "any state" the way we accept it for a remote point whose states we do not know.
        if self.kind == "multistate" and not self.state_texts:
            raise InvalidValueError(f"{self.ref}: a multi-state object needs state_texts")
        try:
            commanding.check_limits(self.min_value, self.max_value)
            commanding.check_cov_increment(self.cov_increment)
            if self.alarm is not None:
                object.__setattr__(
                    self, "alarm", self.alarm.for_object(self.object_type, self.state_texts)
                )
        except InvalidValueError as exc:
            raise InvalidValueError(f"{self.ref}: {exc}") from exc

    def with_checked_values(self) -> ObjectSpec:
        """This spec with its present value, relinquish default and priority array read with
        bms.bacnet.commanding's vocabulary ("on" -> "active"), or InvalidValueError naming the
        first value no peer could write (outside the limits, not one of the states)."""
        try:
            return dataclasses.replace(
                self,
                present_value=self._checked(self.present_value),
                relinquish_default=self._checked(self.relinquish_default),
                priority_array=tuple(self._checked(value) for value in self.priority_array),
            )
        except InvalidValueError as exc:
            raise InvalidValueError(f"{self.ref}: {exc}") from exc

    def _checked(self, value: PresentValue) -> PresentValue:
        if value is None:
            return None
        return commanding.coerce_present_value(
            self.object_type,
            value,
            min_value=self.min_value,
            max_value=self.max_value,
            state_texts=self.state_texts,
            name=self.name,
        )

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.object_type, self.instance)

    @property
    def kind(self) -> str:
        """ "analog", "binary" or "multistate"."""
        if self.object_type in ANALOG_TYPES:
            return "analog"
        if self.object_type in BINARY_TYPES:
            return "binary"
        assert self.object_type in MULTISTATE_TYPES
        return "multistate"

    @property
    def is_input(self) -> bool:
        return self.object_type in INPUT_TYPES


@dataclass(frozen=True)
class ObjectSnapshot:
    """The live state of one local object."""

    ref: ObjectRef
    name: str
    present_value: PresentValue
    out_of_service: bool
    status_flags: tuple[bool, bool, bool, bool]  # in-alarm, fault, overridden, out-of-service
    # Commandable objects only: 16 entries (None = relinquished), the default and the winner.
    priority_array: tuple[PresentValue, ...] = field(default_factory=tuple)
    relinquish_default: PresentValue = None
    active_priority: int | None = None
