"""A channel layer that crosses processes through the database, for installs without Redis.

Theory of operation. On the embedded default (`make run`: SQLite, no Redis) the BACnet worker and
the web server are separate processes, and the worker is the one that sees BACnet events, so an
in-memory layer would never carry them to a browser. This layer keeps Channels' in-memory layer
for what is local by nature (a consumer's own channel, group membership) and sends every group
message through a table:

    group_send (any process)  ->  INSERT INTO realtime_realtimemessage
    web process poller        ->  SELECT rows with id > cursor for groups that have members here,
                                  every POLL_INTERVAL seconds, and hands them to the local groups

The poller runs only while this process has group members (it is started by group_add and ends
when the last member leaves), so the worker, which only publishes, never polls. Rows older than
`message_expiry` seconds are deleted by whichever process publishes. Delivery latency is at most
one poll interval plus a query; ordering is the table's id order. Every process delivers group
messages only through the table, including its own, so there is one path to test and reason about.

The poller keeps its one connection open (reconnecting only after an error): reopening SQLite
every 75 ms would cost more than the query. Ids are read in order, which is commit order on
SQLite (one writer at a time); on PostgreSQL without Redis a slow insert can commit after a later
id was read and be skipped, so deployments on PostgreSQL should set REDIS_URL.

Only group messages cross processes: channel names from new_channel are local, as in the
in-memory layer. With Redis available, settings choose channels_redis instead of this.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.db import DatabaseError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.075
BATCH = 500
_PRUNE_EVERY = 10.0
_RETRY_AFTER_DATABASE_ERROR = 1.0


class DatabaseChannelLayer(InMemoryChannelLayer):
    def __init__(
        self, poll_interval: float = POLL_INTERVAL, message_expiry: float = 60, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.poll_interval = poll_interval
        self.message_expiry = message_expiry
        self._poller: asyncio.Task[None] | None = None
        self._last_prune = 0.0
        # One thread, so polling uses one database connection and never queues behind the
        # sync views that share asgiref's thread-sensitive executor.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bms-realtime")

    # Sending ---------------------------------------------------------------------------------

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await sync_to_async(self.store)(group, message)

    def store(self, group: str, message: dict[str, Any]) -> None:
        """Write one group message (sync: publishers in the worker call this directly)."""
        from bms.realtime.models import RealtimeMessage

        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        RealtimeMessage.objects.create(group=group, payload=message)
        self._prune_now_and_then()

    def _prune_now_and_then(self) -> None:
        from bms.realtime.models import RealtimeMessage

        now = time.monotonic()
        if now - self._last_prune < _PRUNE_EVERY:
            return
        self._last_prune = now
        cutoff = timezone.now() - timedelta(seconds=self.message_expiry)
        RealtimeMessage.objects.filter(created_at__lt=cutoff).delete()

    # Receiving -------------------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        await super().group_add(group, channel)
        await self._ensure_poller()

    async def _ensure_poller(self) -> None:
        loop = asyncio.get_running_loop()
        if self._poller is not None and not self._poller.done():
            if self._poller.get_loop() is loop:
                return
            # A poller of an earlier event loop (tests run one loop per test): replace it.
            self._poller.cancel()
        # The cursor is read before group_add returns, so a message published right after a
        # consumer joined is delivered rather than counted as already seen.
        cursor = await loop.run_in_executor(self._executor, _latest_id)
        if self._poller is not None and not self._poller.done():
            return  # another group_add started one while we read the cursor
        self._poller = loop.create_task(self._poll(cursor), name="bms-realtime-poller")
        self._poller.add_done_callback(_report_poller_end)

    async def _poll(self, cursor: int) -> None:
        loop = asyncio.get_running_loop()
        while self.groups:
            try:
                rows = await loop.run_in_executor(
                    self._executor, _rows_after, cursor, list(self.groups)
                )
            except DatabaseError:
                # A locked or restarting database: say so, and poll again shortly; the pages
                # miss updates meanwhile, which is better than never getting them again.
                logger.exception(
                    "realtime poll failed; retrying in %ss", _RETRY_AFTER_DATABASE_ERROR
                )
                await loop.run_in_executor(self._executor, _close_connection)
                await asyncio.sleep(_RETRY_AFTER_DATABASE_ERROR)
                continue
            for row_id, group, payload in rows:
                cursor = row_id
                await super().group_send(group, payload)
            if len(rows) < BATCH:
                await asyncio.sleep(self.poll_interval)

    def close_connection(self) -> None:
        """Close the poller thread's database connection (it reopens on the next poll), e.g.
        before a test database is dropped."""
        self._executor.submit(_close_connection).result()

    async def flush(self) -> None:
        from bms.realtime.models import RealtimeMessage

        await sync_to_async(RealtimeMessage.objects.all().delete)()
        await super().flush()


def _close_connection() -> None:
    # Looked up here, in the poller's thread: Django's connections belong to one thread each.
    connection.close()


def _latest_id() -> int:
    from bms.realtime.models import RealtimeMessage

    latest = RealtimeMessage.objects.order_by("-id").values_list("id", flat=True).first()
    return latest or 0


def _rows_after(cursor: int, groups: list[str]) -> list[tuple[int, str, dict[str, Any]]]:
    from bms.realtime.models import RealtimeMessage

    rows = RealtimeMessage.objects.filter(id__gt=cursor, group__in=groups).order_by("id")
    return list(rows.values_list("id", "group", "payload")[:BATCH])


def _report_poller_end(task: asyncio.Task[None]) -> None:
    """The poller ends quietly when the last group member leaves; anything else is logged."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.error(
            "realtime poller stopped: %r; it restarts on the next group_add", error, exc_info=error
        )
