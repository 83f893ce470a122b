"""Which alarm transitions have gone to the notifiers: one cursor row for every worker.

The worker's notify loop (bms.worker.alarm_notify) takes the transitions after the cursor and
moves the cursor past them with a conditional UPDATE (as the task queue claims a task), so
- a restarted worker carries on where the last look stopped: a transition recorded while no
  loop was looking (a worker starting, stopping, or restarting its loop) is sent, not skipped;
- with a worker per site on one database each transition is taken by one worker, once;
- after a long stop, what was recorded more than CATCH_UP before the look is counted and left
  out rather than sent as a flood of old news (the alarm console shows it all).

Why SETTLE: ids are given when a row is inserted, and transactions commit in any order, so a
look can see id 101 committed while id 100 is not yet. A look takes only the transitions
recorded SETTLE or more before it, and stops at the first newer one: a transaction that
commits within SETTLE of writing its transition is never passed over.

No cursor row (a database flushed by a test) starts from the newest transition: history is not
sent. Migration alarms 0008 makes the row at the newest transition of an upgraded database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from bms.alarms.models import AlarmTransition, NotificationCursor

CURSOR_ID = 1
CATCH_UP = timedelta(hours=1)
SETTLE = timedelta(seconds=1)


@dataclass(frozen=True)
class Taken:
    transitions: list[AlarmTransition] = field(default_factory=list)  # to send, oldest first
    skipped: int = 0  # taken but recorded more than CATCH_UP ago: not sent
    cursor: int = 0  # the last transition handed out, after this take


def latest_transition_id() -> int:
    last = AlarmTransition.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def take(limit: int, now: datetime, *, wanted: bool = True) -> Taken:
    """Up to `limit` settled transitions after the cursor, the cursor moved past them; none if
    another worker moved it first. Not `wanted` (no notifier is enabled): the cursor moves over
    what has settled without reading it."""
    cursor = _cursor()
    settled = AlarmTransition.objects.filter(id__gt=cursor, recorded_at__lte=now - SETTLE)
    if not wanted:
        newest = settled.order_by("-id").values_list("id", flat=True).first()
        moved = newest is not None and _move(cursor, newest)
        return Taken(cursor=newest if moved and newest is not None else cursor)
    after = AlarmTransition.objects.select_related("alarm").filter(id__gt=cursor).order_by("id")
    rows = _settled_prefix(list(after[:limit]), now)
    if not rows or not _move(cursor, rows[-1].id):
        return Taken(cursor=cursor)
    fresh = [row for row in rows if row.recorded_at >= now - CATCH_UP]
    return Taken(fresh, len(rows) - len(fresh), rows[-1].id)


def _settled_prefix(rows: list[AlarmTransition], now: datetime) -> list[AlarmTransition]:
    """The rows up to the first recorded less than SETTLE ago (an older id may still commit)."""
    for index, row in enumerate(rows):
        if row.recorded_at > now - SETTLE:
            return rows[:index]
    return rows


def _cursor() -> int:
    row, _ = NotificationCursor.objects.get_or_create(
        pk=CURSOR_ID, defaults={"last_transition_id": latest_transition_id()}
    )
    return row.last_transition_id


def _move(seen: int, to: int) -> bool:
    """Move the cursor from `seen` to `to`; False if another worker moved it meanwhile."""
    moved = NotificationCursor.objects.filter(pk=CURSOR_ID, last_transition_id=seen).update(
        last_transition_id=to, updated_at=timezone.now()
    )
    return moved == 1
