"""External writes stored in PostgreSQL from the event loop, over one async connection.

Why: the store sits between a peer's WriteProperty and its acknowledgement. Run in a thread,
each round trip of the transaction hands the GIL back to a busy event loop and waits for it again
(up to the 5 ms switch interval each): at 200 writes/s a store that takes 1.2 ms on its own took
7 ms (median) and pushed the ack p99 past 30 ms. Here the batch's one statement
(store.batch_statement) is one await on the loop, in autocommit: a single statement is its own
transaction, so it is one round trip and all or nothing.

The deadline is PostgreSQL's own `statement_timeout` on this connection: a statement stuck
behind a lock is cancelled by the server and nothing commits, so a writer told "refused" never
finds its value stored later. A batch the statement could not apply (the row changed since the
engine last synced it: an operator command to merge with) is left to the caller, who merges it
in the ORM (store.store_external_writes). Other databases keep the thread path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connections
from django.utils import timezone

from bms.bacnet.errors import WriteRefused
from bms.bacnet.types import WriteEvent
from bms.worker.store import StoredWrite, batch_statement

log = logging.getLogger(__name__)

# Django's OPTIONS for the PostgreSQL backend that are not libpq connection parameters.
_DJANGO_ONLY_OPTIONS = frozenset(
    {
        "isolation_level",
        "server_side_binding",
        "pool",
        "assume_role",
        "cursor_factory",
        "prepare_threshold",
    }
)
# The server cancels a statement after the store's timeout; the client waits this much longer
# (still below the device's hook timeout) before it gives the connection up.
_CLIENT_GRACE_SECONDS = 0.3


def connect_kwargs(settings_dict: dict[str, Any], timeout_seconds: float) -> dict[str, Any]:
    """psycopg.connect() arguments for a Django PostgreSQL DATABASES entry."""
    kwargs: dict[str, Any] = {
        key: value
        for key, value in (
            ("dbname", settings_dict.get("NAME")),
            ("user", settings_dict.get("USER")),
            ("password", settings_dict.get("PASSWORD")),
            ("host", settings_dict.get("HOST")),
            ("port", settings_dict.get("PORT")),
        )
        if value
    }
    options = {
        k: v
        for k, v in (settings_dict.get("OPTIONS") or {}).items()
        if k not in _DJANGO_ONLY_OPTIONS
    }
    server_options = f"-c statement_timeout={int(timeout_seconds * 1000)}"
    if "options" in options:
        server_options = f"{options.pop('options')} {server_options}"
    return {
        **kwargs,
        **options,
        "options": server_options,
        "autocommit": True,
        "application_name": "bms-worker-writes",
    }


class AsyncWriteStore:
    """Stores batches of external writes with one statement each, on the event loop."""

    def __init__(self, kwargs: dict[str, Any], timeout_seconds: float) -> None:
        self._kwargs = kwargs
        self._timeout = timeout_seconds
        self._connection: psycopg.AsyncConnection[Any] | None = None

    @classmethod
    def for_default_database(cls, timeout_seconds: float) -> AsyncWriteStore | None:
        """The store for DATABASES["default"] if it is PostgreSQL, else None (thread path)."""
        database = connections["default"]
        if database.vendor != "postgresql":
            return None
        return cls(connect_kwargs(database.settings_dict, timeout_seconds), timeout_seconds)

    async def store(
        self,
        events: Sequence[WriteEvent],
        object_id: int,
        device_pk: int,
        synced_at: datetime,
    ) -> StoredWrite | None:
        """Store the batch; None if the row changed since `synced_at` (nothing was written).

        Raises WriteRefused if the database cannot take it in time (the writers are refused
        and nothing is stored), or the database error (which refuses them too).
        """
        now = timezone.now()
        statement, params = batch_statement(events, object_id, device_pk, now, synced_at)
        try:
            async with asyncio.timeout(self._timeout + _CLIENT_GRACE_SECONDS):
                connection = await self._connected()
                cursor = await connection.execute(statement, params)
                row = await cursor.fetchone()
        except psycopg.errors.QueryCanceled as exc:
            raise WriteRefused(
                f"storing {len(events)} writes to {events[0].ref} took over {self._timeout}s; "
                "cancelled by the database, nothing stored",
                error_class="device",
                error_code="operational-problem",
            ) from exc
        except (TimeoutError, psycopg.Error, asyncio.CancelledError):
            # An unanswered, broken or abandoned connection may be mid-statement: drop it and
            # connect afresh next time (the server's statement_timeout bounds what it still
            # runs; an uncommitted statement dies with the session).
            await self.close()
            raise
        if row is None or not row[0]:
            return None
        return StoredWrite(object_id, now)

    async def connect(self) -> None:
        """Open the connection now, so that the first write does not wait for it."""
        await self._connected()

    async def _connected(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(**self._kwargs)
        return self._connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            await connection.close()
