"""Who-Is / I-Am: sending one Who-Is and collecting the answers into IAmRecords.

bacpypes3's own who_is() waits its full timeout; we stop as soon as `expected` devices
answered, or once answers stop: `quiet` seconds after the last I-Am (never later than the
timeout; with no answer at all, the whole timeout). Devices behind a router answer with a
routed source address ("2:0x7f00003cbb1c"): their record carries the network number and the
MAC on that network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
from collections.abc import Callable
from typing import Any

from bacpypes3.apdu import IAmRequest, WhoIsRequest
from bacpypes3.pdu import Address

from bms.bacnet.types import IAmRecord


class IAmCollector:
    """Collects I-Am answers to one Who-Is.

    bacpypes3's I-Am handler calls `match(apdu)` on every object in `_who_is_futures`, so the
    collector registers there for the duration of one Who-Is.
    """

    def __init__(
        self, low: int | None, high: int | None, only_from: Address | None, expected: int | None
    ) -> None:
        self.low, self.high, self.only_from, self.expected = low, high, only_from, expected
        self.i_ams: dict[int, IAmRequest] = {}
        self.enough = asyncio.Event()
        self.answered = asyncio.Event()
        self.last_answer: float | None = None

    def match(self, apdu: IAmRequest) -> None:
        instance = apdu.iAmDeviceIdentifier[1]
        if self.only_from is not None and apdu.pduSource != self.only_from:
            return
        if self.low is not None and self.high is not None and not self.low <= instance <= self.high:
            return
        self.i_ams.setdefault(instance, apdu)
        self.last_answer = asyncio.get_running_loop().time()
        self.answered.set()
        if self.expected is not None and len(self.i_ams) >= self.expected:
            self.enough.set()

    async def collect(self, app: Any, request: WhoIsRequest, timeout: float, quiet: float) -> None:
        if not hasattr(app, "_who_is_futures"):
            app._who_is_futures = []
        app._who_is_futures.append(self)
        try:
            app.request(request)
            await self._until_done(asyncio.get_running_loop().time() + timeout, quiet)
        finally:
            app._who_is_futures.remove(self)

    async def _until_done(self, deadline: float, quiet: float) -> None:
        loop = asyncio.get_running_loop()
        while not self.enough.is_set():
            wait = self.wait_left(loop.time(), deadline, quiet)
            if wait <= 0:
                return
            self.answered.clear()
            try:
                await asyncio.wait_for(self.answered.wait(), wait)
            except TimeoutError:
                continue  # the deadline or the quiet period may be over: wait_left decides

    def wait_left(self, now: float, deadline: float, quiet: float) -> float:
        """How much longer to wait for answers (<= 0: stop)."""
        left = deadline - now
        if self.last_answer is not None:
            left = min(left, self.last_answer + quiet - now)
        return left


IAmListener = Callable[[IAmRecord, bool], None]


class IAmWatch:
    """Hears every I-Am, asked for or not: a device announces itself when it starts, which is
    how a subscriber learns that the device forgot its COV subscriptions.

    Registered in bacpypes3's `_who_is_futures` like IAmCollector, for as long as it is wanted.
    The listener is told whether a Who-Is of this application was collecting answers at the
    time (then the I-Am is most likely an answer, not an announcement).
    """

    def __init__(self, app: Any, listener: IAmListener) -> None:
        self._app = app
        self._listener = listener

    def start(self) -> None:
        if not hasattr(self._app, "_who_is_futures"):
            self._app._who_is_futures = []
        self._app._who_is_futures.append(self)

    def stop(self) -> None:
        if self in getattr(self._app, "_who_is_futures", ()):
            self._app._who_is_futures.remove(self)

    def match(self, apdu: IAmRequest) -> None:
        # Ours or bacpypes3's own Who-Is futures (any entry but a watch) are collecting.
        answering = any(not isinstance(f, IAmWatch) for f in self._app._who_is_futures)
        self._listener(i_am_record(apdu), answering)


async def who_is(
    app: Any,
    destination: Address,
    *,
    low: int | None,
    high: int | None,
    only_from: Address | None,
    expected: int | None,
    timeout: float,
    quiet: float = math.inf,
) -> list[IAmRecord]:
    """Send one Who-Is to `destination`; the answers as records sorted by device instance."""
    collector = IAmCollector(low, high, only_from, expected)
    request = WhoIsRequest(destination=destination)
    if low is not None:
        request.deviceInstanceRangeLowLimit = low
        request.deviceInstanceRangeHighLimit = high
    await collector.collect(app, request, timeout, quiet)
    for apdu in collector.i_ams.values():
        # bacpypes3 decodes by the peer's vendor and segments by its max APDU from here.
        await app.device_info_cache.set_device_info(apdu)
    return sorted(
        (i_am_record(apdu) for apdu in collector.i_ams.values()),
        key=lambda record: record.device_instance,
    )


def is_broadcast(address: Address, local_broadcast: str) -> bool:
    """Whether a Who-Is to `address` may be answered by more than the device at it."""
    if not address.is_localstation:
        return not address.is_remotestation
    host = ipaddress.IPv4Address(address.addrTuple[0])
    return str(host) == local_broadcast or host.packed[-1] == 255


def i_am_record(apdu: IAmRequest) -> IAmRecord:
    source = apdu.pduSource
    routed = bool(source.is_remotestation)
    return IAmRecord(
        device_instance=int(apdu.iAmDeviceIdentifier[1]),
        address=str(source),
        max_apdu=int(apdu.maxAPDULengthAccepted),
        segmentation=str(apdu.segmentationSupported),
        vendor_id=int(apdu.vendorID),
        network=int(source.addrNet) if routed else None,
        mac=source.addrAddr.hex() if routed else None,
    )
