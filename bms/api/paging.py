"""Offset paging for list endpoints: bounded, so no request can ask for a whole table, and no
offset overflows the database's integers (10**19 was a 500: SQLite's "datatype mismatch")."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from pydantic import Field

MAX_LIMIT = 1000
# Far beyond any table here, and offset + limit still fits a signed 32-bit integer.
MAX_OFFSET = 2**31 - 1 - MAX_LIMIT


def limit_field(default: int) -> Any:
    return Field(default=default, ge=1, le=MAX_LIMIT)


def offset_field() -> Any:
    return Field(default=0, ge=0, le=MAX_OFFSET)


def page(queryset: QuerySet[Any], limit: int, offset: int) -> dict[str, Any]:
    return {"count": queryset.count(), "items": list(queryset[offset : offset + limit])}
