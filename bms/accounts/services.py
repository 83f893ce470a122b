"""Creating accounts with a role, for the management commands and tests."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db import transaction

from bms.accounts.roles import ADMIN, ROLES


def ensure_groups() -> None:
    """The role groups exist (the data migration creates them; this repairs a deleted one)."""
    for role in ROLES:
        Group.objects.get_or_create(name=role)


def set_user(username: str, password: str, role: str) -> tuple[User, bool]:
    """Create or update `username` with this password and exactly this role; idempotent.

    Returns the user and whether it was created. Admins are also staff and superusers, so the
    Django admin (user management) is theirs.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if not username.strip():
        raise ValueError("a username is required")
    if not password:
        raise ValueError("a password is required")
    with transaction.atomic():
        ensure_groups()
        user, created = User.objects.get_or_create(username=username.strip())
        user.set_password(password)
        user.is_active = True
        user.is_staff = user.is_superuser = role == ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role)])
    return user, created
