"""The configuration audit: who changed which setting, and every sign-in, kept as ConfigAudit.

Changes made through services that know their actor (user management, sign-ins) call `record`
with `who`. Virtual devices and API tokens are audited from their models' signals, so every
door (pages, API, commands, the Django admin) is covered without each one remembering to: the
actor is then the signed-in user of the request being served (`acting_for`, set by the web
middleware), or empty for a command or the worker ("system").

Rows are announced on commit (config_audit_recorded), like the write audit, for live pages.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import Signal
from django.http import HttpRequest

from bms.devices.models import ConfigAudit

config_audit_recorded = Signal()
"""A configuration change or sign-in was audited. `audit`."""

_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "config_audit_request", default=None
)
# The fields of a virtual device that are its configuration (not its runtime bookkeeping).
VIRTUAL_DEVICE_FIELDS = ("device_id", "device_name", "description", "template", "is_running")


@contextmanager
def acting_for(request: HttpRequest) -> Iterator[None]:
    """Changes audited while serving `request` name its user and address."""
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


def record(
    action: str,
    target: str,
    *,
    who: str | None = None,
    address: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> ConfigAudit:
    """Store one row (the current request's user and address unless given), announced on
    commit."""
    if action not in dict(ConfigAudit.ACTION_CHOICES):
        raise ValueError(f"unknown configuration audit action {action!r}")
    request = _request.get()
    audit = ConfigAudit.objects.create(
        action=action,
        target=target[:255],
        who=(who if who is not None else _user_name(request))[:255],
        address=(address if address is not None else client_address(request))[:100],
        before=before,
        after=after,
    )
    transaction.on_commit(
        partial(config_audit_recorded.send, sender=ConfigAudit, audit=audit), robust=True
    )
    return audit


def client_address(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return str(request.META.get("REMOTE_ADDR") or "")


def _user_name(request: HttpRequest | None) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    return str(user.get_username())


# --- from model signals: virtual devices and API tokens ----------------------------------------


def connect() -> None:
    """Called by DevicesConfig.ready(): wiring only. Senders by label, so this app imports
    neither the virtual nor the accounts app."""
    device = "virtual.VirtualBACnetDevice"
    pre_save.connect(_device_before, sender=device, dispatch_uid="config_audit.vd_pre")
    post_save.connect(_device_saved, sender=device, dispatch_uid="config_audit.vd_save")
    post_delete.connect(_device_deleted, sender=device, dispatch_uid="config_audit.vd_delete")
    post_save.connect(_token_saved, sender="accounts.ApiToken", dispatch_uid="config_audit.tk")
    post_delete.connect(
        _token_deleted, sender="accounts.ApiToken", dispatch_uid="config_audit.tk_delete"
    )


def _device_fields(device: Any) -> dict[str, Any]:
    return {name: getattr(device, name) for name in VIRTUAL_DEVICE_FIELDS}


def _device_target(device: Any) -> str:
    return f"virtual device {device.device_id} {device.device_name}"


def _device_before(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    old = sender.objects.filter(pk=instance.pk).first()
    instance._config_audit_before = _device_fields(old) if old is not None else None


def _device_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if raw:
        return
    after = _device_fields(instance)
    if created:
        record("virtual_device_created", _device_target(instance), after=after)
        return
    before = getattr(instance, "_config_audit_before", None) or {}
    changed = [name for name in VIRTUAL_DEVICE_FIELDS if before.get(name) != after[name]]
    if changed:  # a save that only touched bookkeeping (last write time) is no change
        record(
            "virtual_device_changed",
            _device_target(instance),
            before={name: before.get(name) for name in changed},
            after={name: after[name] for name in changed},
        )


def _device_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    record("virtual_device_deleted", _device_target(instance), before=_device_fields(instance))


def _token_target(token: Any) -> str:
    try:
        owner = token.user.get_username()
    except ObjectDoesNotExist:  # revoked because its user is being deleted
        owner = f"user #{token.user_id}"
    return f"API token {token.name!r} of {owner}"


def _token_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:
        record("token_issued", _token_target(instance), after={"name": instance.name})


def _token_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    record("token_revoked", _token_target(instance), before={"name": instance.name})
