"""A building to simulate as described from outside (a site's database, an EDE file): pure data.

A `ClonedDevice` is what the simulator needs to stand in for one real device: its instance and
name, the quirks that decide which paths a client takes (segmentation, ReadPropertyMultiple,
max APDU) and its points (`ClonedPoint`: type, instance, name, description, units, state texts,
commandable, and the values to replay). Nothing here knows where the description came from:
bms.worker.site_clone reads it from a site's database, clone_ede.py from an EDE file, and
`SimulatedBuilding.from_clone` runs it in place of the generated AHU/zone catalog, on loopback
addresses handed out as for any simulated building (the instances stay the original ones).

Values: a point's `values` are replayed in order, one step per change interval, and looped
(`Replay`), when the point is not commandable and has more than one. A commandable point takes
its last value and keeps what it is commanded (a replay would overwrite an operator's write).
A point without values starts at a default of its type (0.0, inactive, state 1).

Trend logs (`ClonedTrendLog`): a trend-log object of the device that logs one of its analog
points; the clone's log takes a record of that point every trend interval, as the generated
building's do (trendlogs.py). It starts empty: the site's history is replayed as values, not as
records.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bms.bacnet.commanding import (
    MAX_STATE,
    checked_instance,
    coerce_present_value,
    is_cov_increment,
)
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import (
    ANALOG_TYPES,
    BINARY_TYPES,
    POINT_TYPES,
    ObjectRef,
)
from bms.simulator.addresses import device_hosts
from bms.simulator.plan import NORMAL_MAX_APDU, NOT_SEGMENTED, SEGMENTED, DevicePlan

ReplayValue = float | int | str

SEGMENTATIONS = frozenset({SEGMENTED, "segmented-transmit", "segmented-receive", NOT_SEGMENTED})
# The sizes BACnet can say in a request's max-APDU field (clause 20.1.2.5), small to large.
MAX_APDU_SIZES = (50, 128, 206, 480, 1024, 1476)
BINARY_STATES = frozenset({"active", "inactive"})
DEFAULT_VALUES: dict[str, ReplayValue] = {"analog": 0.0, "binary": "inactive", "multi": 1}


class CloneError(ValueError):
    """A description that cannot be simulated; the message names the device and object."""


@dataclass(frozen=True)
class ClonedPoint:
    """One point of a cloned device, as a client would read it."""

    object_type: str  # hyphenated: "analog-input"
    instance: int
    name: str
    description: str = ""
    units: str = ""  # hyphenated ("degrees-celsius"), a number for a unit without a name, or ""
    state_texts: tuple[str, ...] = ()  # multi-state: state 1, 2...; binary: (inactive, active)
    commandable: bool = False
    values: tuple[ReplayValue, ...] = ()  # oldest first; replayed in a loop
    cov_increment: float | None = None  # analog: the original's, when it was read

    def __post_init__(self) -> None:
        if self.object_type not in POINT_TYPES:
            raise CloneError(f"{self.object_type} is not a point type the simulator can serve")
        try:
            checked_instance(self.instance, f"{self.object_type} instance")
        except InvalidValueError as exc:
            raise CloneError(str(exc)) from exc
        if not self.name:
            raise CloneError(f"{self.ref} has no name")
        if self.object_type in BINARY_TYPES and len(self.state_texts) not in (0, 2):
            raise CloneError(f"{self.ref}: a binary object has 2 state texts or none")
        if self.cov_increment is not None and not (
            self.object_type in ANALOG_TYPES and is_cov_increment(self.cov_increment)
        ):
            raise CloneError(f"{self.ref}: cov increment {self.cov_increment!r} is not >= 0")
        wrong = next((value for value in self.values if not self._holds(value)), None)
        if wrong is not None:
            raise CloneError(f"{self.ref} cannot hold the value {wrong!r}")

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.object_type, self.instance)

    @property
    def replayed(self) -> bool:
        return not self.commandable and len(self.values) > 1

    @property
    def start_value(self) -> ReplayValue:
        """What the object holds when the building starts (see the module docstring)."""
        if not self.values:
            return default_value(self.object_type)
        return self.values[-1] if self.commandable else self.values[0]

    @property
    def number_of_states(self) -> int:
        """A multi-state object's states: its texts, else as many as its values need."""
        numbers = [int(value) for value in self.values if isinstance(value, int)]
        return len(self.state_texts) or max([1, *numbers])

    def _holds(self, value: object) -> bool:
        """Whether `value` is a present value of this object as replay_values gives them
        (a cheap check: a site's history is many values)."""
        if isinstance(value, bool):
            return False
        if self.object_type in ANALOG_TYPES:
            return isinstance(value, float | int) and math.isfinite(value)
        if self.object_type in BINARY_TYPES:
            return value in BINARY_STATES
        highest = len(self.state_texts) or MAX_STATE
        return isinstance(value, int) and 1 <= value <= highest


