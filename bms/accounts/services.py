"""Creating accounts with a role, for the management commands and tests."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db import transaction

from bms.accounts.roles import ADMIN, ROLES
from bms.devices.config_audit import record


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
        before = None if created else _role_and_state(user)
        user.set_password(password)
        user.is_active = True
        user.is_staff = user.is_superuser = role == ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        _audit(user, before, _role_and_state(user))
    return user, created


def _role_and_state(user: User) -> dict[str, object]:
    names = set(user.groups.values_list("name", flat=True))
    role = ADMIN if user.is_superuser else next((r for r in ROLES[::-1] if r in names), ROLES[0])
    return {"role": role, "active": user.is_active}


def _audit(user: User, before: dict[str, object] | None, after: dict[str, object]) -> None:
    """A new account, or a changed role or state; not a rerun that changed nothing (make run
    sets its admin on every start). The password is set either way and never audited."""
    target = f"user {user.username}"
    if before is None:
        record("user_created", target, after=after)
    elif before != after:
        changed = [key for key in after if before.get(key) != after[key]]
        record(
            "user_changed",
            target,
            before={key: before.get(key) for key in changed},
            after={key: after[key] for key in changed},
        )
