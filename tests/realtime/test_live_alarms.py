"""What the alarm console and every page's navigation bar hear (group `alarms`), through the
real ASGI application: a recorded transition and an operator's acknowledgement, each with the
counts as they are after it."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from bms.alarms.models import Alarm
from bms.alarms.services import (
    ACCEPTED,
    record_ack_outcome,
    record_local_transitions,
    request_acknowledgement,
)
from bms.realtime import groups
from bms.virtual import services
from bms.virtual.models import VirtualObject
from tests.alarms.test_services import T0, transition
from tests.realtime.test_consumers import LIVE_SECONDS, connected

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_alarms_group_is_known():
    assert groups.is_known(groups.ALARMS)


def _alarm_in_high_limit() -> Alarm:
    device = services.create_virtual_device(3301, "Room", template="temperature_sensor")
    obj = VirtualObject.objects.get(device=device, name="Temperature")
    record_local_transitions([transition(obj, "normal", "high-limit", T0)], 8888)
    return Alarm.objects.get(virtual_object=obj)


async def test_a_transition_then_its_ack_reach_the_page_with_the_counts(viewer):
    page = await connected(viewer, "/ws/live/?groups=alarms")
    alarm = await sync_to_async(_alarm_in_high_limit)()
    message = await page.receive_json_from(timeout=LIVE_SECONDS)
    assert message["type"] == "alarms"
    assert [(a["id"], a["event_state"], a["unacknowledged"]) for a in message["alarms"]] == [
        (alarm.pk, "high-limit", True)
    ]
    assert message["counts"] == {"active": 1, "unacknowledged": 1}

    user = await sync_to_async(get_user_model().objects.create_user)("olga")
    pending = await sync_to_async(request_acknowledgement)(alarm, user, "seen")
    message = await page.receive_json_from(
        timeout=LIVE_SECONDS
    )  # asked for; the worker has not sent it
    assert message["alarms"][0]["unacknowledged"] is True
    await sync_to_async(record_ack_outcome)(pending.pk, ACCEPTED)  # what the worker stores
    message = await page.receive_json_from(timeout=LIVE_SECONDS)
    assert message["alarms"][0]["unacknowledged"] is False
    assert message["counts"] == {"active": 1, "unacknowledged": 0}
    await page.disconnect()
