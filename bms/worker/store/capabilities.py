"""What the client's capability cache learned about devices, kept in their rows.

A device that refuses ReadPropertyMultiple or aborts segmented answers costs a failed request
before the client knows; keeping what the cache holds in BACnetDevice.learned_* lets a restarted
worker (and a clone of the site) start from what was seen. Rows change only when the cache's
entry differs from what they hold, in one bulk update per job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bms.bacnet.types import Capabilities
from bms.devices.models import BACnetDevice

LEARNED_FIELDS = ["learned_rpm", "learned_segmentation", "learned_max_apdu", "learned_at"]


@dataclass(frozen=True)
class StoredCapabilities:
    """One device as stored: where it is, what it claimed, and what was seen of it."""

    device_instance: int
    address: str
    claimed_max_apdu: int | None
    claimed_segmentation: str
    rpm: bool | None
    segmentation: bool | None
    max_apdu: int | None

    @classmethod
    def of(cls, device: BACnetDevice) -> StoredCapabilities:
        return cls(
            device.device_instance,
            device.address,
            device.max_apdu,
            device.segmentation,
            *_learned(device),
        )


def stored_capabilities(
    site: str, device_instances: Iterable[int] | None = None
) -> list[StoredCapabilities]:
    """The site's devices (or the given ones) as the cache should start from them, one query."""
    devices = BACnetDevice.objects.filter(site=site)
    if device_instances is not None:
        devices = devices.filter(device_instance__in=list(device_instances))
    rows = devices.values_list(
        "device_instance",
        "address",
        "max_apdu",
        "segmentation",
        "learned_rpm",
        "learned_segmentation",
        "learned_max_apdu",
    )
    return [StoredCapabilities(*row) for row in rows.iterator(chunk_size=2000)]


def learned_changes(
    devices: Iterable[BACnetDevice], seen: dict[str, Capabilities], at: datetime
) -> list[BACnetDevice]:
    """The devices whose row differs from what the cache holds for their address (`seen`),
    updated in memory to hold it. No query."""
    changed = []
    for device in devices:
        caps = seen.get(device.address)
        if caps is None or _learned(device) == (caps.rpm, caps.segmentation, caps.max_apdu):
            continue
        device.learned_rpm = caps.rpm
        device.learned_segmentation = caps.segmentation
        device.learned_max_apdu = caps.max_apdu
        device.learned_at = at
        changed.append(device)
    return changed


def save_learned(devices: list[BACnetDevice]) -> int:
    """Store the learned capabilities of `devices` (as learned_changes left them): one UPDATE
    per 500 devices, only their learned_* columns."""
    if not devices:
        return 0
    BACnetDevice.objects.bulk_update(devices, LEARNED_FIELDS, batch_size=500)
    return len(devices)


def _learned(device: BACnetDevice) -> tuple[bool | None, bool | None, int | None]:
    return device.learned_rpm, device.learned_segmentation, device.learned_max_apdu
