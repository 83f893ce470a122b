"""What schedules and calendars share: their errors, how a new one is numbered and named, and
the configuration audit of their creation, settings and deletion (bms.devices.config_audit).

A week, an exception or a date list changed keeps its write audit (WriteAudit, as a peer's
write of that property is audited); what is not a BACnet property's value (a name, the
targets, the priority) or makes and removes an object is configuration.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from bms.bacnet.errors import InvalidValueError
from bms.devices import config_audit
from bms.devices.models import ConfigAudit

__all__ = [
    "ScheduleConflict",
    "ScheduleError",
    "UnknownObject",
    "audit_config",
    "check_row",
    "next_free_instance",
    "refuse_unknown",
]


class ScheduleError(InvalidValueError):
    """A schedule or calendar the BMS device would refuse; the message says why."""


class ScheduleConflict(ScheduleError):
    """Clashes with what is stored: a taken instance or name, a calendar a schedule uses."""


class UnknownObject(ScheduleError):
    """A target named that is not a virtual object of device 8888."""


def next_free_instance(model: type[models.Model]) -> int:
    """The lowest instance >= 1 that no row of `model` (Schedule or Calendar) holds."""
    taken = set(model.objects.values_list("instance", flat=True))  # type: ignore[attr-defined]
    instance = 1
    while instance in taken:
        instance += 1
    return instance


def refuse_unknown(fields: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ScheduleError(
            f"{what} has no field {', '.join(unknown)}; it has {', '.join(allowed)}"
        )


def check_row(row: Any, label: str) -> None:
    """The row's own rules (a free instance and name, bounds), as ScheduleError or, for a
    taken instance or name, ScheduleConflict; nothing is stored."""
    others = type(row).objects.exclude(pk=row.pk)
    if row.instance is not None and others.filter(instance=row.instance).exists():
        raise ScheduleConflict(f"{label} {row.instance} already exists")
    if others.filter(name=row.name).exists():
        raise ScheduleConflict(f"a {label} named {row.name!r} already exists")
    try:
        row.full_clean()
    except ValidationError as exc:
        reasons = "; ".join(
            f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
        )
        raise ScheduleError(reasons) from exc


def audit_config(
    action: str,
    row: Any,
    who: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> ConfigAudit:
    """One configuration audit row naming `row` ("schedule,3 Lights") and who changed it."""
    return config_audit.record(action, str(row), who=who, before=before, after=after)


def audit_changes(
    action: str, row: Any, who: str, before: dict[str, Any], after: dict[str, Any], fields: Any
) -> None:
    """One configuration audit row with the `fields` whose value moved, if any did."""
    changed = [field for field in fields if before[field] != after[field]]
    if changed:
        audit_config(
            action,
            row,
            who,
            before={field: before[field] for field in changed},
            after={field: after[field] for field in changed},
        )
