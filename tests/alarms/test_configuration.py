"""BMS alarm rules and notifiers edited through the domain service (bms.alarms.configuration):
checked as the worker uses them, refused with a reason and nothing stored, audited in
ConfigAudit with a notifier's secret never in clear."""

from __future__ import annotations

import math

import pytest
from django.utils import timezone

from bms.alarms import configuration as config
from bms.alarms.models import Alarm, AlarmNotifier, AlarmRule
from bms.alarms.rules import record_rule_transition
from bms.devices.models import BACnetDevice, BACnetPoint, ConfigAudit

pytestmark = pytest.mark.django_db


@pytest.fixture
def points() -> dict[str, BACnetPoint]:
    device = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2:47808")
    return {
        kind: BACnetPoint.objects.create(device=device, object_type=kind, instance=1, name=kind)
        for kind in ("analog-input", "binary-input")
    }


def audits(action: str) -> list[ConfigAudit]:
    return list(ConfigAudit.objects.filter(action=action).order_by("id"))


def test_a_rule_is_created_edited_and_deleted_with_an_audit_row_each(points):
    rule = config.create_rule(points["analog-input"], kind="high_limit", high=30, deadband=1.5)
    assert (rule.high, rule.priority, rule.enabled) == (30.0, 100, True)
    [created] = audits("alarm_rule_created")
    assert created.after["high"] == 30.0
    assert f"alarm rule {rule.pk} high_limit on 1001" in created.target

    config.update_rule(rule, high=35.0, message="Supply too hot")
    [changed] = audits("alarm_rule_changed")
    assert changed.before == {"high": 30.0, "message": ""}
    assert changed.after == {"high": 35.0, "message": "Supply too hot"}
    config.update_rule(rule, high=35.0)  # no change: no row
    assert len(audits("alarm_rule_changed")) == 1
    config.update_rule(rule, notification_class=4)
    assert audits("alarm_rule_changed")[1].after == {"notification_class": 4}

    config.delete_rule(rule)
    assert not AlarmRule.objects.exists()
    assert audits("alarm_rule_deleted")[0].before["high"] == 35.0
    assert audits("alarm_rule_deleted")[0].before["notification_class"] == 4


@pytest.mark.parametrize(
    ("point", "fields", "reason"),
    [
        ("binary-input", {"kind": "high_limit", "high": 3.0}, "watches analog-input"),
        ("analog-input", {"kind": "binary_state"}, "watches binary-input"),
        ("analog-input", {"kind": "high_limit"}, "needs high"),
        ("analog-input", {"kind": "high_limit", "high": math.inf}, "finite number"),
        ("analog-input", {"kind": "low_limit", "low": 1.0, "deadband": -1.0}, "negative"),
        ("analog-input", {"kind": "stale"}, "stale_seconds above 0"),
        ("analog-input", {"kind": "stale", "stale_seconds": 60, "priority": 256}, "0 to 255"),
        ("binary-input", {"kind": "binary_state", "alarm_value": "maybe"}, "active"),
        ("analog-input", {"kind": "flood"}, "unknown rule kind"),
        ("analog-input", {"kind": "stale", "stale_seconds": 5, "colour": 1}, "has no colour"),
        ("analog-input", {"kind": "stale", "stale_seconds": 5, "message": "x" * 256}, "255"),
        (
            "analog-input",
            {"kind": "high_limit", "high": 3.0, "notification_class": 4194303},
            "notification_class 4194303 is outside",
        ),
    ],
)
def test_a_rule_that_cannot_work_is_refused_with_the_reason_and_not_stored(
    points, point, fields, reason
):
    with pytest.raises(config.AlarmConfigError, match=reason):
        config.create_rule(points[point], **fields)
    assert not AlarmRule.objects.exists()
    assert not ConfigAudit.objects.exists()


def test_a_binary_rule_stores_its_alarm_value_in_the_binary_vocabulary(points):
    rule = config.create_rule(points["binary-input"], kind="binary_state", alarm_value=" ON ")
    assert rule.alarm_value == "active"


