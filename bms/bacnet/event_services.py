"""Our device as an alarm source: transitions, AcknowledgeAlarm and the alarm summaries.

Theory of operation. bacpypes3's event algorithms (local.reporting) detect a transition and
change event-state and event-time-stamps; they then call `event_transitioned`, which does what
ASHRAE 135 clause 13.2 asks and bacpypes3 does not: a date-time stamp, acked-transitions
cleared when the notification class wants an acknowledgement (set otherwise, or when the
object's event-enable leaves the transition out), priority and ack-required of the transition
(not of the event state's number), the notifications to the recipients that take it today
(event_notify), and the product's `transition_hook` (it records the transition).

AcknowledgeAlarm (13.5): the transition must be the object's latest of its kind (its time stamp
matches) and still unacknowledged; the product's `ack_hook` stores the acknowledgement before
the device changes acked-transitions and answers, then an ACK_NOTIFICATION goes to the
recipients the original went to. GetEventInformation, GetAlarmSummary and GetEnrollmentSummary
report the objects with intrinsic reporting. bacpypes3 0.0.108 serves none of these four.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any

from bacpypes3.apdu import (
    GetAlarmSummaryACK,
    GetEnrollmentSummaryACK,
    GetEventInformationACK,
    SimpleAckPDU,
)
from bacpypes3.basetypes import (
    ErrorClass,
    ErrorCode,
    EventState,
    EventTransitionBits,
    GetAlarmSummaryAlarmSummary,
    GetEnrollmentSummaryEnrollmentSummary,
    GetEventInformationEventSummary,
    NotifyType,
)
from bacpypes3.errors import ExecutionError, ObjectError

from bms.bacnet.boundary import object_identifier
from bms.bacnet.errors import ErrorResponse
from bms.bacnet.event_notify import Notifier
from bms.bacnet.local.alarm_spec import (
    TRANSITIONS,
    AlarmAcknowledgement,
    EventTransition,
    transition_of,
)
from bms.bacnet.local.reporting import (
    DEFAULT_PRIORITY,
    LocalNotificationClass,
    bits,
    from_timestamp,
    now_stamp,
    stamp_key,
    to_timestamp,
)
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import to_python

__all__ = ["AckHook", "EventServices", "TransitionHook"]

log = logging.getLogger(__name__)

TransitionHook = Callable[[EventTransition], None]
AckHook = Callable[[AlarmAcknowledgement], Awaitable[None]]

ACK_HOOK_TIMEOUT_SECONDS = 2.5  # below a peer's usual 3 s APDU timeout
EVENT_SUMMARIES_PER_PAGE = 20  # GetEventInformation: more-events says there are more


def _refused(error_class: str, error_code: str) -> ExecutionError:
    return ExecutionError(errorClass=error_class, errorCode=error_code)


class EventServices:
    """Mixin for the device's Application (before bacpypes3's Application in the MRO)."""

    transition_hook: TransitionHook | None = None
    ack_hook: AckHook | None = None
    ack_hook_timeout: float = ACK_HOOK_TIMEOUT_SECONDS

    @property
    def notifier(self) -> Notifier:
        notifier: Notifier | None = self.__dict__.get("_notifier")
        if notifier is None:
            notifier = self.__dict__["_notifier"] = Notifier(self)
        return notifier

    def notification_class_object(self, number: Any) -> LocalNotificationClass | None:
        if number is None:
            return None
        for obj in self.objectIdentifier.values():  # type: ignore[attr-defined]
            if isinstance(obj, LocalNotificationClass) and obj.spec.instance == int(number):
                return obj
        return None

    def reporting_objects(self) -> Iterator[Any]:
        """Our objects with intrinsic reporting, in object-identifier order."""
        objects = [
            obj
            for obj in self.objectIdentifier.values()  # type: ignore[attr-defined]
            if getattr(obj, "_event_algorithm", None) is not None
        ]
        yield from sorted(objects, key=lambda obj: tuple(obj.objectIdentifier))

    # ---- transitions (called by bacpypes3's algorithms through local.reporting)

    def event_transitioned(self, obj: Any, params: dict[str, Any]) -> None:
        from_state = str(EventState(params["fromState"]))
        to_state = str(EventState(params["toState"]))
        transition = transition_of(to_state)
        index = TRANSITIONS.index(transition)
        nc = self.notification_class_object(obj.notificationClass)
        enabled = bool(obj.eventEnable[index])
        ack_required = enabled and nc is not None and nc.spec.needs_ack(transition)
        when = now_stamp()
        obj.eventTimeStamps[index] = stamp = to_timestamp(when)
        acked = list(bits(obj.ackedTransitions))
        acked[index] = not ack_required
        obj.ackedTransitions = EventTransitionBits([int(b) for b in acked])
        priority = nc.spec.priority_of(transition) if nc is not None else DEFAULT_PRIORITY
        message = _message(obj, from_state, to_state)
        params.update(
            timeStamp=stamp, priority=priority, ackRequired=ack_required, messageText=message
        )
        if enabled and nc is not None:
            self.notifier.send(nc.spec, transition, params, when)
        log.info("%s %s -> %s", obj.objectIdentifier, from_state, to_state)
        if self.transition_hook is not None:
            event = EventTransition(
                ref=_ref(obj),
                object_name=str(obj.objectName),
                from_state=from_state,
                to_state=to_state,
                time_stamp=when,
                event_type=str(params["eventType"]),
                notification_class=int(obj.notificationClass),
                priority=priority,
                notify_type=str(NotifyType(obj.notifyType)),
                ack_required=ack_required,
                message=message,
                acked_transitions=(acked[0], acked[1], acked[2]),
                event_time_stamps=_time_stamps(obj),
            )
            try:
                self.transition_hook(event)
            except Exception:
                # The transition happened and was notified; losing its record is logged.
                log.exception("transition hook failed for %s", event)

    # ---- AcknowledgeAlarm

    async def do_AcknowledgeAlarmRequest(self, apdu: Any) -> None:
        state = str(EventState(apdu.eventStateAcknowledged))
        obj = await self.acknowledge_event(
            apdu.eventObjectIdentifier,
            state,
            apdu.timeStamp,
            process_id=int(apdu.acknowledgingProcessIdentifier),
            source=str(apdu.acknowledgmentSource),
            time_of_ack=apdu.timeOfAcknowledgment,
            source_address=str(apdu.pduSource),
        )
        await self.response(SimpleAckPDU(context=apdu))  # type: ignore[attr-defined]
        self._send_ack_notifications(obj, state, transition_of(state), apdu.timeOfAcknowledgment)

    async def acknowledge_locally(
        self, ref: ObjectRef, state: str, time_stamp: datetime, source: str, process_id: int = 0
    ) -> None:
        """An acknowledgement given at this device (an operator's, through the worker), taken
        as a peer's AcknowledgeAlarm is: the same checks, stored by the ack hook, acked-
        transitions set, the ack notifications sent. A refusal raises ErrorResponse with the
        error class and code a peer would get."""
        time_of_ack = to_timestamp(now_stamp())
        try:
            obj = await self.acknowledge_event(
                object_identifier(ref),
                state,
                to_timestamp(time_stamp),
                process_id=process_id,
                source=source,
                time_of_ack=time_of_ack,
                source_address="",
            )
        except ExecutionError as exc:  # ObjectError is one too
            error_class = str(ErrorClass(exc.errorClass))
            error_code = str(ErrorCode(exc.errorCode))
            raise ErrorResponse(
                f"acknowledge {ref} {state}: error {error_class}/{error_code}",
                error_class=error_class,
                error_code=error_code,
            ) from exc
        self._send_ack_notifications(obj, state, transition_of(state), time_of_ack)

    async def acknowledge_event(
        self,
        object_id: Any,
        state: str,
        time_stamp: Any,
        *,
        process_id: int,
        source: str,
        time_of_ack: Any,
        source_address: str,
    ) -> Any:
        """13.5's checks, then the ack stored (ack_hook) and acked-transitions set; returns
        the object. Raises ExecutionError (the Error PDU a peer gets) when refused."""
        obj = self._reporting_object(object_id)
        transition = transition_of(state)
        index = TRANSITIONS.index(transition)
        async with obj.write_lock:  # one acknowledgement (or write) of the object at a time
            stamp = obj.eventTimeStamps[index]
            if from_timestamp(stamp) is None or stamp_key(stamp) != stamp_key(time_stamp):
                raise _refused("services", "invalidTimeStamp")
            acked = list(bits(obj.ackedTransitions))
            if acked[index]:
                # Already acknowledged (or it never needed to be): nothing left to acknowledge.
                raise _refused("services", "invalidEventState")
            acked[index] = True
            ack = AlarmAcknowledgement(
                ref=_ref(obj),
                acknowledged_state=state,
                transition=transition,
                event_time_stamp=from_timestamp(stamp),  # type: ignore[arg-type]
                process_id=process_id,
                source=source,
                acknowledged_at=from_timestamp(time_of_ack) or now_stamp(),
                source_address=source_address,
                acked_transitions=(acked[0], acked[1], acked[2]),
            )
            await self._store_ack(ack)
            obj.ackedTransitions = EventTransitionBits([int(b) for b in acked])
        return obj

    async def _store_ack(self, ack: AlarmAcknowledgement) -> None:
        if self.ack_hook is None:
            return
        try:
            async with asyncio.timeout(self.ack_hook_timeout):
                await self.ack_hook(ack)
        except Exception as exc:
            log.exception("acknowledgement of %s not stored; refused", ack.ref)
            raise _refused("device", "operationalProblem") from exc

    def _send_ack_notifications(
        self, obj: Any, state: str, transition: str, time_of_ack: Any
    ) -> None:
        nc = self.notification_class_object(obj.notificationClass)
        if nc is None:
            return
        params = {
            "initiatingDeviceIdentifier": self.device_object.objectIdentifier,  # type: ignore[attr-defined]
            "eventObjectIdentifier": obj.objectIdentifier,
            "timeStamp": time_of_ack,
            "notificationClass": nc.spec.instance,
            "priority": nc.spec.priority_of(transition),
            "eventType": obj._event_algorithm.event_type,
            "notifyType": NotifyType("ackNotification"),
            "toState": EventState(state),
        }
        self.notifier.send(nc.spec, transition, params, now_stamp())

    def _reporting_object(self, object_id: Any) -> Any:
        obj = self.get_object_id(object_id)  # type: ignore[attr-defined]
        if obj is None:
            raise ObjectError("unknownObject")
        if getattr(obj, "_event_algorithm", None) is None:
            raise _refused("object", "noAlarmConfigured")
        return obj

    # ---- the summaries

    async def do_GetEventInformationRequest(self, apdu: Any) -> None:
        after = apdu.lastReceivedObjectIdentifier
        active = [
            obj
            for obj in self.reporting_objects()
            if (after is None or tuple(obj.objectIdentifier) > tuple(after)) and _active(obj)
        ]
        page = active[:EVENT_SUMMARIES_PER_PAGE]
        summaries = [self._event_summary(obj) for obj in page]
        await self.response(  # type: ignore[attr-defined]
            GetEventInformationACK(
                listOfEventSummaries=summaries,
                moreEvents=len(active) > len(page),
                context=apdu,
            )
        )

    def _event_summary(self, obj: Any) -> GetEventInformationEventSummary:
        nc = self.notification_class_object(obj.notificationClass)
        priorities = nc.spec.priorities if nc is not None else (DEFAULT_PRIORITY,) * 3
        return GetEventInformationEventSummary(
            objectIdentifier=obj.objectIdentifier,
            eventState=obj.eventState,
            acknowledgedTransitions=obj.ackedTransitions,
            eventTimeStamps=list(obj.eventTimeStamps),
            notifyType=obj.notifyType,
            eventEnable=obj.eventEnable,
            eventPriorities=list(priorities),
        )

    async def do_GetAlarmSummaryRequest(self, apdu: Any) -> None:
        summaries = [
            GetAlarmSummaryAlarmSummary(
                objectIdentifier=obj.objectIdentifier,
                alarmState=obj.eventState,
                acknowledgedTransitions=obj.ackedTransitions,
            )
            for obj in self.reporting_objects()
            if obj.eventState != EventState.normal and obj.notifyType == NotifyType.alarm
        ]
        await self.response(GetAlarmSummaryACK(listOfAlarmSummaries=summaries, context=apdu))  # type: ignore[attr-defined]

    async def do_GetEnrollmentSummaryRequest(self, apdu: Any) -> None:
        if apdu.enrollmentFilter is not None:
            # Matching a recipient process against recipient lists is not served.
            raise _refused("services", "optionalFunctionalityNotSupported")
        summaries = [
            GetEnrollmentSummaryEnrollmentSummary(
                objectIdentifier=obj.objectIdentifier,
                eventType=obj._event_algorithm.event_type,
                eventState=obj.eventState,
                priority=self._priority_now(obj),
                notificationClass=obj.notificationClass,
            )
            for obj in self.reporting_objects()
            if _enrollment_matches(apdu, obj, self._priority_now(obj))
        ]
        await self.response(  # type: ignore[attr-defined]
            GetEnrollmentSummaryACK(listOfEnrollmentSummaries=summaries, context=apdu)
        )

    def _priority_now(self, obj: Any) -> int:
        """The priority of the transition into the object's current event state."""
        nc = self.notification_class_object(obj.notificationClass)
        if nc is None:
            return DEFAULT_PRIORITY
        return nc.spec.priority_of(transition_of(str(EventState(obj.eventState))))


def _active(obj: Any) -> bool:
    """GetEventInformation's "active event state": off normal, or a transition unacked."""
    return obj.eventState != EventState.normal or not all(bits(obj.ackedTransitions))


def _enrollment_matches(apdu: Any, obj: Any, priority: int) -> bool:
    acked = all(bits(obj.ackedTransitions))
    ack_filter = str(apdu.acknowledgmentFilter)
    if (ack_filter == "acked" and not acked) or (ack_filter == "not-acked" and acked):
        return False
    state = str(EventState(obj.eventState))
    state_filter = None if apdu.eventStateFilter is None else str(apdu.eventStateFilter)
    group = transition_of(state).removeprefix("to-")
    if state_filter in ("offnormal", "fault", "normal") and group != state_filter:
        return False
    if state_filter == "active" and state == "normal":
        return False
    if apdu.eventTypeFilter is not None and apdu.eventTypeFilter != obj._event_algorithm.event_type:
        return False
    if apdu.priorityFilter is not None and not (
        apdu.priorityFilter.minPriority <= priority <= apdu.priorityFilter.maxPriority
    ):
        return False
    return apdu.notificationClassFilter is None or (
        int(apdu.notificationClassFilter) == int(obj.notificationClass)
    )


def _ref(obj: Any) -> ObjectRef:
    object_type, instance = obj.objectIdentifier
    return ObjectRef(str(object_type), int(instance))


def _time_stamps(obj: Any) -> Any:
    return tuple(from_timestamp(stamp) for stamp in obj.eventTimeStamps)


def _message(obj: Any, from_state: str, to_state: str) -> str:
    value = to_python(obj.presentValue)
    return f"{obj.objectName}: {from_state} to {to_state}, present value {value}"
