"""Template context every page gets: the user's role, for showing only what they may do."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from bms.accounts.roles import can_operate, role_of
from bms.alarms import queries as alarm_queries


def user_role(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None:
        return {"role": None, "can_operate": False}
    return {"role": role_of(user), "can_operate": can_operate(user)}


def alarm_counts(request: HttpRequest) -> dict[str, Any]:
    """Active and unacknowledged alarms for the navigation bar (signed-in pages only)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"alarm_counts": alarm_queries.counts()}
