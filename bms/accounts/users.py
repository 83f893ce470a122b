"""Managing accounts from the pages, for admins: create, change role, (de)activate, reset a
password. Each change is audited (bms.devices.config_audit) as `by`'s; passwords must pass
AUTH_PASSWORD_VALIDATORS, as the commands' do. The last active admin can be neither demoted
nor deactivated: nobody would be left to manage the accounts."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from bms.accounts.roles import ADMIN, OPERATOR, ROLES, VIEWER, role_of
from bms.accounts.services import ensure_groups
from bms.devices.config_audit import record


class UserRefused(ValueError):
    """A change the admin can correct; the message says why."""


def create_user(username: str, password: str, role: str, *, by: str) -> User:
    username = username.strip()
    if not username:
        raise UserRefused("a username is required")
    _check_role(role)
    if User.objects.filter(username=username).exists():
        raise UserRefused(f"there is already a user {username!r}")
    _check_password(password, User(username=username))
    with transaction.atomic():
        ensure_groups()
        user = User.objects.create_user(username=username, password=password)
        _apply_role(user, role)
        record("user_created", f"user {username}", who=by, after={"role": role, "active": True})
    return user


def change_role(user: User, role: str, *, by: str) -> None:
    _check_role(role)
    old = granted_role(user)
    if old == role:
        return
    with transaction.atomic():
        if old == ADMIN:
            _keep_an_admin(user, "demoted")
        _apply_role(user, role)
        record(
            "user_changed",
            f"user {user.username}",
            who=by,
            before={"role": old},
            after={"role": role},
        )


def set_active(user: User, active: bool, *, by: str) -> None:
    if user.is_active == active:
        return
    with transaction.atomic():
        if not active:
            if user.username == by:
                raise UserRefused("you cannot deactivate your own account")
            if granted_role(user) == ADMIN:
                _keep_an_admin(user, "deactivated")
        user.is_active = active
        user.save(update_fields=["is_active"])
        record(
            "user_changed",
            f"user {user.username}",
            who=by,
            before={"active": not active},
            after={"active": active},
        )


def reset_password(user: User, password: str, *, by: str) -> None:
    _check_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        # What changed, never the password or its hash.
        record("password_reset", f"user {user.username}", who=by)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserRefused(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")


def _check_password(password: str, user: User) -> None:
    if not password:
        raise UserRefused("a password is required")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise UserRefused("password refused: " + " ".join(exc.messages)) from exc


def granted_role(user: User) -> str:
    """The role the account holds, whether or not it is active now."""
    if user.is_superuser:
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    return next((role for role in (ADMIN, OPERATOR) if role in names), VIEWER)


def _apply_role(user: User, role: str) -> None:
    # As services.set_user does: admins are staff and superusers (the Django admin is theirs).
    user.is_staff = user.is_superuser = role == ADMIN
    user.save(update_fields=["is_staff", "is_superuser"])
    user.groups.set([Group.objects.get(name=role)])


def _keep_an_admin(user: User, verb: str) -> None:
    others = [
        other
        for other in User.objects.select_for_update().filter(is_active=True).exclude(pk=user.pk)
        if role_of(other) == ADMIN
    ]
    if not others:
        raise UserRefused(f"{user.username} is the last active admin and cannot be {verb}")
