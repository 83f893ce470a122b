"""The worker's external-write path: peers' writes to our virtual objects, stored before the
engine acknowledges them, and published live afterwards.

The engine hands each object's queued writes to `store` (its batch write hook, group commit):
the writes are stored in one transaction (PostgreSQL: one statement awaited on the loop;
other databases, or a row changed meanwhile: the ORM in a thread), and only then does the
engine send the acks. Live updates go out after the commit, coalesced, in a kept task that
the worker awaits at shutdown. Refused writes are audited through `audit_refusal`.

While the database is unavailable (db_health) every write is refused (device /
operational-problem) without trying: an ack promises a stored value. Neither those writes nor
the refusals the device makes meanwhile can be audited; each is logged instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bms.bacnet.errors import WriteRefused
from bms.bacnet.types import RefusedWrite, WriteEvent
from bms.virtual.models import VirtualObject
from bms.worker import events, store
from bms.worker.db import run_db, run_db_write_path
from bms.worker.db_health import DATABASE_ERRORS, DatabaseHealth
from bms.worker.pg_writes import AsyncWriteStore
from bms.worker.store import StoredWrite
from bms.worker.virtual_sync import VirtualSync

log = logging.getLogger(__name__)

STORE_DEADLINE_SECONDS = 2.0  # below the device's hook timeout (2.5 s)
WRITE_UPDATES_COALESCE_SECONDS = 0.02  # live updates of external writes, sent together

# Starts a kept, watched task (the worker's) for work that must not delay an acknowledgement.
SideTask = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


class WritePath:
    """Stores, publishes and audits external writes for one worker."""

    def __init__(
        self,
        pg_writes: AsyncWriteStore | None,
        side_task: SideTask,
        wake_virtual_sync: Callable[[], None],
        health: DatabaseHealth,
    ) -> None:
        self._pg_writes = pg_writes
        self._health = health
        self._side_task = side_task
        self._wake_virtual_sync = wake_virtual_sync
        self._virtual: VirtualSync | None = None
        self._updates: list[tuple[VirtualObject, dict[str, Any]]] = []
        self._publisher: asyncio.Task[None] | None = None

    def serve(self, virtual: VirtualSync) -> None:
        """Take writes to the objects `virtual` keeps in step with the database."""
        self._virtual = virtual

    async def store(self, events: list[WriteEvent]) -> None:
        """Store writes to one object (in order, one transaction) before the engine
        acknowledges them; raising refuses them all (group commit, see the device services)."""
        ref = events[0].ref
        virtual = self._virtual
        rows = virtual.rows_of(ref) if virtual is not None else None
        if virtual is None or rows is None:
            raise WriteRefused(
                f"{ref} is not a virtual object", error_class="object", error_code="unknown-object"
            )
        if not self._health.available:
            raise _not_stored(events)
        try:
            stored = await self._store(events, rows)
        except DATABASE_ERRORS as exc:
            self._health.lost("write path", exc)
            raise _not_stored(events) from exc
        if stored.merged:
            # The row had a newer change (an operator command) that the engine lacks; the
            # writes went on top of it, and the next sync brings the engine up to the row.
            self._wake_virtual_sync()
        else:
            virtual.note_stored(ref, stored.updated_at)
        for event in events:
            row = virtual.row_after_write(event, stored.updated_at)
            if row is not None:
                self._publish(row, store.event_payload(event))

    async def _store(self, events: list[WriteEvent], rows: tuple[int, int, Any]) -> StoredWrite:
        stored = None
        if self._pg_writes is not None:  # PostgreSQL: one statement, awaited on the loop
            stored = await self._pg_writes.store(events, *rows)
        if stored is None:  # other databases, or a changed row to merge with (ORM, thread)
            # The engine refuses the writes after its hook timeout: stop trying before that.
            deadline = time.monotonic() + STORE_DEADLINE_SECONDS
            stored = await run_db_write_path(store.store_external_writes, events, *rows, deadline)
        return stored

    async def audit_refusal(self, refusal: RefusedWrite) -> None:
        """Audit a write the engine refused (out of range, wrong type, input not writable)."""
        if self._health.available:
            try:
                await run_db(store.record_refused_external_write, refusal)
                return
            except DATABASE_ERRORS as exc:
                self._health.lost("audit", exc)
        log.warning("refused write not audited (the database is unavailable): %s", refusal)

    def _publish(self, row: VirtualObject, payload: dict[str, Any]) -> None:
        """Queue the live update; one kept task sends what has queued, on the loop.

        Off the ack path, with no query per write (the row is the sync's, with this write's
        values), and no thread hop per write (at 200 writes/s those fell behind).
        """
        self._updates.append((row, payload))
        if self._publisher is None or self._publisher.done():
            self._publisher = self._side_task(self._drain_updates(), "publish-writes")

    async def _drain_updates(self) -> None:
        # Waiting a moment lets the writes of the next few milliseconds join the message: at
        # 200 writes/s a channel-layer message per write cost a fifth of the worker's CPU.
        while self._updates:
            await asyncio.sleep(WRITE_UPDATES_COALESCE_SECONDS)
            batch, self._updates = self._updates, []
            await events.external_writes(batch)


def _not_stored(events: list[WriteEvent]) -> WriteRefused:
    # The device logs it (one line per refused write): the audit trail cannot have it.
    return WriteRefused(
        f"{len(events)} writes to {events[0].ref} not stored, nor audited: the database is "
        "unavailable",
        error_class="device",
        error_code="operational-problem",
    )
