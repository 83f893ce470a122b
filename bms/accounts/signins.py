"""One log line per failed sign-in and per lockout, for the operator watching the console.

django-axes counts failures, locks out, and keeps the records (AccessAttempt, AccessFailureLog);
these receivers only say what happened, in one line each, with the address axes used.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.helpers import get_client_ip_address
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def _address(request: HttpRequest | None) -> str:
    return (get_client_ip_address(request) if request is not None else None) or "?"


@receiver(user_login_failed, dispatch_uid="bms.accounts.signins.failed")
def log_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    logger.warning(
        "failed sign-in for %r from %s", credentials.get("username", ""), _address(request)
    )


@receiver(user_locked_out, dispatch_uid="bms.accounts.signins.locked")
def log_lockout(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    logger.warning("sign-in locked out for %r from %s (too many failures)", username, ip_address)
