"""Virtual devices and their objects, for the pages, the API and the management commands:
create (from templates), edit, delete, and command as an operator. The database side only: the
worker adds, removes and updates the BACnet objects when it sees the change. Every object is
checked as the worker will serve it (bms.bacnet.local.ObjectSpec), so what is stored is served."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Max

from bms.bacnet import commanding
from bms.bacnet.commanding import MAX_INSTANCE, PRIORITY_LEVELS
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local import ObjectSpec
from bms.bacnet.local.spec import normalize_object_type, served_commandable
from bms.virtual.models import (
    NotificationClass,
    VirtualBACnetDevice,
    VirtualObject,
    VirtualTrendLog,
)
from bms.virtual.signals import announce_device, announce_object
from bms.virtual.specs import checked_spec
from bms.virtual.templates import DEFAULT_NOTIFICATION_CLASS, get_template

T = TypeVar("T")
IDENTIFIER_CONSTRAINT = "virtualobject_unique_identifier"  # bms.virtual.models


class VirtualDeviceError(ValueError):
    """A request the operator can correct: duplicate id, unknown device, bad value."""


class Conflict(VirtualDeviceError):
    """The request conflicts with what is stored (the API answers 409)."""


class DuplicateObject(Conflict):
    """A device with this id, an object with this name on its device, or this type and
    instance, exists."""


class AllocationContended(Conflict):
    """Simultaneous creations kept taking the object identifiers this one allocated."""


# Devices ---------------------------------------------------------------------------------------


def create_virtual_device(
    device_id: int, name: str, description: str = "", template: str = "temperature_sensor"
) -> VirtualBACnetDevice:
    """The device and all its template's objects, in one transaction, announced on commit.

    Instances are allocated per object type after the highest in use (`_allocating`). A device
    id that is taken raises DuplicateObject; an unknown template raises UnknownTemplate (a
    ValueError naming the known ones).
    """
    device_template = get_template(template)
    if not commanding.is_instance(device_id):
        raise VirtualDeviceError(f"device id {device_id} is outside 0..{MAX_INSTANCE}")
    if not name.strip():
        raise VirtualDeviceError("a virtual device needs a name")

    def taken() -> str | None:
        if VirtualBACnetDevice.objects.filter(device_id=device_id).exists():
            return f"virtual device {device_id} already exists"
        return None

    def create() -> VirtualBACnetDevice:
        device = VirtualBACnetDevice.objects.create(
            device_id=device_id,
            device_name=name.strip(),
            description=description,
            template=device_template.key,
            profile_id=device_template.profile_id,
        )
        ensure_notification_classes(
            t.notification_class for t in device_template.objects if t.alarm
        )
        for t in device_template.objects:
            row = _create_object(
                device,
                t.object_type,
                t.name,
                t.description,
                t.units,
                t.min_value,
                t.max_value,
                t.state_texts,
                t.default,
                t.cov_increment,
                t.alarm,
                t.commandable,
            )
            if t.trend_log:
                _create_trend_log(row)
        announce_device(device)
        return device

    return _allocating(create, taken)


def _create_trend_log(row: VirtualObject) -> VirtualTrendLog:
    """A change-of-value trend log of a new object whose profile asks for one."""
    highest = VirtualTrendLog.objects.aggregate(Max("instance"))["instance__max"] or 0
    return VirtualTrendLog.objects.create(
        instance=highest + 1, name=f"{row.bacnet_name}_Log", logged_object=row
    )


def ensure_default_notification_class() -> NotificationClass:
    """The class the built-in templates' alarms name, created without recipients if missing."""
    [row] = ensure_notification_classes([DEFAULT_NOTIFICATION_CLASS])
    return row


def ensure_notification_classes(instances: Iterable[int | None]) -> list[NotificationClass]:
    """The notification classes a device's objects name, each created without recipients if
    missing (an operator adds them on /alarms/classes/): an object whose class is not served
    detects its alarms but notifies nobody, and its alarm settings page offers only the
    classes that exist."""
    wanted = sorted({n for n in instances if n is not None})
    return [
        NotificationClass.objects.filter(instance=instance).first() or _new_class(instance)
        for instance in wanted
    ]


def _new_class(instance: int) -> NotificationClass:
    # get_or_create: a device created at the same time may have made it meanwhile.
    row, _ = NotificationClass.objects.get_or_create(
        instance=instance, defaults={"name": _free_class_name(instance)}
    )
    return row


