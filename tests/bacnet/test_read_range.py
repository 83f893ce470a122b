"""ReadRange of device 8888's trend logs over real UDP, and the selection rules without I/O.

Device 8888 on 127.0.0.2 serves a trend log of AV 1 with a buffer of 10 records over an
in-memory RecordSource holding 25 records, one a minute (so the buffer has wrapped: records
16..25 are in it, total-record-count is 25). Clients: bacpypes3 through our TrendLogClient on
127.0.0.4, and rusty-bacnet (an independent Rust stack) on 127.0.0.3.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier
from rusty_bacnet import PropertyIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import ObjectSpec, serve_device
from bms.bacnet.errors import InvalidValueError, RemoteError
from bms.bacnet.local.trendlog import TrendLogSpec
from bms.bacnet.read_range import (
    ByPosition,
    BySequence,
    ByTime,
    MemoryRecords,
    Span,
    buffer_span,
    select_span,
)
from bms.bacnet.requester import Requester, parse_peer
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.trendlog_client import RangePage, TrendLogClient
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import to_python
from tests.bacnet.rusty_peers import rusty_client, rusty_oid

LOG = ObjectRef("trend-log", 1)
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RECORDS = 25
BUFFER = 10
REFERENCE_TIME = datetime(2026, 12, 1, 8, 19)  # naive, the device zone (UTC): record 20


def at(sequence: int) -> datetime:
    return START + timedelta(minutes=sequence - 1)


# ---- the selection rules ---------------------------------------------------------------------


def test_a_wrapped_buffer_holds_the_newest_records() -> None:
    assert buffer_span(25, 10) == Span(16, 25)
    assert buffer_span(3, 10) == Span(1, 3)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ByPosition(1, 3), Span(16, 18)),
        (ByPosition(10, -3), Span(23, 25)),
        (ByPosition(9, 5), Span(24, 25)),
        (ByPosition(11, 1), Span(1, 0)),
        (BySequence(20, 3), Span(20, 22)),
        (BySequence(17, -5), Span(16, 17)),
        (BySequence(15, 3), Span(1, 0)),
    ],
)
def test_position_and_sequence_select_within_the_buffer(query: Any, expected: Span) -> None:
    assert select_span(query, buffer_span(25, 10), None) == expected


def test_time_selects_strictly_after_or_before_the_reference() -> None:
    # 19 records at or before the reference time: forward starts at 20, backward ends at 18
    assert select_span(ByTime(at(19), 2), buffer_span(25, 10), 19) == Span(20, 21)
    assert select_span(ByTime(at(19), -2), buffer_span(25, 10), 18) == Span(17, 18)


def test_a_count_of_zero_is_refused() -> None:
    with pytest.raises(InvalidValueError):
        select_span(ByPosition(1, 0), buffer_span(5, 10))


# ---- over the wire ---------------------------------------------------------------------------


@dataclass
class Rig:
    app: Any
    app_device: Any
    client_app: Any
    records: MemoryRecords
    reader: TrendLogClient
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.2:{self.port}"

    async def read(self, query: Any) -> RangePage:
        return await self.reader.read_range(parse_peer(self.address), LOG, query)


@pytest.fixture
async def rig(bacnet_port: int) -> AsyncIterator[Rig]:
    config = EngineConfig(address=f"127.0.0.2/8:{bacnet_port}", time_zone="UTC")
    app, device = await serve_device(config, objects=[ObjectSpec("AV", 1, "Setpoint")])
    records = MemoryRecords()
    for sequence in range(1, RECORDS + 1):
        records.append(LOG, at(sequence), float(sequence))
    device.trend_logs.source = records
    device.trend_logs.put(
        TrendLogSpec(1, "Setpoint log", ObjectRef("analog-value", 1), buffer_size=BUFFER)
    )
    client_config = EngineConfig(address=f"127.0.0.4/8:{bacnet_port}", device_instance=9001)
    try:
        client_app = await open_application(client_config)
    except BaseException:
        close_application(app)
        raise
    reader = TrendLogClient(Requester(client_app, client_config), UTC)
    yield Rig(app, device, client_app, records, reader, bacnet_port)
    close_application(client_app)
    close_application(app)


def values(page: RangePage) -> list[Any]:
    return [entry.value for entry in page.entries]


async def test_read_range_is_in_protocol_services_supported(rig: Rig) -> None:
    supported = await rig.client_app.read_property(
        Address(rig.address), ObjectIdentifier(("device", 8888)), "protocolServicesSupported"
    )
    assert "read-range" in to_python(supported)


async def test_counts_follow_the_records_and_the_buffer_is_read_only_by_read_range(
    rig: Rig,
) -> None:
    address, log = Address(rig.address), ObjectIdentifier(("trendLog", 1))
    assert int(await rig.client_app.read_property(address, log, "recordCount")) == BUFFER
    assert int(await rig.client_app.read_property(address, log, "totalRecordCount")) == RECORDS
    rig.records.append(LOG, at(RECORDS + 1), 99.0)
    assert int(await rig.client_app.read_property(address, log, "totalRecordCount")) == 26
    with pytest.raises(BaseException, match=r"read-access-denied|readAccessDenied"):
        await rig.client_app.read_property(address, log, "logBuffer")


async def test_by_position_reads_the_wrapped_buffer_oldest_first(rig: Rig) -> None:
    page = await rig.read(ByPosition(1, 100))
    assert values(page) == [float(n) for n in range(16, 26)]
    assert (page.first_item, page.last_item, page.more_items) == (True, True, False)
    backward = await rig.read(ByPosition(10, -2))
    assert values(backward) == [24.0, 25.0]
    assert (backward.first_item, backward.last_item) == (False, True)


async def test_by_sequence_reports_the_first_sequence_number(rig: Rig) -> None:
    page = await rig.read(BySequence(18, 3))
    assert page.first_sequence == 18
    assert [e.sequence for e in page.entries] == [18, 19, 20]
    assert values(page) == [18.0, 19.0, 20.0]
    gone = await rig.read(BySequence(5, 3))  # dropped from the wrapped buffer
    assert gone.entries == []


async def test_by_time_reads_records_newer_or_older_than_the_reference(rig: Rig) -> None:
    newer = await rig.read(ByTime(at(20), 3))
    assert values(newer) == [21.0, 22.0, 23.0]
    assert newer.first_sequence == 21
    assert newer.entries[0].timestamp == at(21)
    older = await rig.read(ByTime(at(20), -2))
    assert values(older) == [18.0, 19.0]


async def test_a_zero_count_is_refused_with_an_error(rig: Rig) -> None:
    with pytest.raises(RemoteError, match="parameter-out-of-range"):
        await rig.read(ByPosition(1, 0))


async def test_rusty_bacnet_reads_the_trend_log_by_position_sequence_and_time(rig: Rig) -> None:
    async with rusty_client() as rusty:
        oid = rusty_oid(LOG)
        by_position = await rusty.read_range(
            rig.address,
            oid,
            PropertyIdentifier.LOG_BUFFER,
            range_type="position",
            reference_index=1,
            count=3,
        )
        by_sequence = await rusty.read_range(
            rig.address,
            oid,
            PropertyIdentifier.LOG_BUFFER,
            range_type="sequence",
            reference_seq=24,
            count=5,
        )
        by_time = await rusty.read_range(
            rig.address,
            oid,
            PropertyIdentifier.LOG_BUFFER,
            range_type="time",
            reference_time=REFERENCE_TIME,
            count=2,
        )
    assert by_position["item_count"] == 3  # records 16, 17, 18 of the wrapped buffer
    assert by_position["result_flags"] == (True, False, False)
    assert by_position["violations"] == []
    assert by_sequence["item_count"] == 2  # 24 and 25: the end of the buffer
    assert by_sequence["first_sequence_number"] == 24
    assert by_sequence["result_flags"] == (False, True, False)
    assert by_time["item_count"] == 2
    assert by_time["first_sequence_number"] == 21  # the first record after record 20


async def test_more_than_fits_comes_in_pages_with_more_items_and_no_gap(rig: Rig) -> None:
    big = ObjectRef("trend-log", 2)
    for n in range(1, 2501):
        rig.records.append(big, START + timedelta(seconds=n), float(n))
    device_logs = rig.app_device.trend_logs
    device_logs.put(TrendLogSpec(2, "Big log", ObjectRef("analog-value", 1), buffer_size=5000))
    read: list[float] = []
    sequence, pages = 1, 0
    while True:
        page = await rig.reader.read_range(parse_peer(rig.address), big, BySequence(sequence, 3000))
        pages += 1
        read.extend(values(page))
        if not page.more_items:
            break
        sequence = page.entries[-1].sequence + 1
    assert pages > 1  # one answer holds at most MAX_ITEMS records
    assert read == [float(n) for n in range(1, 2501)]
