"""The simulator's control socket: command lines over a Unix stream socket (`--control PATH`).

One command per line, one reply line per command, in order (commands.py lists them), so a
client may send many lines before reading the replies. A Unix socket and not UDP/TCP: it never
leaves the machine, its file mode says who may use it, and it needs no port.

With `--processes K`, the parent listens on PATH and each child on PATH.N; the parent forwards a
command to the child that runs its device. From a shell:

    python -m bms.simulator --devices 5 --control /tmp/sim.sock &
    python -m bms.simulator.control /tmp/sim.sock "silence 1002" "status 1002"
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
from collections.abc import Awaitable, Callable, Sequence

from bms.simulator.commands import CommandError, parse_command

log = logging.getLogger(__name__)

MAX_LINE = 4096
CONNECT_SECONDS = 5.0
REPLY_SECONDS = 330.0  # a restart may take up to commands.MAX_RESTART_SECONDS

Handler = Callable[[str], Awaitable[str]]


class ControlServer:
    """Serves `handler` on a Unix socket at `path` until closed."""

    def __init__(self, path: str, handler: Handler) -> None:
        self._path = path
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        _remove_stale_socket(self._path)
        self._server = await asyncio.start_unix_server(self._accept, self._path, limit=MAX_LINE)
        os.chmod(self._path, 0o600)  # only this user may silence the building

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Kept so close() can end open connections; the task removes itself when it ends.
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("control connection ended: %s", exc)
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                raw = await reader.readline()
            except ValueError:  # a line over MAX_LINE
                writer.write(b"error line too long\n")
                await writer.drain()
                return
            if not raw:
                return
            line = raw.decode("utf-8", errors="replace").strip()
            reply = await self._handler(line)
            writer.write(reply.encode() + b"\n")
            await writer.drain()


def _remove_stale_socket(path: str) -> None:
    """A socket file left by a killed simulator is removed; anything else at `path` is kept."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ValueError(f"--control {path} exists and is not a socket; choose another path")
    os.unlink(path)


class ControlClient:
    """A connection to a control socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, path: str, timeout: float = CONNECT_SECONDS) -> ControlClient:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(path, limit=MAX_LINE)
        return cls(reader, writer)

    async def send(self, line: str) -> str:
        """Send one command; its reply line (starting with "ok" or "error")."""
        return (await self.send_many([line]))[0]

    async def send_many(self, lines: Sequence[str]) -> list[str]:
        """Send commands in one write, then read their replies in order."""
        if any("\n" in line for line in lines):
            raise CommandError("a command is one line")
        async with self._lock, asyncio.timeout(REPLY_SECONDS):
            self._writer.write("".join(line + "\n" for line in lines).encode())
            await self._writer.drain()
            replies = []
            for _ in lines:
                raw = await self._reader.readline()
                if not raw:
                    raise ConnectionError("the simulator closed its control socket")
                replies.append(raw.decode().rstrip("\n"))
            return replies

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


class Forwarder:
    """The parent's handler: sends each command to the child whose devices include its own."""

    def __init__(self, children: Sequence[tuple[range, str]]) -> None:
        self._routes = list(children)  # (device instances, child's socket path)
        self._clients: dict[str, ControlClient] = {}

    async def handle(self, line: str) -> str:
        try:
            device = parse_command(line).device
        except CommandError as exc:
            return f"error {exc}"
        path = next((path for devices, path in self._routes if device in devices), None)
        if path is None:
            return f"error no device {device} in this building"
        client = self._clients.get(path)
        if client is None:
            client = self._clients[path] = await ControlClient.connect(path)
        return await client.send(line)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def child_path(path: str, number: int) -> str:
    return f"{path}.{number}"


async def _send_all(path: str, lines: Sequence[str]) -> int:
    client = await ControlClient.connect(path)
    try:
        replies = await client.send_many(lines)
    finally:
        await client.close()
    for reply in replies:
        print(reply)
    return 0 if all(reply.startswith("ok") for reply in replies) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bms.simulator.control PATH COMMAND...`: exit 0 if every reply is ok."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m bms.simulator.control PATH COMMAND [COMMAND...]", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_send_all(args[0], args[1:]))
    except (OSError, TimeoutError, CommandError) as exc:
        print(f"error: {args[0]}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
