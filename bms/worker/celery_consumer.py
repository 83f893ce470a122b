"""The docker backend's consumer: Celery messages from Redis, run by the BACnet worker itself.

The web side sends `bms.tasks.run_bacnet_task(task_id)` to the queue `bacnet.<site>`. Running
those messages in a stock `celery worker` would need a second BACnet stack on the same port, so
the BACnet worker reads its site's queue directly (kombu, in a thread, because kombu blocks) and
hands each task id to the event loop, where it is claimed from the BACnetTask row like any other
task. The row stays the source of truth: a message is acknowledged once its id is handed over,
and a lost message only delays a task until the worker's slow poll finds the pending row.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from kombu import Connection, Consumer, Message, Queue

from bms.tasks.backends.docker import RUN_TASK_NAME, celery_queue

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_SECONDS = 0.5


def task_id_from_message(body: Any, headers: dict[str, Any]) -> int:
    """The BACnetTask id carried by a Celery (protocol 2) message, or ValueError."""
    if headers.get("task") != RUN_TASK_NAME:
        raise ValueError(f"unexpected task {headers.get('task')!r} on the BACnet queue")
    args = body[0] if isinstance(body, (list, tuple)) and body else None
    if not args or not isinstance(args[0], int):
        raise ValueError(f"message without a task id: {body!r}")
    return int(args[0])


class CeleryConsumer:
    def __init__(self, broker_url: str, site: str, deliver: Callable[[int], None]) -> None:
        if not broker_url:
            raise ValueError("the docker backend needs CELERY_BROKER_URL or REDIS_URL")
        self._broker_url = broker_url
        self._queue = Queue(celery_queue(site), routing_key=celery_queue(site))
        self._deliver = deliver
        self._stopping = threading.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._consume, loop)

    def stop(self) -> None:
        self._stopping.set()

    def _consume(self, loop: asyncio.AbstractEventLoop) -> None:
        with Connection(self._broker_url) as connection:
            connection.ensure_connection(max_retries=3)
            with Consumer(
                connection,
                queues=[self._queue],
                accept=["json"],
                on_message=lambda message: self._on_message(loop, message),
            ):
                log.info("consuming Celery queue %s", self._queue.name)
                while not self._stopping.is_set():
                    try:
                        connection.drain_events(timeout=DRAIN_TIMEOUT_SECONDS)
                    except TimeoutError:
                        continue  # no message this turn: check the stop flag again

    def _on_message(self, loop: asyncio.AbstractEventLoop, message: Message) -> None:
        try:
            task_id = task_id_from_message(message.decode(), message.headers or {})
        except ValueError as exc:
            log.error("rejecting message on %s: %s", self._queue.name, exc)
            message.reject()
            return
        loop.call_soon_threadsafe(self._deliver, task_id)
        message.ack()
