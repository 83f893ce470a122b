"""BMS alarm rules on remote points: a rule's transition recorded as an alarm.

The evaluation is pure (bms.bacnet.alarm_rules); this stores what it decided: one Alarm per
rule (source 'rule', named by AlarmRule.rule_name, the point as its source object), a
transition with the rule's priority and message (the point's value in it), announced on commit.
The alarm takes the rule's notification class at each transition (as it takes its priority), so
the notifiers limited to that class receive it (bms.alarms.notifiers.takes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from bms.alarms.models import Alarm, AlarmRule, AlarmTransition
from bms.alarms.signals import announce_alarms
from bms.bacnet.local.alarm_spec import TRANSITIONS, transition_of

EVENT_TYPES = {
    "high_limit": "out-of-range",
    "low_limit": "out-of-range",
    "binary_state": "change-of-state",
    "stale": "stale-value",
}


def record_rule_transition(
    rule: AlarmRule, from_state: str, to_state: str, value: Any, at: datetime, why: str = ""
) -> AlarmTransition | None:
    """Store the rule's change of state, as the worker evaluated it (an ack is wanted for every
    transition but to-normal); `why` replaces the value in the message when no value made it.

    Nothing is stored (None) if the rule is disabled or deleted by the time this transaction
    holds its row: the worker's copy of the rule may be a moment old, and a transition it made
    while an operator's disable was being committed would reopen the alarm that the disable
    has just returned to normal."""
    with transaction.atomic():
        if not _locked_rule_enabled(rule):
            return None
        return _store_transition(rule, from_state, to_state, value, at, why)


def _locked_rule_enabled(rule: AlarmRule) -> bool:
    """Lock the rule's row and read whether it is still enabled (False when it is gone).

    Lock order: the rule row, then its alarm row (_store_transition), in every path that takes
    both: here, and configuration's disable and delete (the rule row is updated or locked,
    by close_rule_alarm, before the alarm row). One order, so no deadlock. On PostgreSQL
    FOR UPDATE waits for an uncommitted disable or delete and then reads the committed row;
    SQLite ignores it, its IMMEDIATE transactions (bms.settings) already take turns."""
    enabled = AlarmRule.objects.select_for_update().filter(pk=rule.pk)
    return next(iter(enabled.values_list("enabled", flat=True)), False)


def _store_transition(
    rule: AlarmRule, from_state: str, to_state: str, value: Any, at: datetime, why: str
) -> AlarmTransition:
    """Call it in a transaction holding the rule's row (_locked_rule_enabled)."""
    transition = transition_of(to_state)
    point = rule.point
    message = rule.message or f"{point.name or point}: {from_state} to {to_state}"
    message = f"{message} ({why or _value_text(rule, to_state, value)})"
    alarm = Alarm.objects.select_for_update().filter(rule=rule.rule_name).first()
    if alarm is None:
        alarm = Alarm(
            source_kind="rule",
            rule=rule.rule_name,
            device_instance=point.device.device_instance,
            object_type=point.object_type,
            instance=point.instance,
            name=point.name or f"{point.object_type},{point.instance}",
        )
    ack_required = transition != "to-normal"
    acked = list(alarm.acked_transitions)
    acked[TRANSITIONS.index(transition)] = not ack_required
    alarm.event_state = to_state
    alarm.event_type = EVENT_TYPES[rule.kind]
    alarm.acked_transitions = acked
    alarm.priority = rule.priority
    alarm.notification_class = rule.notification_class
    alarm.message = message
    alarm.last_transition_at = at
    alarm.save()
    row = AlarmTransition.objects.create(
        alarm=alarm,
        from_state=from_state,
        to_state=to_state,
        transition=transition,
        time_stamp=at,
        priority=rule.priority,
        notify_type="alarm",
        event_type=alarm.event_type,
        ack_required=ack_required,
        message=message,
    )
    announce_alarms([alarm])
    return row


def _value_text(rule: AlarmRule, to_state: str, value: Any) -> str:
    if rule.kind == "stale" and to_state != "normal":
        return f"no value for {rule.stale_seconds} s"
    return "a value came" if value is None else f"value {value}"


def close_rule_alarm(rule: AlarmRule, why: str) -> AlarmTransition | None:
    """A rule disabled or deleted while its alarm is active: the alarm returns to normal
    (`why` says so), rather than staying active with nothing left to clear it. Call it in the
    transaction of the disable or delete, before the delete (it locks the rule row first)."""
    with transaction.atomic():
        _locked_rule_enabled(rule)  # the rule row before the alarm row, as the worker takes them
        state = Alarm.objects.filter(rule=rule.rule_name).values_list("event_state", flat=True)
        current = next(iter(state), "normal")
        if current == "normal":
            return None
        return _store_transition(rule, current, "normal", None, timezone.now(), why)
