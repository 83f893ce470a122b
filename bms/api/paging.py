"""Offset paging for list endpoints: bounded, so no request can ask for a whole table."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

MAX_LIMIT = 1000


def page(queryset: QuerySet[Any], limit: int, offset: int) -> dict[str, Any]:
    return {"count": queryset.count(), "items": list(queryset[offset : offset + limit])}
