"""Who is who in a simulated building: addresses, instances and quirks per device (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from bms.bacnet.commanding import MAX_INSTANCE
from bms.simulator.addresses import device_hosts

SEGMENTED = "segmented-both"
NOT_SEGMENTED = "no-segmentation"
# A common limit of small controllers; a 100-object list (~520 octets) does not fit in it.
SMALL_MAX_APDU = 480
NORMAL_MAX_APDU = 1476
DEFAULT_NO_SEGMENTATION_INDEX = 1  # the 2nd device
DEFAULT_NO_RPM_INDEX = 2  # the 3rd device


@dataclass(frozen=True)
class DevicePlan:
    """One device to start: where it lives and how it misbehaves."""

    index: int
    instance: int
    host: str
    port: int
    prefix: int
    segmentation: str = SEGMENTED
    supports_rpm: bool = True
    bbmd: bool = False  # also its subnet's BBMD, accepting foreign devices
    # A cloned device's own (clone.py); a generated one's follow from its segmentation.
    max_apdu_accepted: int | None = None
    device_name: str = ""

    @property
    def address(self) -> str:
        """The device's BACnet/IP address as clients write it: "127.0.0.2:47808"."""
        return f"{self.host}:{self.port}"

    @property
    def bind_address(self) -> str:
        """The address for EngineConfig: "127.0.0.2/8:47808"."""
        return f"{self.host}/{self.prefix}:{self.port}"

    @property
    def max_apdu(self) -> int:
        if self.max_apdu_accepted is not None:
            return self.max_apdu_accepted
        return NORMAL_MAX_APDU if self.segmentation == SEGMENTED else SMALL_MAX_APDU

    @property
    def name(self) -> str:
        return self.device_name or f"Simulated AHU {self.instance}"


def plan_building(
    devices: int,
    *,
    first_address: str = "127.0.0.2",
    first_instance: int = 1000,
    port: int = 47808,
    prefix: int = 8,
    no_segmentation_index: int | None = DEFAULT_NO_SEGMENTATION_INDEX,
    no_rpm_index: int | None = DEFAULT_NO_RPM_INDEX,
    allow_non_loopback: bool = False,
    bbmd: bool = False,
) -> list[DevicePlan]:
    """Plans for `devices` devices; a quirk index past the last device means no such device."""
    _check_instances(devices, first_instance)
    _check_index("no_segmentation_index", no_segmentation_index)
    _check_index("no_rpm_index", no_rpm_index)
    hosts = device_hosts(first_address, devices, prefix, allow_non_loopback=allow_non_loopback)
    return [
        DevicePlan(
            index=index,
            instance=first_instance + index,
            host=str(host),
            port=port,
            prefix=prefix,
            segmentation=NOT_SEGMENTED if index == no_segmentation_index else SEGMENTED,
            supports_rpm=index != no_rpm_index,
            bbmd=bbmd and index == 0,
        )
        for index, host in enumerate(hosts)
    ]


def _check_instances(devices: int, first_instance: int) -> None:
    last = first_instance + devices - 1
    if first_instance < 0 or last > MAX_INSTANCE:
        raise ValueError(f"device instances {first_instance}..{last} are outside 0..{MAX_INSTANCE}")


def _check_index(name: str, index: int | None) -> None:
    if index is not None and index < 0:
        raise ValueError(f"{name} must be >= 0 or None, not {index}")
