"""Running the worker's synchronous ORM functions from the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


def _fresh_connection_call(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    # A long-lived worker must not reuse a connection the database already dropped.
    close_old_connections()
    return fn(*args, **kwargs)


async def run_db(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run `fn` in the one ORM thread (thread_sensitive), never holding the event loop."""
    return await sync_to_async(_fresh_connection_call, thread_sensitive=True)(fn, *args, **kwargs)
