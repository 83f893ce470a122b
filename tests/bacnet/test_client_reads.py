"""Client reads: object lists and point lists from normal, no-segmentation and no-RPM peers."""

from __future__ import annotations

from bms.bacnet.capabilities import CapabilityCache
from bms.bacnet.types import ObjectRef, PointInfo
from tests.bacnet.client_peers import (
    CommandableMultiStateValue,
    NoRpmApplication,
    count_requests,
    many_analog_values,
    point_objects,
    refs_of,
    track_in_flight,
)

# Enough objects that the whole object list (5 octets each) can't fit in one 1476-octet APDU.
LARGE = 320

EXPECTED_POINTS = [
    PointInfo(
        ObjectRef("analog-input", 1),
        "Zone temp",
        "Zone 1 temperature",
        "degrees-celsius",
        (),
        21.5,
        (False, False, False, False),
        commandable=False,
    ),
    PointInfo(
        ObjectRef("analog-output", 1),
        "Valve",
        "Heating valve",
        "percent",
        (),
        0.0,
        (False, False, False, False),
        commandable=True,
    ),
    PointInfo(
        ObjectRef("analog-value", 1),
        "Setpoint offset",
        "",
        "delta-degrees-kelvin",
        (),
        0.5,
        (False, False, False, False),
        commandable=False,
    ),
    PointInfo(
        ObjectRef("binary-output", 1),
        "Pump",
        "",
        None,
        ("Stopped", "Running"),
        "inactive",
        (False, False, False, False),
        commandable=True,
    ),
    PointInfo(
        ObjectRef("multi-state-value", 1),
        "Fan speed",
        "",
        None,
        ("Off", "Low", "High"),
        1,
        (False, False, False, False),
        commandable=True,
    ),
]


async def test_object_list_of_a_normal_peer_is_one_read(rig):
    await rig.peer(2, 1001)
    client = await rig.client()
    sent = count_requests(rig.client_app)
    refs = await client.read_object_list(rig.address(2), 1001)
    assert sent == {"ReadPropertyRequest": 1}
    assert refs == [
        ObjectRef("device", 1001),
        ObjectRef("network-port", 1),
        *refs_of(point_objects()),
    ]


async def test_point_list_of_a_normal_peer_is_complete(rig):
    await rig.peer(2, 1001)
    client = await rig.client()
    sent = count_requests(rig.client_app)
    points = await client.read_points(rig.address(2), 1001)
    assert points == EXPECTED_POINTS
    assert sent == {"ReadPropertyRequest": 1, "ReadPropertyMultipleRequest": 1}
    assert client.capabilities.get(rig.address(2)).rpm is True


async def test_large_object_list_of_a_segmenting_peer_comes_whole(rig):
    await rig.peer(2, 1001, many_analog_values(LARGE))
    client = await rig.client()
    sent = count_requests(rig.client_app)
    refs = await client.read_object_list(rig.address(2), 1001)
    assert len(refs) == LARGE + 2
    assert sent == {"ReadPropertyRequest": 1}
    assert client.capabilities.get(rig.address(2)).segmentation is True


async def test_no_segmentation_peer_object_list_falls_back_to_index_reads(rig):
    objects = many_analog_values(LARGE)
    await rig.peer(2, 1001, objects, segmentation="no-segmentation", max_apdu=480)
    client = await rig.client()
    sent = count_requests(rig.client_app)
    refs = await client.read_object_list(rig.address(2), 1001)
    assert refs == [ObjectRef("device", 1001), ObjectRef("network-port", 1), *refs_of(objects)]
    # the whole read (aborted), then index 0, then the entries in several RPMs
    assert sent["ReadPropertyRequest"] == 2
    assert sent["ReadPropertyMultipleRequest"] >= 3
    assert client.capabilities.get(rig.address(2)).segmentation is False


async def test_second_object_list_read_goes_straight_to_index_reads(rig):
    objects = many_analog_values(LARGE)
    await rig.peer(2, 1001, objects, segmentation="no-segmentation", max_apdu=480)
    client = await rig.client()
    await client.read_object_list(rig.address(2), 1001)
    sent = count_requests(rig.client_app)
    refs = await client.read_object_list(rig.address(2), 1001)
    assert len(refs) == LARGE + 2
    assert sent["ReadPropertyRequest"] == 1  # index 0 only: no doomed whole read first


async def test_no_segmentation_peer_point_list_is_complete_in_rpms_that_fit(rig):
    objects = point_objects() + many_analog_values(LARGE)
    await rig.peer(2, 1001, objects, segmentation="no-segmentation", max_apdu=480)
    client = await rig.client()
    await client.who_is(expected=1, timeout=2.0)  # I-Am says: 480 octets, no segmentation
    sent = count_requests(rig.client_app)
    points = await client.read_points(rig.address(2), 1001)
    assert points[:5] == EXPECTED_POINTS
    assert [p.ref for p in points] == refs_of(objects)
    assert points[-1].name == f"AV-{100 + LARGE - 1}"
    assert points[-1].present_value == float(100 + LARGE - 1)
    # seeded from I-Am, the object list went straight to index reads
    assert sent["ReadPropertyRequest"] == 1
    # ~12 octets per entry and ~70 per point: every answer had to fit in 480 octets
    assert sent["ReadPropertyMultipleRequest"] >= (LARGE * 12 + LARGE * 70) // 480


