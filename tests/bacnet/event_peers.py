"""An alarm recipient on loopback: a plain bacpypes3 Application that keeps the event
notifications it receives (and acknowledges the confirmed ones), plus the requests an
operator workstation sends to device 8888 (AcknowledgeAlarm, GetEventInformation)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import (
    AcknowledgeAlarmRequest,
    GetEventInformationRequest,
    SimpleAckPDU,
)
from bacpypes3.app import Application
from bacpypes3.basetypes import EventState, TimeStamp
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.values import to_python

WAIT = 5.0


@dataclass(frozen=True)
class Received:
    """One event notification as plain values."""

    confirmed: bool
    process_id: int
    object_id: tuple[str, int]
    notify_type: str
    from_state: str | None
    to_state: str
    priority: int
    ack_required: bool | None
    event_type: str
    time_stamp: Any  # the bacpypes3 TimeStamp, to echo in AcknowledgeAlarm
    values: Any


class RecipientApplication(Application):  # type: ignore[misc]
    """Keeps every event notification it receives in `notifications`."""

    @property
    def notifications(self) -> asyncio.Queue[Received]:
        queue: asyncio.Queue[Received] | None = self.__dict__.get("_notifications")
        if queue is None:
            queue = self.__dict__["_notifications"] = asyncio.Queue()
        return queue

    async def do_ConfirmedEventNotificationRequest(self, apdu: Any) -> None:
        self.notifications.put_nowait(_received(apdu, confirmed=True))
        await self.response(SimpleAckPDU(context=apdu))

    async def do_UnconfirmedEventNotificationRequest(self, apdu: Any) -> None:
        self.notifications.put_nowait(_received(apdu, confirmed=False))


def _received(apdu: Any, *, confirmed: bool) -> Received:
    object_type, instance = apdu.eventObjectIdentifier
    return Received(
        confirmed=confirmed,
        process_id=int(apdu.processIdentifier),
        object_id=(str(object_type), int(instance)),
        notify_type=str(apdu.notifyType),
        from_state=None if apdu.fromState is None else str(apdu.fromState),
        to_state=str(apdu.toState),
        priority=int(apdu.priority),
        ack_required=None if apdu.ackRequired is None else bool(apdu.ackRequired),
        event_type=str(apdu.eventType),
        time_stamp=apdu.timeStamp,
        values=None if apdu.eventValues is None else to_python(apdu.eventValues),
    )


async def next_notification(app: RecipientApplication, timeout: float = WAIT) -> Received:
    return await asyncio.wait_for(app.notifications.get(), timeout)


async def acknowledge(
    app: Application,
    server: Address,
    object_id: tuple[str, int],
    state: str,
    time_stamp: Any,
    source: str = "operator",
) -> Any:
    """Send AcknowledgeAlarm; returns the answer (a SimpleAck) or raises bacpypes3's error."""
    request = AcknowledgeAlarmRequest(
        acknowledgingProcessIdentifier=7,
        eventObjectIdentifier=ObjectIdentifier(object_id),
        eventStateAcknowledged=EventState(state),
        timeStamp=time_stamp,
        acknowledgmentSource=source,
        timeOfAcknowledgment=TimeStamp.as_dateTime(),
        destination=server,
    )
    async with asyncio.timeout(WAIT):
        return await app.request(request)


async def event_information(app: Application, server: Address) -> list[dict[str, Any]]:
    async with asyncio.timeout(WAIT):
        ack = await app.request(GetEventInformationRequest(destination=server))
    return [to_python(summary) for summary in ack.listOfEventSummaries]
