"""Virtual objects through bms.virtual.services: checked as the worker serves them (ObjectSpec),
stored only when it would serve them, and announced to open pages when the change commits."""

from __future__ import annotations

import pytest

from bms.realtime.models import RealtimeMessage
from bms.virtual import commands, services
from bms.virtual.models import VirtualBACnetDevice, VirtualObject
from bms.virtual.specs import spec_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def device(building) -> VirtualBACnetDevice:
    return VirtualBACnetDevice.objects.get(device_id=2001)


@pytest.fixture
def live(settings, django_capture_on_commit_callbacks):
    """Live updates through the database layer, with on-commit callbacks run at the end."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "bms.realtime.layer.DatabaseChannelLayer"}}
    RealtimeMessage.objects.all().delete()
    return django_capture_on_commit_callbacks


def events() -> list[dict]:
    return [row.payload["event"] for row in RealtimeMessage.objects.order_by("id")]


def test_a_stored_object_is_one_the_worker_can_serve(device):
    obj = services.create_virtual_object(
        device, "MSV", "Season", state_texts=["Winter", "Summer"], present_value="summer"
    )
    row = VirtualObject.objects.get(pk=obj.pk)
    assert (row.object_type, row.present_value, row.relinquish_default) == (
        "multi-state-value",
        2,
        2,
    )
    assert spec_for(row).with_checked_values().present_value == 2


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"object_type": "toaster"}, "unsupported object type 'toaster'"),
        ({"object_type": "AV", "min_value": 1.0, "max_value": 0.0}, "min_value 1 is above"),
        ({"object_type": "MSI"}, "needs state_texts"),
        ({"object_type": "AI", "cov_increment": -1.0}, "cov_increment must be >= 0"),
        ({"object_type": "AO", "max_value": 5.0, "present_value": 6}, "6 is out of range"),
        ({"object_type": "BV", "present_value": "half"}, "'half'"),
    ],
)
def test_an_object_the_worker_would_refuse_is_refused_and_not_stored(device, kwargs, words):
    before = VirtualObject.objects.count()
    with pytest.raises(services.VirtualDeviceError, match=words):
        services.create_virtual_object(device, name="Refused", **kwargs)
    assert VirtualObject.objects.count() == before


def test_a_taken_name_is_a_duplicate(device):
    with pytest.raises(services.DuplicateObject):
        services.create_virtual_object(device, "AV", "Damper_Position")


def test_an_edit_that_strands_the_present_value_is_refused(device):
    damper = VirtualObject.objects.get(device=device, name="Damper_Position")
    commands.command_virtual_object(damper, 80, 8, user="otto")
    with pytest.raises(services.VirtualDeviceError, match="80 is out of range"):
        services.update_virtual_object(damper, max_value=50.0)
    assert VirtualObject.objects.get(pk=damper.pk).max_value == 100.0
    services.update_virtual_object(damper, max_value=90.0, units="percent")
    assert VirtualObject.objects.get(pk=damper.pk).max_value == 90.0


def test_an_edit_of_a_field_that_is_not_a_definition_is_refused(device):
    damper = VirtualObject.objects.get(device=device, name="Damper_Position")
    with pytest.raises(services.VirtualDeviceError, match="cannot change present_value"):
        services.update_virtual_object(damper, present_value=3)


def test_created_edited_and_deleted_objects_are_announced_after_commit(device, live):
    with live(execute=True):
        obj = services.create_virtual_object(device, "AV", "Extra", present_value=1.5)
        services.update_virtual_object(obj, description="spare")
        services.delete_virtual_object(obj)
        assert not RealtimeMessage.objects.exists()  # nothing before the commit
    sent = events()
    assert [(e["type"], e["deleted"]) for e in sent] == [
        ("virtual_object", False),
        ("virtual_object", False),
        ("virtual_object", True),
    ]
    assert {e["object"]["id"] for e in sent} == {obj.pk}
    assert sent[2]["object"]["name"] == "Extra"
    assert not VirtualObject.objects.filter(name="Extra").exists()


def test_a_device_deletion_is_announced_with_the_device_as_it_was(device, live):
    with live(execute=True):
        objects = services.delete_virtual_device(2001)
    assert objects > 0
    # The configuration audit announces the deletion too (its own event type).
    (event,) = [e for e in events() if e["type"] == "virtual_device"]
    assert (event["type"], event["deleted"], event["device"]["device_id"]) == (
        "virtual_device",
        True,
        2001,
    )


def test_a_change_that_rolls_back_announces_nothing(device, live):
    with live(execute=True), pytest.raises(services.VirtualDeviceError):
        services.create_virtual_object(device, "AV", "Bad", min_value=2.0, max_value=1.0)
    assert events() == []
