"""Alarm rules and notifiers over the API (bms.api.alarm_config): created, read, edited and
deleted through the domain service; bad bodies are 4xx with the reason (422 off the schema,
400 refused by the rules, 404 unknown, 409 a taken name), nothing stored; roles: rules for
operators, notifiers for admins (the secret never shown); every change audited."""

from __future__ import annotations

import pytest
from django.db.models import QuerySet

from bms.accounts.models import ApiToken
from bms.alarms.models import AlarmNotifier, AlarmRule
from bms.devices.models import BACnetDevice, BACnetPoint, ConfigAudit
from bms.tasks.models import BACnetTask
from tests.api.test_virtual_api import call

pytestmark = pytest.mark.django_db


@pytest.fixture
def points() -> dict[str, BACnetPoint]:
    device = BACnetDevice.objects.create(device_instance=1201, address="127.0.0.2:47808")
    return {
        kind: BACnetPoint.objects.create(device=device, object_type=kind, instance=3, name=kind)
        for kind in ("analog-input", "binary-input")
    }


def alarm_audits() -> QuerySet[ConfigAudit]:
    return ConfigAudit.objects.filter(action__startswith="alarm_").order_by("id")


@pytest.fixture
def admin_token(admin_user) -> str:
    return ApiToken.issue(admin_user, "tests")[1]


def test_an_operator_creates_reads_edits_and_deletes_a_rule(client, operator_token, points):
    body = {"point_id": points["analog-input"].pk, "kind": "high_limit", "high": 28, "deadband": 1}
    created = call(client, "post", "/api/alarm-rules", operator_token, body)
    assert created.status_code == 201, created.content
    rule = created.json()
    assert (rule["high"], rule["device_instance"], rule["alarm_name"]) == (
        28.0,
        1201,
        f"rule:{rule['id']}",
    )
    url = f"/api/alarm-rules/{rule['id']}"
    assert rule["notification_class"] == 1  # device 8888's default class
    changes = {"high": 30.5, "priority": 10, "notification_class": 4}
    patched = call(client, "patch", url, operator_token, changes).json()
    assert (patched["high"], patched["priority"], patched["notification_class"]) == (30.5, 10, 4)
    listed = call(client, "get", f"/api/alarm-rules?point_id={body['point_id']}", operator_token)
    assert [r["id"] for r in listed.json()["items"]] == [rule["id"]]
    assert call(client, "get", "/api/alarm-rules?point_id=999", operator_token).json() == {
        "count": 0,
        "items": [],
    }
    assert call(client, "get", "/api/alarm-rules?limit=5000", operator_token).status_code == 422
    assert call(client, "delete", url, operator_token).status_code == 204
    assert call(client, "get", url, operator_token).status_code == 404
    actions = list(alarm_audits().values_list("action", "who"))
    assert actions == [
        ("alarm_rule_created", "otto"),
        ("alarm_rule_changed", "otto"),
        ("alarm_rule_deleted", "otto"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"kind": "high_limit"}, 400, "needs high"),
        ({"kind": "binary_state"}, 400, "watches binary-input"),
        ({"kind": "stale"}, 400, "stale_seconds above 0"),
        ({"kind": "flood"}, 422, "kind"),
        ({"kind": "high_limit", "high": "30"}, 422, "high"),
        ({"kind": "high_limit", "high": 30, "priority": 300}, 422, "priority"),
        ({"kind": "high_limit", "high": 30, "deadband": -1}, 422, "deadband"),
        ({"kind": "high_limit", "high": 30, "point_id": 999999}, 404, "no point 999999"),
        ({"kind": "high_limit", "high": 30, "notification_class": -1}, 422, "notification_class"),
        ({"kind": "high_limit", "high": 30, "notification_class": "2"}, 422, "notification_class"),
    ],
)
def test_a_bad_rule_body_is_a_4xx_with_the_reason_and_nothing_stored(
    client, operator_token, points, body, status, reason
):
    answer = call(
        client, "post", "/api/alarm-rules", operator_token,
        {"point_id": points["analog-input"].pk, **body},
    )  # fmt: skip
    assert answer.status_code == status, answer.content
    assert reason in str(answer.json()["detail"]) + answer.json().get("message", "")
    assert not AlarmRule.objects.exists()
    assert not alarm_audits().exists()


def test_an_edit_the_rules_refuse_is_a_400_and_leaves_the_rule(client, operator_token, points):
    rule = AlarmRule.objects.create(point=points["analog-input"], kind="high_limit", high=30)
    url = f"/api/alarm-rules/{rule.pk}"
    answer = call(client, "patch", url, operator_token, {"high": None})
    assert answer.status_code == 400
    assert "needs high" in answer.json()["detail"]
    assert call(client, "patch", url, operator_token, {"enabled": None}).status_code == 422
    rule.refresh_from_db()
    assert (rule.high, rule.enabled) == (30.0, True)


