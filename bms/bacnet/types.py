"""Our own value types at the boundary of the BACnet core.

Object types are BACnet's hyphenated names ("analog-input"), properties are too
("present-value"). Values are plain Python: Real -> float, Unsigned/Integer -> int,
binary present values -> "active" / "inactive", Null -> None, strings -> str.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PresentValue = float | int | str | bool | None

ANALOG_TYPES = frozenset({"analog-input", "analog-output", "analog-value"})
BINARY_TYPES = frozenset({"binary-input", "binary-output", "binary-value"})
MULTISTATE_TYPES = frozenset({"multi-state-input", "multi-state-output", "multi-state-value"})
INPUT_TYPES = frozenset({"analog-input", "binary-input", "multi-state-input"})
# Values may be served commandable or not (bms.bacnet.local.spec.served_commandable).
VALUE_TYPES = frozenset({"analog-value", "binary-value", "multi-state-value"})
COMMANDABLE_TYPES = frozenset(
    {
        "analog-output",
        "analog-value",
        "binary-output",
        "binary-value",
        "multi-state-output",
        "multi-state-value",
    }
)
POINT_TYPES = ANALOG_TYPES | BINARY_TYPES | MULTISTATE_TYPES

# The short names used in templates, URLs and the UI.
SHORT_NAMES = {
    "AI": "analog-input",
    "AO": "analog-output",
    "AV": "analog-value",
    "BI": "binary-input",
    "BO": "binary-output",
    "BV": "binary-value",
    "MSI": "multi-state-input",
    "MSO": "multi-state-output",
    "MSV": "multi-state-value",
}


@dataclass(frozen=True, order=True)
class ObjectRef:
    """An object identifier: ("analog-input", 3)."""

    object_type: str
    instance: int

    def __str__(self) -> str:
        return f"{self.object_type},{self.instance}"

    @classmethod
    def parse(cls, text: str) -> ObjectRef:
        """Parse "analog-input,3" or "AI:3"."""
        sep = "," if "," in text else ":"
        kind, _, number = text.partition(sep)
        kind = SHORT_NAMES.get(kind.strip().upper(), kind.strip())
        return cls(kind, int(number))


@dataclass(frozen=True)
class IAmRecord:
    """One device's answer to Who-Is."""

    device_instance: int
    address: str  # "127.0.0.2" / "127.0.0.2:47809", or "2:0x0a" for a routed device
    max_apdu: int
    segmentation: str  # "segmented-both", "no-segmentation", ...
    vendor_id: int
    network: int | None = None  # remote network number for routed devices
    mac: str | None = None  # MAC on the remote network, hex


@dataclass(frozen=True)
class DeviceInfo:
    """The device object's descriptive properties."""

    device_instance: int
    address: str
    name: str = ""
    vendor_name: str = ""
    vendor_id: int | None = None
    model_name: str = ""
    firmware_revision: str = ""
    application_software_version: str = ""
    protocol_revision: int | None = None
    description: str = ""
    location: str = ""
    max_apdu: int | None = None
    segmentation: str = ""
    services_supported: tuple[str, ...] = ()


@dataclass(frozen=True)
class PointInfo:
    """One object of a remote device, as a point an engineer can trend and command."""

    ref: ObjectRef
    name: str = ""
    description: str = ""
    units: str | None = None
    state_texts: tuple[str, ...] = ()
    present_value: PresentValue = None
    status_flags: tuple[bool, bool, bool, bool] | None = None  # alarm, fault, overridden, oos
    commandable: bool = False


@dataclass
class Capabilities:
    """What a peer was seen to support; None means not tried yet."""

    max_apdu: int = 1476
    segmentation: bool | None = None
    rpm: bool | None = None


@dataclass(frozen=True)
class CovNotification:
    """A change-of-value notification from a subscribed peer object."""

    device_address: str
    device_instance: int
    ref: ObjectRef
    values: dict[str, Any]
    time_remaining: int
    confirmed: bool


@dataclass(frozen=True)
class WriteEvent:
    """An external write to one of our local objects, before it is acknowledged."""

    ref: ObjectRef
    object_name: str
    property: str
    old_value: PresentValue
    new_value: PresentValue
    priority: int | None
    source_address: str
    # Present value after the write takes effect (follows the priority array), and the array.
    effective_value: PresentValue = None
    priority_array: tuple[PresentValue, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RefusedWrite:
    """An external write our device refused (validation), for the audit trail."""

    object_id: str  # "analog-output,1" as the peer named it
    property: str
    value: str | None  # the refused value as text
    priority: int | None
    source_address: str
    reason: str  # "property: value-out-of-range"
