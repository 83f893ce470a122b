"""Recording alarms: transitions and acknowledgements from their sources.

Device 8888's own objects (virtual objects with intrinsic reporting) report through the
worker (bms.worker.alarm_source): `record_local_transitions` stores a batch of transitions in
one transaction, with the event state the device will restore after a restart;
`record_local_acknowledgement` stores a peer's AcknowledgeAlarm before the device answers it.
`request_acknowledgement` is an operator's acknowledgement from a page or the API: checked
here, sent to the alarm's source by a worker task (bms.worker.alarm_jobs, which reads
`ack_target` and stores `record_ack_outcome`).
Every change is announced on commit (bms.alarms.signals) for live pages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.rows import EVENT_FIELDS, transition_row
from bms.alarms.signals import announce_alarms
from bms.bacnet.local.alarm_spec import AlarmAcknowledgement, EventTransition
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice
from bms.tasks import submission
from bms.virtual.models import VirtualObject

log = logging.getLogger(__name__)
# The order of Alarm.acked_transitions (BACnet's EventTransitionBits).
TRANSITION_ORDER = ("to-offnormal", "to-fault", "to-normal")
ACCEPTED = "accepted"  # ack_result when the source took the acknowledgement


class UnknownAlarmSource(LookupError):
    """No virtual object is the source named (it was deleted meanwhile)."""


class AlarmRefused(ValueError):
    """An acknowledgement the alarm cannot take (the reason says why)."""


class AlreadyAcknowledged(AlarmRefused):
    """Every transition of the alarm that needs an acknowledgement has one."""


def record_local_transitions(transitions: Sequence[EventTransition], device_instance: int) -> int:
    """Store device 8888's transitions (in order) in one transaction; returns how many.

    A transition of an object deleted meanwhile is logged and left out. The alarms, their
    transitions and the objects' event state are each written in one statement whatever the
    batch's size (a building-wide event reports hundreds of objects at once).
    """
    with transaction.atomic():
        objects = _virtual_objects({t.ref for t in transitions})
        alarms = {
            a.virtual_object_id: a
            for a in Alarm.objects.filter(virtual_object__in=objects.values())
        }
        recorded: list[tuple[Alarm, EventTransition]] = []
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
            recorded.append((alarm, event))
            obj.event_state = event.to_state
            obj.acked_transitions = list(event.acked_transitions)
            obj.event_time_stamps = [_iso(when) for when in event.event_time_stamps]
        _save_alarms(list(alarms.values()))
        AlarmTransition.objects.bulk_create(
            [transition_row(alarm, event) for alarm, event in recorded]
        )
        announce_alarms(alarms.values())
        # Not save(): the device's own state is not an edit (updated_at stays, no resync).
        VirtualObject.objects.bulk_update(
            list(objects.values()), ["event_state", "acked_transitions", "event_time_stamps"]
        )
    return len(recorded)


ALARM_STATE_FIELDS = ["object_type", "instance", "name", *EVENT_FIELDS]  # what _apply sets


def _save_alarms(alarms: list[Alarm]) -> None:
    """INSERT the new alarms (they get their ids back) and UPDATE the others, one statement
    each; bulk_update does not stamp auto_now fields, so updated_at is set here."""
    now = timezone.now()
    for alarm in alarms:
        alarm.updated_at = now
    new = [alarm for alarm in alarms if alarm.pk is None]
    known = [alarm for alarm in alarms if alarm.pk is not None]
    Alarm.objects.bulk_create(new)
    Alarm.objects.bulk_update(known, ALARM_STATE_FIELDS)


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

    A rule's alarm (no BACnet source) is acknowledged here at once. A virtual or remote one is
    acknowledged at its source by a worker task (AcknowledgeAlarm to the remote device, or
    device 8888's own object): the returned transition names who asked and the comment, its
    ack_task_id the task; acked_at is set once the source accepted (ack_result says "accepted"
    or why not). Raises AlreadyAcknowledged when nothing waits for an ack, AlarmRefused while
    an earlier request is still under way or when no task can be queued.
    """
    with transaction.atomic():
        locked = Alarm.objects.select_for_update().get(pk=alarm.pk)
        pending = _waiting_transition(locked)
        if pending.ack_task_id is not None and not pending.ack_result:
            raise AlarmRefused(
                f"alarm {locked.pk} ({locked}): an acknowledgement is already under way "
                f"(task {pending.ack_task_id})"
            )
        pending.acked_by = user
        pending.ack_comment = comment
        if locked.source_kind == "rule":
            pending.acked_at = timezone.now()
            pending.ack_source = _user_name(user)
            pending.ack_result = ACCEPTED
            _mark_acked(locked, pending.transition)
        else:
            pending.ack_task_id = _queue_acknowledgement(locked, pending, user)
            pending.ack_result = ""
        pending.save()
        announce_alarms([locked])
    alarm.acked_transitions = locked.acked_transitions
    return pending


