"""Comm-loss alarms: a device the BMS cannot reach is an alarm of the BMS itself.

The source is a BMS rule named per device ("comm-loss:<instance>"), kept as one Alarm row. A
health change to unreachable or offline raises it (to-fault, an acknowledgement wanted) unless
it is already active; back online returns it to normal (no acknowledgement wanted). The
priority is BMS_COMM_LOSS_PRIORITY. Recorded in one transaction and announced on commit
(alarms_changed), as every other alarm.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.signals import announce_alarms

EVENT_TYPE = "comm-loss"
LOST = ("unreachable", "offline")


def rule_name(device_instance: int) -> str:
    return f"{EVENT_TYPE}:{device_instance}"


def record_health_alarm(
    device_instance: int, device_name: str, new_health: str, reason: str, at: datetime
) -> AlarmTransition | None:
    """The comm-loss alarm of the device after its health became `new_health`; the
    transition recorded, or None when its state does not change."""
    lost = new_health in LOST
    with transaction.atomic():
        alarm = Alarm.objects.select_for_update().filter(rule=rule_name(device_instance)).first()
        if alarm is None and not lost:
            return None  # never lost: nothing to return to normal
        alarm = alarm or _new_alarm(device_instance, device_name)
        if lost == (alarm.event_state != "normal"):
            return None
        row = _transition(alarm, lost, f"{alarm.name}: {new_health} ({reason})", at)
        announce_alarms([alarm])
    return row


def _new_alarm(device_instance: int, device_name: str) -> Alarm:
    return Alarm.objects.create(
        source_kind="rule",
        rule=rule_name(device_instance),
        device_instance=device_instance,
        object_type="device",
        instance=device_instance,
        name=f"{device_name or f'device {device_instance}'} communication",
        event_type=EVENT_TYPE,
    )


def _transition(alarm: Alarm, lost: bool, message: str, at: datetime) -> AlarmTransition:
    to_state = "fault" if lost else "normal"
    acked = list(alarm.acked_transitions)
    if lost:
        acked[1] = False  # to-fault waits for an operator
    priority = int(settings.BMS_COMM_LOSS_PRIORITY)
    row = AlarmTransition.objects.create(
        alarm=alarm,
        from_state=alarm.event_state,
        to_state=to_state,
        transition="to-fault" if lost else "to-normal",
        time_stamp=at,
        priority=priority,
        notify_type="alarm",
        event_type=EVENT_TYPE,
        ack_required=lost,
        message=message,
    )
    alarm.event_state = to_state
    alarm.acked_transitions = acked
    alarm.priority = priority
    alarm.message = message
    alarm.last_transition_at = at
    alarm.save()
    return row
