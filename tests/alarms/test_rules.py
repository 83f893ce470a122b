"""BMS alarm rules stored (AlarmRule) and their transitions recorded (bms.alarms.rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from bms.alarms.models import Alarm, AlarmRule
from bms.alarms.rules import record_rule_transition
from bms.bacnet.alarm_rules import RuleState, evaluate
from bms.devices.models import BACnetDevice, BACnetPoint

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def rule() -> AlarmRule:
    device = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2:47808")
    point = BACnetPoint.objects.create(
        device=device, object_type="analog-input", instance=1, name="Supply_Temp"
    )
    return AlarmRule.objects.create(point=point, kind="high_limit", high=30.0, priority=20)


def test_a_stored_rule_evaluates_and_its_transitions_become_one_alarm(rule):
    verdict = evaluate(rule.spec(), RuleState(), 31.5, at=0)
    assert verdict.transition == ("normal", "high-limit")
    record_rule_transition(rule, *verdict.transition, 31.5, T0)
    back = evaluate(rule.spec(), verdict.state, 20.0, at=1)
    assert back.transition is not None
    record_rule_transition(rule, *back.transition, 20.0, T0 + timedelta(minutes=1))

    alarm = Alarm.objects.get(rule=rule.rule_name)
    assert (alarm.source_kind, alarm.event_state, alarm.priority) == ("rule", "normal", 20)
    assert (alarm.device_instance, alarm.object_type, alarm.instance) == (1001, "analog-input", 1)
    assert alarm.acked_transitions == [False, True, True]  # the high limit still wants an ack
    rows = list(alarm.transitions.order_by("time_stamp"))
    assert [(t.transition, t.event_type, t.ack_required) for t in rows] == [
        ("to-offnormal", "out-of-range", True),
        ("to-normal", "out-of-range", False),
    ]
    assert "Supply_Temp: normal to high-limit (value 31.5)" in rows[0].message


def test_a_rule_that_cannot_work_does_not_validate(rule):
    rule.high = None
    with pytest.raises(ValidationError, match="needs high"):
        rule.full_clean()


def test_the_alarm_takes_the_rules_notification_class_at_each_transition(rule):
    assert rule.notification_class == 1  # device 8888's default class
    record_rule_transition(rule, "normal", "high-limit", 31.5, T0)
    assert Alarm.objects.get(rule=rule.rule_name).notification_class == 1
    rule.notification_class = 9
    rule.save()
    record_rule_transition(rule, "high-limit", "normal", 20.0, T0 + timedelta(minutes=1))
    assert Alarm.objects.get(rule=rule.rule_name).notification_class == 9
