"""Links that keep a page's filters: a sort header or a pager link changes one parameter of the
current URL and keeps the others, so every view of a table has a stable URL."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict

register = template.Library()

PAGES = {"page", "cpage"}  # the audit log pages its two tables apart


@register.simple_tag
def url_with(query: QueryDict, **changes: Any) -> str:
    """ "?q=fan&sort=name" from the current query with `changes` applied (None or "" drops a
    parameter). A new filter or sort starts again at page 1."""
    changed = query.copy()
    if not PAGES & set(changes):
        for page in PAGES:
            changed.pop(page, None)
    for key, value in changes.items():
        if value is None or value == "":
            changed.pop(key, None)
        else:
            changed[key] = str(value)
    encoded = changed.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag
def sort_link(query: QueryDict, current: Any, key: str) -> str:
    """The URL that sorts by `key`, or by `key` descending when it already sorts by it."""
    return url_with(query, sort=f"-{key}" if str(current) == key else key)


@register.simple_tag
def sort_mark(current: Any, key: str) -> str:
    shown = str(current)
    return " ▲" if shown == key else " ▼" if shown == f"-{key}" else ""
