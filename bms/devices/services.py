"""Writes to remote points as the pages and the API ask for them: the rules a write must pass
before it is queued (bms.bacnet.commanding's), and the audit of a refusal. Queuing the write is
bms.tasks.submission's job; this module decides only what may be written."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from bms.bacnet import commanding
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import PresentValue
from bms.devices.audit_values import loggable
from bms.devices.models import BACnetPoint, WriteAudit
from bms.devices.signals import announce_audit


class PointWriteRefused(ValueError):
    """A write the user can correct; it has been audited as refused, the message says why."""


def default_write_priority() -> int:
    """The level of a write or command sent without a priority (BACNET_DEFAULT_WRITE_PRIORITY),
    made explicit so that the task, the audit and the page all name it."""
    priority = settings.BACNET_DEFAULT_WRITE_PRIORITY
    if not commanding.is_priority(priority):
        raise ImproperlyConfigured(
            f"BACNET_DEFAULT_WRITE_PRIORITY must be 1..{commanding.PRIORITY_LEVELS} "
            f"(got {priority!r})"
        )
    return int(priority)


def checked_point_write(
    point: BACnetPoint,
    value: Any,
    priority: Any,
    relinquish: bool,
    *,
    user: str,
    source: str,
) -> PresentValue:
    """The value to write in our convention (None relinquishes), or PointWriteRefused after
    auditing the refusal as `user`'s through `source` ("operator", "api")."""
    try:
        return _checked(point, value, priority, relinquish)
    except PointWriteRefused as refusal:
        _audit_refusal(point, value, priority, user, source, str(refusal))
        raise


def _checked(point: BACnetPoint, value: Any, priority: Any, relinquish: bool) -> PresentValue:
    if not point.commandable:
        raise PointWriteRefused(f"{point.object_type},{point.instance} is not commandable")
    try:
        if priority is not None:
            commanding.checked_priority(priority)
        if relinquish:
            if value is not None and value != "":
                raise PointWriteRefused("relinquish writes NULL: send no value with it")
            return None
        if value is None or value == "":
            raise PointWriteRefused("a value is required (or relinquish)")
        # A multi-state point whose state texts we never read takes any state up to 2^32-1:
        # its device judges.
        return commanding.coerce_present_value(
            point.object_type, value, state_texts=point.state_texts or ()
        )
    except InvalidValueError as exc:
        raise PointWriteRefused(str(exc)) from exc


def _audit_refusal(
    point: BACnetPoint, value: Any, priority: Any, user: str, source: str, reason: str
) -> None:
    audit = WriteAudit.objects.create(
        source=source,
        who=user,
        point=point,
        object_ref=f"{point.device.device_instance}:{point.object_type},{point.instance}",
        new_value=loggable(value),
        priority=priority if isinstance(priority, int) and 0 <= priority < 2**15 else None,
        accepted=False,
        reason=reason,
    )
    announce_audit(audit)