async def test_no_rpm_peer_point_list_is_complete_with_read_property(rig):
    await rig.peer(2, 1001, app_class=NoRpmApplication)
    client = await rig.client()
    sent = count_requests(rig.client_app)
    points = await client.read_points(rig.address(2), 1001)
    assert points == EXPECTED_POINTS
    assert sent["ReadPropertyMultipleRequest"] == 1  # tried once, rejected, remembered
    assert client.capabilities.get(rig.address(2)).rpm is False


async def test_capability_cache_sends_the_second_no_rpm_read_straight_to_read_property(rig):
    await rig.peer(2, 1001, app_class=NoRpmApplication)
    client = await rig.client()
    await client.read_points(rig.address(2), 1001)
    sent = count_requests(rig.client_app)
    points = await client.read_points(rig.address(2), 1001)
    assert points == EXPECTED_POINTS
    assert sent["ReadPropertyMultipleRequest"] == 0
    assert sent["ReadPropertyRequest"] > len(EXPECTED_POINTS)


async def test_a_shared_capability_cache_helps_a_second_client(rig):
    await rig.peer(2, 1001, app_class=NoRpmApplication)
    cache = CapabilityCache()
    cache.note_rpm(rig.address(2), False)
    client = await rig.client(capabilities=cache)
    sent = count_requests(rig.client_app)
    await client.read_device_info(rig.address(2), 1001)
    assert sent["ReadPropertyMultipleRequest"] == 0


async def test_no_rpm_peer_object_list_by_index_uses_read_property(rig):
    objects = many_analog_values(LARGE)
    await rig.peer(
        2, 1001, objects, app_class=NoRpmApplication, segmentation="no-segmentation", max_apdu=480
    )
    client = await rig.client()
    refs = await client.read_object_list(rig.address(2), 1001)
    assert refs[2:] == refs_of(objects)
    caps = client.capabilities.get(rig.address(2))
    assert (caps.segmentation, caps.rpm) == (False, False)


async def test_read_points_with_given_refs_leaves_out_objects_that_do_not_exist(rig):
    await rig.peer(2, 1001)
    client = await rig.client()
    wanted = [
        ObjectRef("analog-input", 1),
        ObjectRef("analog-value", 999),
        ObjectRef("device", 1001),
    ]
    points = await client.read_points(rig.address(2), 1001, refs=wanted)
    assert [p.ref for p in points] == [ObjectRef("analog-input", 1)]


async def test_requests_in_flight_to_one_peer_stay_under_the_limit(rig):
    await rig.peer(2, 1001, many_analog_values(40), app_class=NoRpmApplication)
    client = await rig.client(max_in_flight_per_peer=3)
    peak = track_in_flight(rig.client_app)
    points = await client.read_points(rig.address(2), 1001)
    assert len(points) == 40
    assert 1 < peak["max"] <= 3


async def test_present_values_are_read_in_one_rpm(rig):
    await rig.peer(2, 1001)
    client = await rig.client()
    sent = count_requests(rig.client_app)
    refs = refs_of(point_objects())
    values = await client.read_present_values(rig.address(2), refs)
    assert values == {
        ref: point.present_value for ref, point in zip(refs, EXPECTED_POINTS, strict=True)
    }
    assert sent == {"ReadPropertyMultipleRequest": 1}
    with_flags = await client.read_point_values(rig.address(2), refs[:1])
    assert with_flags == {refs[0]: (21.5, (False, False, False, False))}


async def test_present_values_leave_out_missing_objects(rig):
    await rig.peer(2, 1001, app_class=NoRpmApplication)
    client = await rig.client()
    values = await client.read_present_values(
        rig.address(2), [ObjectRef("analog-input", 1), ObjectRef("analog-input", 7)]
    )
    assert values == {ObjectRef("analog-input", 1): 21.5}


async def test_read_property_returns_plain_python(rig):
    await rig.peer(2, 1001)
    client = await rig.client()
    assert await client.read_property(rig.address(2), "AI:1", "units") == "degrees-celsius"
    msv = "multi-state-value,1"
    assert await client.read_property(rig.address(2), msv, "state-text", 2) == "Low"
    assert await client.read_property(
        rig.address(2), ObjectRef("binary-output", 1), "status-flags"
    ) == (False, False, False, False)


async def test_a_property_too_big_for_a_peer_that_cannot_segment_is_left_empty(rig):
    wordy = CommandableMultiStateValue(
        objectIdentifier=("multi-state-value", 7),
        objectName="Wordy",
        presentValue=2,
        numberOfStates=200,
        stateText=[f"State number {n:03}" for n in range(1, 201)],  # ~3,800 octets
        statusFlags=[0, 0, 0, 0],
        eventState="normal",
        outOfService=False,
        relinquishDefault=1,
    )
    await rig.peer(2, 1001, [wordy], segmentation="no-segmentation")
    client = await rig.client()
    points = await client.read_points(rig.address(2), 1001)
    assert [(p.name, p.present_value, p.commandable) for p in points] == [("Wordy", 2, True)]
    assert points[0].state_texts == ()
    assert client.capabilities.get(rig.address(2)).segmentation is False
