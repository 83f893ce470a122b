"""The worker's heartbeat says where it is on the network and how its BBMD registration stands.

In process, against a real bacpypes3 BBMD on loopback that comes up after the worker started.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.tasks.backends import get_bacnet_backend
from bms.tasks.models import WorkerHeartbeat
from bms.worker.runtime import Worker, WorkerOptions

pytestmark = pytest.mark.django_db(transaction=True)


async def row_becomes(
    worker: Worker, test: Callable[[WorkerHeartbeat], bool], timeout: float
) -> WorkerHeartbeat:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = await WorkerHeartbeat.objects.filter(worker_id=worker.worker_id).afirst()
        if row is not None and test(row):
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"the worker's row did not change as expected within {timeout}s")


async def test_a_bbmd_that_answers_late_is_registered_with_and_the_heartbeat_says_so(
    bacnet_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bbmd_address = f"127.0.0.250:{bacnet_port}"
    config = EngineConfig(
        address=f"127.0.0.1/8:{bacnet_port}", foreign_bbmd=bbmd_address, timeout=0.3
    )
    worker = Worker(WorkerOptions(engine=config, lease_seconds=1.5))  # heartbeat every 0.5 s
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="bms.worker.runtime")
    run = asyncio.create_task(worker.run(stop), name="worker-under-test")
    try:
        pending = await row_becomes(worker, lambda r: r.bbmd_registration == "pending", 10)
        assert (pending.bacnet_address, pending.bbmd) == (config.address, bbmd_address)
        bbmd = await open_application(
            EngineConfig(
                address=f"127.0.0.250/8:{bacnet_port}",
                device_instance=950,
                device_name="late",
                accept_foreign_devices=True,
            )
        )
        try:
            # bacpypes3 registers again every 5 s until the BBMD answers.
            await row_becomes(worker, lambda r: r.bbmd_registration == "registered", 12)
        finally:
            close_application(bbmd)
        assert f"registration with BBMD {bbmd_address}: registered" in caplog.text
        status = await sync_to_async(lambda: get_bacnet_backend().get_status())()
        (alive,) = status["workers_alive"]
        assert (alive["bbmd"], alive["bbmd_registration"]) == (bbmd_address, "registered")
    finally:
        stop.set()
        await run
        await sync_to_async(connections.close_all)()


async def test_a_worker_on_its_devices_subnet_heartbeats_its_address_and_no_bbmd(
    bacnet_port: int,
) -> None:
    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}")
    worker = Worker(WorkerOptions(engine=config, lease_seconds=1.5))
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop), name="worker-under-test")
    try:
        row = await row_becomes(worker, lambda r: bool(r.bacnet_address), 10)
        assert (row.bacnet_address, row.bbmd, row.bbmd_registration) == (config.address, "", "")
    finally:
        stop.set()
        await run
        await sync_to_async(connections.close_all)()


def test_an_older_worker_that_does_not_know_the_network_columns_can_still_heartbeat() -> None:
    """During an upgrade, workers of the previous version insert rows without them."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "INSERT INTO tasks_worker (worker_id, site, backend, hostname, pid, "
            "started_at, heartbeat_at) VALUES ('old', 'default', 'native', 'h', 1, "
            "%s, %s)",
            [timezone.now(), timezone.now()],
        )
    row = WorkerHeartbeat.objects.get(worker_id="old")
    assert (row.bacnet_address, row.bbmd, row.bbmd_registration) == ("", "", "")
