"""The bacpypes3 side of a cloned device: its point objects and its device identity.

Each cloned point becomes a freshly built local object of the simulator's classes
(objects.OBJECT_CLASSES), with only the optional properties the original had: a point without
a description, units or state texts reads back without them, as it did on the site. Points are
built one by one (~0.7 ms each; a site, not a 1,000-device benchmark, is what gets cloned).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bacpypes3.local.cmd import Commandable

from bms.bacnet.config import EngineConfig
from bms.bacnet.local.trendlog import LocalTrendLogObject, TrendLogSpec
from bms.bacnet.read_range import MemoryRecords
from bms.bacnet.types import ANALOG_TYPES, BINARY_TYPES, ObjectRef
from bms.simulator.clone import ClonedDevice, ClonedPoint, Replay
from bms.simulator.objects import EMPTY_SLOT, NORMAL_STATUS, OBJECT_CLASSES
from bms.simulator.plan import DevicePlan
from bms.simulator.trendlogs import SimulatedTrendLog

SIMULATOR_VENDOR = "BMS open source (simulator)"
COV_INCREMENT = 0.1  # as the generated building's analog objects, when the original's is unknown


@dataclass(frozen=True, eq=False)
class ClonedObjects:
    """A cloned device's point objects, and the replays that move some of them."""

    objects: list[Any]
    replays: list[tuple[Any, Replay]]


def cloned_objects(device: ClonedDevice) -> ClonedObjects:
    objects: list[Any] = []
    replays: list[tuple[Any, Replay]] = []
    for point in device.points:
        obj = cloned_object(point)
        objects.append(obj)
        if point.replayed:
            replays.append((obj, Replay(point.values)))
    return ClonedObjects(objects, replays)


def cloned_trend_logs(
    device: ClonedDevice,
    built: ClonedObjects,
    records: MemoryRecords,
    *,
    interval: float,
    buffer_size: int,
) -> list[SimulatedTrendLog]:
    """The device's trend logs, each logging its point's object among `built`."""
    by_ref = {
        ObjectRef(point.object_type, point.instance): obj
        for point, obj in zip(device.points, built.objects, strict=True)
    }
    return [
        SimulatedTrendLog(
            LocalTrendLogObject(
                TrendLogSpec(
                    instance=log.instance,
                    name=log.name,
                    logged=log.logged,
                    log_interval=max(1, round(interval)),
                    buffer_size=buffer_size,
                ),
                device.instance,
                records,
            ),
            by_ref[log.logged],
        )
        for log in device.trend_logs
    ]


def cloned_object(point: ClonedPoint) -> Any:
    """A bacpypes3 local object that reads back as `point` did."""
    object_class = _object_class(point)
    properties: dict[str, Any] = {
        "objectIdentifier": (point.object_type, point.instance),
        "objectName": point.name,
        "presentValue": point.start_value,
        "statusFlags": NORMAL_STATUS,
        "eventState": "normal",
        "outOfService": False,
    }
    if point.description:
        properties["description"] = point.description
    properties.update(_kind_properties(point))
    if issubclass(object_class, Commandable):
        properties["priorityArray"] = [EMPTY_SLOT] * 16
    return object_class(**properties)


def clone_config(plan: DevicePlan, device: ClonedDevice) -> EngineConfig:
    """The device object of the clone: the original's identity and quirks, on `plan`'s address."""
    identity: dict[str, Any] = {} if device.vendor_id is None else {"vendor_id": device.vendor_id}
    return EngineConfig(
        address=plan.bind_address,
        device_instance=device.instance,
        device_name=device.name,
        vendor_name=device.vendor_name or SIMULATOR_VENDOR,
        model_name=device.model_name or "Simulated clone",
        description=device.description,
        location=device.location,
        max_apdu=device.max_apdu,
        segmentation=device.segmentation,
        support_rpm=device.supports_rpm,
        **identity,
    )


def _object_class(point: ClonedPoint) -> type:
    # Outputs always have a priority array and inputs never do: where the description says
    # otherwise, the object type wins over the flag.
    wanted = (point.object_type, point.commandable)
    return OBJECT_CLASSES.get(wanted) or OBJECT_CLASSES[(point.object_type, not point.commandable)]


def _kind_properties(point: ClonedPoint) -> dict[str, Any]:
    kind = point.object_type
    if kind in ANALOG_TYPES:
        increment = COV_INCREMENT if point.cov_increment is None else point.cov_increment
        extra: dict[str, Any] = {"covIncrement": increment}
        if point.units:
            extra["units"] = int(point.units) if point.units.isdigit() else point.units
        return extra
    if kind in BINARY_TYPES:
        extra = {} if kind == "binary-value" else {"polarity": "normal"}
        if point.state_texts:
            extra["inactiveText"], extra["activeText"] = point.state_texts
        return extra
    extra = {"numberOfStates": point.number_of_states}
    if point.state_texts:
        extra["stateText"] = list(point.state_texts)
    return extra