def _free_class_name(instance: int) -> str:
    """A new class's name: Alarms for the default class, Alarms <n> for another; a name
    another class has taken (names are unique) gets a number after it."""
    base = "Alarms" if instance == DEFAULT_NOTIFICATION_CLASS else f"Alarms {instance}"
    name, suffix = base, 1
    while NotificationClass.objects.filter(name=name).exists():
        suffix += 1
        name = f"{base} ({suffix})"
    return name


ALLOCATION_ATTEMPTS = 8


def _allocating(create: Callable[[], T], taken: Callable[[], str | None]) -> T:
    """Run `create`, which allocates object instances, in its own transaction.

    Two creations that overlap can allocate the same instance: on PostgreSQL the unique
    constraint rolls the later one back whole (SQLite's IMMEDIATE transactions do not overlap).
    That one is run again with fresh instances, up to ALLOCATION_ATTEMPTS times (each overlap
    lets at least one creation through), after a short random pause so the losers do not meet
    again. What the caller asked for that is taken (`taken()` says it) is a DuplicateObject, not
    retried; any other IntegrityError is a bug and is raised as it is.
    """
    for attempt in range(1, ALLOCATION_ATTEMPTS + 1):
        _refuse_taken(taken)
        try:
            with transaction.atomic():
                return create()
        except IntegrityError as exc:
            _refuse_taken(taken)  # by a simultaneous creation
            if not _identifier_taken(exc):
                raise
            if attempt == ALLOCATION_ATTEMPTS:
                raise AllocationContended(
                    f"object identifiers were taken by simultaneous creations "
                    f"{ALLOCATION_ATTEMPTS} times in a row; nothing was stored, try again"
                ) from exc
        time.sleep(random.uniform(0, 0.005 * attempt))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable: the last attempt returns or raises")


def _refuse_taken(taken: Callable[[], str | None]) -> None:
    duplicate = taken()
    if duplicate:
        raise DuplicateObject(duplicate)


def _identifier_taken(exc: IntegrityError) -> bool:
    """A conflict on (object_type, instance): PostgreSQL names the constraint, SQLite its
    columns."""
    table = VirtualObject._meta.db_table
    text = str(exc)
    return IDENTIFIER_CONSTRAINT in text or f"{table}.object_type, {table}.instance" in text


def update_virtual_device(device: VirtualBACnetDevice, **changes: Any) -> VirtualBACnetDevice:
    """Name, description or is_running; the worker applies it within one sync interval."""
    unknown = set(changes) - {"device_name", "description", "is_running"}
    if unknown:
        raise VirtualDeviceError(f"cannot change {', '.join(sorted(unknown))}")
    _refuse_nulls(changes)
    if "device_name" in changes and not str(changes["device_name"]).strip():
        raise VirtualDeviceError("a virtual device needs a name")
    with transaction.atomic():
        for field, value in changes.items():
            setattr(device, field, value.strip() if field == "device_name" else value)
        device.save()
        announce_device(device)
    return device


def delete_virtual_device(device_id: int) -> int:
    """Delete the device and its objects; returns how many objects went with it."""
    with transaction.atomic():
        device = VirtualBACnetDevice.objects.filter(device_id=device_id).first()
        if device is None:
            raise VirtualDeviceError(f"there is no virtual device {device_id}")
        objects = device.virtual_objects.count()
        announce_device(device, deleted=True)
        device.delete()
    return objects


# Objects ---------------------------------------------------------------------------------------

# Alarm reporting (bms.bacnet.local.alarm_spec): no notification class, no reporting.
ALARM_CHANGES = frozenset(
    {
        "notification_class",
        "high_limit",
        "low_limit",
        "deadband",
        "alarm_values",
        "time_delay",
        "time_delay_normal",
        "event_enable",
        "notify_type",
    }
)
OBJECT_CHANGES = (
    frozenset(
        {
            "name",
            "description",
            "units",
            "min_value",
            "max_value",
            "out_of_service",
            "cov_increment",
        }
    )
    | ALARM_CHANGES
)
NULLABLE = frozenset(
    {
        "min_value",
        "max_value",
        "cov_increment",
        "notification_class",
        "high_limit",
        "low_limit",
        "time_delay_normal",
    }
)


