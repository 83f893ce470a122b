from collections.abc import Iterator

import pytest
from channels.layers import channel_layers

from bms.realtime.layer import DatabaseChannelLayer
from tests.web.fixtures import *  # noqa: F403


@pytest.fixture(autouse=True, scope="module")
def close_poller_connections() -> Iterator[None]:
    """The poller thread's database session would outlive the tests (and, on PostgreSQL, keep
    the test database from being dropped)."""
    yield
    for layer in channel_layers.backends.values():
        if isinstance(layer, DatabaseChannelLayer):
            layer.close_connection()
