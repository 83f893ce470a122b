"""Recording alarms: transitions and acknowledgements from their sources.

Device 8888's own objects (virtual objects with intrinsic reporting) report through the
worker (bms.worker.alarm_source): `record_local_transitions` stores a batch of transitions in
one transaction, with the event state the device will restore after a restart;
`record_local_acknowledgement` stores a peer's AcknowledgeAlarm before the device answers it.
`request_acknowledgement` is an operator's acknowledgement from a page or the API.
Every change is announced on commit (bms.alarms.signals) for live pages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.signals import announce_alarms
from bms.bacnet.local.alarm_spec import AlarmAcknowledgement, EventTransition
from bms.bacnet.types import ObjectRef
from bms.virtual.models import VirtualObject

log = logging.getLogger(__name__)
# The order of Alarm.acked_transitions (BACnet's EventTransitionBits).
TRANSITION_ORDER = ("to-offnormal", "to-fault", "to-normal")


class UnknownAlarmSource(LookupError):
    """No virtual object is the source named (it was deleted meanwhile)."""


class AlarmRefused(ValueError):
    """An acknowledgement the alarm cannot take (the reason says why)."""


class AlreadyAcknowledged(AlarmRefused):
    """Every transition of the alarm that needs an acknowledgement has one."""


def record_local_transitions(transitions: Sequence[EventTransition], device_instance: int) -> int:
    """Store device 8888's transitions (in order) in one transaction; returns how many.

    A transition of an object deleted meanwhile is logged and left out.
    """
    with transaction.atomic():
        objects = _virtual_objects({t.ref for t in transitions})
        alarms = {
            a.virtual_object_id: a
            for a in Alarm.objects.filter(virtual_object__in=objects.values())
        }
        rows: list[AlarmTransition] = []
        for event in transitions:
            obj = objects.get(event.ref)
            if obj is None:
                log.warning("transition of %s not recorded: no such virtual object", event.ref)
                continue
            alarm = alarms.get(obj.pk)
            if alarm is None:
                alarm = alarms[obj.pk] = Alarm(
                    source_kind="virtual", virtual_object=obj, device_instance=device_instance
                )
            _apply(alarm, event)
            alarm.save()
            rows.append(_transition_row(alarm, event))
            obj.event_state = event.to_state
            obj.acked_transitions = list(event.acked_transitions)
            obj.event_time_stamps = [_iso(when) for when in event.event_time_stamps]
        AlarmTransition.objects.bulk_create(rows)
        announce_alarms(alarms.values())
        for obj in objects.values():
            # Not save(): the device's own state is not an edit (updated_at stays, no resync).
            VirtualObject.objects.filter(pk=obj.pk).update(
                event_state=obj.event_state,
                acked_transitions=obj.acked_transitions,
                event_time_stamps=obj.event_time_stamps,
            )
    return len(rows)


def record_local_acknowledgement(ack: AlarmAcknowledgement) -> None:
    """Store a peer's acknowledgement of one of device 8888's transitions.

    Raises UnknownAlarmSource if the object is gone (the device then refuses the ack).
    """
    with transaction.atomic():
        obj = (
            VirtualObject.objects.select_for_update()
            .filter(object_type=ack.ref.object_type, instance=ack.ref.instance)
            .first()
        )
        if obj is None:
            raise UnknownAlarmSource(f"no virtual object {ack.ref}")
        VirtualObject.objects.filter(pk=obj.pk).update(
            acked_transitions=list(ack.acked_transitions)
        )
        alarm = Alarm.objects.filter(virtual_object=obj).first()
        if alarm is None:
            return
        alarm.acked_transitions = list(ack.acked_transitions)
        alarm.save(update_fields=["acked_transitions", "updated_at"])
        announce_alarms([alarm])
        acknowledged = (
            alarm.transitions.filter(transition=ack.transition, time_stamp=ack.event_time_stamp)
            .order_by("-id")
            .first()
        )
        if acknowledged is None:
            log.warning(
                "acknowledged transition of %s at %s not recorded", ack.ref, ack.event_time_stamp
            )
            return
        acknowledged.acked_at = ack.acknowledged_at
        acknowledged.ack_source = ack.source[:255]
        acknowledged.ack_address = ack.source_address[:80]
        acknowledged.ack_process_id = ack.process_id
        acknowledged.save()


def request_acknowledgement(alarm: Alarm, user: Any, comment: str = "") -> AlarmTransition:
    """An operator acknowledges `alarm`'s latest unacknowledged transition.

    Minimal version (the page and API door): records who, when and the comment on the
    transition and marks it acked on the alarm (and on device 8888's object, which serves
    acked-transitions from that row). Raises AlreadyAcknowledged when nothing waits for an ack.
    """
    with transaction.atomic():
        locked = Alarm.objects.select_for_update().get(pk=alarm.pk)
        waiting = [
            name
            for name, acked in zip(TRANSITION_ORDER, locked.acked_transitions, strict=True)
            if not acked
        ]
        pending = (
            locked.transitions.filter(transition__in=waiting, acked_at__isnull=True)
            .order_by("-time_stamp", "-id")
            .first()
        )
        if pending is None:
            raise AlreadyAcknowledged(f"alarm {locked.pk} ({locked}) has nothing to acknowledge")
        pending.acked_at = timezone.now()
        pending.acked_by = user
        pending.ack_comment = comment
        pending.save(update_fields=["acked_at", "acked_by", "ack_comment"])
        acked = list(locked.acked_transitions)
        acked[TRANSITION_ORDER.index(pending.transition)] = True
        locked.acked_transitions = acked
        locked.save(update_fields=["acked_transitions", "updated_at"])
        if locked.virtual_object_id is not None:
            VirtualObject.objects.filter(pk=locked.virtual_object_id).update(
                acked_transitions=acked
            )
        announce_alarms([locked])
    alarm.acked_transitions = acked
    return pending


def _virtual_objects(refs: set[ObjectRef]) -> dict[ObjectRef, VirtualObject]:
    query = Q()
    for ref in refs:
        query |= Q(object_type=ref.object_type, instance=ref.instance)
    rows = VirtualObject.objects.select_for_update().filter(query) if refs else []
    return {ObjectRef(row.object_type, row.instance): row for row in rows}


def _apply(alarm: Alarm, event: EventTransition) -> None:
    alarm.object_type = event.ref.object_type
    alarm.instance = event.ref.instance
    alarm.name = event.object_name
    alarm.event_state = event.to_state
    alarm.event_type = event.event_type
    alarm.acked_transitions = list(event.acked_transitions)
    alarm.priority = event.priority
    alarm.notify_type = event.notify_type
    alarm.notification_class = event.notification_class
    alarm.message = event.message
    alarm.last_transition_at = event.time_stamp


def _transition_row(alarm: Alarm, event: EventTransition) -> AlarmTransition:
    return AlarmTransition(
        alarm=alarm,
        from_state=event.from_state,
        to_state=event.to_state,
        transition=event.transition,
        time_stamp=event.time_stamp,
        priority=event.priority,
        notify_type=event.notify_type,
        event_type=event.event_type,
        ack_required=event.ack_required,
        message=event.message,
    )


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
