"""Roles as Django groups: viewer reads, operator also writes and runs tasks, admin also manages
users (through the Django admin). A signed-in user in no group is a viewer: reading is what every
account is for, and anything that changes the building needs an explicit grant."""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
_RANK = {VIEWER: 0, OPERATOR: 1, ADMIN: 2}


def role_of(user: Any) -> str | None:
    """The user's highest role, or None for anonymous and inactive users."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in (ADMIN, OPERATOR):
        if role in names:
            return role
    return VIEWER


def has_role(user: Any, needed: str) -> bool:
    role = role_of(user)
    return role is not None and _RANK[role] >= _RANK[needed]


def can_operate(user: Any) -> bool:
    return has_role(user, OPERATOR)
