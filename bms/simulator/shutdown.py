"""How a simulator process stops: its exit codes, the stop signals, and the watch on its parent."""

from __future__ import annotations

import asyncio
import signal
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SETUP = 2


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)


async def watch_parent(stop: asyncio.Event) -> asyncio.BaseTransport:
    """Set `stop` when stdin reaches EOF, i.e. when the supervising parent has gone away."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(lambda: _EofProtocol(stop), sys.stdin)
    return transport


class _EofProtocol(asyncio.Protocol):
    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop

    def eof_received(self) -> bool:
        self._stop.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop.set()
