"""Alarm notifiers in the admin (bms.alarms.admin): a working one is stored, one that cannot
work is refused with the reason and nothing is stored."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bms.alarms.models import AlarmNotifier

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
