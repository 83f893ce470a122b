"""COV subscriptions from the client: subscribing, renewing, routing notifications, cancelling.

A subscription lives from a SubscribeCOV the peer acknowledged until `cancel()`: it is
registered with the application's CovRouter *before* the request (the peer notifies right
after it acknowledges), renews itself before expiry, and on cancel stops renewing, leaves the
router and tells the peer (a SubscribeCOV without lifetime).

Renewals are spread: each one falls due at a random 60-80 % of the lifetime (drawn again for
each renewal; the first at 20-80 %), so the 200 subscriptions a device got in one burst do not
all renew in the same second, and at most RENEWALS_PER_PEER renewals of one peer are in flight
at once (the rest wait their turn), leaving the peer's other request slots to polls and
subscriptions.
A subscription can be made again with the process id of an earlier one (`process_id=`): the
peer then replaces its old subscription instead of holding two (ASHRAE 135, SubscribeCOV:
the same subscriber, process id and object is the same subscription).
Notifications are read from their octets by bms.bacnet.cov_decode (installed with the first
CovSubscriptions) when they are plain, by bacpypes3 otherwise: the router takes either.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bacpypes3.apdu import (
    ConfirmedCOVNotificationRequest,
    SimpleAckPDU,
    SubscribeCOVRequest,
    UnconfirmedCOVNotificationRequest,
)
from bacpypes3.errors import ExecutionError
from bacpypes3.pdu import Address

from bms.bacnet import cov_datagram, cov_decode
from bms.bacnet.boundary import object_identifier
from bms.bacnet.cov_notifications import cov_notification, notification_from_fields
from bms.bacnet.errors import BACnetError, InvalidValueError
from bms.bacnet.requester import Peer, Requester
from bms.bacnet.types import CovNotification, ObjectRef
from bms.bacnet.values import object_ref

log = logging.getLogger(__name__)

CovCallback = Callable[[CovNotification], Any]
# Told of each renewal's outcome (None: renewed), e.g. to mark a silent device unreachable.
RenewalCallback = Callable[["CovSubscription", "BACnetError | None"], None]

MAX_PROCESS_ID = 4194303
CANCEL_CONCURRENCY = 32  # cancellations in flight at shutdown (the requester bounds each peer)
CANCEL_DEADLINE_SECONDS = 5.0  # the longest a shutdown waits for them
RENEW_AT = (0.6, 0.8)  # a renewal falls due at a random fraction of the lifetime in this range
# ... and the first one in this wider range: subscriptions made in one burst (a building at
# start-up) would otherwise all renew within 20 % of a lifetime, each renewal answered by a
# notification too (bench/cov.py: 10,000 renewals in 24 s tripled the load, p99 x10).
FIRST_RENEW_AT = (0.2, 0.8)
RENEWALS_PER_PEER = 4  # renewals of one peer in flight at once


class CovSubscriptions:
    """The live subscriptions of one client, and the requests that make and end them."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester
        self._router = CovRouter.install(requester.app)
        cov_decode.install()  # notifications read without bacpypes3's generic decoder
        self._live: set[CovSubscription] = set()
        self._next_process_id = 1
        self._renewal_slots: dict[str, asyncio.Semaphore] = {}

    def renewal_slot(self, peer: Peer) -> asyncio.Semaphore:
        slot = self._renewal_slots.get(peer.key)
        if slot is None:
            slot = self._renewal_slots[peer.key] = asyncio.Semaphore(RENEWALS_PER_PEER)
        return slot

    async def subscribe(
        self,
        peer: Peer,
        ref: ObjectRef,
        callback: CovCallback,
        *,
        confirmed: bool,
        lifetime: int,
        process_id: int | None = None,
    ) -> CovSubscription:
        """Subscribe; `process_id` of an earlier subscription to the same object replaces it
        at the peer (one subscription there, not two)."""
        if process_id is not None and not 0 <= process_id <= MAX_PROCESS_ID:
            raise InvalidValueError(f"process id {process_id} not in 0..{MAX_PROCESS_ID}")
        subscription = CovSubscription(
            owner=self,
            peer=peer,
            ref=ref,
            callback=callback,
            confirmed=confirmed,
            lifetime=lifetime,
            process_id=self._allocate_process_id() if process_id is None else process_id,
        )
        # Registered before the request: the peer notifies right after it acknowledges.
        self._router.add(subscription)
        try:
            await self.send_subscribe(subscription)
        except BaseException:
            self._router.remove(subscription)
            raise
        self._live.add(subscription)
        subscription.start_renewing()
        return subscription

    def _allocate_process_id(self) -> int:
        process_id = self._next_process_id
        self._next_process_id = self._next_process_id % MAX_PROCESS_ID + 1
        return process_id

    async def send_subscribe(self, sub: CovSubscription, *, cancel: bool = False) -> None:
        objid = object_identifier(sub.ref)
        app = self._requester.app

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
            return app.request(request)  # type: ignore[no-any-return]

        verb = "unsubscribe" if cancel else "subscribe"
        await self._requester.call(sub.peer, f"{verb} COV {sub.ref}", send)

    def forget(self, sub: CovSubscription) -> None:
        self._router.remove(sub)
        self._live.discard(sub)

    def keep(self, task: asyncio.Task[Any]) -> None:
        self._requester.keep(task)

    def request_bound(self) -> float:
        return self._requester.request_bound()

    async def cancel_all(
        self,
        *,
        concurrency: int = CANCEL_CONCURRENCY,
        deadline: float = CANCEL_DEADLINE_SECONDS,
    ) -> CancelOutcome:
        """Cancel every live subscription, `concurrency` at a time, for at most `deadline`
        seconds: one at a time, 10,000 subscriptions would outlast any shutdown. What is not
        cancelled by then is dropped here (the peers let it expire); the peers' refusals are
        returned, not raised."""
        outcome = CancelOutcome()
        slots = asyncio.Semaphore(concurrency)

        async def cancel_one(sub: CovSubscription) -> None:
            async with slots:
                try:
                    await sub.cancel()
                except BACnetError as exc:
                    outcome.failures.append(exc)
                else:
                    outcome.cancelled += 1

        tasks = [
            asyncio.create_task(cancel_one(sub), name=f"cov-cancel {sub.peer.key} {sub.ref}")
            for sub in list(self._live)
        ]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=deadline)
            outcome.left = len(pending)  # waiting for a slot, or for the peer's answer
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
            for task in done:
                task.result()  # a bug in cancelling, not a peer's refusal: raise it
        for sub in list(self._live):  # those that never got a slot
            await sub.drop()
        return outcome


