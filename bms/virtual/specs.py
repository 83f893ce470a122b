"""A virtual object row as the engine's ObjectSpec: the one description the worker serves and the
services validate, so an object the worker would refuse is never stored."""

from __future__ import annotations

from typing import Any

from bms.bacnet.local import ObjectSpec, virtual_object_name
from bms.bacnet.types import BINARY_TYPES, COMMANDABLE_TYPES
from bms.virtual.models import VirtualObject


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
    commandable = row.object_type in COMMANDABLE_TYPES
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
        **extra,
    )


def checked_spec(row: VirtualObject) -> ObjectSpec:
    """`spec_for(row)` with its values read and checked as a peer's write would be."""
    return spec_for(row).with_checked_values()
