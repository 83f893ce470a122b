"""Comm-loss alarms from device health (bms.alarms.comm_loss), on the test database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bms.alarms.comm_loss import record_health_alarm, rule_name
from bms.alarms.models import Alarm
from bms.alarms.signals import alarms_changed

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def test_an_unreachable_device_raises_a_fault_waiting_for_an_ack_at_the_set_priority(settings):
    settings.BMS_COMM_LOSS_PRIORITY = 7
    row = record_health_alarm(1001, "AHU-1", "unreachable", "3 requests unanswered", T0)
    assert row is not None
    alarm = Alarm.objects.get(rule=rule_name(1001))
    assert (alarm.source_kind, alarm.event_state, alarm.priority) == ("rule", "fault", 7)
    assert alarm.unacknowledged
    assert (row.transition, row.time_stamp, row.ack_required) == ("to-fault", T0, True)
    assert "unreachable (3 requests unanswered)" in alarm.message


def test_offline_after_unreachable_is_the_same_alarm_and_online_returns_it_to_normal():
    record_health_alarm(1001, "AHU-1", "unreachable", "silent", T0)
    assert record_health_alarm(1001, "AHU-1", "offline", "silent 300 s", T0) is None
    back = record_health_alarm(1001, "AHU-1", "online", "answered", T0 + timedelta(minutes=6))
    assert back is not None
    alarm = Alarm.objects.get(rule=rule_name(1001))
    assert alarm.event_state == "normal"
    assert [t.transition for t in alarm.transitions.order_by("time_stamp")] == [
        "to-fault",
        "to-normal",
    ]
    assert alarm.acked_transitions == [True, False, True]  # the fault still waits for an ack


def test_online_without_a_raised_alarm_records_nothing():
    assert record_health_alarm(1001, "AHU-1", "online", "answered", T0) is None
    assert not Alarm.objects.filter(rule=rule_name(1001)).exists()


@pytest.mark.django_db(transaction=True)
def test_each_change_is_announced():
    heard: list[list[int]] = []

    def listen(sender, alarm_ids, **kwargs):
        heard.append(alarm_ids)

    alarms_changed.connect(listen)
    try:
        record_health_alarm(1001, "AHU-1", "unreachable", "silent", T0)
        record_health_alarm(1001, "AHU-1", "online", "answered", T0)
    finally:
        alarms_changed.disconnect(listen)
    alarm = Alarm.objects.get(rule=rule_name(1001))
    assert heard == [[alarm.pk], [alarm.pk]]
