"""Commanding virtual objects as an operator: validation as the BACnet device does it, the
priority array and the present value it commands, the reading, the audit, the live update."""

from __future__ import annotations

from typing import Any

import pytest

from bms.devices.models import BACnetReading, WriteAudit
from bms.realtime.models import RealtimeMessage
from bms.virtual.commands import CommandRefused, command_virtual_object
from bms.virtual.models import VirtualObject
from bms.virtual.services import create_virtual_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def ahu(db: Any) -> dict[str, VirtualObject]:
    """The air handling unit template: analog inputs and outputs, an AV, a BV, an MSV."""
    device = create_virtual_device(2001, "AHU", template="air_handling_unit")
    return {o.name: o for o in device.virtual_objects.all()}


def command(
    obj: VirtualObject, value: Any, priority: int | None = None, relinquish: bool = False
) -> VirtualObject:
    return command_virtual_object(obj, value, priority, relinquish, user="otto")


@pytest.mark.parametrize(
    ("name", "value", "priority", "stored"),
    [
        ("Damper_Position", 42.5, 8, 42.5),
        ("Damper_Position", 0, 8, 0.0),  # limits are inclusive; ints become reals
        ("Damper_Position", 100, None, 100.0),  # default priority 16
        ("Damper_Position", " 12.5 ", 8, 12.5),  # typed into the page's form
        ("Enable", "active", 8, "active"),
        ("Enable", "INACTIVE", 8, "inactive"),
        ("Enable", 1, 8, "active"),
        ("Enable", 0, 8, "inactive"),
        ("Enable", True, 8, "active"),
        ("Enable", "false", 8, "inactive"),
        ("Enable", "1", 8, "active"),
        ("Enable", "on", 8, "active"),  # one vocabulary with remote points since issue 10
        ("Mode", 2.0, 8, 2),
        ("Mode", "heating", 8, 2),  # a state text, any case
        ("Mode", 5, 1, 5),
        ("Mode", "2", 16, 2),
        ("Supply_Air_Temperature", 18.0, None, 18.0),  # an input: a plain present value
    ],
)
def test_accepted_commands_store_the_value_as_the_device_would(ahu, name, value, priority, stored):
    row = command(ahu[name], value, priority)
    assert row.present_value == stored
    assert type(row.present_value) is type(stored)
    fresh = VirtualObject.objects.get(pk=row.pk)
    assert fresh.present_value == stored
    if fresh.commandable:
        assert fresh.priority_array[(priority or 16) - 1] == stored
    else:
        assert fresh.priority_array is None


@pytest.mark.parametrize(
    ("name", "value", "priority", "relinquish", "words"),
    [
        ("Damper_Position", 100.5, 8, False, "out of range: Damper_Position takes 0..100"),
        ("Damper_Position", -1, 8, False, "out of range"),
        ("Damper_Position", "abc", 8, False, "takes a finite number (got 'abc')"),
        ("Damper_Position", "nan", 8, False, "finite number"),
        ("Damper_Position", float("inf"), 8, False, "finite number"),
        ("Damper_Position", True, 8, False, "finite number"),
        ("Damper_Position", None, 8, False, "a value is required"),
        ("Damper_Position", "", 8, False, "a value is required"),
        ("Damper_Position", 50, 0, False, "priority must be 1..16 (got 0)"),
        ("Damper_Position", 50, 17, False, "priority must be 1..16"),
        ("Damper_Position", 50, True, False, "priority must be 1..16"),
        ("Damper_Position", 50, 8, True, "relinquish writes NULL"),
        ("Enable", "maybe", 8, False, 'takes "active" or "inactive"'),
        ("Enable", 2, 8, False, "got 2"),
        ("Enable", 0.5, 8, False, "binary-value takes"),
        ("Mode", 6, 8, False, "takes a state number 1..5 or one of its state texts (got 6)"),
        ("Mode", 0, 8, False, "1..5"),
        ("Mode", 2.5, 8, False, "1..5"),
        ("Mode", True, 8, False, "1..5"),
        ("Mode", "Dry", 8, False, "1..5"),
        ("Supply_Air_Temperature", 18.0, 8, False, "is an input"),
        ("Supply_Air_Temperature", None, None, True, "is an input"),
        ("Supply_Air_Temperature", 61.0, None, False, "out of range"),
    ],
)
def test_refused_commands_change_nothing_and_are_audited_with_the_reason(
    ahu, name, value, priority, relinquish, words
):
    obj = ahu[name]
    before = VirtualObject.objects.get(pk=obj.pk)
    with pytest.raises(CommandRefused) as refusal:
        command(obj, value, priority, relinquish)
    assert words in str(refusal.value)
    after = VirtualObject.objects.get(pk=obj.pk)
    assert (after.present_value, after.priority_array, after.updated_at) == (
        before.present_value,
        before.priority_array,
        before.updated_at,
    )
    assert not BACnetReading.objects.filter(virtual_object=obj).exists()
    audit = WriteAudit.objects.get()
    assert (audit.source, audit.who, audit.virtual_object_id, audit.accepted) == (
        "operator",
        "otto",
        obj.pk,
        False,
    )
    assert audit.reason == str(refusal.value)
    assert audit.object_ref == f"{obj.object_type},{obj.instance}"


