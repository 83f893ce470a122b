"""The client side of the BACnet engine: discovery, reads, writes and COV subscriptions.

Theory of operation
-------------------
The Client borrows an Application that the engine owns (the same one serves our local device),
so it never binds, closes or subclasses it. It is a facade over four parts:
- requester.py: every confirmed request goes through `Requester.call`, which bounds the
  requests in flight per peer, bounds each attempt with config.timeout, retries timeouts, and
  turns bacpypes3's errors (raised or returned) into bms.bacnet.errors;
- batching.py: reads of many properties, in RPM batches sized to what the CapabilityCache
  knows of the peer, falling back (smaller batches, ReadProperty, index by index) and
  writing back what it learnt, so the next read of that peer goes straight down the right path;
- discovery.py: Who-Is and the I-Am records, local or routed;
- cov.py: COV subscriptions, their renewal and the routing of notifications to them.

Property-level failures inside a read (a missing optional property) come back as RemoteError
*values* in the per-object result dicts, and the properties of a batch that failed as a whole
(no answer) as its BACnetError; the methods here decide which ones matter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from bacpypes3.pdu import Address, GlobalBroadcast

from bms.bacnet import discovery
from bms.bacnet.batching import TOO_BIG_CODES, BatchReader
from bms.bacnet.boundary import (
    as_ref,
    bacnet_error,
    check_priority,
    check_returned,
    object_identifier,
)
from bms.bacnet.capabilities import APDU_OVERHEAD, CapabilityCache
from bms.bacnet.config import EngineConfig
from bms.bacnet.cov import (
    CANCEL_DEADLINE_SECONDS,
    CovCallback,
    CovSubscription,
    CovSubscriptions,
)
from bms.bacnet.errors import BACnetError, InvalidValueError, LocalError, RemoteError
from bms.bacnet.object_properties import ObjectProperties, read_all
from bms.bacnet.point_reads import missing_property, object_failure, point_info, point_properties
from bms.bacnet.requester import OutcomeListener, Peer, Requester, parse_peer
from bms.bacnet.stack import foreign_registration
from bms.bacnet.types import (
    POINT_TYPES,
    DeviceInfo,
    IAmRecord,
    ObjectRef,
    PointInfo,
    PresentValue,
)
from bms.bacnet.values import to_bacnet, to_python

log = logging.getLogger(__name__)

# Device properties read by read_device_info -> DeviceInfo field.
DEVICE_INFO_FIELDS = {
    "object-name": "name",
    "vendor-name": "vendor_name",
    "vendor-identifier": "vendor_id",
    "model-name": "model_name",
    "firmware-revision": "firmware_revision",
    "application-software-version": "application_software_version",
    "protocol-revision": "protocol_revision",
    "description": "description",
    "location": "location",
    "max-apdu-length-accepted": "max_apdu",
    "segmentation-supported": "segmentation",
    "protocol-services-supported": "services_supported",
}

# What an I-Am already carries; read_device_info given the I-Am does not read these again.
I_AM_FIELDS = ("max-apdu-length-accepted", "segmentation-supported", "vendor-identifier")
DEVICE_INFO_WITHOUT_I_AM = tuple(p for p in DEVICE_INFO_FIELDS if p not in I_AM_FIELDS)


class Client:
    """BACnet client services over an Application that the caller owns."""

    def __init__(
        self, app: Any, config: EngineConfig, capabilities: CapabilityCache | None = None
    ) -> None:
        self._config = config
        self.capabilities = capabilities if capabilities is not None else CapabilityCache()
        self._requester = Requester(app, config)
        self._reader = BatchReader(self._requester, self.capabilities)
        self._cov = CovSubscriptions(self._requester)

    def peer(self, address: str | Address) -> Peer:
        """Parse "127.0.0.2", "127.0.0.2:47900" or a routed "net:mac" address."""
        return parse_peer(address)

    def request_bound(self) -> float:
        """The longest a single confirmed request can take, retries included."""
        return self._requester.request_bound()

    # --- discovery -----------------------------------------------------------------------

    async def who_is(
        self,
        low: int | None = None,
        high: int | None = None,
        address: str | None = None,
        expected: int | None = None,
        timeout: float | None = None,
        quiet: float | None = None,
    ) -> list[IAmRecord]:
        """Send Who-Is and collect I-Am answers until `timeout`, until `expected` devices
        answered, or until `quiet` seconds passed without a new answer (config.discovery_quiet
        unless given; math.inf waits for the whole timeout).

        `address` sends it to one device or a directed broadcast instead of the local broadcast.
        """
        if (low is None) != (high is None):
            raise InvalidValueError("give both low and high, or neither")
        if low is not None and high is not None and not 0 <= low <= high <= 4194303:
            raise InvalidValueError(f"bad instance range {low}..{high}")
        destination = self.peer(address).address if address else GlobalBroadcast()
        if address is None:  # a directed broadcast goes out as unicast even from a foreign device
            self._check_broadcasts_can_leave()
        only_from = (
            None
            if address is None or discovery.is_broadcast(destination, self._config.broadcast)
            else destination
        )
        records = await discovery.who_is(
            self._requester.app,
            destination,
            low=low,
            high=high,
            only_from=only_from,
            expected=expected,
            timeout=timeout or self._config.timeout,
            quiet=self._config.discovery_quiet if quiet is None else quiet,
        )
        for record in records:
            self.capabilities.seed_from_i_am(record)
        return records

    def watch_i_ams(self, listener: discovery.IAmListener) -> Callable[[], None]:
        """Call `listener(record, answering)` for every I-Am heard until the returned function
        is called (`answering`: one of our Who-Is was collecting answers then)."""
        watch = discovery.IAmWatch(self._requester.app, listener)
        watch.start()
        return watch.stop

    def observe_outcomes(self, listener: OutcomeListener | None) -> None:
        """Tell `listener(peer key, None or the timeout)` each request's outcome (None: stop)."""
        self._requester.on_outcome = listener

    def _check_broadcasts_can_leave(self) -> None:
        """A foreign device's broadcasts go through its BBMD: without a registration bacpypes3
        drops them silently, and a discovery would find nothing without saying why."""
        state = foreign_registration(self._requester.app)
        if state not in (None, "registered"):
            raise LocalError(
                f"not registered with BBMD {self._config.foreign_bbmd} ({state}): a Who-Is "
                "broadcast cannot reach the devices; check the BBMD address and that it "
                "accepts foreign devices"
            )

    # --- reads ---------------------------------------------------------------------------

    async def read_property(
        self, address: str, ref: ObjectRef | str, property: str, index: int | None = None
    ) -> Any:
        """One ReadProperty, the value converted to plain Python."""
        value = await self._requester.read(self.peer(address), as_ref(ref), property, index)
        return to_python(value)

    async def read_device_info(
        self, address: str, device_instance: int, i_am: IAmRecord | None = None
    ) -> DeviceInfo:
        """The device object's descriptive properties; missing optional ones stay empty.

        With the device's I-Am, what it already said (max APDU, segmentation, vendor id) is
        taken from there instead of being read again: a smaller request and answer per device,
        which is most of a big discovery's cost (encoding and decoding in bacpypes3).
        """
        peer = self.peer(address)
        device = ObjectRef("device", device_instance)
        from_i_am = i_am is not None and i_am.device_instance == device_instance
        properties = DEVICE_INFO_WITHOUT_I_AM if from_i_am else tuple(DEVICE_INFO_FIELDS)
        results = await self._reader.read_many(peer, [(device, properties)])
        values = results.get(device, {})
        fields: dict[str, Any] = {}
        if from_i_am:
            assert i_am is not None
            fields.update(
                max_apdu=i_am.max_apdu, segmentation=i_am.segmentation, vendor_id=i_am.vendor_id
            )
        for property, value in values.items():
            if isinstance(value, BACnetError):
                if not missing_property(value):
                    raise value
                continue
            if value is not None:
                fields[DEVICE_INFO_FIELDS[property]] = value
        if "services_supported" in fields:
            fields["services_supported"] = tuple(fields["services_supported"])
        info = DeviceInfo(device_instance=device_instance, address=peer.key, **fields)
        if info.max_apdu:
            self.capabilities.seed(peer.key, info.max_apdu, info.segmentation or "unknown")
        return info

    async def read_object_list(self, address: str, device_instance: int) -> list[ObjectRef]:
        """The device's object list: one (segmented) read, or index by index if it can't."""
        peer = self.peer(address)
        device = ObjectRef("device", device_instance)
        if self.capabilities.segmented_read_allowed(peer.key):
            try:
                whole = await self._requester.read(peer, device, "object-list")
            except RemoteError as exc:
                if exc.error_code not in TOO_BIG_CODES:
                    raise
                log.info(
                    "%s can't send its object list at once (%s); reading by index",
                    peer.key,
                    exc.error_code,
                )
                self.capabilities.note_segmentation(peer.key, False)
            else:
                refs = [item for item in to_python(whole) if isinstance(item, ObjectRef)]
                if len(refs) * 5 + APDU_OVERHEAD > self.capabilities.get(peer.key).max_apdu:
                    self.capabilities.note_segmentation(peer.key, True)
                return refs
        return await self._reader.read_object_list_by_index(peer, device)

    async def read_points(
        self, address: str, device_instance: int, refs: Iterable[ObjectRef] | None = None
    ) -> list[PointInfo]:
        """Describe the device's points (analog, binary, multi-state objects).

        Objects that vanished (unknown-object) are left out and logged; missing optional
        properties leave their PointInfo field empty.
        """
        peer = self.peer(address)
        if refs is None:
            refs = await self.read_object_list(address, device_instance)
        points = [ref for ref in refs if ref.object_type in POINT_TYPES]
        specs = [(ref, point_properties(ref)) for ref in points]
        results = await self._reader.read_many(peer, specs)
        infos = []
        for ref in points:
            values = results.get(ref, {})
            failure = object_failure(values)
            if failure is not None:
                log.warning("%s %s: left out of the point list: %s", peer.key, ref, failure)
                continue
            infos.append(point_info(ref, values))
        return infos

    async def read_object(self, address: str, ref: ObjectRef | str) -> ObjectProperties:
        """Every property of one object: RPM of `all`, else its standard ones (as it can)."""
        peer = self.peer(address)
        return await read_all(self._reader, self.capabilities, peer, as_ref(ref))

    async def read_present_values(
        self, address: str, refs: Iterable[ObjectRef]
    ) -> dict[ObjectRef, PresentValue]:
        """Present values for polling; refs that failed are missing from the result (logged)."""
        values = await self.read_point_values(address, refs, status_flags=False)
        return {ref: value for ref, (value, _flags) in values.items()}

    async def read_point_values(
        self, address: str, refs: Iterable[ObjectRef], *, status_flags: bool = True
    ) -> dict[ObjectRef, tuple[PresentValue, tuple[bool, bool, bool, bool] | None]]:
        """(present value, status flags) per ref, batched in RPMs; failed refs are logged."""
        peer = self.peer(address)
        properties = ("present-value", "status-flags") if status_flags else ("present-value",)
        wanted = list(dict.fromkeys(refs))
        results = await self._reader.read_many(peer, [(ref, properties) for ref in wanted])
        out: dict[ObjectRef, tuple[PresentValue, tuple[bool, bool, bool, bool] | None]] = {}
        unread: list[tuple[ObjectRef, Any]] = []
        for ref in wanted:
            values = results.get(ref, {})
            value = values.get("present-value")
            if isinstance(value, BACnetError) or "present-value" not in values:
                unread.append((ref, value))
                continue
            flags = values.get("status-flags")
            out[ref] = (value, None if isinstance(flags, BACnetError) else flags)
        if unread:
            ref, error = unread[0]
            log.warning(
                "%s: %d of %d present values not read (first: %s: %s)",
                peer.key,
                len(unread),
                len(wanted),
                ref,
                error or "no answer",
            )
        return out

    # --- writes --------------------------------------------------------------------------

    async def write_property(
        self,
        address: str,
        ref: ObjectRef | str,
        value: Any,
        priority: int | None = None,
        property: str = "present-value",
    ) -> None:
        """Write `value` (None relinquishes, and then needs a priority) at `priority` 1-16."""
        ref = as_ref(ref)
        check_priority(priority)
        if value is None and priority is None:
            raise InvalidValueError("writing None (relinquish) needs a priority")
        encoded = to_bacnet(ref.object_type, property, value)
        peer = self.peer(address)
        objid = object_identifier(ref)
        app = self._requester.app
        await self._requester.call(
            peer,
            f"write {ref} {property}",
            lambda: app.write_property(peer.address, objid, property, encoded, priority=priority),
        )

    async def relinquish(self, address: str, ref: ObjectRef | str, priority: int) -> None:
        """Release our command at `priority` (write Null there)."""
        if priority is None:
            raise InvalidValueError("relinquish needs a priority")
        await self.write_property(address, ref, None, priority=priority)

    # --- COV -----------------------------------------------------------------------------

    async def subscribe_cov(
        self,
        address: str,
        ref: ObjectRef | str,
        callback: CovCallback,
        confirmed: bool = False,
        lifetime: int = 300,
        process_id: int | None = None,
    ) -> CovSubscription:
        """Subscribe to changes of `ref`; the subscription renews itself until cancelled.
        `process_id` of an earlier subscription to `ref` replaces that one at the peer."""
        if lifetime < 0:
            raise InvalidValueError("lifetime must be >= 0 seconds (0 = no expiry)")
        return await self._cov.subscribe(
            self.peer(address),
            as_ref(ref),
            callback,
            confirmed=confirmed,
            lifetime=lifetime,
            process_id=process_id,
        )

    async def close(self, cancel_deadline: float = CANCEL_DEADLINE_SECONDS) -> None:
        """Cancel our subscriptions (telling the peers, for at most `cancel_deadline` seconds)
        and stop our background tasks."""
        outcome = await self._cov.cancel_all(deadline=cancel_deadline)
        await self._requester.stop()
        if outcome.failures:
            log.warning(
                "%d COV subscriptions not cancelled at the peer (first: %s)",
                len(outcome.failures),
                outcome.failures[0],
            )
        if outcome.left:
            log.warning(
                "%d of %d COV subscriptions not cancelled within %gs; the peers drop them "
                "when their lifetime ends",
                outcome.left,
                outcome.left + outcome.cancelled + len(outcome.failures),
                cancel_deadline,
            )


__all__ = [
    "DEVICE_INFO_FIELDS",
    "Client",
    "CovSubscription",
    "bacnet_error",
    "check_returned",
    "point_properties",
]