def test_an_edit_that_cannot_work_leaves_the_stored_rule_as_it_was(points):
    rule = config.create_rule(points["analog-input"], kind="high_limit", high=30.0)
    with pytest.raises(config.AlarmConfigError):
        config.update_rule(rule, high=None)
    assert AlarmRule.objects.get().high == 30.0


WEBHOOK = {"name": "ops", "kind": "webhook", "target": "https://hooks.example/bms", "secret": "s1"}


def test_a_notifier_is_audited_without_its_secret_in_clear():
    notifier = config.create_notifier(**WEBHOOK, min_priority=0, max_priority=63)
    [created] = audits("alarm_notifier_created")
    assert created.after["secret"] == "(set)"
    assert "s1" not in str(created.after)

    config.update_notifier(notifier, secret="s2", max_priority=127)
    [changed] = audits("alarm_notifier_changed")
    assert changed.before == {"max_priority": 63, "secret": "(old)"}
    assert changed.after == {"max_priority": 127, "secret": "(new)"}
    assert AlarmNotifier.objects.get().secret == "s2"

    config.delete_notifier(notifier)
    assert audits("alarm_notifier_deleted")[0].before["secret"] == "(set)"
    assert not AlarmNotifier.objects.exists()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"secret": ""}, "needs a secret"),
        ({"target": "ftp://hooks.example/"}, "http"),
        ({"kind": "email", "target": "ops@example, not an address"}, "not an e-mail address"),
        ({"min_priority": 200, "max_priority": 100}, "min_priority <= max_priority"),
        ({"notification_class": 4194303}, "outside 0..4194302"),
        ({"name": "  "}, "needs a name"),
        ({"target": "https://hooks.example/" + "x" * 500}, "at most 500"),
    ],
)
def test_a_notifier_that_cannot_send_is_refused_with_the_reason(changes, reason):
    with pytest.raises(config.AlarmConfigError, match=reason):
        config.create_notifier(**{**WEBHOOK, **changes})
    assert not AlarmNotifier.objects.exists()


def test_a_taken_notifier_name_is_a_conflict():
    config.create_notifier(**WEBHOOK)
    with pytest.raises(config.Conflict, match="named 'ops' exists"):
        config.create_notifier(**{**WEBHOOK, "kind": "email", "target": "ops@example.com"})
    assert AlarmNotifier.objects.count() == 1


@pytest.mark.parametrize("how", ["disabled", "deleted"])
def test_an_active_rule_alarm_returns_to_normal_when_its_rule_is_disabled_or_deleted(points, how):
    rule = config.create_rule(points["analog-input"], kind="high_limit", high=30.0)
    record_rule_transition(rule, "normal", "high-limit", 31.0, timezone.now())
    name = rule.rule_name  # before a delete clears the pk
    if how == "disabled":
        config.update_rule(rule, enabled=False)
    else:
        config.delete_rule(rule)
    alarm = Alarm.objects.get(rule=name)
    assert alarm.event_state == "normal"
    assert f"(rule {how})" in alarm.message
    assert alarm.unacknowledged  # the high limit still waits for its ack


def test_disabling_a_rule_in_normal_records_nothing(points):
    rule = config.create_rule(points["analog-input"], kind="high_limit", high=30.0)
    config.update_rule(rule, enabled=False)
    assert not Alarm.objects.exists()


def test_every_rule_change_moves_the_rules_revision_and_an_unchanged_edit_does_not(points):
    """The worker reloads its rules when this revision moves (bms.worker.alarm_rules)."""
    assert config.rule_revision() == 0
    rule = config.create_rule(points["analog-input"], kind="high_limit", high=30.0)
    assert config.rule_revision() == 1
    config.update_rule(rule, high=35.0)
    config.update_rule(rule, high=35.0)  # nothing changed: nothing to reload
    assert config.rule_revision() == 2
    config.update_rule(rule, enabled=False)
    config.update_rule(rule, enabled=True)
    assert config.rule_revision() == 4
    config.delete_rule(rule)
    assert config.rule_revision() == 5
    with pytest.raises(config.AlarmConfigError):
        config.create_rule(points["analog-input"], kind="high_limit")  # refused: not moved
    assert config.rule_revision() == 5
