"""Notification classes served by device 8888: created, edited and deleted as an operator.

Each is checked as the worker will serve it (bms.virtual.specs.notification_class_spec, the
one set of rules in bms.bacnet.local.alarm_spec) before it is stored; a class that objects still
name cannot be deleted. The worker serves the changes within one sync interval.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from bms.bacnet.errors import InvalidValueError
from bms.virtual.models import NotificationClass, VirtualObject
from bms.virtual.services import (
    Conflict,
    DuplicateObject,
    VirtualDeviceError,
    ensure_default_notification_class,
    ensure_notification_classes,
)
from bms.virtual.specs import notification_class_spec

CHANGES = frozenset(
    {
        "name",
        "description",
        "priority_to_offnormal",
        "priority_to_fault",
        "priority_to_normal",
        "ack_required",
        "recipients",
    }
)
__all__ = [
    "create_notification_class",
    "delete_notification_class",
    "ensure_default_notification_class",
    "ensure_notification_classes",
    "update_notification_class",
]


def create_notification_class(instance: int, name: str, **fields: Any) -> NotificationClass:
    _refuse_unknown(fields)
    row = NotificationClass(instance=instance, name=name, **fields)
    return _saved(row)


def update_notification_class(row: NotificationClass, **changes: Any) -> NotificationClass:
    _refuse_unknown(changes)
    for field, value in changes.items():
        setattr(row, field, value)
    return _saved(row)


def delete_notification_class(row: NotificationClass) -> None:
    """Delete it, unless objects still report through it (Conflict names them)."""
    with transaction.atomic():
        users = list(
            VirtualObject.objects.select_for_update()
            .filter(notification_class=row.instance)
            .values_list("name", flat=True)[:5]
        )
        if users:
            raise Conflict(
                f"notification class {row.instance} is used by {', '.join(users)}; "
                "change their notification class first"
            )
        row.delete()


def _refuse_unknown(fields: dict[str, Any]) -> None:
    unknown = set(fields) - CHANGES
    if unknown:
        raise VirtualDeviceError(f"a notification class has no {', '.join(sorted(unknown))}")


def _saved(row: NotificationClass) -> NotificationClass:
    try:
        notification_class_spec(row)
    except InvalidValueError as exc:
        raise VirtualDeviceError(str(exc)) from exc
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:
        raise DuplicateObject("a notification class with this instance or name exists") from exc
    return row
