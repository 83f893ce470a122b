"""Alarms and notification classes over the API (bms.api.alarms): the console's order and
filters, an alarm with its transitions, acknowledging (who and why recorded; unknown 404,
already acked 409, a viewer 403), and notification classes created, edited and deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.services import record_local_transitions
from bms.devices.models import BACnetDevice
from bms.virtual import services
from bms.virtual.models import NotificationClass, VirtualObject
from tests.alarms.test_services import T0, transition
from tests.api.test_virtual_api import call

pytestmark = pytest.mark.django_db


@pytest.fixture
def alarms() -> dict[str, Alarm]:
    """'hot' unacknowledged in high-limit, 'back' returned to normal (its offnormal unacked),
    'quiet' normal and acked (history)."""
    device = services.create_virtual_device(3401, "Rooms", template="temperature_sensor")
    made = {}
    for offset, name in enumerate(("hot", "back", "quiet")):
        obj = services.create_virtual_object(device, "analog-input", name)
        record_local_transitions(
            [transition(obj, "normal", "high-limit", T0 + timedelta(minutes=offset))], 8888
        )
        made[name] = Alarm.objects.get(virtual_object=obj)
    back = made["back"]
    record_local_transitions(
        [transition(back.virtual_object, "high-limit", "normal", T0 + timedelta(hours=1))], 8888
    )
    # The return to normal leaves the off-normal transition waiting for its ack.
    Alarm.objects.filter(pk=back.pk).update(acked_transitions=[False, True, True])
    Alarm.objects.filter(pk=made["quiet"].pk).update(
        event_state="normal", acked_transitions=[True, True, True]
    )
    return made


def test_the_list_puts_unacknowledged_first_and_history_last(client, operator_token, alarms):
    page = call(client, "get", "/api/alarms", operator_token).json()
    assert page["count"] == 3
    assert [a["id"] for a in page["items"]] == [
        alarms["back"].pk,  # unacked, newest transition first
        alarms["hot"].pk,
        alarms["quiet"].pk,
    ]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("state=active", ["hot"]),
        ("state=unacknowledged", ["back", "hot"]),
        ("state=normal", ["back", "quiet"]),
        ("device=8888&priority_min=100&priority_max=100", ["hot", "quiet"]),
        ("device=9999", []),
    ],
)
def test_filters_choose_the_alarms(client, viewer_token, alarms, query, names):
    page = call(client, "get", f"/api/alarms?{query}", viewer_token).json()
    by_id = {alarm.pk: name for name, alarm in alarms.items()}
    assert sorted(by_id[a["id"]] for a in page["items"]) == sorted(names)


def test_paging_is_bounded(client, viewer_token, alarms):
    assert call(client, "get", "/api/alarms?limit=100000", viewer_token).status_code == 422
    page = call(client, "get", "/api/alarms?limit=1&offset=1", viewer_token).json()
    assert (page["count"], len(page["items"])) == (3, 1)


def test_an_alarm_comes_with_its_transitions_newest_first(client, viewer_token, alarms):
    detail = call(client, "get", f"/api/alarms/{alarms['back'].pk}", viewer_token).json()
    assert [t["to_state"] for t in detail["transitions"]] == ["normal", "high-limit"]


@pytest.fixture
def rule_alarm() -> Alarm:
    """A BMS rule's alarm in high-limit, waiting for its ack (acknowledged here at once: it
    has no BACnet source to tell)."""
    alarm = Alarm.objects.create(
        source_kind="rule",
        rule="supply air too warm",
        event_state="high-limit",
        acked_transitions=[False, True, True],
        priority=50,
        last_transition_at=T0,
    )
    AlarmTransition.objects.create(
        alarm=alarm,
        from_state="normal",
        to_state="high-limit",
        transition="to-offnormal",
        time_stamp=T0,
        priority=50,
        notify_type="alarm",
        ack_required=True,
    )
    return alarm


def test_an_acknowledgement_is_recorded_with_who_and_why_then_refused_again(
    client, operator, operator_token, rule_alarm
):
    url = f"/api/alarms/{rule_alarm.pk}/acknowledge"
    acked = call(client, "post", url, operator_token, {"comment": "fan restarted"})
    assert acked.status_code == 200
    assert acked.json()["unacknowledged"] is False
    row = AlarmTransition.objects.get(alarm=rule_alarm)
    assert (row.acked_by, row.ack_comment) == (operator, "fan restarted")
    assert row.acked_at is not None
    assert acked.json()["transitions"][0]["acked_by"] == operator.get_username()

    again = call(client, "post", url, operator_token, {"comment": ""})
    assert again.status_code == 409
    assert "nothing to acknowledge" in again.json()["detail"]


def test_a_device_alarm_ack_is_requested_once_with_who_and_why(
    client, operator, operator_token, alarms
):
    """A virtual or remote alarm is acknowledged at its source by the worker: the request is
    recorded at once, a second one meanwhile is a conflict."""
    url = f"/api/alarms/{alarms['hot'].pk}/acknowledge"
    assert call(client, "post", url, operator_token, {"comment": "on it"}).status_code == 200
    row = AlarmTransition.objects.get(alarm=alarms["hot"])
    assert (row.acked_by, row.ack_comment) == (operator, "on it")
    again = call(client, "post", url, operator_token, {"comment": "again"})
    assert again.status_code == 409
    assert again.json()["detail"]
    assert AlarmTransition.objects.get(alarm=alarms["hot"]).ack_comment == "on it"


def test_acknowledging_needs_an_alarm_and_the_operator_role(
    client, viewer_token, operator_token, alarms
):
    assert (
        call(client, "post", "/api/alarms/999999/acknowledge", operator_token, {}).status_code
        == 404
    )
    refused = call(client, "post", f"/api/alarms/{alarms['hot'].pk}/acknowledge", viewer_token, {})
    assert refused.status_code == 403
    assert Alarm.objects.get(pk=alarms["hot"].pk).unacknowledged


def test_the_counts_are_active_and_unacknowledged(client, viewer_token, alarms):
    counts = call(client, "get", "/api/alarms/counts", viewer_token).json()
    assert counts == {"active": 1, "unacknowledged": 2}


def test_a_notification_class_is_created_edited_and_deleted(client, operator_token):
    body = {
        "instance": 7,
        "name": "Plant room",
        "priority_to_offnormal": 20,
        "recipients": [{"process_id": 3, "device": 9001, "confirmed": True}],
    }
    created = call(client, "post", "/api/notification-classes", operator_token, body)
    assert created.status_code == 201
    assert created.json()["recipients"][0]["device"] == 9001
    assert (
        call(client, "post", "/api/notification-classes", operator_token, body).status_code == 409
    )
    patched = call(
        client,
        "patch",
        "/api/notification-classes/7",
        operator_token,
        {"ack_required": [True, False, True]},
    )
    assert patched.json()["ack_required"] == [True, False, True]
    assert NotificationClass.objects.get(instance=7).priority_to_offnormal == 20
    assert call(client, "delete", "/api/notification-classes/7", operator_token).status_code == 204
    assert call(client, "get", "/api/notification-classes/7", operator_token).status_code == 404


def test_a_notification_class_in_use_is_not_deleted(client, operator_token):
    call(
        client,
        "post",
        "/api/notification-classes",
        operator_token,
        {"instance": 8, "name": "Eight"},
    )
    device = services.create_virtual_device(3402, "Rooms", template="temperature_sensor")
    VirtualObject.objects.filter(device=device).update(notification_class=8)
    refused = call(client, "delete", "/api/notification-classes/8", operator_token)
    assert refused.status_code == 409
    assert "used by" in refused.json()["detail"]
    assert NotificationClass.objects.filter(instance=8).exists()


def test_a_recipient_with_neither_device_nor_address_is_refused_with_a_reason(
    client, operator_token
):
    body = {"instance": 9, "name": "Nine", "recipients": [{"process_id": 1}]}
    refused = call(client, "post", "/api/notification-classes", operator_token, body)
    assert refused.status_code in (400, 422)
    assert refused.json()["detail"]
    assert not NotificationClass.objects.filter(instance=9).exists()


def test_the_site_filter_takes_alarms_without_a_point_by_their_device(client, viewer_token):
    """A rule's or a comm-loss alarm names only a device instance: it belongs to the site of
    that device (before, only alarms with a point matched a site)."""
    BACnetDevice.objects.create(site="north", device_instance=2002, address="10.1.0.2")
    rule = Alarm.objects.create(source_kind="rule", rule="rule:9", device_instance=2002)
    Alarm.objects.create(source_kind="rule", rule="comm-loss:7", device_instance=7)
    page = call(client, "get", "/api/alarms?site=north", viewer_token).json()
    assert [a["id"] for a in page["items"]] == [rule.pk]
