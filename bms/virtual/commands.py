"""Commanding a virtual object as an operator (pages, API, scripts), the way a BACnet peer
would write it: validated by bms.bacnet.commanding's one vocabulary, stored with a reading and an
audit row in one transaction, refusals audited too. The worker applies the row to the live
object within its sync interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from bms.bacnet import commanding
from bms.bacnet.commanding import PRIORITY_LEVELS, priority_winner
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import INPUT_TYPES, MULTISTATE_TYPES, PresentValue
from bms.devices.audit_values import loggable
from bms.devices.models import BACnetReading, WriteAudit
from bms.devices.services import default_write_priority
from bms.devices.signals import announce_audit
from bms.virtual.models import VirtualObject
from bms.virtual.services import VirtualDeviceError
from bms.virtual.signals import announce_object


class CommandRefused(VirtualDeviceError):
    """A command the BMS device would refuse from a BACnet peer; it is audited as refused."""


@dataclass(frozen=True)
class Command:
    """A validated command: `value` in our convention (None relinquishes `priority`)."""

    value: PresentValue
    priority: int | None  # the level commanded; None for inputs (a plain present value)


def command_virtual_object(
    obj: VirtualObject,
    value: Any,
    priority: int | None = None,
    relinquish: bool = False,
    *,
    user: str,
    source: str = "operator",
) -> VirtualObject:
    """Command one virtual object as an operator, the way a BACnet peer would write it.

    Commandable objects take `value` at `priority` (default BACNET_DEFAULT_WRITE_PRIORITY) or
    relinquish that level; inputs take a plain present value. In ONE transaction: the row's
    priority array slot (or present value), the present value the array now commands, a
    reading and an accepted audit row. The worker applies the row to the live object within
    its sync interval (it sees updated_at move).
    Input the device would refuse raises CommandRefused, after auditing it as refused.
    """
    try:
        with transaction.atomic():
            row = (
                VirtualObject.objects.select_for_update()
                .select_related("device")
                .filter(pk=obj.pk)
                .first()
            )
            if row is None:
                raise VirtualDeviceError(f"virtual object {obj.pk} no longer exists")
            command = validate_command(row, value, priority, relinquish)
            _apply_command(row, command, user, source)
    except CommandRefused as refusal:
        _audit_refused(obj, value, priority, user, source, str(refusal))
        raise
    return row


def validate_command(obj: VirtualObject, value: Any, priority: Any, relinquish: bool) -> Command:
    """The command as the device would take it, or CommandRefused saying what fits."""
    label = f"{obj.object_type},{obj.instance}"
    if not obj.commandable:
        if priority is not None or relinquish:
            what = "an input" if obj.object_type in INPUT_TYPES else "not commandable"
            raise CommandRefused(
                f"{label} is {what}: it takes a plain present value (no priority, no relinquish)"
            )
        return Command(_checked_value(obj, value), None)
    try:
        level = commanding.checked_priority(
            default_write_priority() if priority is None else priority
        )
    except InvalidValueError as exc:
        raise CommandRefused(str(exc)) from exc
    if relinquish:
        if value is not None and value != "":
            raise CommandRefused("relinquish writes NULL: send no value with it")
        return Command(None, level)
    return Command(_checked_value(obj, value), level)


def _checked_value(obj: VirtualObject, value: Any) -> PresentValue:
    """The value in our convention, by bms.bacnet.commanding's one vocabulary. Our own
    multi-state objects have as many states as state texts (none: nothing to command)."""
    if value is None or value == "":
        raise CommandRefused("a value is required (or relinquish, for a commandable object)")
    texts = list(obj.state_texts or [])
    try:
        return commanding.coerce_present_value(
            obj.object_type,
            value,
            min_value=obj.min_value,
            max_value=obj.max_value,
            state_texts=texts,
            number_of_states=len(texts) if obj.object_type in MULTISTATE_TYPES else None,
            name=obj.name,
        )
    except InvalidValueError as exc:
        raise CommandRefused(str(exc)) from exc


def _apply_command(row: VirtualObject, command: Command, user: str, source: str) -> None:
    old_value = row.present_value
    if command.priority is None:
        row.present_value = command.value
    else:
        array = list(row.priority_array or [None] * PRIORITY_LEVELS)
        array[command.priority - 1] = command.value
        row.priority_array = array
        row.present_value = priority_winner(array, row.relinquish_default)
    row.save(update_fields=["present_value", "priority_array", "updated_at"])
    reading = BACnetReading.objects.create(
        virtual_object=row,
        value=row.present_value,
        timestamp=row.updated_at,
        source="operator_write",
    )
    audit = WriteAudit.objects.create(
        time=row.updated_at,
        source=source,
        who=user,
        object_ref=_object_ref(row),
        virtual_object=row,
        old_value=old_value,
        new_value=command.value,
        priority=command.priority,
        accepted=True,
    )
    announce_object(row, reading)  # both sent when the transaction commits
    announce_audit(audit)


def _audit_refused(
    obj: VirtualObject, value: Any, priority: Any, user: str, source: str, reason: str
) -> None:
    audit = WriteAudit.objects.create(
        source=source,
        who=user,
        object_ref=_object_ref(obj),
        virtual_object=VirtualObject.objects.select_related("device").filter(pk=obj.pk).first(),
        new_value=loggable(value),
        priority=priority if isinstance(priority, int) and 0 <= priority < 2**15 else None,
        accepted=False,
        reason=reason,
    )
    announce_audit(audit)


def _object_ref(obj: VirtualObject) -> str:
    return f"{obj.object_type},{obj.instance}"