def test_a_viewer_reads_rules_but_cannot_change_them(client, viewer_token, points):
    rule = AlarmRule.objects.create(point=points["analog-input"], kind="high_limit", high=30)
    assert call(client, "get", f"/api/alarm-rules/{rule.pk}", viewer_token).status_code == 200
    body = {"point_id": points["analog-input"].pk, "kind": "high_limit", "high": 1}
    assert call(client, "post", "/api/alarm-rules", viewer_token, body).status_code == 403
    url = f"/api/alarm-rules/{rule.pk}"
    assert call(client, "patch", url, viewer_token, {"high": 1}).status_code == 403
    assert call(client, "delete", url, viewer_token).status_code == 403
    assert AlarmRule.objects.get().high == 30.0


WEBHOOK = {"name": "ops", "kind": "webhook", "target": "https://hooks.example/bms", "secret": "k"}


def test_an_admin_manages_notifiers_and_the_secret_is_never_shown(client, admin_token):
    created = call(client, "post", "/api/alarm-notifiers", admin_token, WEBHOOK)
    assert created.status_code == 201, created.content
    assert "secret" not in created.json()
    assert created.json()["has_secret"] is True
    url = f"/api/alarm-notifiers/{created.json()['id']}"
    patched = call(client, "patch", url, admin_token, {"max_priority": 63, "secret": "k2"})
    assert patched.json()["max_priority"] == 63
    assert AlarmNotifier.objects.get().secret == "k2"
    assert len(call(client, "get", "/api/alarm-notifiers", admin_token).json()) == 1
    assert call(client, "delete", url, admin_token).status_code == 204
    audits = alarm_audits()
    assert [a.action for a in audits] == [
        "alarm_notifier_created",
        "alarm_notifier_changed",
        "alarm_notifier_deleted",
    ]
    assert all("k2" not in str(a.after) and "'k'" not in str(a.after) for a in audits)


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({"secret": ""}, 400, "needs a secret"),
        ({"target": "file:///etc/passwd"}, 400, "http(s) URL"),
        ({"kind": "email", "target": "nobody"}, 400, "not an e-mail address"),
        ({"min_priority": 9, "max_priority": 3}, 400, "min_priority <= max_priority"),
        ({"kind": "sms"}, 422, "kind"),
        ({"notification_class": -1}, 422, "notification_class"),
        ({"name": ""}, 422, "name"),
    ],
)
def test_a_bad_notifier_body_is_a_4xx_with_the_reason(client, admin_token, changes, status, reason):
    answer = call(client, "post", "/api/alarm-notifiers", admin_token, {**WEBHOOK, **changes})
    assert answer.status_code == status, answer.content
    assert reason in str(answer.json()["detail"]) + answer.json().get("message", "")
    assert not AlarmNotifier.objects.exists()


def test_a_taken_notifier_name_is_409(client, admin_token):
    assert call(client, "post", "/api/alarm-notifiers", admin_token, WEBHOOK).status_code == 201
    again = call(client, "post", "/api/alarm-notifiers", admin_token, WEBHOOK)
    assert again.status_code == 409
    assert "named 'ops' exists" in again.json()["detail"]


def test_notifiers_are_for_admins_only(client, operator_token, viewer_token):
    notifier = AlarmNotifier.objects.create(**WEBHOOK)
    for token in (operator_token, viewer_token):
        assert call(client, "get", "/api/alarm-notifiers", token).status_code == 403
        url = f"/api/alarm-notifiers/{notifier.pk}"
        assert call(client, "get", url, token).status_code == 403
        assert call(client, "delete", url, token).status_code == 403
        assert call(client, "post", "/api/alarm-notifiers", token, WEBHOOK).status_code == 403
    assert AlarmNotifier.objects.count() == 1


def test_an_operator_queues_the_bms_enrolment_at_a_remote_class(client, operator_token, points):
    device = points["analog-input"].device
    url = f"/api/devices/{device.pk}/alarm-enrollment"
    answer = call(client, "post", url, operator_token, {"notification_class": 5})
    assert answer.status_code == 202, answer.content
    task = BACnetTask.objects.get(pk=answer.json()["task_id"])
    assert (task.task_type, task.parameters) == (
        "enroll_alarms",
        {"device_id": 1201, "notification_class": 5, "user": "otto"},
    )


def test_enrolment_refuses_viewers_unknown_devices_and_bad_classes(
    client, operator_token, viewer_token, points
):
    url = f"/api/devices/{points['analog-input'].device.pk}/alarm-enrollment"
    assert call(client, "post", url, viewer_token, {"notification_class": 5}).status_code == 403
    missing = call(client, "post", "/api/devices/99999/alarm-enrollment", operator_token,
                   {"notification_class": 5})  # fmt: skip
    assert missing.status_code == 404
    for bad in (-1, 4194303, "5", None):
        body = {"notification_class": bad}
        assert call(client, "post", url, operator_token, body).status_code == 422
    assert not BACnetTask.objects.exists()