@dataclass
class CancelOutcome:
    """What `cancel_all` did: cancelled at the peer, refused by it, left to expire there."""

    cancelled: int = 0
    failures: list[BACnetError] = field(default_factory=list)
    left: int = 0


class CovSubscription:
    """A live COV subscription: notifications go to the callback until `cancel()`."""

    def __init__(
        self,
        *,
        owner: CovSubscriptions,
        peer: Peer,
        ref: ObjectRef,
        callback: CovCallback,
        confirmed: bool,
        lifetime: int,
        process_id: int,
    ) -> None:
        self._owner = owner
        self.peer = peer
        self.ref = ref
        self.callback = callback
        self.confirmed = confirmed
        self.lifetime = lifetime
        self.process_id = process_id
        self.renewals = 0
        self.last_error: BaseException | None = None
        self.active = True
        self.on_renewal: RenewalCallback | None = None
        self.renew_due: float | None = None  # monotonic time of the next renewal
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
        self._owner.keep(self._renew_task)

    def renew_delay(self, first: bool = False) -> float:
        """Renew well before expiry, at a random 60-80 % of the lifetime (20-80 % for the
        `first` renewal; spread, see the module's docstring), and at least one request bound
        before it."""
        window = FIRST_RENEW_AT if first else RENEW_AT
        spread = self.lifetime * random.uniform(*window)  # noqa: S311 - jitter, not a secret
        latest = self.lifetime - (self._owner.request_bound() + 1.0)
        return max(1.0, min(spread, latest))

    async def _renew_forever(self) -> None:
        delay = self.renew_delay(first=True)
        while self.active:
            self.renew_due = time.monotonic() + delay
            await asyncio.sleep(delay)
            try:
                async with self._owner.renewal_slot(self.peer):
                    await self._owner.send_subscribe(self)
            except BACnetError as exc:
                # Keep trying while the peer may still hold the old subscription.
                self.last_error = exc
                log.warning("COV renewal of %s %s failed: %s", self.peer.key, self.ref, exc)
                delay = max(1.0, self._owner.request_bound())
                self._tell_renewal(exc)
            else:
                self.renewals += 1
                self.last_error = None
                delay = self.renew_delay()
                self._tell_renewal(None)

    def _tell_renewal(self, error: BACnetError | None) -> None:
        if self.on_renewal is not None:
            self.on_renewal(self, error)

    async def renew_now(self) -> None:
        """Subscribe again at once (the peer restarted and forgot us); the renewal task keeps
        its own schedule."""
        if not self.active:
            return
        await self._owner.send_subscribe(self)
        self.renewals += 1
        self.last_error = None

    async def cancel(self) -> None:
        """Stop renewing and tell the peer to stop notifying."""
        if not self.active:
            return
        self.active = False
        self._owner.forget(self)
        if self._renew_task is not None:
            self._renew_task.cancel()
            await asyncio.wait([self._renew_task])
        await self._owner.send_subscribe(self, cancel=True)

    async def drop(self) -> None:
        """Stop renewing and routing, without a request: for a peer that stopped answering
        (its subscription expires there on its own)."""
        if not self.active:
            return
        self.active = False
        self._owner.forget(self)
        if self._renew_task is not None and self._renew_task is not asyncio.current_task():
            self._renew_task.cancel()
            await asyncio.wait([self._renew_task])

    async def deliver(self, notification: CovNotification) -> None:
        result = self.callback(notification)
        if inspect.isawaitable(result):
            await result


