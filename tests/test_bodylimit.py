"""BodyLimitMiddleware, the bound on request bodies for ASGI servers other than daphne (whose own
request class is tested on a real daphne in tests/test_asgi.py)."""

from __future__ import annotations

from typing import Any

from bms.bodylimit import BodyLimitMiddleware


async def reading_app(scope: Any, receive: Any, send: Any) -> None:
    """Reads the whole body, then answers 200 with its length."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def call(chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> list[dict]:
    scope = {"type": "http", "headers": headers}
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    await BodyLimitMiddleware(reading_app, limit=10)(scope, receive, send)
    return sent


async def test_a_declared_length_over_the_limit_is_refused_unread():
    sent = await call([b"x" * 11], [(b"content-length", b"11")])
    assert sent[0]["status"] == 413
    assert b"at most 10 bytes" in sent[1]["body"]


async def test_a_streamed_body_growing_past_the_limit_is_refused():
    sent = await call([b"x" * 6, b"x" * 6], [])
    assert sent[0]["status"] == 413


async def test_a_body_within_the_limit_reaches_the_app():
    sent = await call([b"x" * 5, b"x" * 5], [(b"content-length", b"10")])
    assert (sent[0]["status"], sent[1]["body"]) == (200, b"10")
