"""The client side of the BACnet engine: discovery, reads, writes and COV subscriptions.

Theory of operation
-------------------
The Client borrows an Application that the engine owns (the same one serves our local device),
so it never binds, closes or subclasses it. Every confirmed request goes through `_call`, which
- bounds the requests in flight per peer (config.max_in_flight_per_peer),
- bounds each attempt with config.timeout and retries timeouts config.retries times,
- turns bacpypes3's errors into bms.bacnet.errors, whether bacpypes3 raised them (they are
  BaseExceptions, `except Exception` misses them) or returned them.

Reads choose their path from the CapabilityCache: one segmented read or index-by-index for an
object list, RPM batches sized to the peer's max APDU or one ReadProperty per property. They
write back what they learnt, so the next read of that peer goes straight down the right path.

Property-level failures inside a read (a missing optional property) come back as RemoteError
*values* in the per-object result dicts; callers decide which ones matter.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import (
    AbortPDU,
    ConfirmedCOVNotificationRequest,
    ErrorPDU,
    ErrorRejectAbortNack,
    IAmRequest,
    RejectPDU,
    SimpleAckPDU,
    SubscribeCOVRequest,
    UnconfirmedCOVNotificationRequest,
    WhoIsRequest,
)
from bacpypes3.basetypes import ErrorType
from bacpypes3.errors import DecodingError, EncodingError
from bacpypes3.pdu import Address, GlobalBroadcast
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.capabilities import APDU_OVERHEAD, CapabilityCache, plan_batches
from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import (
    AbortResponse,
    BACnetError,
    BACnetTimeoutError,
    ErrorResponse,
    InvalidValueError,
    LocalError,
    RejectResponse,
    RemoteError,
)
from bms.bacnet.types import (
    ANALOG_TYPES,
    BINARY_TYPES,
    INPUT_TYPES,
    MULTISTATE_TYPES,
    POINT_TYPES,
    CovNotification,
    DeviceInfo,
    IAmRecord,
    ObjectRef,
    PointInfo,
    PresentValue,
)
from bms.bacnet.values import property_datatype, to_bacnet, to_python

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

# Answers that mean "the response was too big for this peer": retry smaller.
TOO_BIG_CODES = frozenset({
    "segmentation-not-supported", "buffer-overflow", "apdu-too-long",
    "abort-segmentation-not-supported", "abort-buffer-overflow", "abort-apdu-too-long",
})
# Property-level errors that just mean "this optional property isn't there".
MISSING_PROPERTY_CODES = frozenset({"unknown-property", "read-access-denied"})

# Rough encoded sizes (octets) of values in an RPM response, to size batches. Strings are
# guesses for typical names; a batch whose answer still overflows is split and retried, which
# costs one round trip, cheaper than always sending half-empty requests.
VALUE_OCTETS = {
    "object-name": 32, "description": 32, "units": 3, "present-value": 6, "status-flags": 4,
    "priority-array[0]": 3, "state-text": 96, "active-text": 12, "inactive-text": 12,
}
OBJECT_OCTETS = 7  # object identifier + opening/closing tags of one read-access-result
PROPERTY_OCTETS = 7  # property identifier, array index and opening/closing tags
LIST_ENTRY_OCTETS = 12  # one object-list[i] element in an RPM response
RPM_MAX_OBJECTS = 24  # smaller batches let several run at once
RPM_MAX_LIST_ENTRIES = 100

Specs = list[tuple[ObjectRef, tuple[str, ...]]]
Results = dict[ObjectRef, dict[str, Any]]
CovCallback = Callable[[CovNotification], Any]
_BACPYPES_DECODE_FAILURES = ("-no object class-", "-no property type-")


@dataclass(frozen=True)
class _Peer:
    address: Address
    key: str  # canonical address string: capability cache and concurrency key


class Client:
    """BACnet client services over an Application that the caller owns."""

    def __init__(
        self, app: Any, config: EngineConfig, capabilities: CapabilityCache | None = None
    ) -> None:
        self._app = app
        self._config = config
        self.capabilities = capabilities if capabilities is not None else CapabilityCache()
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subscriptions: set[CovSubscription] = set()
        self._cov_router = _CovRouter.install(app)
        self._next_process_id = 1

    # --- plumbing ------------------------------------------------------------------------

    def peer(self, address: str | Address) -> _Peer:
        """Parse "127.0.0.2", "127.0.0.2:47900" or a routed "net:mac" address."""
        if isinstance(address, Address):
            return _Peer(address, str(address))
        try:
            parsed = Address(address.strip())
        except (ValueError, TypeError) as exc:
            raise InvalidValueError(f"bad BACnet address {address!r}: {exc}") from exc
        return _Peer(parsed, str(parsed))

    def request_bound(self) -> float:
        """The longest a single confirmed request can take, retries included."""
        return self._config.timeout * (self._config.retries + 1)

    def _limit(self, key: str) -> asyncio.Semaphore:
        limit = self._limits.get(key)
        if limit is None:
            limit = self._limits[key] = asyncio.Semaphore(self._config.max_in_flight_per_peer)
        return limit

    async def _call(
        self, peer: _Peer, what: str, send: Callable[[], Awaitable[Any]]
    ) -> Any:
        """Run one confirmed request with the per-peer limit, timeout, retries, error mapping."""
        attempts = self._config.retries + 1
        async with self._limit(peer.key):
            for attempt in range(1, attempts + 1):
                try:
                    async with asyncio.timeout(self._config.timeout):
                        result = await send()
                except TimeoutError:
                    log.debug("%s to %s: no answer (attempt %d/%d)", what, peer.key, attempt,
                              attempts)
                    continue
                except ErrorRejectAbortNack as exc:
                    raise bacnet_error(exc, f"{what} to {peer.key}") from exc
                except (DecodingError, EncodingError) as exc:
                    raise LocalError(f"{what} to {peer.key}: {exc}") from exc
                return check_returned(result, f"{what} to {peer.key}")
        raise BACnetTimeoutError(
            f"{what} to {peer.key}: no answer after {attempts} attempt(s) of "
            f"{self._config.timeout:g}s"
        )

    async def _gather(self, named: Iterable[tuple[str, Coroutine[Any, Any, Any]]]) -> list[Any]:
        """Run coroutines as named, kept tasks; on the first failure cancel the rest."""
        tasks = [asyncio.create_task(coro, name=name) for name, coro in named]
        if not tasks:
            return []
        self._tasks.update(tasks)
        try:
            return await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            # Siblings are only waited for here; the first failure is what propagates.
            await asyncio.wait(tasks)
            self._tasks.difference_update(tasks)

    # --- discovery -----------------------------------------------------------------------

    async def who_is(
        self,
        low: int | None = None,
        high: int | None = None,
        address: str | None = None,
        expected: int | None = None,
        timeout: float | None = None,
    ) -> list[IAmRecord]:
        """Send Who-Is and collect I-Am answers until `timeout` or `expected` devices answered.

        `address` sends it to one device or a directed broadcast instead of the local broadcast.
        """
        if (low is None) != (high is None):
            raise InvalidValueError("give both low and high, or neither")
        if low is not None and high is not None and not 0 <= low <= high <= 4194303:
            raise InvalidValueError(f"bad instance range {low}..{high}")
        destination = self.peer(address).address if address else GlobalBroadcast()
        only_from = None if address is None or self._is_broadcast(destination) else destination
        collector = _IAmCollector(low, high, only_from, expected)
        request = WhoIsRequest(destination=destination)
        if low is not None:
            request.deviceInstanceRangeLowLimit = low
            request.deviceInstanceRangeHighLimit = high
        await collector.collect(self._app, request, timeout or self._config.timeout)
        for apdu in collector.i_ams.values():
            # bacpypes3 decodes by the peer's vendor and segments by its max APDU from here.
            await self._app.device_info_cache.set_device_info(apdu)
        records = sorted(
            (i_am_record(apdu) for apdu in collector.i_ams.values()),
            key=lambda record: record.device_instance,
        )
        for record in records:
            self.capabilities.seed_from_i_am(record)
        return records

    def _is_broadcast(self, address: Address) -> bool:
        if not address.is_localstation:
            return not address.is_remotestation
        host = ipaddress.IPv4Address(address.addrTuple[0])
        return str(host) == self._config.broadcast or host.packed[-1] == 255

    # --- reads ---------------------------------------------------------------------------

    async def read_property(
        self, address: str, ref: ObjectRef | str, property: str, index: int | None = None
    ) -> Any:
        """One ReadProperty, the value converted to plain Python."""
        return to_python(await self._read(self.peer(address), as_ref(ref), property, index))

    async def _read(
        self, peer: _Peer, ref: ObjectRef, property: str, index: int | None = None
    ) -> Any:
        objid = object_identifier(ref)
        suffix = "" if index is None else f"[{index}]"
        value = await self._call(
            peer, f"read {ref} {property}{suffix}",
            lambda: self._app.read_property(peer.address, objid, property, index),
        )
        if value is None:
            raise LocalError(f"read {ref} {property}{suffix}: {peer.key} sent no usable answer")
        return value

    async def read_device_info(self, address: str, device_instance: int) -> DeviceInfo:
        """The device object's descriptive properties; missing optional ones stay empty."""
        peer = self.peer(address)
        device = ObjectRef("device", device_instance)
        results = await self._read_many(peer, [(device, tuple(DEVICE_INFO_FIELDS))])
        values = results.get(device, {})
        fields: dict[str, Any] = {}
        for property, value in values.items():
            if isinstance(value, RemoteError):
                if value.error_code not in MISSING_PROPERTY_CODES:
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
                whole = await self._read(peer, device, "object-list")
            except RemoteError as exc:
                if exc.error_code not in TOO_BIG_CODES:
                    raise
                log.info("%s can't send its object list at once (%s); reading by index",
                         peer.key, exc.error_code)
                self.capabilities.note_segmentation(peer.key, False)
            else:
                refs = [item for item in to_python(whole) if isinstance(item, ObjectRef)]
                if len(refs) * 5 + APDU_OVERHEAD > self.capabilities.get(peer.key).max_apdu:
                    self.capabilities.note_segmentation(peer.key, True)
                return refs
        return await self._read_object_list_by_index(peer, device)

    async def _read_object_list_by_index(self, peer: _Peer, device: ObjectRef) -> list[ObjectRef]:
        count = to_python(await self._read(peer, device, "object-list", 0))
        keys = tuple(f"object-list[{index}]" for index in range(1, int(count) + 1))
        per_batch = (self.capabilities.get(peer.key).max_apdu - APDU_OVERHEAD - OBJECT_OCTETS)
        per_batch = max(1, min(RPM_MAX_LIST_ENTRIES, per_batch // LIST_ENTRY_OCTETS))
        batches = [
            [(device, keys[start:start + per_batch])] for start in range(0, len(keys), per_batch)
        ]
        entries: dict[str, Any] = {}
        for batch_result in await self._read_batches(peer, batches):
            entries.update(batch_result.get(device, {}))
        refs = []
        for key in keys:
            value = entries.get(key)
            if isinstance(value, RemoteError):
                raise value
            if isinstance(value, ObjectRef):
                refs.append(value)
        return refs

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
        results = await self._read_many(peer, [(ref, point_properties(ref)) for ref in points])
        infos = []
        for ref in points:
            values = results.get(ref, {})
            failure = object_failure(values)
            if failure is not None:
                log.warning("%s %s: left out of the point list: %s", peer.key, ref, failure)
                continue
            infos.append(point_info(ref, values))
        return infos

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
        results = await self._read_many(peer, [(ref, properties) for ref in wanted])
        out: dict[ObjectRef, tuple[PresentValue, tuple[bool, bool, bool, bool] | None]] = {}
        for ref in wanted:
            values = results.get(ref, {})
            value = values.get("present-value")
            if isinstance(value, RemoteError) or "present-value" not in values:
                log.warning("%s %s: present value not read: %s", peer.key, ref, value)
                continue
            flags = values.get("status-flags")
            out[ref] = (value, None if isinstance(flags, RemoteError) else flags)
        return out

    # --- the batched read engine ---------------------------------------------------------

    async def _read_many(self, peer: _Peer, specs: Specs) -> Results:
        """Read properties of many objects: RPM batches if the peer takes them, else RP each."""
        if not specs:
            return {}
        budget = self.capabilities.response_budget(peer.key)
        sizes = [estimate_octets(props) for _ref, props in specs]
        batches = [
            [specs[i] for i in batch]
            for batch in plan_batches(sizes, budget.octets, RPM_MAX_OBJECTS)
        ]
        results: Results = {}
        for batch_result in await self._read_batches(peer, batches):
            merge(results, batch_result)
        return results

    async def _read_batches(self, peer: _Peer, batches: list[Specs]) -> list[Results]:
        if not batches:
            return []
        done: list[Results] = []
        if self.capabilities.get(peer.key).rpm is None:
            # First contact: one batch alone finds out whether RPM works before we fan out.
            done.append(await self._read_batch(peer, batches[0]))
            batches = batches[1:]
        done += await self._gather(
            (f"read {peer.key} batch {number}", self._read_batch(peer, batch))
            for number, batch in enumerate(batches)
        )
        return done

    async def _read_batch(self, peer: _Peer, batch: Specs) -> Results:
        if self.capabilities.use_rpm(peer.key):
            try:
                return await self._rpm_fitting(peer, batch)
            except RemoteError as exc:
                if not rpm_refused(exc):
                    raise
                log.info("%s does not take ReadPropertyMultiple (%s); reading one by one",
                         peer.key, exc.error_code)
                self.capabilities.note_rpm(peer.key, False)
        return await self._rp_each(peer, batch)

    async def _rpm_fitting(self, peer: _Peer, batch: Specs) -> Results:
        """One RPM; if the answer is too big for the peer, split the batch and try again.

        A single property that alone is too big (a huge state-text on a device that can't
        segment) becomes an error value for that property instead of failing the whole read.
        """
        try:
            return await self._rpm(peer, batch)
        except RemoteError as exc:
            if exc.error_code not in TOO_BIG_CODES:
                raise
            if exc.error_code in {"segmentation-not-supported", "abort-segmentation-not-supported"}:
                self.capabilities.note_segmentation(peer.key, False)
            halves = split_specs(batch)
            if halves is None:
                ref, (key,) = batch[0]
                return {ref: {key: exc}}
            log.debug("%s: RPM answer too big (%s); splitting", peer.key, exc.error_code)
        results: Results = {}
        for half in halves:
            merge(results, await self._rpm_fitting(peer, half))
        return results

    async def _rpm(self, peer: _Peer, batch: Specs) -> Results:
        parameters: list[Any] = []
        for ref, properties in batch:
            parameters += [object_identifier(ref), list(properties)]
        what = f"RPM of {len(batch)} object(s)"
        rows = await self._call(
            peer, what, lambda: self._app.read_property_multiple(peer.address, list(parameters))
        )
        if not isinstance(rows, list):
            raise LocalError(f"{what} to {peer.key}: unexpected answer {rows!r}")
        self.capabilities.note_rpm(peer.key, True)
        results: Results = {}
        for objid, prop, index, value in rows:
            key = str(prop) if index is None else f"{prop}[{index}]"
            results.setdefault(object_ref(objid), {})[key] = rpm_value(value)
        return results

    async def _rp_each(self, peer: _Peer, batch: Specs) -> Results:
        jobs = [(ref, key) for ref, properties in batch for key in properties]
        values = await self._gather(
            (f"read {peer.key} {ref} {key}", self._rp_one(peer, ref, key)) for ref, key in jobs
        )
        results: Results = {}
        for (ref, key), value in zip(jobs, values, strict=True):
            results.setdefault(ref, {})[key] = value
        return results

    async def _rp_one(self, peer: _Peer, ref: ObjectRef, key: str) -> Any:
        """One property as a Python value, or its RemoteError as a value."""
        property, index = split_property_key(key)
        try:
            return to_python(await self._read(peer, ref, property, index))
        except RemoteError as exc:
            return exc

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
        await self._call(
            peer, f"write {ref} {property}",
            lambda: self._app.write_property(
                peer.address, objid, property, encoded, priority=priority
            ),
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
    ) -> CovSubscription:
        """Subscribe to changes of `ref`; the subscription renews itself until cancelled."""
        if lifetime < 0:
            raise InvalidValueError("lifetime must be >= 0 seconds (0 = no expiry)")
        subscription = CovSubscription(
            client=self, peer=self.peer(address), ref=as_ref(ref), callback=callback,
            confirmed=confirmed, lifetime=lifetime, process_id=self._allocate_process_id(),
        )
        # Registered before the request: the peer notifies right after it acknowledges.
        self._cov_router.add(subscription)
        try:
            await self._send_subscribe(subscription)
        except BaseException:
            self._cov_router.remove(subscription)
            raise
        self._subscriptions.add(subscription)
        subscription.start_renewing()
        return subscription

    def _allocate_process_id(self) -> int:
        process_id = self._next_process_id
        self._next_process_id = self._next_process_id % 4194303 + 1
        return process_id

    async def _send_subscribe(self, sub: CovSubscription, *, cancel: bool = False) -> None:
        objid = object_identifier(sub.ref)

        def send() -> Awaitable[Any]:
            # A fresh request per attempt, so a retry gets its own invoke ID.
            request = SubscribeCOVRequest(
                subscriberProcessIdentifier=sub.process_id,
                monitoredObjectIdentifier=objid,
                destination=sub.peer.address,
            )
            if not cancel:  # without these two fields the request cancels
                request.issueConfirmedNotifications = sub.confirmed
                request.lifetime = sub.lifetime
            return self._app.request(request)  # type: ignore[no-any-return]

        verb = "unsubscribe" if cancel else "subscribe"
        await self._call(sub.peer, f"{verb} COV {sub.ref}", send)

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel our subscriptions (telling the peers) and stop our background tasks."""
        failures = []
        for subscription in list(self._subscriptions):
            try:
                await subscription.cancel()
            except BACnetError as exc:
                failures.append(exc)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            _done, pending = await asyncio.wait(list(self._tasks), timeout=self.request_bound())
            for task in pending:
                log.warning("client task %s did not stop in time", task.get_name())
        for failure in failures:
            log.warning("COV subscription not cancelled at the peer: %s", failure)


class CovSubscription:
    """A live COV subscription: notifications go to the callback until `cancel()`."""

    def __init__(
        self, *, client: Client, peer: _Peer, ref: ObjectRef, callback: CovCallback,
        confirmed: bool, lifetime: int, process_id: int,
    ) -> None:
        self._client = client
        self.peer = peer
        self.ref = ref
        self.callback = callback
        self.confirmed = confirmed
        self.lifetime = lifetime
        self.process_id = process_id
        self.renewals = 0
        self.last_error: BaseException | None = None
        self.active = True
        self._renew_task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return self.peer.key

    def start_renewing(self) -> None:
        if self.lifetime == 0:
            return  # an indefinite subscription never expires
        self._renew_task = asyncio.create_task(
            self._renew_forever(), name=f"cov-renew {self.peer.key} {self.ref} #{self.process_id}"
        )
        self._client._keep(self._renew_task)

    def renew_delay(self) -> float:
        """Renew well before expiry: a fifth of the lifetime early, at least one request bound."""
        margin = max(self.lifetime * 0.2, self._client.request_bound() + 1.0)
        return max(1.0, self.lifetime - margin)

    async def _renew_forever(self) -> None:
        delay = self.renew_delay()
        while self.active:
            await asyncio.sleep(delay)
            try:
                await self._client._send_subscribe(self)
            except BACnetError as exc:
                # Keep trying while the peer may still hold the old subscription.
                self.last_error = exc
                log.warning("COV renewal of %s %s failed: %s", self.peer.key, self.ref, exc)
                delay = max(1.0, self._client.request_bound())
            else:
                self.renewals += 1
                self.last_error = None
                delay = self.renew_delay()

    async def cancel(self) -> None:
        """Stop renewing and tell the peer to stop notifying."""
        if not self.active:
            return
        self.active = False
        self._client._cov_router.remove(self)
        self._client._subscriptions.discard(self)
        if self._renew_task is not None:
            self._renew_task.cancel()
            await asyncio.wait([self._renew_task])
        await self._client._send_subscribe(self, cancel=True)

    async def deliver(self, notification: CovNotification) -> None:
        result = self.callback(notification)
        if inspect.isawaitable(result):
            await result


class _CovRouter:
    """Routes COV notifications for our subscriptions to their CovSubscription.

    bacpypes3 hands subscription contexts only the property values, dropping time-remaining,
    the initiating device and the confirmed flag. So the router takes over the application's
    two notification handlers on that instance and passes anything that isn't ours to the
    originals (other users of the same Application keep working).
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._subs: dict[tuple[Address, int], CovSubscription] = {}
        self._original_confirmed = app.do_ConfirmedCOVNotificationRequest
        self._original_unconfirmed = app.do_UnconfirmedCOVNotificationRequest
        app.do_ConfirmedCOVNotificationRequest = self._on_confirmed
        app.do_UnconfirmedCOVNotificationRequest = self._on_unconfirmed

    @classmethod
    def install(cls, app: Any) -> _CovRouter:
        """One router per Application, shared by every Client on it."""
        router = getattr(app, "_bms_cov_router", None)
        if router is None:
            router = cls(app)
            app._bms_cov_router = router
        return router

    def add(self, sub: CovSubscription) -> None:
        self._subs[(sub.peer.address, sub.process_id)] = sub

    def remove(self, sub: CovSubscription) -> None:
        self._subs.pop((sub.peer.address, sub.process_id), None)

    def _find(self, apdu: Any) -> CovSubscription | None:
        sub = self._subs.get((apdu.pduSource, apdu.subscriberProcessIdentifier))
        if sub is None or object_ref(apdu.monitoredObjectIdentifier) != sub.ref:
            return None
        return sub

    async def _on_confirmed(self, apdu: ConfirmedCOVNotificationRequest) -> None:
        sub = self._find(apdu)
        if sub is None:
            await self._original_confirmed(apdu)
            return
        await self._deliver(sub, apdu, confirmed=True)
        await self._app.response(SimpleAckPDU(context=apdu))

    async def _on_unconfirmed(self, apdu: UnconfirmedCOVNotificationRequest) -> None:
        sub = self._find(apdu)
        if sub is None:
            await self._original_unconfirmed(apdu)
            return
        await self._deliver(sub, apdu, confirmed=False)

    async def _deliver(self, sub: CovSubscription, apdu: Any, *, confirmed: bool) -> None:
        notification = cov_notification(apdu, sub.ref, confirmed)
        try:
            await sub.deliver(notification)
        except Exception as exc:
            # A failing consumer must not break the stack's receive path or the subscription;
            # the error is logged with its traceback and kept on the subscription.
            sub.last_error = exc
            log.exception("COV callback for %s %s failed", sub.peer.key, sub.ref)


class _IAmCollector:
    """Collects I-Am answers to one Who-Is.

    bacpypes3's own who_is() waits its full timeout; we want to stop once `expected` devices
    answered. Its I-Am handler calls `match(apdu)` on every object in `_who_is_futures`, so
    the collector registers there for the duration of one Who-Is.
    """

    def __init__(
        self, low: int | None, high: int | None, only_from: Address | None, expected: int | None
    ) -> None:
        self.low, self.high, self.only_from, self.expected = low, high, only_from, expected
        self.i_ams: dict[int, IAmRequest] = {}
        self.enough = asyncio.Event()

    def match(self, apdu: IAmRequest) -> None:
        instance = apdu.iAmDeviceIdentifier[1]
        if self.only_from is not None and apdu.pduSource != self.only_from:
            return
        if self.low is not None and self.high is not None and not self.low <= instance <= self.high:
            return
        self.i_ams.setdefault(instance, apdu)
        if self.expected is not None and len(self.i_ams) >= self.expected:
            self.enough.set()

    async def collect(self, app: Any, request: WhoIsRequest, timeout: float) -> None:
        if not hasattr(app, "_who_is_futures"):
            app._who_is_futures = []
        app._who_is_futures.append(self)
        try:
            app.request(request)
            try:
                await asyncio.wait_for(self.enough.wait(), timeout)
            except TimeoutError:
                pass  # the normal end of discovery: everyone had `timeout` to answer
        finally:
            app._who_is_futures.remove(self)


# --- conversions at the boundary (pure) ----------------------------------------------------


def bacnet_error(exc: ErrorRejectAbortNack, what: str) -> BACnetError:
    """Our exception for a bacpypes3 Error, Reject or Abort PDU."""
    if isinstance(exc, ErrorPDU):
        error_class, error_code = error_fields(exc)
        return ErrorResponse(f"{what}: error {error_class}/{error_code}",
                             error_class=error_class, error_code=error_code)
    reason = str(getattr(exc, "apduAbortRejectReason", "other"))
    if isinstance(exc, RejectPDU):
        return RejectResponse(f"{what}: rejected ({reason})", error_code=reason)
    if isinstance(exc, AbortPDU):
        if reason == "no-response":
            return BACnetTimeoutError(f"{what}: no response (the stack gave up retrying)")
        return AbortResponse(f"{what}: aborted ({reason})", error_code=reason)
    return RemoteError(f"{what}: {exc!r}")


def error_fields(exc: Any) -> tuple[str, str]:
    # Most services' errors carry errorClass/errorCode; a few nest them in an errorType.
    source = exc if getattr(exc, "errorClass", None) is not None else getattr(exc, "errorType", exc)
    return str(getattr(source, "errorClass", "")), str(getattr(source, "errorCode", ""))


def check_returned(result: Any, what: str) -> Any:
    """Raise for the errors that bacpypes3 client calls return instead of raising."""
    if isinstance(result, ErrorRejectAbortNack):
        raise bacnet_error(result, what) from result
    if type(result) is str and result in _BACPYPES_DECODE_FAILURES:
        raise LocalError(f"{what}: cannot decode the answer ({result.strip('-')})")
    return result


def rpm_value(value: Any) -> Any:
    """An RPM result element as a Python value, or an ErrorResponse for an access error."""
    if isinstance(value, ErrorType):
        error_class, error_code = str(value.errorClass), str(value.errorCode)
        return ErrorResponse(f"property error {error_class}/{error_code}",
                             error_class=error_class, error_code=error_code)
    return to_python(value)


def rpm_refused(exc: RemoteError) -> bool:
    return exc.error_code in {"unrecognized-service", "service-request-denied"} and not (
        isinstance(exc, AbortResponse)
    )


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


def cov_notification(apdu: Any, ref: ObjectRef, confirmed: bool) -> CovNotification:
    values: dict[str, Any] = {}
    for element in apdu.listOfValues:
        property = str(element.propertyIdentifier)
        try:
            datatype = property_datatype(ref.object_type, property, element.propertyArrayIndex)
        except InvalidValueError:
            log.debug("COV %s: skipping %s, a property we can't decode", ref, property)
            continue
        values[property] = to_python(element.value.cast_out(datatype))
    return CovNotification(
        device_address=str(apdu.pduSource),
        device_instance=int(apdu.initiatingDeviceIdentifier[1]),
        ref=ref,
        values=values,
        time_remaining=int(apdu.timeRemaining),
        confirmed=confirmed,
    )


def as_ref(ref: ObjectRef | str) -> ObjectRef:
    return ref if isinstance(ref, ObjectRef) else ObjectRef.parse(ref)


def object_identifier(ref: ObjectRef) -> ObjectIdentifier:
    try:
        return ObjectIdentifier((ref.object_type, ref.instance))
    except (ValueError, TypeError) as exc:
        raise InvalidValueError(f"bad object reference {ref}: {exc}") from exc


def object_ref(objid: Any) -> ObjectRef:
    object_type, instance = objid
    return ObjectRef(str(object_type), int(instance))


def check_priority(priority: int | None) -> None:
    if priority is None:
        return
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 16:
        raise InvalidValueError(f"priority must be 1..16, not {priority!r}")


def split_property_key(key: str) -> tuple[str, int | None]:
    """"priority-array[0]" -> ("priority-array", 0)."""
    name, _, rest = key.partition("[")
    return (name, int(rest.rstrip("]"))) if rest else (name, None)


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


def estimate_octets(properties: Iterable[str]) -> int:
    return OBJECT_OCTETS + sum(PROPERTY_OCTETS + VALUE_OCTETS.get(p, 16) for p in properties)


def split_specs(batch: Specs) -> list[Specs] | None:
    """Halve a batch by objects, or one object's properties; None if it can't get smaller."""
    if len(batch) > 1:
        middle = len(batch) // 2
        return [batch[:middle], batch[middle:]]
    ref, properties = batch[0]
    if len(properties) > 1:
        middle = len(properties) // 2
        return [[(ref, properties[:middle])], [(ref, properties[middle:])]]
    return None


def merge(into: Results, more: Results) -> None:
    for ref, values in more.items():
        into.setdefault(ref, {}).update(values)


def object_failure(values: dict[str, Any]) -> RemoteError | None:
    """The error if the object itself could not be read (rather than one optional property)."""
    for key in ("object-name", "present-value"):
        value = values.get(key)
        if isinstance(value, RemoteError) and value.error_code not in MISSING_PROPERTY_CODES:
            return value
    if not values:
        return RemoteError("no answer for this object")
    return None


def point_info(ref: ObjectRef, values: dict[str, Any]) -> PointInfo:
    def ok(key: str) -> Any:
        value = values.get(key)
        return None if isinstance(value, RemoteError) else value

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


__all__ = ["Client", "CovSubscription", "bacnet_error", "check_returned"]
