"""Alarm notifiers in the admin (bms.alarms.admin): a working one is stored, one that cannot
work is refused with the reason and nothing is stored."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bms.alarms.models import AlarmNotifier
from bms.devices.models import ConfigAudit

pytestmark = pytest.mark.django_db

FIELDS = {"name": "desk", "kind": "webhook", "target": "http://127.0.0.1:8123/hook",
          "secret": "s", "min_priority": "0", "max_priority": "255", "enabled": "on"}  # fmt: skip


def test_a_webhook_notifier_is_added_in_the_admin(admin_client):
    answer = admin_client.post(reverse("admin:alarms_alarmnotifier_add"), FIELDS)
    assert answer.status_code == 302
    assert AlarmNotifier.objects.get(name="desk").secret == "s"
    listing = admin_client.get(reverse("admin:alarms_alarmnotifier_changelist"))
    assert "desk" in listing.content.decode()


def test_a_webhook_without_a_secret_is_refused_with_the_reason(admin_client):
    answer = admin_client.post(reverse("admin:alarms_alarmnotifier_add"), {**FIELDS, "secret": ""})
    assert answer.status_code == 200
    assert "needs a secret" in answer.content.decode()
    assert not AlarmNotifier.objects.exists()


def test_changes_in_the_admin_are_audited_like_the_pages(admin_client):
    admin_client.post(reverse("admin:alarms_alarmnotifier_add"), FIELDS)
    notifier = AlarmNotifier.objects.get()
    change = reverse("admin:alarms_alarmnotifier_change", args=[notifier.pk])
    assert admin_client.post(change, {**FIELDS, "max_priority": "99"}).status_code == 302
    delete = reverse("admin:alarms_alarmnotifier_delete", args=[notifier.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    audits = ConfigAudit.objects.filter(action__startswith="alarm_notifier").order_by("id")
    assert [a.action for a in audits] == [
        "alarm_notifier_created",
        "alarm_notifier_changed",
        "alarm_notifier_deleted",
    ]
    assert audits[1].after == {"max_priority": 99}
    assert not AlarmNotifier.objects.exists()
