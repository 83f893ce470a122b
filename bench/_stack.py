"""The product's web side for benchmarks: tasks queued as a user would, daphne, and a signed-in
WebSocket client that timestamps what the pages would receive.

    listener = start_listener(procs, database, "/ws/live/?groups=device-1", keep=is_points)
    ...
    arrivals = listener.stop()   # [(wall-clock arrival, message), ...]
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from _common import (
    PYTHON,
    REDIS_URL,
    BenchError,
    Processes,
    django_env,
    free_tcp_port,
    manage,
    sql,
    udp_drops,
)

SESSION_CODE = (
    "from django.contrib.auth import get_user_model; from django.test import Client; "
    "user = get_user_model().objects.create_user('bench-ws'); client = Client(); "
    "client.force_login(user); print('SESSION', client.cookies['sessionid'].value)"
)
LISTEN_MAX_SECONDS = 1800  # bounded like every bench process

Message = dict[str, Any]


def task(database: str, action: str, *extra: str) -> dict[str, Any]:
    """Queue a task with `manage.py bacnet_task ... --wait` and return its row's figures."""
    before, drops = readings(database), udp_drops()
    manage(database, "bacnet_task", action, *extra, "--wait", "--timeout", "300", timeout=330)
    ((task_id, result, created, started, completed),) = sql(
        database,
        "SELECT id, result, created_at, started_at, completed_at FROM "
        "tasks_bacnettask WHERE task_type = %s ORDER BY id DESC LIMIT 1",
        action,
    )
    return {
        "id": task_id,
        "result": result,
        "run_s": (completed - started).total_seconds(),
        "end_to_end_s": (completed - created).total_seconds(),
        "stored": readings(database) - before,
        "udp_drops": udp_drops() - drops,
    }


def readings(database: str, source: str = "poll") -> int:
    ((count,),) = sql(
        database, "SELECT count(*) FROM devices_bacnetreading WHERE source = %s", source
    )
    return int(count)


def websocket_unavailable() -> str:
    """Why WebSocket arrival cannot be measured here, or "" if it can."""
    try:
        import redis
        import websockets  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e '.[dev]')"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} is not reachable: {exc}"
    return ""


class Listener:
    """A signed-in WebSocket client in a thread of its own; keeps what `keep` accepts."""

    def __init__(self, url: str, session: str, origin: str, keep: Callable[[Message], bool]):
        self.url, self.session, self.origin, self.keep = url, session, origin, keep
        self.messages: list[tuple[float, Message]] = []  # (wall-clock arrival, message)
        self.error: BaseException | None = None
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ws-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self._listen())
        except Exception as exc:  # reported by stop(), never hidden
            self.error = exc
            self.connected.set()

    async def _listen(self) -> None:
        from websockets.asyncio.client import connect

        async with connect(
            self.url,
            origin=self.origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": f"sessionid={self.session}"},
            max_size=2**24,
        ) as ws:
            self.connected.set()
            deadline = time.monotonic() + LISTEN_MAX_SECONDS
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.2)
                except TimeoutError:
                    continue
                arrived = time.time()
                message = json.loads(raw)
                if self.keep(message):
                    self.messages.append((arrived, message))

    def stop(self) -> list[tuple[float, Message]]:
        """Stop listening; what arrived, or BenchError if the client failed."""
        self._stop.set()
        self._thread.join(10)
        if self.error is not None:
            raise BenchError(f"WebSocket listener failed: {self.error!r}")
        return self.messages


def start_listener(
    procs: Processes, database: str, path: str, keep: Callable[[Message], bool]
) -> Listener:
    """daphne serving bms.asgi on a free port of 127.0.0.1, and a bench user listening at
    `path` (the worker must publish through Redis: REDIS_URL in its environment)."""
    done = manage(database, "shell", "-c", SESSION_CODE, REDIS_URL=REDIS_URL)
    session = next(
        line.split()[1] for line in done.stdout.splitlines() if line.startswith("SESSION ")
    )
    web_port = free_tcp_port()
    daphne = procs.start(
        "daphne",
        [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "bms.asgi:application"],
        env=django_env(database, REDIS_URL=REDIS_URL),
    )
    daphne.wait_for("Listening on", timeout=60)
    listener = Listener(
        f"ws://127.0.0.1:{web_port}{path}", session, f"http://127.0.0.1:{web_port}", keep
    )
    if not listener.connected.wait(30) or listener.error is not None:
        raise BenchError(
            f"WebSocket listener did not connect: {listener.error!r}\n{daphne.output()[-2000:]}"
        )
    return listener
