"""API authentication (a Bearer token for scripts, or the browser's session with CSRF) and the
role checks endpoints make before changing anything."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, django_auth

from bms.accounts.models import ApiToken
from bms.accounts.roles import can_operate


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = ApiToken.user_for(token)
        if user is not None:
            request.user = user
        return user


# Token first: a script sends no cookies, and a browser sends no Authorization header. The
# session scheme enforces CSRF on unsafe methods.
API_AUTH = [BearerToken(), django_auth]


def user_name(request: HttpRequest) -> str:
    return str(request.user.get_username())


def require_operator(request: HttpRequest) -> None:
    if not can_operate(request.user):
        raise HttpError(403, "this needs the operator role; your account can only read")
