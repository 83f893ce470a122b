"""The message table behind DatabaseChannelLayer (bms.realtime.layer)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class RealtimeMessage(models.Model):
    """One group message on its way from any process to the web processes that poll for it.

    Rows are read by id (ascending, so delivery keeps publishing order) and deleted a minute
    after they were written: a page that was not connected then missed nothing it can still use.
    """

    group = models.CharField(max_length=100)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.id} -> {self.group}: {self.payload.get('type', '?')}"
