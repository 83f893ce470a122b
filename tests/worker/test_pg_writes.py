"""External writes stored from the event loop on PostgreSQL (bms.worker.pg_writes)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import PortInUseError, WriteRefused
from bms.bacnet.types import ObjectRef, WriteEvent
from bms.devices.models import BACnetReading, WriteAudit
from bms.virtual.models import VirtualObject
from bms.virtual.services import create_virtual_device
from bms.worker.pg_writes import AsyncWriteStore, connect_kwargs
from bms.worker.runtime import Worker, WorkerOptions
from tests.locks import database_locked

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def close_thread_connections() -> AsyncIterator[None]:
    """The async ORM calls here run in asgiref's thread; its session must not outlive the test
    (on PostgreSQL it would keep the test database from being dropped)."""
    yield
    await sync_to_async(connections.close_all)()


def test_connection_arguments_come_from_the_django_database_entry() -> None:
    kwargs = connect_kwargs(
        {
            "NAME": "bms",
            "USER": "u",
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": 5433,
            "OPTIONS": {"sslmode": "require", "isolation_level": 1, "options": "-c work_mem=8MB"},
        },
        timeout_seconds=2.0,
    )
    assert kwargs == {
        "dbname": "bms",
        "user": "u",
        "host": "127.0.0.1",
        "port": 5433,
        "sslmode": "require",
        "options": "-c work_mem=8MB -c statement_timeout=2000",
        "autocommit": True,
        "application_name": "bms-worker-writes",
    }


def damper() -> VirtualObject:
    create_virtual_device(4201, "AHU", template="air_handling_unit")
    return VirtualObject.objects.get(name="Damper_Position")


def write(row: VirtualObject, value: float, priority: int = 8) -> WriteEvent:
    array = [None] * 16
    array[priority - 1] = value
    return WriteEvent(
        ObjectRef(row.object_type, row.instance),
        row.name,
        "present-value",
        0.0,
        value,
        priority,
        "127.0.0.9:47808",
        value,
        tuple(array),
    )


def database_url() -> str:
    params = connection.get_connection_params()
    return (
        f"postgresql://{params.get('user') or ''}@{params.get('host') or ''}:"
        f"{params.get('port') or 5432}/{params['dbname']}"
    )


async def test_a_batch_is_stored_with_its_readings_and_audits_in_order(on_postgresql) -> None:
    row = await sync_to_async(damper)()
    store = AsyncWriteStore.for_default_database(timeout_seconds=2.0)
    assert store is not None
    try:
        stored = await store.store(
            [write(row, 10.0), write(row, 20.0), write(row, 30.0)],
            row.id,
            row.device_id,
            row.updated_at,
        )
    finally:
        await store.close()
    assert stored is not None
    assert not stored.merged
    fresh = await VirtualObject.objects.aget(id=row.id)
    assert (fresh.present_value, fresh.priority_array[7], fresh.updated_at) == (
        30.0,
        30.0,
        stored.updated_at,
    )
    values = [
        r.value async for r in BACnetReading.objects.filter(virtual_object=row).order_by("id")
    ]
    audits = [
        a.new_value async for a in WriteAudit.objects.filter(virtual_object=row).order_by("id")
    ]
    assert values == audits == [10.0, 20.0, 30.0]


async def test_a_row_changed_since_the_sync_is_left_to_the_merge(on_postgresql) -> None:
    row = await sync_to_async(damper)()
    store = AsyncWriteStore.for_default_database(timeout_seconds=2.0)
    assert store is not None
    stale = row.updated_at.replace(year=row.updated_at.year - 1)  # the engine's older view
    try:
        assert await store.store([write(row, 55.0)], row.id, row.device_id, stale) is None
    finally:
        await store.close()
    assert await BACnetReading.objects.acount() == 0
    assert await WriteAudit.objects.acount() == 0
    assert (await VirtualObject.objects.aget(id=row.id)).present_value == row.present_value


async def test_a_store_stuck_on_a_lock_is_cancelled_by_the_database_and_nothing_is_stored(
    on_postgresql,
) -> None:
    row = await sync_to_async(damper)()
    store = AsyncWriteStore.for_default_database(timeout_seconds=0.5)
    assert store is not None
    # What the bound tells apart: the server cancels the statement after the store's 0.5 s; a
    # store that waited for the lock instead could not answer before the lock goes, 4 s after.
    # The bound sits between, with room for a loaded machine (the refusal comes from the server
    # at 0.5 s, but the client's loop may see it late).
    lock_seconds, refused_within = 4.0, 2.0
    try:
        with database_locked(database_url(), seconds=lock_seconds):
            started = time.monotonic()
            with pytest.raises(WriteRefused) as refused:
                await store.store([write(row, 60.0)], row.id, row.device_id, row.updated_at)
            assert time.monotonic() - started < refused_within
        assert refused.value.error_code == "operational-problem"
        await asyncio.sleep(0.2)  # the lock is gone: a late commit would show now
        assert await BACnetReading.objects.acount() == 0
        # The same connection takes the next write once the table is free.
        stored = await store.store([write(row, 61.0)], row.id, row.device_id, row.updated_at)
        assert stored is not None
    finally:
        await store.close()
    assert (await VirtualObject.objects.aget(id=row.id)).present_value == 61.0


async def test_other_databases_take_the_thread_path() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("the embedded default (SQLite) has no async write store")
    assert AsyncWriteStore.for_default_database(timeout_seconds=2.0) is None


async def test_a_worker_that_cannot_bind_closes_the_write_connection_it_opened(
    on_postgresql,
    bacnet_port: int,
) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", bacnet_port))
    worker = Worker(WorkerOptions(engine=EngineConfig(address=f"127.0.0.1/8:{bacnet_port}")))
    try:
        with pytest.raises(PortInUseError):
            await worker.run(asyncio.Event())
    finally:
        taken.close()
    async with await psycopg.AsyncConnection.connect(database_url()) as admin:
        cursor = await admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'bms-worker-writes'"
        )
        assert await cursor.fetchone() == (0,)
