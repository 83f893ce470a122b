"""What the client's point reads ask of each object, and what they make of the answers (pure).

Used by `Client.read_points` and `read_device_info`: which properties describe a point of each
type, which property errors only mean "optional, not there", and how one object's answers
become a PointInfo.
"""

from __future__ import annotations

from typing import Any

from bms.bacnet.errors import BACnetError, RemoteError
from bms.bacnet.types import (
    ANALOG_TYPES,
    BINARY_TYPES,
    INPUT_TYPES,
    MULTISTATE_TYPES,
    ObjectRef,
    PointInfo,
)

# Property-level errors that just mean "this optional property isn't there".
MISSING_PROPERTY_CODES = frozenset({"unknown-property", "read-access-denied"})


def point_properties(ref: ObjectRef) -> tuple[str, ...]:
    """What read_points asks of one object."""
    properties = ["object-name", "description", "present-value", "status-flags"]
    if ref.object_type in ANALOG_TYPES:
        properties.append("units")
    elif ref.object_type in MULTISTATE_TYPES:
        properties.append("state-text")
    elif ref.object_type in BINARY_TYPES:
        properties += ["inactive-text", "active-text"]
    if ref.object_type not in INPUT_TYPES:
        # The length of the priority array is enough to know the point is commandable.
        properties.append("priority-array[0]")
    return tuple(properties)


def missing_property(error: BACnetError) -> bool:
    """Whether `error` only says that an optional property is not there."""
    return isinstance(error, RemoteError) and error.error_code in MISSING_PROPERTY_CODES


def object_failure(values: dict[str, Any]) -> BACnetError | None:
    """The error if the object itself could not be read (rather than one optional property)."""
    for key in ("object-name", "present-value"):
        value = values.get(key)
        if isinstance(value, BACnetError) and not missing_property(value):
            return value
    if not values:
        return RemoteError("no answer for this object")
    return None


def point_info(ref: ObjectRef, values: dict[str, Any]) -> PointInfo:
    def ok(key: str) -> Any:
        value = values.get(key)
        return None if isinstance(value, BACnetError) else value

    if ref.object_type in BINARY_TYPES:
        texts = (ok("inactive-text"), ok("active-text"))
        state_texts = tuple(str(t) for t in texts) if all(t is not None for t in texts) else ()
    else:
        state_texts = tuple(str(t) for t in ok("state-text") or ())
    units = ok("units") if ref.object_type in ANALOG_TYPES else None
    return PointInfo(
        ref=ref,
        name=ok("object-name") or "",
        description=ok("description") or "",
        units=None if units is None else str(units),
        state_texts=state_texts,
        present_value=ok("present-value"),
        status_flags=ok("status-flags"),
        commandable=ok("priority-array[0]") is not None,
    )
