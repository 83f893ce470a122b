"""The client side of alarms: event notifications received, event information, acknowledgements.

Theory of operation
-------------------
`EventReceiver` takes over the Application's two event-notification handlers (like cov.CovRouter
does for COV) and turns each notification into our own `RemoteEvent` at the boundary; what does
not decode (a missing field, an unknown state) is dropped with one log line. The notifications
are read by event_decode (installed by the receiver), straight from their octets, and fall back
to bacpypes3's decoder for anything unusual: the same RemoteEvent either way. A confirmed
notification is acknowledged only after the product's `on_event` returned: the worker stores
the event there, so a SimpleAck means "stored" (the before-ack rule of external writes). If
`on_event` raises, the peer gets device/operational-problem and sends it again.

`EventClient` sends what an operator workstation sends (AE-INFO-A, AE-ACK-A, AE-N-A enrolment):
GetEventInformation with its more-events paging, AcknowledgeAlarm, and the read-modify-write of
a remote notification class's recipient-list that adds us as a recipient. Every request goes
through requester.Requester (limits, timeouts, retries, one error tree).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from bacpypes3.apdu import (
    AcknowledgeAlarmRequest,
    ConfirmedEventNotificationRequest,
    GetEventInformationRequest,
    SimpleAckPDU,
    UnconfirmedEventNotificationRequest,
)
from bacpypes3.basetypes import Destination as BacnetDestination
from bacpypes3.basetypes import EventState, Recipient, TimeStamp
from bacpypes3.constructeddata import ListOf
from bacpypes3.errors import ExecutionError
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet import event_decode
from bms.bacnet.boundary import object_identifier
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local.alarm_spec import EVENT_STATES, Bits3, transition_of
from bms.bacnet.local.reporting import bits, from_timestamp, to_time, to_timestamp
from bms.bacnet.requester import Peer, Requester
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import object_ref

log = logging.getLogger(__name__)

MAX_PAGES = 1000  # GetEventInformation pages per device: a peer that always says "more" stops


@dataclass(frozen=True)
class RemoteEvent:
    """One event notification from a remote device, in plain values."""

    device_address: str
    device_instance: int
    ref: ObjectRef
    process_id: int
    time_stamp: datetime
    notification_class: int
    priority: int
    event_type: str
    message: str
    notify_type: str  # "alarm", "event", "ack-notification"
    ack_required: bool
    from_state: str
    to_state: str
    confirmed: bool

    @property
    def transition(self) -> str:
        return transition_of(self.to_state)


@dataclass(frozen=True)
class EventSummary:
    """One entry of GetEventInformation: an object that is not normal or not fully acked."""

    ref: ObjectRef
    event_state: str
    acked_transitions: Bits3
    event_time_stamps: tuple[datetime | None, datetime | None, datetime | None]
    notify_type: str
    priorities: tuple[int, int, int]


EventCallback = Callable[[RemoteEvent], Any]


class MalformedEvent(ValueError):
    """An event notification we cannot read."""


def remote_event(apdu: Any, *, confirmed: bool) -> RemoteEvent:
    """Our RemoteEvent from a bacpypes3 notification; MalformedEvent says what is wrong."""
    fields = event_decode.fast_fields(apdu)
    try:
        if fields is not None:
            event = _from_fields(fields, str(apdu.pduSource), confirmed)
        else:
            event = _from_bacpypes3(apdu, confirmed)
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise MalformedEvent(f"{type(exc).__name__}: {exc}") from exc
    if event.notify_type != "ack-notification":
        for state in (event.from_state, event.to_state):
            if state not in EVENT_STATES:
                raise MalformedEvent(f"unknown event state {state!r}")
    if not 0 <= event.priority <= 255:
        raise MalformedEvent(f"priority {event.priority} out of 0-255")
    return event


def _from_bacpypes3(apdu: Any, confirmed: bool) -> RemoteEvent:
    to_state = str(apdu.toState)
    when = from_timestamp(apdu.timeStamp)
    return RemoteEvent(
        device_address=str(apdu.pduSource),
        device_instance=int(apdu.initiatingDeviceIdentifier[1]),
        ref=object_ref(apdu.eventObjectIdentifier),
        process_id=int(apdu.processIdentifier),
        time_stamp=datetime.now().astimezone() if when is None else when,
        notification_class=int(apdu.notificationClass),
        priority=int(apdu.priority),
        event_type="" if apdu.eventType is None else str(apdu.eventType),
        message="" if apdu.messageText is None else str(apdu.messageText),
        notify_type=str(apdu.notifyType),
        ack_required=bool(apdu.ackRequired),
        from_state=to_state if apdu.fromState is None else str(apdu.fromState),
        to_state=to_state,
        confirmed=confirmed,
    )


def _from_fields(fields: event_decode.EventFields, source: str, confirmed: bool) -> RemoteEvent:
    """The same RemoteEvent as _from_bacpypes3, from the parameters event_decode read."""
    when = None
    if fields.date_time is not None:
        year, month, day, hour, minute, second, hundredths = fields.date_time
        if 255 not in fields.date_time:  # as from_timestamp: an unspecified field, no date-time
            when = datetime(
                year + 1900, month, day, hour, minute, second, hundredths * 10000
            ).astimezone()
    return RemoteEvent(
        device_address=source,
        device_instance=fields.device_instance,
        ref=ObjectRef(fields.object_type, fields.instance),
        process_id=fields.process_id,
        time_stamp=datetime.now().astimezone() if when is None else when,
        notification_class=fields.notification_class,
        priority=fields.priority,
        event_type=fields.event_type,
        message=fields.message or "",
        notify_type=fields.notify_type,
        ack_required=bool(fields.ack_required),
        from_state=fields.to_state if fields.from_state is None else fields.from_state,
        to_state=fields.to_state,
        confirmed=confirmed,
    )


class EventReceiver:
    """Routes the Application's event notifications to `on_event` (one receiver per app)."""

    def __init__(self, app: Any, on_event: EventCallback) -> None:
        self._app = app
        self._on_event = on_event
        self.dropped = 0  # malformed notifications
        event_decode.install()  # notifications read without bacpypes3's generic decoder
        app.do_ConfirmedEventNotificationRequest = self._on_confirmed
        app.do_UnconfirmedEventNotificationRequest = self._on_unconfirmed

    async def _on_confirmed(self, apdu: ConfirmedEventNotificationRequest) -> None:
        event = self._read(apdu, confirmed=True)
        if event is None:
            raise ExecutionError(errorClass="services", errorCode="invalidParameterDataType")
        try:
            await self._deliver(event)
        except Exception as exc:
            log.warning("event notification from %s not stored (%s): refused", event.ref, exc)
            raise ExecutionError(errorClass="device", errorCode="operationalProblem") from exc
        await self._app.response(SimpleAckPDU(context=apdu))

    async def _on_unconfirmed(self, apdu: UnconfirmedEventNotificationRequest) -> None:
        event = self._read(apdu, confirmed=False)
        if event is None:
            return
        try:
            await self._deliver(event)
        except Exception:
            log.exception("unconfirmed event notification from %s not stored", event.ref)

    def _read(self, apdu: Any, *, confirmed: bool) -> RemoteEvent | None:
        try:
            return remote_event(apdu, confirmed=confirmed)
        except MalformedEvent as exc:
            self.dropped += 1
            log.warning("malformed event notification from %s dropped: %s", apdu.pduSource, exc)
            return None

    async def _deliver(self, event: RemoteEvent) -> None:
        result = self._on_event(event)
        if inspect.isawaitable(result):
            await result


