"""Alarm rule and notifier pages (bms.web.views.alarm_config): an operator creates, edits and
deletes a rule through the service, a refusal is shown above the form with nothing stored;
viewers read rules but cannot change them; notifiers are for admins only, their secret never
shown again and kept when left empty; every change audited with the user. From a device's page
an operator queues the BMS's enrolment at one of its notification classes."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from bms.alarms.models import AlarmNotifier, AlarmRule
from bms.alarms.rules import record_rule_transition
from bms.devices.models import BACnetDevice, BACnetPoint, ConfigAudit
from bms.tasks.models import BACnetTask
from tests.web.fixtures import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def point() -> BACnetPoint:
    device = BACnetDevice.objects.create(device_instance=1301, address="127.0.0.2:47808")
    return BACnetPoint.objects.create(
        device=device, object_type="analog-input", instance=1, name="Supply_Temp"
    )


def rule_form(on: BACnetPoint, **changes: str) -> dict[str, str]:
    form = {
        "point": str(on.pk),
        "kind": "high_limit",
        "high": "28.5",
        "low": "",
        "deadband": "1",
        "delay_seconds": "0",
        "stale_seconds": "0",
        "alarm_value": "active",
        "priority": "40",
        "notification_class": "1",
        "message": "",
        "enabled": "on",
    }
    return {**form, **changes}


def test_an_operator_creates_edits_and_deletes_a_rule(operator_client, point):
    created = operator_client.post(reverse("web:alarm_rule_create"), rule_form(point))
    assert created.status_code == 302
    rule = AlarmRule.objects.get()
    assert (rule.high, rule.deadband, rule.priority) == (28.5, 1.0, 40)

    listed = operator_client.get(reverse("web:alarm_rules") + f"?point={point.pk}").content
    assert f'data-rule="{rule.pk}"'.encode() in listed
    url = reverse("web:alarm_rule", args=[rule.pk])
    assert b"Supply_Temp" in operator_client.get(url).content
    # The point cannot be changed from the edit page (a rule on another point is another rule).
    edited = operator_client.post(
        url, rule_form(point, high="30", point="999", notification_class="6")
    )
    assert edited.status_code == 302
    rule.refresh_from_db()
    assert (rule.high, rule.point_id, rule.notification_class) == (30.0, point.pk, 6)

    operator_client.post(reverse("web:alarm_rule_delete", args=[rule.pk]))
    assert not AlarmRule.objects.exists()
    audits = ConfigAudit.objects.filter(action__startswith="alarm_rule").order_by("id")
    assert [(a.action, a.who) for a in audits] == [
        ("alarm_rule_created", "otto"),
        ("alarm_rule_changed", "otto"),
        ("alarm_rule_deleted", "otto"),
    ]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"kind": "binary_state"}, "watches binary-input"),
        ({"high": ""}, "needs high"),
        ({"kind": "stale"}, "stale_seconds above 0"),
        ({"priority": "256"}, "less than or equal to 255"),
        ({"notification_class": "-1"}, "greater than or equal to 0"),
        ({"high": "hot"}, "Enter a number"),
        ({"point": "424242"}, "There is no point 424242"),
    ],
)
def test_a_rule_that_cannot_work_shows_the_reason_and_stores_nothing(
    operator_client, point, changes, reason
):
    answer = operator_client.post(reverse("web:alarm_rule_create"), rule_form(point, **changes))
    assert answer.status_code == 400
    page = answer.content.decode()
    assert 'class="error"' in page
    assert reason in page
    assert not AlarmRule.objects.exists()


def test_a_refused_edit_shows_the_reason_and_keeps_the_rule(operator_client, point):
    rule = AlarmRule.objects.create(point=point, kind="high_limit", high=30.0)
    url = reverse("web:alarm_rule", args=[rule.pk])
    answer = operator_client.post(url, rule_form(point, high=""))
    assert answer.status_code == 400
    assert "needs high" in answer.content.decode()
    rule.refresh_from_db()
    assert rule.high == 30.0


def test_a_viewer_reads_rules_but_cannot_change_them(viewer_client, point):
    rule = AlarmRule.objects.create(point=point, kind="high_limit", high=30.0)
    assert viewer_client.get(reverse("web:alarm_rules")).status_code == 200
    url = reverse("web:alarm_rule", args=[rule.pk])
    assert viewer_client.get(url).status_code == 200
    assert viewer_client.post(url, rule_form(point, high="1")).status_code == 403
    created = viewer_client.post(reverse("web:alarm_rule_create"), rule_form(point))
    assert created.status_code == 403
    deleted = viewer_client.post(reverse("web:alarm_rule_delete", args=[rule.pk]))
    assert deleted.status_code == 403
    assert AlarmRule.objects.get().high == 30.0


WEBHOOK = {
    "name": "ops",
    "kind": "webhook",
    "target": "https://hooks.example/bms",
    "secret": "s3cret",
    "min_priority": "0",
    "max_priority": "127",
    "notification_class": "",
    "enabled": "on",
}


def test_an_admin_manages_a_notifier_and_its_secret_is_kept_and_never_shown(admin_user):
    client = signed_in(admin_user)
    assert client.post(reverse("web:alarm_notifier_create"), WEBHOOK).status_code == 302
    notifier = AlarmNotifier.objects.get()
    url = reverse("web:alarm_notifier", args=[notifier.pk])
    page = client.get(url).content.decode()
    assert "s3cret" not in page
    assert "set (never shown again)" in page

    assert client.post(url, {**WEBHOOK, "secret": "", "max_priority": "63"}).status_code == 302
    notifier.refresh_from_db()
    assert (notifier.secret, notifier.max_priority) == ("s3cret", 63)

    refused = client.post(url, {**WEBHOOK, "target": "gopher://x"})
    assert refused.status_code == 400
    assert "http(s) URL" in refused.content.decode()
    notifier.refresh_from_db()
    assert notifier.target == "https://hooks.example/bms"

    client.post(reverse("web:alarm_notifier_delete", args=[notifier.pk]))
    assert not AlarmNotifier.objects.exists()
    audits = ConfigAudit.objects.filter(action__startswith="alarm_notifier").order_by("id")
    assert [(a.action, a.who) for a in audits] == [
        ("alarm_notifier_created", "ada"),
        ("alarm_notifier_changed", "ada"),
        ("alarm_notifier_deleted", "ada"),
    ]
    assert all("s3cret" not in f"{a.before}{a.after}" for a in audits)


def test_a_webhook_without_a_secret_is_refused_with_the_reason(admin_user):
    answer = signed_in(admin_user).post(
        reverse("web:alarm_notifier_create"), {**WEBHOOK, "secret": ""}
    )
    assert answer.status_code == 400
    assert "needs a secret" in answer.content.decode()
    assert not AlarmNotifier.objects.exists()


def test_notifier_pages_are_for_admins_only(operator_client, viewer_client):
    notifier = AlarmNotifier.objects.create(
        name="ops", kind="email", target="ops@example.com", enabled=True
    )
    for client in (operator_client, viewer_client):
        assert client.get(reverse("web:alarm_notifiers")).status_code == 403
        assert client.get(reverse("web:alarm_notifier", args=[notifier.pk])).status_code == 403
        created = client.post(reverse("web:alarm_notifier_create"), WEBHOOK)
        assert created.status_code == 403
        url = reverse("web:alarm_notifier_delete", args=[notifier.pk])
        assert client.post(url).status_code == 403
    assert AlarmNotifier.objects.count() == 1


def test_the_console_and_the_point_page_lead_to_the_rules(operator_client, admin_user, point):
    console = operator_client.get(reverse("web:alarms")).content.decode()
    assert reverse("web:alarm_rules") in console
    assert reverse("web:alarm_notifiers") not in console  # the operator is no admin
    assert (
        reverse("web:alarm_notifiers")
        in signed_in(admin_user).get(reverse("web:alarms")).content.decode()
    )
    point_page = operator_client.get(reverse("web:point", args=[point.pk])).content.decode()
    assert f"{reverse('web:alarm_rules')}?point={point.pk}" in point_page


def test_an_operator_has_the_bms_enrolled_at_a_device_class_from_its_page(
    operator_client, viewer_client, point
):
    device = point.device
    page = operator_client.get(reverse("web:device", args=[device.pk])).content.decode()
    assert 'id="alarm-enroll"' in page
    url = reverse("web:alarm_enroll", args=[device.pk])
    answer = operator_client.post(url, {"notification_class": "5"}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 202
    task = BACnetTask.objects.get(pk=answer.json()["task_id"])
    assert (task.task_type, task.parameters["notification_class"]) == ("enroll_alarms", 5)

    bad = operator_client.post(url, {"notification_class": "five"})
    assert bad.status_code == 400
    assert "number 0..4194302" in bad.content.decode()
    assert viewer_client.post(url, {"notification_class": "5"}).status_code == 403
    assert BACnetTask.objects.count() == 1


def test_the_rules_list_shows_each_rules_alarm_state(viewer_client, point):
    quiet = AlarmRule.objects.create(point=point, kind="high_limit", high=30.0)
    hot = AlarmRule.objects.create(point=point, kind="low_limit", low=5.0)
    record_rule_transition(hot, "normal", "low-limit", 4.0, timezone.now())
    page = viewer_client.get(reverse("web:alarm_rules")).content.decode()
    rows = {pk: page[page.index(f'data-rule="{pk}"') :] for pk in (quiet.pk, hot.pk)}
    assert "never raised" in rows[quiet.pk].split("</tr>")[0]
    hot_row = rows[hot.pk].split("</tr>")[0]
    assert "low-limit" in hot_row
    assert "unacknowledged" in hot_row


def test_the_rules_list_is_paged(viewer_client, point, monkeypatch):
    monkeypatch.setattr("bms.web.views.alarm_config.PAGE_SIZE", 2)
    made = [AlarmRule.objects.create(point=point, kind="high_limit", high=n) for n in range(3)]
    first = viewer_client.get(reverse("web:alarm_rules")).content.decode()
    second = viewer_client.get(reverse("web:alarm_rules") + "?page=2").content.decode()
    assert f'data-rule="{made[2].pk}"' not in first
    assert "page 1 of 2" in first
    assert f'data-rule="{made[2].pk}"' in second