class CovRouter:
    """Routes COV notifications for our subscriptions to their CovSubscription.

    bacpypes3 hands subscription contexts only the property values, dropping time-remaining,
    the initiating device and the confirmed flag. So the router takes over the application's
    two notification handlers on that instance and passes anything that isn't ours to the
    originals (other users of the same Application keep working).
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._subs: dict[tuple[Address, int], CovSubscription] = {}
        self._delivering: set[asyncio.Future[None]] = set()  # deliver_read's awaited results
        self._datagrams_read = False  # bms.bacnet.cov_datagram installed on the app's socket
        self._original_confirmed = app.do_ConfirmedCOVNotificationRequest
        self._original_unconfirmed = app.do_UnconfirmedCOVNotificationRequest
        app.do_ConfirmedCOVNotificationRequest = self._on_confirmed
        app.do_UnconfirmedCOVNotificationRequest = self._on_unconfirmed

    @classmethod
    def install(cls, app: Any) -> CovRouter:
        """One router per Application, shared by every Client on it."""
        router = getattr(app, "_bms_cov_router", None)
        if router is None:
            router = cls(app)
            app._bms_cov_router = router
        return router

    def add(self, sub: CovSubscription) -> None:
        self._subs[(sub.peer.address, sub.process_id)] = sub
        if not self._datagrams_read:
            # Here, not at construction: the application's socket is open by the first
            # subscription (the stack waits for its transports before anything is sent).
            cov_datagram.install(self._app, self)
            self._datagrams_read = cov_datagram.receiver_of(self._app) is not None

    def remove(self, sub: CovSubscription) -> None:
        self._subs.pop((sub.peer.address, sub.process_id), None)

    def subscription_for(
        self, source: Address, process_id: int, ref: ObjectRef
    ) -> CovSubscription | None:
        sub = self._subs.get((source, process_id))
        return sub if sub is not None and ref == sub.ref else None

    def deliver_read(
        self, sub: CovSubscription, source_text: str, fields: cov_decode.CovFields
    ) -> None:
        """An unconfirmed notification read from its datagram (bms.bacnet.cov_datagram),
        delivered now; a callback that returns something to await gets a task, kept until done."""
        notification = notification_from_fields(source_text, fields, sub.ref, confirmed=False)
        try:
            result = sub.callback(notification)
        except Exception as exc:
            sub.last_error = exc
            log.exception("COV callback for %s %s failed", sub.peer.key, sub.ref)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._await_delivery(sub, result))
            self._delivering.add(task)
            task.add_done_callback(self._delivering.discard)

    async def _await_delivery(self, sub: CovSubscription, result: Awaitable[Any]) -> None:
        try:
            await result
        except Exception as exc:
            sub.last_error = exc
            log.exception("COV callback for %s %s failed", sub.peer.key, sub.ref)

    def _find(self, apdu: Any) -> CovSubscription | None:
        fields = cov_decode.fast_fields(apdu)
        if fields is not None:  # read from the octets: no bacpypes3 parameter is touched
            return self.subscription_for(apdu.pduSource, fields.process_id, fields.ref)
        sub = self._subs.get((apdu.pduSource, apdu.subscriberProcessIdentifier))
        if sub is None or object_ref(apdu.monitoredObjectIdentifier) != sub.ref:
            return None
        return sub

    async def _on_confirmed(self, apdu: ConfirmedCOVNotificationRequest) -> None:
        """Acknowledged once the callback (and what it returned to await: the value stored)
        is done; refused with device/operational-problem if it failed, so the device sends it
        again rather than believing it delivered."""
        sub = self._find(apdu)
        if sub is None:
            await self._original_confirmed(apdu)
            return
        try:
            await sub.deliver(cov_notification(apdu, sub.ref, confirmed=True))
        except Exception as exc:
            sub.last_error = exc
            log.warning(
                "COV notification of %s %s not taken (%s): refused", sub.peer.key, sub.ref, exc
            )
            raise ExecutionError(errorClass="device", errorCode="operationalProblem") from exc
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
