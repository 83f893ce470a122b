"""A bound on request bodies, enforced before a body is buffered.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE is checked only once the server has handed the whole body
over, and daphne reads every body in full first (Twisted spools it, then daphne queues all of it
in memory for the app): one 200 MB anonymous POST took the web process from 86 to 286 MB, never
given back. So the bound is kept twice:

- `BoundedWebRequest`, daphne's request class with a limit: a declared Content-Length over it is
  answered 413 as soon as the headers are in, and a chunked body that grows past it is cut off
  the same way, so at most the limit (plus one read) is ever held;
- `BodyLimitMiddleware`, the same rule as ASGI middleware, for any other ASGI server.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from daphne.http_protocol import WebRequest

logger = logging.getLogger(__name__)

MESSAGE = "request body too large: at most {limit} bytes"


class BodyTooLarge(Exception):
    pass


def declared_length(headers: Any) -> int | None:
    """The Content-Length of ASGI `headers`, or None if absent or not a number."""
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def refusal_bytes(limit: int) -> bytes:
    body = MESSAGE.format(limit=limit).encode()
    head = (
        "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class BodyLimitMiddleware:
    """413 for an HTTP request whose body is declared or turns out to be over `limit` bytes."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope["headers"])
        if length is not None and length > self.limit:
            await self.refuse(send)
            return
        started = False
        received = 0

        async def counted_receive() -> Any:
            nonlocal received
            message: Any = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise BodyTooLarge
            return message

        async def noted_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, noted_send)
        except BodyTooLarge:
            if started:
                raise
            await self.refuse(send)

    async def refuse(self, send: ASGISendCallable) -> None:
        body = MESSAGE.format(limit=self.limit).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                "trailers": False,
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def bounded_web_request(limit: int) -> type[WebRequest]:
    """daphne's request class, refusing bodies over `limit` before they are buffered."""

    class BoundedWebRequest(WebRequest):
        received = 0
        refused = False

        def gotLength(self, length: int | None) -> None:  # Twisted's name
            super().gotLength(length)
            if length is not None and length > limit:
                self.refuse()

        def handleContentChunk(self, data: bytes) -> None:  # Twisted's name
            if self.refused:
                return
            self.received += len(data)
            if self.received > limit:
                self.refuse()
                return
            super().handleContentChunk(data)

        def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
            if not self.refused:
                super().requestReceived(command, path, version)

        def refuse(self) -> None:
            """Answer 413 and close: the rest of the body is never read."""
            self.refused = True
            peer = self.channel.transport.getPeer()
            logger.warning("refused a request body over %d bytes from %s", limit, peer.host)
            self.channel.transport.write(refusal_bytes(limit))
            self.channel.loseConnection()

    return BoundedWebRequest
