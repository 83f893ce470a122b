"""What each peer device can do, as learned from I-Am and from what worked.

Peers differ: some cannot segment (a whole object list does not fit in one packet), some do
not implement ReadPropertyMultiple, and their maximum APDU ranges from 50 to 1476 octets.
Finding out costs a failed request, so the client remembers the outcome per device address and
the second read goes straight down the path that works.

Pure bookkeeping, no I/O: keys are canonical address strings (the client normalises them).
Observations beat claims: an I-Am seeds only what was not observed yet, because a device that
claims to segment may still abort our segmented reads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bms.bacnet.types import Capabilities, IAmRecord

DEFAULT_MAX_APDU = 1476
MIN_MAX_APDU = 50  # the smallest max APDU BACnet allows

# Segmentation values of I-Am / the device object that mean "can send a segmented response".
SEGMENTED_TRANSMIT = frozenset({"segmented-both", "segmented-transmit"})

# Octets of an APDU spent on headers (complex-ack header, RPM framing) that values can't use.
APDU_OVERHEAD = 16


@dataclass(frozen=True)
class ResponseBudget:
    """How big one response may be, and whether we may rely on segmentation to get it."""

    octets: int
    segmented: bool


class CapabilityCache:
    """Per-device capabilities keyed by canonical address string."""

    # Batches are sized to one APDU by default: under load, segmented RPM answers were lost
    # whole (one late segment fails the transaction), while the same reads in more, unsegmented
    # requests all arrived (bench/polling.py, 50 devices: 1,224 of 5,000 values lost vs none).
    # Segmentation is still used for single properties too big for one APDU (object lists).
    def __init__(self, default_max_apdu: int = DEFAULT_MAX_APDU, max_segments: int = 1) -> None:
        self._default_max_apdu = default_max_apdu
        self._max_segments = max_segments
        self._peers: dict[str, Capabilities] = {}

    def get(self, address: str) -> Capabilities:
        """A copy of what is known about `address` (defaults if nothing is)."""
        return replace(self._peers.get(address) or Capabilities(self._default_max_apdu))

    def known(self, address: str) -> bool:
        return address in self._peers

    def forget(self, address: str) -> None:
        self._peers.pop(address, None)

    def seed(self, address: str, max_apdu: int, segmentation: str) -> None:
        """Record what a device says about itself (I-Am or its device object)."""
        caps = self._entry(address)
        caps.max_apdu = max(MIN_MAX_APDU, max_apdu)
        if caps.segmentation is None:
            caps.segmentation = segmentation in SEGMENTED_TRANSMIT

    def seed_from_i_am(self, record: IAmRecord) -> None:
        self.seed(record.address, record.max_apdu, record.segmentation)

    def note_rpm(self, address: str, works: bool) -> None:
        self._entry(address).rpm = works

    def note_segmentation(self, address: str, works: bool) -> None:
        self._entry(address).segmentation = works

    def note_max_apdu(self, address: str, max_apdu: int) -> None:
        self._entry(address).max_apdu = max(MIN_MAX_APDU, max_apdu)

    def use_rpm(self, address: str) -> bool:
        """Try RPM unless the peer was seen to refuse it."""
        return self.get(address).rpm is not False

    def segmented_read_allowed(self, address: str) -> bool:
        """Try one whole (segmented) read unless the peer was seen or said it can't."""
        return self.get(address).segmentation is not False

    def response_budget(self, address: str) -> ResponseBudget:
        """The largest response we should ask `address` for in one request.

        Without (known) segmentation the whole response must fit in one APDU. With it, we still
        cap the size at `max_segments` segments, which is what we tell peers we accept.
        """
        caps = self.get(address)
        single = max(MIN_MAX_APDU, caps.max_apdu) - APDU_OVERHEAD
        if caps.segmentation:
            return ResponseBudget(single * self._max_segments, segmented=True)
        return ResponseBudget(single, segmented=False)

    def _entry(self, address: str) -> Capabilities:
        caps = self._peers.get(address)
        if caps is None:
            caps = self._peers[address] = Capabilities(self._default_max_apdu)
        return caps


def plan_batches(sizes: list[int], budget: int, max_items: int) -> list[range]:
    """Split items with estimated response `sizes` into consecutive batches under `budget`.

    An item larger than the budget gets a batch of its own (the caller splits properties
    further or falls back to single reads if even that fails).
    """
    batches: list[range] = []
    start, used = 0, 0
    for index, size in enumerate(sizes):
        full = index > start and (used + size > budget or index - start >= max_items)
        if full:
            batches.append(range(start, index))
            start, used = index, 0
        used += size
    if start < len(sizes):
        batches.append(range(start, len(sizes)))
    return batches
