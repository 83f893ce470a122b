"""Running the worker's synchronous ORM functions from the event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


# External writes wait in the writer's ack path: they get a thread (and so a database
# connection) of their own instead of queueing behind a collect's bulk insert in the ORM thread.
_write_path = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bms-write-path")


async def run_db_write_path(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run `fn` on the dedicated write-path thread (one at a time, in order)."""
    call = functools.partial(_fresh_connection_call, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_write_path, call)


# Monitoring's group commits (COV values, bms.worker.reading_batch) get a thread of their own
# too: in the ORM thread they queued behind a history upkeep step (tens of thousands of rows
# rolled up in one call), which made bench/cov.py's 1,000 changes/s wait 3-6 s once a minute.
_monitoring = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bms-monitoring")


async def run_db_monitoring(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run `fn` on the dedicated monitoring thread (one at a time, in order)."""
    call = functools.partial(_fresh_connection_call, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_monitoring, call)
