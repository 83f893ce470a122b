"""Notifications out: which notifiers a transition goes to, and sending one (sync, Django side).

The worker's loop (bms.worker.alarm_notify) finds new transitions, and calls `deliver` in a
thread for each (transition, notifier) pair; a failure raises NotifyFailed, which the loop
retries with backoff. Two kinds:
- e-mail through Django's mail settings (EMAIL_BACKEND, console by default);
- a JSON webhook: POST of `payload()` with `X-BMS-Signature: sha256=<hex HMAC-SHA256 of the
  body with the notifier's secret>`, so the receiver can check it came from us unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email

from bms.alarms.models import AlarmNotifier, AlarmTransition

SIGNATURE_HEADER = "X-BMS-Signature"
WEBHOOK_TIMEOUT_SECONDS = 5.0


class NotifyFailed(Exception):
    """A notifier could not deliver (the message says where and why)."""


def check_notifier(notifier: AlarmNotifier) -> None:
    """ValueError with the reason if `notifier` cannot work (before it is stored)."""
    if notifier.kind not in dict(AlarmNotifier._meta.get_field("kind").choices or []):
        raise ValueError(f"a notifier is e-mail or webhook, not {notifier.kind!r}")
    if not 0 <= notifier.min_priority <= notifier.max_priority <= 255:
        raise ValueError("priorities: 0 <= min_priority <= max_priority <= 255")
    if notifier.kind == "email":
        for address in email_addresses(notifier):
            try:
                validate_email(address)
            except ValidationError as exc:
                raise ValueError(f"{address!r} is not an e-mail address") from exc
        if not email_addresses(notifier):
            raise ValueError("an e-mail notifier needs at least one address")
    else:
        url = urlsplit(notifier.target)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"a webhook needs an http(s) URL, not {notifier.target!r}")
        if not notifier.secret:
            raise ValueError("a webhook needs a secret to sign its body with")


def email_addresses(notifier: AlarmNotifier) -> list[str]:
    return [part.strip() for part in notifier.target.split(",") if part.strip()]


def notifiers_for(transition: AlarmTransition) -> list[AlarmNotifier]:
    """The enabled notifiers that take `transition` (see `takes`)."""
    return [n for n in AlarmNotifier.objects.filter(enabled=True) if takes(n, transition)]


def takes(notifier: AlarmNotifier, transition: AlarmTransition) -> bool:
    """An enabled notifier takes a transition whose priority is in its range, of its
    notification class when it names one."""
    return (
        notifier.enabled
        and notifier.min_priority <= transition.priority <= notifier.max_priority
        and notifier.notification_class in (None, transition.alarm.notification_class)
    )


def payload(transition: AlarmTransition) -> dict[str, Any]:
    """The JSON a webhook receives (and an e-mail's text is made of)."""
    alarm = transition.alarm
    return {
        "alarm_id": alarm.pk,
        "transition_id": transition.pk,
        "source": alarm.name or alarm.rule,
        "source_kind": alarm.source_kind,
        "device_instance": alarm.device_instance,
        "object_type": alarm.object_type,
        "instance": alarm.instance,
        "from_state": transition.from_state,
        "to_state": transition.to_state,
        "transition": transition.transition,
        "event_type": transition.event_type,
        "priority": transition.priority,
        "notify_type": transition.notify_type,
        "notification_class": alarm.notification_class,
        "ack_required": transition.ack_required,
        "message": transition.message,
        "time_stamp": transition.time_stamp.isoformat(),
    }


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(notifier: AlarmNotifier, message: dict[str, Any]) -> None:
    """Send one notification; NotifyFailed if it did not go."""
    if notifier.kind == "email":
        _send_email(notifier, message)
    else:
        _send_webhook(notifier, message)


def _send_email(notifier: AlarmNotifier, message: dict[str, Any]) -> None:
    subject = (
        f"[BMS alarm p{message['priority']}] {message['source']}: "
        f"{message['from_state']} -> {message['to_state']}"
    )
    text = "\n".join(f"{key}: {value}" for key, value in message.items())
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, email_addresses(notifier))
    except OSError as exc:  # smtplib's errors are OSErrors too
        raise NotifyFailed(f"{notifier}: {exc}") from exc


def _send_webhook(notifier: AlarmNotifier, message: dict[str, Any]) -> None:
    if urlsplit(notifier.target).scheme not in ("http", "https"):
        raise NotifyFailed(f"{notifier}: {notifier.target!r} is not an http(s) URL")
    body = json.dumps(message, sort_keys=True).encode()
    # S310: only http(s), checked just above (no file: or custom schemes).
    request = urllib.request.Request(  # noqa: S310
        notifier.target,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(body, notifier.secret),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as answer:  # noqa: S310
            status = answer.status
    except urllib.error.HTTPError as exc:
        exc.close()  # the error is the response: its socket stays open until closed
        raise NotifyFailed(f"{notifier}: {notifier.target} answered {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise NotifyFailed(f"{notifier}: {notifier.target}: {exc}") from exc
    if not 200 <= status < 300:
        raise NotifyFailed(f"{notifier}: {notifier.target} answered {status}")