def create_virtual_object(
    device: VirtualBACnetDevice,
    object_type: str,
    name: str,
    description: str = "",
    units: str = "",
    min_value: float | None = None,
    max_value: float | None = None,
    state_texts: Sequence[str] = (),
    present_value: Any = None,
    cov_increment: float | None = None,
) -> VirtualObject:
    """A new object of `device`, checked as the worker will serve it (ObjectSpec), stored and
    announced; anything the worker would refuse raises VirtualDeviceError and stores nothing.
    `present_value` is also the relinquish default of a commandable object."""
    try:
        kind = normalize_object_type(object_type)
    except InvalidValueError as exc:
        raise VirtualDeviceError(str(exc)) from exc

    def save() -> VirtualObject:
        row = _create_object(
            device,
            kind,
            name,
            description,
            units,
            min_value,
            max_value,
            state_texts,
            present_value,
            cov_increment,
        )
        announce_object(row)
        return row

    def taken() -> str | None:
        if VirtualObject.objects.filter(device=device, name=name).exists():
            return f"virtual device {device.device_id} already has an object named {name}"
        return None

    return _allocating(save, taken)


def _create_object(
    device: VirtualBACnetDevice,
    object_type: str,
    name: str,
    description: str,
    units: str,
    min_value: float | None,
    max_value: float | None,
    state_texts: Sequence[str],
    present_value: Any,
    cov_increment: float | None,
    alarm: dict[str, Any] | None = None,
    commandable_asked: bool | None = None,
) -> VirtualObject:
    commandable = served_commandable(object_type, commandable_asked)
    row = VirtualObject(
        device=device,
        object_type=object_type,
        instance=next_instance(object_type),
        name=name,
        description=description,
        units=units,
        min_value=min_value,
        max_value=max_value,
        state_texts=list(state_texts),
        present_value=present_value,
        priority_array=[None] * PRIORITY_LEVELS if commandable else None,
        relinquish_default=present_value if commandable else None,
        cov_increment=cov_increment,
        **(alarm or {}),
    )
    spec = _checked(row)
    row.present_value = spec.present_value
    row.relinquish_default = spec.relinquish_default if commandable else None
    row.save()
    return row


def next_instance(object_type: str) -> int:
    """One above the highest instance of this type on the BMS device (starting at 1)."""
    highest = VirtualObject.objects.filter(object_type=object_type).aggregate(Max("instance"))
    return (highest["instance__max"] or 0) + 1


def update_virtual_object(obj: VirtualObject, **changes: Any) -> VirtualObject:
    """Definition changes (OBJECT_CHANGES), checked with the object's values as the worker will
    serve them: limits that would strand its present value are refused, nothing is stored."""
    unknown = set(changes) - OBJECT_CHANGES
    if unknown:
        raise VirtualDeviceError(f"cannot change {', '.join(sorted(unknown))}")
    _refuse_nulls({k: v for k, v in changes.items() if k not in NULLABLE})

    def save() -> VirtualObject:
        row = _locked(obj)
        for field, value in changes.items():
            setattr(row, field, value)
        _checked(row)
        row.save()
        announce_object(row)
        return row

    return _saved(save)


def delete_virtual_object(obj: VirtualObject) -> None:
    """Delete the object; open pages hear of it when the deletion commits."""
    with transaction.atomic():
        row = _locked(obj)
        announce_object(row, deleted=True)
        row.delete()


def _locked(obj: VirtualObject) -> VirtualObject:
    row = (
        VirtualObject.objects.select_for_update().select_related("device").filter(pk=obj.pk).first()
    )
    if row is None:
        raise VirtualDeviceError(f"virtual object {obj.pk} no longer exists")
    return row


def _checked(row: VirtualObject) -> ObjectSpec:
    try:
        return checked_spec(row)
    except InvalidValueError as exc:
        raise VirtualDeviceError(str(exc)) from exc


def _saved(save: Callable[[], VirtualObject]) -> VirtualObject:
    """Run a save in its own transaction; a taken name or identifier is a DuplicateObject."""
    try:
        with transaction.atomic():
            return save()
    except IntegrityError as exc:
        raise DuplicateObject(
            "an object with this name, or this type and instance, already exists"
        ) from exc


def _refuse_nulls(changes: dict[str, Any]) -> None:
    nulls = sorted(field for field, value in changes.items() if value is None)
    if nulls:
        raise VirtualDeviceError(f"{', '.join(nulls)} cannot be null")
