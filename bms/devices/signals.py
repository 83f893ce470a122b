"""What the devices app announces, for whoever listens (realtime connects in its ready()).

Signals are sent when the transaction that made the change commits (at once in autocommit), so
a listener never hears of a row it cannot read, and a rolled-back change is never announced.
The app itself imports no listener: live updates sit above the domain, not inside it.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.dispatch import Signal

from bms.devices.models import WriteAudit

audit_recorded = Signal()
"""A write was audited by a page or the API (an accepted command or a refusal). `audit`."""


def announce_audit(audit: WriteAudit) -> None:
    """Send audit_recorded for `audit` when the current transaction commits."""
    transaction.on_commit(partial(audit_recorded.send, sender=WriteAudit, audit=audit), robust=True)
