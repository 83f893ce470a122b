"""What the worker readies before it serves: nothing an acknowledgement waits for is left lazy."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from channels.layers import channel_layers

from bms.realtime.publish import prepare_layer
from bms.worker.management.commands.bacnet_worker import worker_options
from bms.worker.runtime import WorkerOptions, settle_heap
from tests.worker.conftest import sql, start_worker


class Node:
    """An object that can be part of a reference cycle."""

    link: Node | None = None


@pytest.fixture
def collector_paused() -> Iterator[None]:
    """No automatic collection during the test; the test process's heap thawed afterwards."""
    gc.disable()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


def test_settle_heap_collects_start_up_garbage_then_freezes_what_is_left(
    collector_paused: None,
) -> None:
    kept = [Node() for _ in range(1000)]
    garbage = Node()
    garbage.link = garbage  # a cycle: only the collector frees it
    garbage_ref = weakref.ref(garbage)
    del garbage
    settle_heap()
    assert garbage_ref() is None  # collected, not frozen for ever
    assert gc.get_freeze_count() >= len(kept)


def test_the_worker_command_freezes_its_heap_and_in_process_workers_do_not(settings: Any) -> None:
    settings.BACNET_ADDRESS = "127.0.0.1/8:47808"
    assert worker_options().freeze_heap is True
    assert WorkerOptions(engine=worker_options().engine).freeze_heap is False


def test_prepare_layer_builds_the_configured_layer_and_imports_its_backend(
    settings: Any,
) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]},
        }
    }  # built, not connected
    assert "default" not in channel_layers.backends
    prepare_layer()
    assert type(channel_layers.backends["default"]).__name__ == "RedisChannelLayer"
    assert "redis.asyncio" in sys.modules


def test_prepare_layer_without_a_configured_layer_is_a_clear_error(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {}
    with pytest.raises(RuntimeError, match="CHANNEL_LAYERS is not configured"):
        prepare_layer()


@pytest.mark.slow
def test_on_postgresql_the_write_connection_is_open_before_the_worker_serves(
    start_process: Any,
    postgres_url: str,
    bacnet_port: int,
) -> None:
    start_worker(start_process, postgres_url, bacnet_port)
    database = postgres_url.rsplit("/", 1)[1]
    assert sql(
        postgres_url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
        "AND application_name = 'bms-worker-writes'",
        database,
    ) == [(1,)]
