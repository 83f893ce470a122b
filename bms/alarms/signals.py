"""What the alarms app announces, for whoever listens (realtime connects in its ready()).

Sent when the transaction that changed the alarm commits (at once in autocommit), so a listener
never hears of a row it cannot read, and a rolled-back change is never announced. The app
imports no listener: live updates sit above the domain, not inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.dispatch import Signal

from bms.alarms.models import Alarm

alarms_changed = Signal()
"""Alarms changed state or were acknowledged. `alarm_ids`: their primary keys."""


def announce_alarms(alarms: Iterable[Alarm]) -> None:
    """Send alarms_changed on commit with the ids of `alarms` (nothing for none)."""
    ids = sorted({alarm.pk for alarm in alarms if alarm.pk is not None})
    if ids:
        transaction.on_commit(
            partial(alarms_changed.send, sender=Alarm, alarm_ids=ids), robust=True
        )
