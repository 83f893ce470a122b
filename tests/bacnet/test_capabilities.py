"""The capability cache: pure bookkeeping, no network."""

from __future__ import annotations

from bms.bacnet.capabilities import APDU_OVERHEAD, CapabilityCache, plan_batches
from bms.bacnet.types import IAmRecord

PEER = "127.0.0.2:47900"


def i_am(max_apdu: int, segmentation: str) -> IAmRecord:
    return IAmRecord(
        device_instance=1001,
        address=PEER,
        max_apdu=max_apdu,
        segmentation=segmentation,
        vendor_id=999,
    )


def test_it_knows_nothing_about_a_new_peer():
    cache = CapabilityCache()
    caps = cache.get(PEER)
    assert (caps.max_apdu, caps.segmentation, caps.rpm) == (1476, None, None)
    assert not cache.known(PEER)
    assert cache.use_rpm(PEER)
    assert cache.segmented_read_allowed(PEER)


def test_it_is_seeded_from_i_am():
    cache = CapabilityCache()
    cache.seed_from_i_am(i_am(480, "no-segmentation"))
    caps = cache.get(PEER)
    assert caps.max_apdu == 480
    assert caps.segmentation is False
    assert not cache.segmented_read_allowed(PEER)


def test_a_peer_that_claims_segmentation_is_trusted_until_seen_failing():
    cache = CapabilityCache()
    cache.seed_from_i_am(i_am(1476, "segmented-both"))
    assert cache.get(PEER).segmentation is True
    cache.note_segmentation(PEER, False)
    cache.seed_from_i_am(i_am(1476, "segmented-both"))  # a later I-Am does not undo what we saw
    assert cache.get(PEER).segmentation is False


def test_it_remembers_that_rpm_is_refused():
    cache = CapabilityCache()
    cache.note_rpm(PEER, False)
    assert not cache.use_rpm(PEER)
    assert cache.use_rpm("127.0.0.3:47900")


def test_get_returns_a_copy_that_does_not_change_the_cache():
    cache = CapabilityCache()
    cache.get(PEER).rpm = False
    assert cache.get(PEER).rpm is None


def test_the_response_budget_stays_in_one_apdu_without_segmentation():
    cache = CapabilityCache(max_segments=8)
    cache.seed(PEER, 480, "no-segmentation")
    budget = cache.response_budget(PEER)
    assert budget.octets == 480 - APDU_OVERHEAD
    assert not budget.segmented
    cache.note_segmentation(PEER, True)
    assert cache.response_budget(PEER).octets == (480 - APDU_OVERHEAD) * 8


def test_max_apdu_is_never_below_the_bacnet_minimum():
    cache = CapabilityCache()
    cache.note_max_apdu(PEER, 10)
    assert cache.get(PEER).max_apdu == 50


def test_plan_batches_keeps_each_batch_under_the_budget():
    batches = plan_batches([100, 100, 100, 250, 50, 50], budget=260, max_items=10)
    assert batches == [range(0, 2), range(2, 3), range(3, 4), range(4, 6)]


def test_plan_batches_caps_the_number_of_items():
    batches = plan_batches([1] * 7, budget=1000, max_items=3)
    assert batches == [range(0, 3), range(3, 6), range(6, 7)]


def test_plan_batches_gives_an_oversized_item_its_own_batch():
    assert plan_batches([500, 10], budget=100, max_items=5) == [range(0, 1), range(1, 2)]
    assert plan_batches([], budget=100, max_items=5) == []