@dataclass(frozen=True)
class ClonedTrendLog:
    """A trend log of a cloned device and the analog point of the same device it logs."""

    instance: int
    name: str
    logged_type: str
    logged_instance: int

    def __post_init__(self) -> None:
        try:
            checked_instance(self.instance, "trend-log instance")
        except InvalidValueError as exc:
            raise CloneError(str(exc)) from exc
        if not self.name:
            raise CloneError(f"trend-log {self.instance} has no name")
        if self.logged_type not in ANALOG_TYPES:
            raise CloneError(f"trend-log {self.instance}: the clone logs analog points only")

    @property
    def logged(self) -> ObjectRef:
        return ObjectRef(self.logged_type, self.logged_instance)


@dataclass(frozen=True)
class ClonedDevice:
    """One device of a cloned building: identity, quirks and points."""

    instance: int
    name: str
    points: tuple[ClonedPoint, ...] = ()
    segmentation: str = SEGMENTED
    supports_rpm: bool = True
    max_apdu: int = NORMAL_MAX_APDU
    description: str = ""
    vendor_id: int | None = None
    vendor_name: str = ""
    model_name: str = ""
    location: str = ""
    trend_logs: tuple[ClonedTrendLog, ...] = ()

    def __post_init__(self) -> None:
        try:
            checked_instance(self.instance, "device instance")
        except InvalidValueError as exc:
            raise CloneError(str(exc)) from exc
        if not self.name:
            raise CloneError(f"device {self.instance} has no name")
        if self.segmentation not in SEGMENTATIONS:
            raise CloneError(
                f"device {self.instance}: segmentation {self.segmentation!r} is not one of "
                + ", ".join(sorted(SEGMENTATIONS))
            )
        if self.max_apdu not in MAX_APDU_SIZES:
            raise CloneError(
                f"device {self.instance}: max APDU {self.max_apdu} is not one of "
                + ", ".join(map(str, MAX_APDU_SIZES))
            )
        _check_unique(
            (point.ref for point in self.points), f"device {self.instance} has {{}} twice"
        )
        _check_unique(
            (log.instance for log in self.trend_logs),
            f"device {self.instance} has trend-log {{}} twice",
        )
        refs = {point.ref for point in self.points}
        for log in self.trend_logs:
            if log.logged not in refs:
                raise CloneError(
                    f"device {self.instance}: trend-log {log.instance} logs {log.logged}, "
                    "which is not one of its points"
                )


def check_building(devices: Sequence[ClonedDevice]) -> None:
    """A building has devices, each instance once."""
    if not devices:
        raise CloneError("the description has no devices to simulate")
    _check_unique((device.instance for device in devices), "device {} is described twice")


def default_value(object_type: str) -> ReplayValue:
    if object_type in ANALOG_TYPES:
        return DEFAULT_VALUES["analog"]
    if object_type in BINARY_TYPES:
        return DEFAULT_VALUES["binary"]
    return DEFAULT_VALUES["multi"]


def replay_values(
    object_type: str, raw: Iterable[object], state_texts: Sequence[str] = ()
) -> tuple[ReplayValue, ...]:
    """The values of `raw` (stored readings, oldest first) a point of `object_type` can hold,
    as it holds them; nulls and values of another type are left out."""
    values: list[ReplayValue] = []
    for value in raw:
        if value is None:
            continue
        try:
            coerced = coerce_present_value(object_type, value, state_texts=state_texts)
        except InvalidValueError:
            continue
        if coerced is not None and not isinstance(coerced, bool):
            values.append(coerced)
    return tuple(values)


def nearest_max_apdu(octets: int | None) -> int:
    """The largest standard max-APDU size not above `octets` (1476 when unknown)."""
    if not octets:
        return NORMAL_MAX_APDU
    return max([MAX_APDU_SIZES[0], *(size for size in MAX_APDU_SIZES if size <= octets)])


class Replay:
    """Steps through a point's values in a loop (the building's value task calls `next`)."""

    def __init__(self, values: Sequence[ReplayValue]) -> None:
        if not values:
            raise ValueError("a replay needs at least one value")
        self._values = tuple(values)
        self._cursor = 0

    def next(self, value: object, rng: random.Random) -> ReplayValue:
        # The object starts at values[0] (ClonedPoint.start_value); each step moves one on.
        self._cursor = (self._cursor + 1) % len(self._values)
        return self._values[self._cursor]


def plan_clone(
    devices: Sequence[ClonedDevice],
    *,
    first_address: str = "127.0.0.2",
    port: int = 47808,
    prefix: int = 8,
    allow_non_loopback: bool = False,
) -> list[DevicePlan]:
    """Plans for the described devices in instance order, on consecutive loopback hosts."""
    check_building(devices)
    ordered = sorted(devices, key=lambda device: device.instance)
    hosts = device_hosts(first_address, len(ordered), prefix, allow_non_loopback=allow_non_loopback)
    return [
        DevicePlan(
            index=index,
            instance=device.instance,
            host=str(host),
            port=port,
            prefix=prefix,
            segmentation=device.segmentation,
            supports_rpm=device.supports_rpm,
            max_apdu_accepted=device.max_apdu,
            device_name=device.name,
        )
        for index, (device, host) in enumerate(zip(ordered, hosts, strict=True))
    ]


def _check_unique(items: Iterable[object], message: str) -> None:
    seen: set[object] = set()
    for item in items:
        if item in seen:
            raise CloneError(message.format(item))
        seen.add(item)