def test_a_multi_state_object_without_state_texts_has_no_state_to_command(ahu):
    mode = ahu["Mode"]
    VirtualObject.objects.filter(pk=mode.pk).update(state_texts=[])
    with pytest.raises(CommandRefused, match="Mode has no state texts"):
        command(mode, 1, 8)
    assert VirtualObject.objects.get(pk=mode.pk).priority_array == [None] * 16


def test_the_present_value_follows_the_highest_priority_and_falls_back_on_relinquish(ahu):
    damper = ahu["Damper_Position"]  # relinquish default 0.0
    assert command(damper, 30, 16).present_value == 30.0
    assert command(damper, 70, 8).present_value == 70.0
    # A lower priority does not take over while 8 holds.
    assert command(damper, 10, 12).present_value == 70.0
    row = command(damper, None, 8, relinquish=True)
    assert row.present_value == 10.0
    assert row.priority_array == [None] * 11 + [10.0, None, None, None, 30.0]
    command(damper, None, 12, relinquish=True)
    assert command(damper, None, 16, relinquish=True).present_value == 0.0
    assert VirtualObject.objects.get(pk=damper.pk).priority_array == [None] * 16


def test_an_accepted_command_is_read_and_audited_in_the_same_commit(ahu):
    damper = ahu["Damper_Position"]
    before = VirtualObject.objects.get(pk=damper.pk).updated_at
    command(damper, 55, 8)
    row = command_virtual_object(damper, 65, 4, user="api-script", source="api")
    assert row.updated_at > before
    readings = list(
        BACnetReading.objects.filter(virtual_object=damper)
        .order_by("id")
        .values_list("value", "source", "timestamp")
    )
    assert readings[-1] == (65.0, "operator_write", row.updated_at)
    assert [r[0] for r in readings] == [55.0, 65.0]
    audit = WriteAudit.objects.filter(virtual_object=damper).order_by("id").last()
    assert audit is not None
    assert (
        audit.source,
        audit.who,
        audit.old_value,
        audit.new_value,
        audit.priority,
        audit.accepted,
        audit.property,
        audit.time,
    ) == ("api", "api-script", 55.0, 65.0, 4, True, "present-value", row.updated_at)


def test_relinquish_is_audited_as_null_at_its_level(ahu):
    enable = ahu["Enable"]
    command(enable, "active", 8)
    command(enable, None, 8, relinquish=True)
    audit = WriteAudit.objects.order_by("id").last()
    assert audit is not None
    assert (audit.old_value, audit.new_value, audit.priority, audit.accepted) == (
        "active",
        None,
        8,
        True,
    )
    assert VirtualObject.objects.get(pk=enable.pk).present_value == "inactive"


def test_open_pages_hear_of_the_command_after_it_commits(
    ahu, settings, django_capture_on_commit_callbacks
):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "bms.realtime.layer.DatabaseChannelLayer"}}
    with django_capture_on_commit_callbacks(execute=True):
        command(ahu["Mode"], 3, 8)
        assert not RealtimeMessage.objects.exists()  # nothing is announced before the commit
    assert RealtimeMessage.objects.count() == 2
    sent = {row.group: row.payload["event"] for row in RealtimeMessage.objects.all()}
    assert sent.keys() == {"virtual_devices", "audit"}
    event = sent["virtual_devices"]
    assert event["type"] == "virtual_object"
    assert (event["object"]["id"], event["object"]["present_value"]) == (ahu["Mode"].pk, 3)
    assert event["object"]["priority_array"][7] == 3
    audit = sent["audit"]["audit"]
    assert (
        audit["who"],
        audit["old_value"],
        audit["new_value"],
        audit["priority"],
        audit["accepted"],
        audit["virtual_device_id"],
    ) == ("otto", 1, 3, 8, True, 2001)


def test_a_refused_command_announces_only_its_refused_audit_row(
    ahu, settings, django_capture_on_commit_callbacks
):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "bms.realtime.layer.DatabaseChannelLayer"}}
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CommandRefused):
        command(ahu["Mode"], 9, 8)
    sent = RealtimeMessage.objects.get()
    assert sent.group == "audit"
    audit = sent.payload["event"]["audit"]
    assert (audit["accepted"], audit["new_value"], audit["source"]) == (False, 9, "operator")
    assert "9" in audit["reason"]
