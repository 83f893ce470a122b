"""Readings over a time window, oldest first, paged: one query for remote points' and virtual
objects' trends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from ninja import Schema
from ninja.errors import HttpError
from pydantic import field_validator

from bms.api.paging import limit_field, offset_field, page
from bms.api.responses import ErrorOut
from bms.devices.models import BACnetReading

# The calendar's ends in UTC. A time near them with a zone offset (9999-12-31T23:59-16:16) is
# past them in UTC, and a default window of 24 h before 0001-01-01 is before them: both
# overflowed (a 500). Such a time is read as the end it reaches for.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


READING_ERRORS = {400: ErrorOut}  # since after until


class ReadingQuery(Schema):
    since: datetime | None = None
    until: datetime | None = None
    limit: int = limit_field(1000)
    offset: int = offset_field()

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        return None if moment is None else in_utc(moment)


def in_utc(moment: datetime) -> datetime:
    """`moment` in UTC, a time without a zone being the site's (TIME_ZONE) as on the pages;
    clamped to the calendar's ends."""
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(UTC)
    except OverflowError:
        return EARLIEST if moment.year == datetime.min.year else LATEST


def readings_page(readings: QuerySet[BACnetReading], query: ReadingQuery) -> dict[str, Any]:
    """`readings` between `since` (default: 24 h before `until`) and `until` (default: now),
    oldest first; 400 if the window is backwards."""
    until = query.until or timezone.now()
    since = query.since or max(EARLIEST + timedelta(hours=24), until) - timedelta(hours=24)
    if since > until:
        raise HttpError(400, "since is after until")
    window = readings.filter(timestamp__gte=since, timestamp__lte=until)
    return page(window.order_by("timestamp", "id"), query.limit, query.offset)
