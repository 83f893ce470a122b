"""A real HTTP server on 127.0.0.1 that takes webhook POSTs (for the notifier tests): it keeps
what arrived and answers 500 to the first `failures` requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    bodies: list[bytes] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    failures: int = 0
    refused: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)


@contextmanager
def webhook_server(failures: int = 0) -> Iterator[tuple[str, Received]]:
    received = Received(failures=failures)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if received.refused < received.failures:
                received.refused += 1
                self.send_response(500)
                self.end_headers()
                return
            received.bodies.append(body)
            received.signatures.append(self.headers.get("X-BMS-Signature", ""))
            received.arrived.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test asserts on what arrived."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
