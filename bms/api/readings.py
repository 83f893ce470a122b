"""Readings over a time window, oldest first, paged: one query for remote points' and virtual
objects' trends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from ninja import Schema
from ninja.errors import HttpError
from pydantic import Field

from bms.api.paging import MAX_LIMIT, page
from bms.devices.models import BACnetReading


class ReadingQuery(Schema):
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=1000, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0)


def readings_page(readings: QuerySet[BACnetReading], query: ReadingQuery) -> dict[str, Any]:
    """`readings` between `since` (default: 24 h before `until`) and `until` (default: now),
    oldest first; 400 if the window is backwards."""
    until = _aware(query.until) or timezone.now()
    since = _aware(query.since) or until - timedelta(hours=24)
    if since > until:
        raise HttpError(400, "since is after until")
    window = readings.filter(timestamp__gte=since, timestamp__lte=until)
    return page(window.order_by("timestamp", "id"), query.limit, query.offset)


def _aware(moment: datetime | None) -> datetime | None:
    """A time without a zone means the site's (TIME_ZONE), as on the pages."""
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment)
    return moment
