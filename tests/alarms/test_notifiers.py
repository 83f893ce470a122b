"""Sending one alarm notification (bms.alarms.notifiers): which notifiers a transition goes
to, a webhook signed with HMAC-SHA256 of its body received by a real HTTP server, e-mail
through Django's mail settings, and notifiers refused before they are stored."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core import mail

from bms.alarms.models import Alarm, AlarmNotifier, AlarmTransition
from bms.alarms.notifiers import (
    NotifyFailed,
    check_notifier,
    deliver,
    notifiers_for,
    payload,
)
from tests.alarms.test_services import T0
from tests.alarms.webhook_server import webhook_server

pytestmark = pytest.mark.django_db


def a_transition(priority: int = 50, notification_class: int | None = 7) -> AlarmTransition:
    alarm = Alarm.objects.create(
        source_kind="rule",
        rule=f"rule {priority} {notification_class}",
        event_state="high-limit",
        priority=priority,
        notification_class=notification_class,
        last_transition_at=T0,
    )
    return AlarmTransition.objects.create(
        alarm=alarm,
        from_state="normal",
        to_state="high-limit",
        transition="to-offnormal",
        time_stamp=T0,
        priority=priority,
        notify_type="alarm",
        message="supply air 31 C",
    )


def test_a_transition_goes_to_the_notifiers_of_its_priority_and_class():
    AlarmNotifier.objects.create(name="urgent", kind="email", target="a@x.org", max_priority=63)
    AlarmNotifier.objects.create(
        name="class 7", kind="email", target="b@x.org", notification_class=7
    )
    AlarmNotifier.objects.create(
        name="class 8", kind="email", target="c@x.org", notification_class=8
    )
    AlarmNotifier.objects.create(name="off", kind="email", target="d@x.org", enabled=False)
    AlarmNotifier.objects.create(name="minor", kind="email", target="e@x.org", min_priority=128)
    chosen = {n.name for n in notifiers_for(a_transition(priority=50, notification_class=7))}
    assert chosen == {"urgent", "class 7"}


def test_a_webhook_body_is_signed_with_the_secret():
    transition = a_transition()
    with webhook_server() as (url, received):
        notifier = AlarmNotifier(name="hook", kind="webhook", target=url, secret="s3cret")
        deliver(notifier, payload(transition))
    [body] = received.bodies
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert received.signatures == [expected]
    sent = json.loads(body)
    assert (sent["transition_id"], sent["to_state"], sent["priority"]) == (
        transition.pk,
        "high-limit",
        50,
    )


def test_a_webhook_that_answers_500_is_a_failure_naming_it():
    with webhook_server(failures=1) as (url, _received):
        notifier = AlarmNotifier(name="hook", kind="webhook", target=url, secret="s")
        with pytest.raises(NotifyFailed, match="answered 500"):
            deliver(notifier, payload(a_transition()))


def test_a_webhook_nobody_listens_on_is_a_failure():
    notifier = AlarmNotifier(name="hook", kind="webhook", target="http://127.0.0.1:9/", secret="s")
    with pytest.raises(NotifyFailed, match=r"127\.0\.0\.1:9"):
        deliver(notifier, payload(a_transition()))


def test_an_email_goes_through_djangos_mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notifier = AlarmNotifier(name="desk", kind="email", target="ops@x.org, boss@x.org")
    deliver(notifier, payload(a_transition()))
    [sent] = mail.outbox
    assert sent.to == ["ops@x.org", "boss@x.org"]
    assert "normal -> high-limit" in sent.subject
    assert "supply air 31 C" in sent.body


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": "email", "target": "not an address"}, "not an e-mail address"),
        ({"kind": "email", "target": " , "}, "at least one address"),
        ({"kind": "webhook", "target": "file:///etc/passwd", "secret": "s"}, "http"),
        ({"kind": "webhook", "target": "http://127.0.0.1/h"}, "secret"),
        ({"kind": "sms", "target": "1"}, "e-mail or webhook"),
        (
            {"kind": "email", "target": "a@x.org", "min_priority": 9, "max_priority": 3},
            "priorities",
        ),
    ],
)
def test_a_notifier_that_cannot_work_is_refused_with_its_reason(fields, reason):
    with pytest.raises(ValueError, match=reason):
        check_notifier(AlarmNotifier(name="n", **fields))
