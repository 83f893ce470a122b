"""The worker keeps what its capability cache learned, and a read reports expected points
(issue 17).

The story runs in-process, jobs called as the worker calls them, against one simulated building
on loopback (its 2nd device, 1001, cannot segment; its 3rd, 1002, rejects ReadPropertyMultiple):
a first worker (an engine and its CapabilityBook) discovers and collects; a restarted one (a new
engine, a new book seeded from the same database, as Worker.run does) reads again and sends no
RPM to 1002. The pure parts (seeding at a new address, saving only changes) are tested on rows.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from bms.accounts.services import set_user
from bms.bacnet.capabilities import CapabilityCache
from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.types import Capabilities, IAmRecord
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.profiles.models import ExpectedPoint
from bms.simulator.building import SimulatedBuilding
from bms.simulator.quirks import NoRpmApplication
from bms.tasks import queue
from bms.tasks.models import BACnetTask
from bms.worker import jobs
from bms.worker.capability_book import CapabilityBook
from bms.worker.store.capabilities import learned_changes, save_learned

SITE = "default"
NO_SEGMENTATION, NO_RPM = 1001, 1002
REFUSED_RPM = "does not take ReadPropertyMultiple"


async def run(engine: Engine, book: CapabilityBook, kind: str, **parameters: Any) -> Any:
    async def progress(**_fields: Any) -> None:
        pass

    task = await sync_to_async(queue.enqueue)(kind, parameters, SITE)
    result = await jobs.JOBS[kind](engine, task, progress, jobs.JobSettings(SITE, 0, None, book))
    await sync_to_async(BACnetTask.objects.filter(pk=task.pk).update)(result=result)
    return task.pk, result


def learned() -> dict[int, tuple[bool | None, bool | None, int | None]]:
    rows = BACnetDevice.objects.filter(site=SITE).values_list(
        "device_instance", "learned_rpm", "learned_segmentation", "learned_max_apdu"
    )
    return {instance: (rpm, segments, apdu) for instance, rpm, segments, apdu in rows}


def stamps() -> dict[int, Any]:
    return dict(BACnetDevice.objects.filter(site=SITE).values_list("device_instance", "learned_at"))


def expect_points_of(instance: int) -> None:
    """An EDE list for the device: its first point as found, its second renamed, one it lacks."""
    device = BACnetDevice.objects.get(site=SITE, device_instance=instance)
    first, second = BACnetPoint.objects.filter(device=device).exclude(object_type="trend-log")[:2]
    for point, name in ((first, first.name), (second, "renamed in the file")):
        ExpectedPoint.objects.create(
            device=device, object_type=point.object_type, instance=point.instance, name=name
        )
    ExpectedPoint.objects.create(device=device, object_type="analog-value", instance=999, name="x")


def api_result(task_pk: int) -> Any:
    client = Client()
    client.force_login(set_user("vera", "correct horse battery staple", "viewer")[0])
    response = client.get(f"/api/tasks/{task_pk}")
    assert response.status_code == 200, response.content
    return json.loads(response.content)["result"]


@pytest.mark.django_db(transaction=True)
async def test_a_restarted_worker_starts_from_what_the_first_one_learned(
    bacnet_port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rpms: list[Any] = []  # the ReadPropertyMultiple requests device 1002 received
    refuse = NoRpmApplication.do_ReadPropertyMultipleRequest

    async def counted(app: NoRpmApplication, apdu: Any) -> None:
        rpms.append(apdu)
        await refuse(app, apdu)

    monkeypatch.setattr(NoRpmApplication, "do_ReadPropertyMultipleRequest", counted)
    caplog.set_level(logging.INFO, logger="bms.bacnet")
    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", timeout=2.0, retries=0)
    async with SimulatedBuilding(devices=4, objects=12, port=bacnet_port):
        async with Engine(config) as first:
            book = CapabilityBook(first.capabilities, SITE)
            assert await book.seed_site() == 0
            await run(first, book, "discover", force=True)
            await run(first, book, "collect")  # describes every device's points
            after_first = await sync_to_async(stamps)()
            await run(first, book, "collect")  # learns nothing new: no row changes
        assert rpms  # the first contact with 1002 tried RPM and was refused
        assert await sync_to_async(learned)() == {
            1000: (True, True, 1476),
            NO_SEGMENTATION: (True, False, 480),
            NO_RPM: (False, True, 1476),
            1003: (True, True, 1476),
        }
        assert None not in after_first.values()
        assert await sync_to_async(stamps)() == after_first

        await sync_to_async(expect_points_of)(1000)
        rpms.clear()
        caplog.clear()
        async with Engine(config) as restarted:
            book = CapabilityBook(restarted.capabilities, SITE)
            assert await book.seed_site() == 4
            await run(restarted, book, "read_points", device_id=NO_RPM)
            read_pk, read = await run(restarted, book, "read_points", device_id=1000)
            collect_pk, collected = await run(restarted, book, "collect", device_ids=[1000, 1002])
            _, polled = await run(restarted, book, "collect", device_ids=None, scheduled=True)
            await run(restarted, book, "discover", force=True)

    assert rpms == []
    assert REFUSED_RPM not in caplog.text
    counts = {"expected": 3, "matching": 1, "missing": 1, "different": 1, "unexpected": 11}
    assert read["expected_points"] == counts
    assert collected["expected_points"] == {"1000": counts}
    assert "expected_points" not in polled  # the trending poll described no device
    assert await sync_to_async(api_result)(read_pk) == read
    assert (await sync_to_async(api_result)(collect_pk))["expected_points"] == {"1000": counts}


def row(instance: int, address: str, **fields: Any) -> BACnetDevice:
    return BACnetDevice.objects.create(
        site=SITE, device_instance=instance, address=address, **fields
    )


@pytest.mark.django_db(transaction=True)
async def test_a_device_heard_at_a_new_address_takes_its_stored_observations_there() -> None:
    await sync_to_async(row)(7, "10.0.0.7", max_apdu=1476, learned_rpm=False)
    await sync_to_async(row)(8, "10.0.0.8", learned_segmentation=False)
    cache = CapabilityCache()
    book = CapabilityBook(cache, SITE)
    await book.seed_site()
    cache.note_rpm("10.0.0.8", True)  # seen by this worker since: newer than its row

    moved = IAmRecord(7, "10.0.0.70", 480, "segmented-both", 5)
    stayed = IAmRecord(8, "10.0.0.8", 1476, "segmented-both", 5)
    cache.seed_from_i_am(moved)  # as Client.who_is does before the job asks the book
    cache.seed_from_i_am(stayed)
    await book.seed_answering([moved, stayed])

    assert cache.use_rpm("10.0.0.7") is False
    assert cache.get("10.0.0.70") == Capabilities(max_apdu=480, segmentation=True, rpm=False)
    assert cache.get("10.0.0.8") == Capabilities(max_apdu=1476, segmentation=False, rpm=True)


@pytest.mark.django_db
def test_rows_change_only_where_the_cache_holds_something_else(
    django_assert_num_queries: Any,
) -> None:
    same = row(1, "10.0.0.1", learned_rpm=True, learned_segmentation=True, learned_max_apdu=1476)
    other = row(2, "10.0.0.2", learned_rpm=True)
    unseen = row(3, "10.0.0.3")
    seen = {
        "10.0.0.1": Capabilities(1476, True, True),
        "10.0.0.2": Capabilities(480, False, False),
    }

    changed = learned_changes([same, other, unseen], seen, same.first_seen)
    with django_assert_num_queries(1):
        assert save_learned(changed) == 1

    other.refresh_from_db()
    assert (other.learned_rpm, other.learned_segmentation, other.learned_max_apdu) == (
        False,
        False,
        480,
    )
    assert other.learned_at == same.first_seen
    assert other.learned_summary() == "no RPM / no segmentation / max APDU 480"
    with django_assert_num_queries(0):
        assert save_learned(learned_changes([same, other, unseen], seen, same.first_seen)) == 0