def _waiting_transition(alarm: Alarm) -> AlarmTransition:
    waiting = [
        name
        for name, acked in zip(TRANSITION_ORDER, alarm.acked_transitions, strict=True)
        if not acked
    ]
    pending = (
        alarm.transitions.filter(transition__in=waiting, acked_at__isnull=True)
        .order_by("-time_stamp", "-id")
        .first()
    )
    if pending is None:
        raise AlreadyAcknowledged(f"alarm {alarm.pk} ({alarm}) has nothing to acknowledge")
    return pending


def _queue_acknowledgement(alarm: Alarm, pending: AlarmTransition, user: Any) -> int:
    site = None
    if alarm.source_kind == "remote":
        device = _remote_device(alarm)
        if device is None:
            raise AlarmRefused(f"alarm {alarm.pk}: device {alarm.device_instance} is not known")
        site = device.site
    try:
        task = submission.acknowledge_alarm(pending.pk, site, user=_user_name(user))
    except submission.Refused as exc:
        raise AlarmRefused(f"alarm {alarm.pk}: {exc}") from exc
    return task.id


def _mark_acked(alarm: Alarm, transition: str) -> None:
    acked = list(alarm.acked_transitions)
    acked[TRANSITION_ORDER.index(transition)] = True
    alarm.acked_transitions = acked
    alarm.save(update_fields=["acked_transitions", "updated_at"])
    if alarm.virtual_object_id is not None:
        VirtualObject.objects.filter(pk=alarm.virtual_object_id).update(acked_transitions=acked)


def _remote_device(alarm: Alarm) -> BACnetDevice | None:
    if alarm.device_instance is None:
        return None
    return BACnetDevice.objects.filter(device_instance=alarm.device_instance).first()


def _user_name(user: Any) -> str:
    return str(getattr(user, "get_username", lambda: user)() or "")[:255]


@dataclass(frozen=True)
class AckTarget:
    """What a worker needs to acknowledge one transition at its source."""

    transition_id: int
    alarm: str
    source_kind: str  # "virtual" (device 8888's object) or "remote"
    address: str  # the remote device's; "" for device 8888
    ref: ObjectRef
    state: str  # the event state the transition went to
    time_stamp: datetime
    source: str  # acknowledgment-source: who asked


def ack_target(transition_id: int) -> AckTarget:
    """The transition a queued acknowledgement names (UnknownAlarmSource if it is gone)."""
    row = (
        AlarmTransition.objects.select_related("alarm", "acked_by").filter(pk=transition_id).first()
    )
    if row is None:
        raise UnknownAlarmSource(f"no alarm transition {transition_id}")
    alarm = row.alarm
    address = ""
    if alarm.source_kind == "remote":
        device = _remote_device(alarm)
        if device is None:
            raise UnknownAlarmSource(f"device {alarm.device_instance} is not known")
        address = device.address
    return AckTarget(
        transition_id=row.pk,
        alarm=str(alarm.name or alarm.pk),
        source_kind=alarm.source_kind,
        address=address,
        ref=ObjectRef(alarm.object_type, alarm.instance or 0),
        state=row.to_state,
        time_stamp=row.time_stamp,
        source=_user_name(row.acked_by) if row.acked_by is not None else "BMS",
    )


def record_ack_outcome(transition_id: int, result: str) -> None:
    """What the source said to an operator's acknowledgement: ACCEPTED (the transition and
    the alarm are acknowledged) or the error, kept on the transition."""
    with transaction.atomic():
        # Not select_related("acked_by"): PostgreSQL locks no nullable side of an outer join.
        transition = AlarmTransition.objects.select_for_update().get(pk=transition_id)
        alarm = Alarm.objects.select_for_update().get(pk=transition.alarm_id)
        transition.ack_result = result[:255]
        if result == ACCEPTED:
            transition.acked_at = transition.acked_at or timezone.now()
            transition.ack_source = transition.ack_source or _user_name(transition.acked_by)
            _mark_acked(alarm, transition.transition)
        transition.save(update_fields=["ack_result", "acked_at", "ack_source"])
        announce_alarms([alarm])


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


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
