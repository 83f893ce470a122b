"""API authentication (a Bearer token for scripts, or the browser's session with CSRF) and the
role checks endpoints make before changing anything.

Wrong tokens are counted per client address (the address axes uses for sign-ins, so a proxy
is configured once); past API_TOKEN_FAILURE_LIMIT in API_TOKEN_LOCKOUT_SECONDS the address gets
429 for the rest of that window. The counter lives in Django's cache: per process with the
default local-memory cache, which is one web process under `make run`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

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


class BrowserSession(SessionAuth):
    """The browser's session, CSRF-checked on unsafe methods, for a signed-in user only.

    ninja's session scheme checks CSRF before it looks at the session, so a script with no
    credentials, or with a mistyped Bearer token, was told "CSRF check Failed" (403) where the
    truth is 401. A request that sends an Authorization header is a script's: the session does
    not stand in for a token that failed.
    """

    def __call__(self, request: HttpRequest) -> Any:
        if "authorization" in request.headers or not request.user.is_authenticated:
            return None
        return super().__call__(request)


# Token first: a script sends no cookies, and a browser sends no Authorization header.
API_AUTH = [BearerToken(), BrowserSession()]


def session_or_token(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For the OpenAPI schema and its docs page: a signed-in browser, or a script with a Bearer
    token (401 or 429 as for the API); a browser that is not signed in goes to sign in."""
    browser_view = login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "authorization" not in request.headers:
            return browser_view(request, *args, **kwargs)
        try:
            user = BearerToken()(request)
        except HttpError as refusal:
            return JsonResponse({"detail": str(refusal)}, status=refusal.status_code)
        if user is None:
            return JsonResponse({"detail": "Unauthorized"}, status=401)
        return view(request, *args, **kwargs)

    return wrapper


def user_name(request: HttpRequest) -> str:
    return str(request.user.get_username())


def require_operator(request: HttpRequest) -> None:
    if not can_operate(request.user):
        raise HttpError(403, "this needs the operator role; your account can only read")
