"""A database lock held by another session, to test what the product does when it waits."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def database_locked(database_url: str, seconds: float) -> Iterator[None]:
    """Hold a lock that blocks the worker's write transaction for `seconds`, from a thread."""
    ready = threading.Event()

    def hold() -> None:
        if database_url.startswith("sqlite:///"):
            db = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            ready.set()
            time.sleep(seconds)
            db.execute("ROLLBACK")
            db.close()
        else:
            with psycopg.connect(database_url) as db, db.transaction():
                db.execute("LOCK TABLE virtual_virtualobject IN ACCESS EXCLUSIVE MODE")
                ready.set()
                time.sleep(seconds)

    holder = threading.Thread(target=hold, name="database-lock")
    holder.start()
    assert ready.wait(10)
    try:
        yield
    finally:
        holder.join(seconds + 10)
