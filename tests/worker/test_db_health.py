"""The worker's view of its database: lost once, probed with bounded backoff, back once."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
from django import db

from bms.worker.db_health import DatabaseHealth


async def test_a_lost_database_is_logged_once_and_available_again_after_the_probe(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = [db.OperationalError("connection refused")] * 3
    probes = 0

    async def probe() -> None:
        nonlocal probes
        probes += 1
        if answers:
            raise answers.pop()

    health = DatabaseHealth(probe, first_retry=0.01, max_retry=0.02)
    watcher = asyncio.create_task(health.watch(), name="watch")
    try:
        with caplog.at_level(logging.WARNING, logger="bms.worker.db_health"):
            for where in ("claim", "leases", "write path"):  # three loops meet the error
                health.lost(where, db.OperationalError("server closed the connection\nmore"))
            assert not health.available
            async with asyncio.timeout(5):
                await health.until_available()
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert health.available
    assert probes == 4  # three refused, the fourth answered
    assert health.outages == 1
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith(
        "database unavailable (claim: OperationalError: server closed the connection)"
    )
    assert messages[1].startswith("database back after")
    assert "(4 attempts)" in messages[1]


async def test_the_backoff_between_probes_is_bounded() -> None:
    times: list[float] = []
    loop = asyncio.get_running_loop()

    async def probe() -> None:
        times.append(loop.time())
        if len(times) < 6:
            raise db.InterfaceError("connection already closed")

    health = DatabaseHealth(probe, first_retry=0.01, max_retry=0.04)
    watcher = asyncio.create_task(health.watch(), name="watch")
    try:
        health.lost("claim", db.OperationalError("down"))
        async with asyncio.timeout(5):
            await health.until_available()
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] < gaps[-1]  # it backs off...
    assert max(gaps) < 0.04 + 0.05  # ...up to max_retry (plus scheduling slack)
