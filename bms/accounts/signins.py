"""Sign-ins, failed sign-ins and lockouts: one log line each for the operator watching the
console, and a row each in the configuration audit (bms.devices.config_audit) for the audit log.

django-axes counts failures, locks out, and keeps its own records (AccessAttempt,
AccessFailureLog); these receivers only say what happened, with the address axes used.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.helpers import get_client_ip_address
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from bms.devices.config_audit import record

logger = logging.getLogger(__name__)


def _address(request: HttpRequest | None) -> str:
    return (get_client_ip_address(request) if request is not None else None) or "?"


@receiver(user_login_failed, dispatch_uid="bms.accounts.signins.failed")
def log_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))
    logger.warning("failed sign-in for %r from %s", username, _address(request))
    record("sign_in_failed", f"user {username}", who=username, address=_address(request))


@receiver(user_logged_in, dispatch_uid="bms.accounts.signins.in")
def audit_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    name = user.get_username()
    record("signed_in", f"user {name}", who=name, address=_address(request))


@receiver(user_logged_out, dispatch_uid="bms.accounts.signins.out")
def audit_sign_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None:  # a session that had no user
        return
    name = user.get_username()
    record("signed_out", f"user {name}", who=name, address=_address(request))


@receiver(user_locked_out, dispatch_uid="bms.accounts.signins.locked")
def log_lockout(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    logger.warning("sign-in locked out for %r from %s (too many failures)", username, ip_address)