class EventClient:
    """GetEventInformation, AcknowledgeAlarm and recipient enrolment at remote devices."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def event_information(self, peer: Peer) -> list[EventSummary]:
        """Every active or unacknowledged event of the device, all pages."""
        summaries: list[EventSummary] = []
        last: ObjectIdentifier | None = None
        for _ in range(MAX_PAGES):
            ack = await self._requester.call(
                peer, "get event information", functools.partial(self._page, peer, last)
            )
            page = [_summary(entry) for entry in ack.listOfEventSummaries]
            summaries.extend(page)
            if not ack.moreEvents or not page:
                return summaries
            last = object_identifier(page[-1].ref)
        log.warning("%s: still more events after %d pages; stopped", peer.key, MAX_PAGES)
        return summaries

    async def _page(self, peer: Peer, last: ObjectIdentifier | None) -> Any:
        request = GetEventInformationRequest(destination=peer.address)
        if last is not None:
            request.lastReceivedObjectIdentifier = last
        return await self._requester.app.request(request)

    async def acknowledge(
        self,
        peer: Peer,
        ref: ObjectRef,
        state: str,
        time_stamp: datetime,
        source: str,
        process_id: int = 0,
    ) -> None:
        """AcknowledgeAlarm of the transition into `state` stamped `time_stamp`."""
        if state not in EVENT_STATES:
            raise InvalidValueError(f"unknown event state {state!r}")
        request = AcknowledgeAlarmRequest(
            acknowledgingProcessIdentifier=process_id,
            eventObjectIdentifier=object_identifier(ref),
            eventStateAcknowledged=EventState(state),
            timeStamp=to_timestamp(time_stamp),
            acknowledgmentSource=source,
            timeOfAcknowledgment=TimeStamp.as_dateTime(),
            destination=peer.address,
        )
        await self._requester.call(
            peer, f"acknowledge {ref} {state}", lambda: self._requester.app.request(request)
        )

    async def enroll(
        self, peer: Peer, notification_class: int, device_instance: int, process_id: int
    ) -> bool:
        """Add our device to a remote notification class's recipients (confirmed, every
        transition, all week); False if it was already there."""
        ref = ObjectRef("notification-class", notification_class)
        current = await self._requester.read(peer, ref, "recipient-list")
        entries = list(current or [])
        if any(_is_us(entry, device_instance, process_id) for entry in entries):
            return False
        entries.append(_our_destination(device_instance, process_id))
        encoded = ListOf(BacnetDestination)(entries)
        objid = object_identifier(ref)
        app = self._requester.app
        await self._requester.call(
            peer,
            f"write {ref} recipient-list",
            lambda: app.write_property(peer.address, objid, "recipient-list", encoded),
        )
        return True


def _summary(entry: Any) -> EventSummary:
    stamps = tuple(from_timestamp(stamp) for stamp in entry.eventTimeStamps)
    priorities = tuple(int(p) for p in entry.eventPriorities)
    return EventSummary(
        ref=object_ref(entry.objectIdentifier),
        event_state=str(entry.eventState),
        acked_transitions=bits(entry.acknowledgedTransitions),
        event_time_stamps=(stamps[0], stamps[1], stamps[2]),
        notify_type=str(entry.notifyType),
        priorities=(priorities[0], priorities[1], priorities[2]),
    )


def _is_us(entry: Any, device_instance: int, process_id: int) -> bool:
    device = getattr(entry.recipient, "device", None)
    return (
        device is not None
        and int(device[1]) == device_instance
        and int(entry.processIdentifier) == process_id
    )


def _our_destination(device_instance: int, process_id: int) -> BacnetDestination:
    return BacnetDestination(
        validDays=[1] * 7,
        fromTime=to_time(time(0, 0)),
        toTime=to_time(time(23, 59, 59, 990000)),
        recipient=Recipient(device=ObjectIdentifier(("device", device_instance))),
        processIdentifier=process_id,
        issueConfirmedNotifications=True,
        transitions=[1, 1, 1],
    )
