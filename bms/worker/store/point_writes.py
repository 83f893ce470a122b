"""Writes to remote points: the point to write and the audit of each attempt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db import transaction
from django.utils import timezone

from bms.bacnet.types import PresentValue
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading, WriteAudit
from bms.realtime import publish  # audits announce themselves after commit (on_commit)


def point_for_write(point_id: int) -> tuple[BACnetPoint, BACnetDevice]:
    point = BACnetPoint.objects.select_related("device").get(id=point_id)
    return point, point.device


@dataclass(frozen=True)
class Writer:
    """Who asked for a write to a remote point, and through what (a WriteAudit source)."""

    who: str
    source: str  # "operator" (the web pages) or "api"

    SOURCES: ClassVar[tuple[str, ...]] = ("operator", "api")

    @classmethod
    def of_task(cls, parameters: Mapping[str, Any]) -> Writer:
        """The writer a write_point task names. A task without a source (queued by an older
        version, or by `bms bacnet_task`) came from an operator, as its audit said before."""
        source = parameters.get("source")
        return cls(
            who=str(parameters.get("user") or "operator"),
            source=source if source in cls.SOURCES else "operator",
        )


def record_point_write(
    writer: Writer,
    point_id: int,
    old: PresentValue,
    new: PresentValue,
    priority: int | None,
    accepted: bool,
    reason: str = "",
    read_back: PresentValue = None,
) -> None:
    """Audit an operator's or API user's write to a remote point; an accepted one also stores
    the read-back. The audit page hears of it when the transaction commits."""

    now = timezone.now()
    with transaction.atomic():
        point = BACnetPoint.objects.select_for_update().get(id=point_id)
        audit = WriteAudit.objects.create(
            time=now,
            source=writer.source,
            who=writer.who,
            point=point,
            object_ref=f"{point.device.device_instance}:{point.object_type},{point.instance}",
            old_value=old,
            new_value=new,
            priority=priority,
            accepted=accepted,
            reason=reason,
        )
        publish.publish_audit(audit)
        if accepted:
            point.last_value, point.last_value_at = read_back, now
            point.save(update_fields=["last_value", "last_value_at"])
            BACnetReading.objects.create(
                point=point, value=read_back, timestamp=now, source="operator_write"
            )
