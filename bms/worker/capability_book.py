"""The client's capability cache, started from the database and kept there.

The cache (bms.bacnet.capabilities) learns by failing: a refused RPM, an aborted segmented read.
Kept only in memory, a restarted worker paid for each lesson again. The book:

- at start (`seed_site`), gives the cache each stored device's claims (its I-Am's max APDU and
  segmentation) and, over them, what was seen of it: observations beat claims, as the cache's
  own rule says;
- before a read_points or collect (`seed_rows`), does the same from the rows the job loaded
  (no query) for the devices it has not seeded: ones another worker discovered since;
- in a discovery (`seed_answering`), after the I-Ams' claims went into the cache and before the
  devices' properties are read, lays the stored observations over them at the address each
  device answered from, for the (address, device) pairs not seeded yet: a device that moved,
  or one another worker stored. A pair seeded already keeps what this worker saw since, which
  is newer than its row;
- after a discover, read_points or collect (`save`), stores the cache's entry of each device
  the job read, when it differs from the row (store.capabilities, one bulk update).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.utils import timezone

from bms.bacnet.capabilities import CapabilityCache
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.requester import parse_peer
from bms.bacnet.types import Capabilities, IAmRecord
from bms.devices.models import BACnetDevice
from bms.worker.db import run_db
from bms.worker.store.capabilities import (
    StoredCapabilities,
    learned_changes,
    save_learned,
    stored_capabilities,
)

log = logging.getLogger(__name__)


class CapabilityBook:
    def __init__(self, cache: CapabilityCache, site: str) -> None:
        self._cache = cache
        self._site = site
        self._seeded: set[tuple[str, int]] = set()  # (address key, device instance)
        self._keys: dict[str, str | None] = {}  # stored address -> the cache's key

    async def seed_site(self) -> int:
        """Seed the cache with every stored device of the site; returns how many were."""
        stored = await run_db(stored_capabilities, self._site)
        for device in stored:
            self._seed(device, device.address, with_claims=True)
        return len(stored)

    def seed_rows(self, devices: Iterable[BACnetDevice]) -> None:
        """Seed the devices a job is about to read that were not seeded yet (no query)."""
        for device in devices:
            if (self._key(device.address), device.device_instance) not in self._seeded:
                self._seed(StoredCapabilities.of(device), device.address, with_claims=True)

    async def seed_answering(self, records: Iterable[IAmRecord]) -> None:
        """Lay the stored observations of devices that answered at a new address over the
        claims of their I-Am (one query, none when every pair is seeded already)."""
        addresses = {
            record.device_instance: record.address
            for record in records
            if (self._key(record.address), record.device_instance) not in self._seeded
        }
        if not addresses:
            return
        for device in await run_db(stored_capabilities, self._site, list(addresses)):
            self._seed(device, addresses[device.device_instance], with_claims=False)

    async def save(self, devices: Iterable[BACnetDevice]) -> int:
        """Store what the cache holds about `devices` where it differs from their rows."""
        devices = list(devices)
        seen: dict[str, Capabilities] = {}
        for device in devices:
            key = self._key(device.address)
            if key is not None and self._cache.known(key):
                seen[device.address] = self._cache.get(key)
                self._seeded.add((key, device.device_instance))  # the row follows the cache
        changed = learned_changes(devices, seen, timezone.now())
        if changed:
            await run_db(save_learned, changed)
        return len(changed)

    def _seed(self, device: StoredCapabilities, address: str, with_claims: bool) -> None:
        key = self._key(address)
        if key is None:
            return
        if with_claims and device.claimed_max_apdu:
            self._cache.seed(key, device.claimed_max_apdu, device.claimed_segmentation)
        if device.max_apdu is not None:
            self._cache.note_max_apdu(key, device.max_apdu)
        if device.segmentation is not None:
            self._cache.note_segmentation(key, device.segmentation)
        if device.rpm is not None:
            self._cache.note_rpm(key, device.rpm)
        self._seeded.add((key, device.device_instance))

    def _key(self, address: str) -> str | None:
        """The cache's key for a stored address (None, logged, for one that does not parse)."""
        if address not in self._keys:
            try:
                self._keys[address] = parse_peer(address).key
            except InvalidValueError as exc:
                log.warning("capabilities of %r not kept: %s", address, exc)
                self._keys[address] = None
        return self._keys[address]
