"""A virtual object row as the engine's ObjectSpec: the one description the worker serves and the
services validate, so an object the worker would refuse is never stored."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local import ObjectSpec, virtual_object_name
from bms.bacnet.local.alarm_spec import AlarmSpec, Destination, NotificationClassSpec
from bms.bacnet.types import BINARY_TYPES
from bms.virtual.models import NotificationClass, VirtualObject


def spec_for(row: VirtualObject) -> ObjectSpec:
    """The engine's description of a virtual object row (its persisted state included).

    Raises InvalidValueError for a definition no object could have (limits crossed, a
    multi-state without state texts, a negative COV increment); values are checked by
    `checked_spec`.
    """
    binary = row.object_type in BINARY_TYPES
    texts = list(row.state_texts or [])
    extra: dict[str, Any] = {}
    if binary and len(texts) == 2:
        extra = {"inactive_text": texts[0], "active_text": texts[1]}
    commandable = row.commandable
    return ObjectSpec(
        object_type=row.object_type,
        instance=row.instance,
        name=virtual_object_name(row.device.device_id, row.name),
        description=row.description,
        units=row.units or None,
        present_value=row.present_value,
        min_value=row.min_value,
        max_value=row.max_value,
        state_texts=() if binary else tuple(texts),
        relinquish_default=row.relinquish_default if commandable else None,
        cov_increment=row.cov_increment,
        out_of_service=row.out_of_service,
        priority_array=tuple(row.priority_array or ()) if commandable else (),
        alarm=alarm_spec_for(row),
        commandable=commandable,
        **extra,
    )


def alarm_spec_for(row: VirtualObject) -> AlarmSpec | None:
    """The row's intrinsic reporting with its stored event state; None without a class."""
    if row.notification_class is None:
        return None
    return AlarmSpec(
        notification_class=row.notification_class,
        high_limit=row.high_limit,
        low_limit=row.low_limit,
        deadband=row.deadband,
        alarm_values=tuple(row.alarm_values or ()),
        time_delay=row.time_delay,
        time_delay_normal=row.time_delay_normal,
        event_enable=_bits(row.event_enable),
        notify_type=row.notify_type,
        event_state=row.event_state,
        acked_transitions=_bits(row.acked_transitions),
        event_time_stamps=tuple(_when(text) for text in row.event_time_stamps),  # type: ignore[arg-type]
    )


def notification_class_spec(row: NotificationClass) -> NotificationClassSpec:
    """The engine's description of a notification class row; InvalidValueError if invalid."""
    return NotificationClassSpec(
        instance=row.instance,
        name=row.name,
        description=row.description,
        priorities=(row.priority_to_offnormal, row.priority_to_fault, row.priority_to_normal),
        ack_required=_bits(row.ack_required),
        recipients=tuple(_destination(entry) for entry in row.recipients or ()),
    )


def _destination(entry: Any) -> Destination:
    if not isinstance(entry, dict):
        raise InvalidValueError(f"a recipient is an object with process_id etc., not {entry!r}")
    unknown = set(entry) - _DESTINATION_KEYS
    if unknown:
        raise InvalidValueError(f"a recipient has no {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = dict(entry)
    try:
        for key in ("from_time", "to_time"):
            if key in kwargs:
                kwargs[key] = time.fromisoformat(kwargs[key])
        for key in ("transitions", "valid_days"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return Destination(**kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"recipient {entry!r}: {exc}") from exc


_DESTINATION_KEYS = frozenset(
    {
        "process_id",
        "device",
        "address",
        "confirmed",
        "transitions",
        "valid_days",
        "from_time",
        "to_time",
    }
)


def _bits(value: Any) -> Any:
    return tuple(value or ())


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def checked_spec(row: VirtualObject) -> ObjectSpec:
    """`spec_for(row)` with its values read and checked as a peer's write would be."""
    return spec_for(row).with_checked_values()
