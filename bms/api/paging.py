"""Offset paging for list endpoints: bounded, so no request can ask for a whole table, and no
offset overflows the database's integers (10**19 was a 500: SQLite's "datatype mismatch").

Two shapes: newer endpoints answer {"count", "items"} (`page`); the device and point lists,
which answered a bare JSON array before they were paged, still do, a page of it, with the
total in the X-Total-Count header (`listed`), so a client written for the array keeps working
(and sees every row while there are no more than MAX_LIMIT)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from pydantic import Field

MAX_LIMIT = 1000
# Far beyond any table here, and offset + limit still fits a signed 32-bit integer.
MAX_OFFSET = 2**31 - 1 - MAX_LIMIT
TOTAL_HEADER = "X-Total-Count"
# The header in the OpenAPI schema of an endpoint answered by `listed` (its openapi_extra).
LISTED_RESPONSE = {
    "responses": {
        200: {
            "headers": {
                TOTAL_HEADER: {
                    "description": "How many rows match, on every page: the array is the "
                    "`limit` rows from `offset` (more to come while offset + limit < total).",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    "required": True,
                }
            }
        }
    }
}


def limit_field(default: int) -> Any:
    return Field(default=default, ge=1, le=MAX_LIMIT)


def offset_field() -> Any:
    return Field(default=0, ge=0, le=MAX_OFFSET)


def page(queryset: QuerySet[Any], limit: int, offset: int) -> dict[str, Any]:
    return {"count": queryset.count(), "items": list(queryset[offset : offset + limit])}


def listed(queryset: QuerySet[Any], limit: int, offset: int, response: HttpResponse) -> list[Any]:
    """A page as a bare array, its total in `response`'s X-Total-Count (ninja's temporal
    response: the headers set on it are sent with the array)."""
    found = page(queryset, limit, offset)
    response[TOTAL_HEADER] = str(found["count"])
    return found["items"]
