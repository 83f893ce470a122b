"""API authentication (a Bearer token for scripts, or the browser's session with CSRF) and the
role checks endpoints make before changing anything.

Wrong tokens are counted per client address (the address axes uses for sign-ins, so a proxy
is configured once); past API_TOKEN_FAILURE_LIMIT in API_TOKEN_LOCKOUT_SECONDS the address gets
429 for the rest of that window. The counter lives in Django's cache: per process with the
default local-memory cache, which is one web process under `make run`.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, django_auth

from bms.accounts.models import ApiToken
from bms.accounts.roles import can_operate

logger = logging.getLogger(__name__)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        address = get_client_ip_address(request) or "?"
        refuse_a_guessing_address(address)
        user = ApiToken.user_for(token)
        if user is None:
            count_a_wrong_token(address)
            return None
        request.user = user
        return user


def _failures_key(address: str) -> str:
    return f"bms:api-token-failures:{address}"


def refuse_a_guessing_address(address: str) -> None:
    """429 while `address` is over the limit of wrong tokens, whatever token it sends now: a
    guesser learns nothing more until the window ends."""
    if cache.get(_failures_key(address), 0) >= settings.API_TOKEN_FAILURE_LIMIT:
        raise HttpError(
            429,
            "too many wrong API tokens from this address; try again in "
            f"{settings.API_TOKEN_LOCKOUT_SECONDS} s",
        )


def count_a_wrong_token(address: str) -> None:
    """Counts in the cache for API_TOKEN_LOCKOUT_SECONDS from the first failure; logs once,
    when the address reaches the limit."""
    key = _failures_key(address)
    cache.add(key, 0, timeout=settings.API_TOKEN_LOCKOUT_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this failure starts a new window
        cache.set(key, count := 1, timeout=settings.API_TOKEN_LOCKOUT_SECONDS)
    if count == settings.API_TOKEN_FAILURE_LIMIT:
        logger.warning(
            "%d wrong API tokens from %s: refusing its API requests for %d s",
            count,
            address,
            settings.API_TOKEN_LOCKOUT_SECONDS,
        )


# Token first: a script sends no cookies, and a browser sends no Authorization header. The
# session scheme enforces CSRF on unsafe methods.
API_AUTH = [BearerToken(), django_auth]


def user_name(request: HttpRequest) -> str:
    return str(request.user.get_username())


def require_operator(request: HttpRequest) -> None:
    if not can_operate(request.user):
        raise HttpError(403, "this needs the operator role; your account can only read")
