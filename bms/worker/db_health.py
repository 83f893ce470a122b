"""Whether the worker can reach its database, and how it waits for it to come back.

Theory of operation. The worker serves BACnet from memory, so losing its database must not stop
it: reads go on; what needs the database waits. Whoever meets a connection error (a loop, the
write path) calls `lost`: from then on `available` is False, writes are refused without trying
(an ack promises a stored value), and the loops wait in `until_available`. `watch`, a loop the
runtime supervises, probes the database with a bounded backoff while it is lost and sets it
available again on the first success. Each change of state is logged once, with how long the
outage lasted, never once per attempt.

States::

    available --lost(where, error)--> unavailable --probe succeeds--> available
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import psycopg
from django import db

log = logging.getLogger(__name__)

# What a lost connection raises: Django's wrappers (ORM calls) and psycopg's own (the write
# path's async connection). SQLite's "database is locked" is an OperationalError too: it is
# treated the same way, and the first probe ends it.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    db.OperationalError,
    db.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)

FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 2.0  # a restarted database is back in use within this much


class DatabaseHealth:
    """The worker's view of its database: available or lost, and the reconnect loop."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[object]],
        *,
        first_retry: float = FIRST_RETRY_SECONDS,
        max_retry: float = MAX_RETRY_SECONDS,
    ) -> None:
        self._probe = probe
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._available = asyncio.Event()
        self._available.set()
        self._lost = asyncio.Event()
        self._lost_at = 0.0
        self.outages = 0

    @property
    def available(self) -> bool:
        return self._available.is_set()

    def lost(self, where: str, error: BaseException) -> None:
        """Someone met a connection error: everything that needs the database waits."""
        if not self.available:
            return
        self._available.clear()
        self._lost.set()
        self._lost_at = time.monotonic()
        self.outages += 1
        log.warning(
            "database unavailable (%s: %s): BACnet reads go on from memory; writes are "
            "refused and tasks wait until it is back; reconnecting",
            where,
            first_line(error),
        )

    async def until_available(self) -> None:
        await self._available.wait()

    async def watch(self) -> None:
        """Probe a lost database with backoff until it answers; runs for the worker's life."""
        while True:
            await self._lost.wait()
            delay = self._first_retry
            attempts = 0
            while True:
                await asyncio.sleep(delay)
                attempts += 1
                try:
                    await self._probe()
                    break
                except DATABASE_ERRORS:
                    delay = min(delay * 2, self._max_retry)
            self._lost.clear()
            self._available.set()
            log.warning(
                "database back after %.1f s (%d attempts): writes, tasks, heartbeats and "
                "virtual-object sync resume",
                time.monotonic() - self._lost_at,
                attempts,
            )


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def ping() -> None:
    """The probe's query, run on the worker's ORM thread (see bms.worker.db.run_db)."""
    with db.connection.cursor() as cursor:
        cursor.execute("SELECT 1")
