"""An operator's acknowledgement (bms.alarms.services.request_acknowledgement), and the
alarms_changed announcement every recorded change makes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from bms.alarms.models import Alarm
from bms.alarms.services import (
    AlreadyAcknowledged,
    record_local_transitions,
    request_acknowledgement,
)
from bms.alarms.signals import alarms_changed
from bms.virtual.models import VirtualObject
from tests.alarms.test_services import T0, temperature, transition  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator():
    return get_user_model().objects.create_user("olga", password="x")


def test_an_acknowledgement_names_who_when_and_why_and_leaves_nothing_waiting(
    temperature,  # noqa: F811
    operator,
):
    record_local_transitions([transition(temperature, "normal", "high-limit", T0)], 8888)
    alarm = Alarm.objects.get(virtual_object=temperature)
    assert alarm.unacknowledged

    acked = request_acknowledgement(alarm, operator, "checked the chiller")

    alarm.refresh_from_db()
    acked.refresh_from_db()
    assert not alarm.unacknowledged
    assert acked.acked_by == operator
    assert acked.ack_comment == "checked the chiller"
    assert acked.acked_at is not None
    assert VirtualObject.objects.get(pk=temperature.pk).acked_transitions == [True, True, True]


def test_a_second_acknowledgement_is_refused_with_its_reason(temperature, operator):  # noqa: F811
    record_local_transitions([transition(temperature, "normal", "high-limit", T0)], 8888)
    alarm = Alarm.objects.get(virtual_object=temperature)
    request_acknowledgement(alarm, operator, "")
    with pytest.raises(AlreadyAcknowledged, match="nothing to acknowledge"):
        request_acknowledgement(alarm, operator, "again")


def test_recorded_transitions_and_acks_are_announced_with_the_alarm_ids(
    temperature,  # noqa: F811
    operator,
):
    heard: list[list[int]] = []

    def listen(sender, alarm_ids, **kwargs):
        heard.append(alarm_ids)

    alarms_changed.connect(listen)
    try:
        record_local_transitions([transition(temperature, "normal", "high-limit", T0)], 8888)
        alarm = Alarm.objects.get(virtual_object=temperature)
        request_acknowledgement(alarm, operator, "")
    finally:
        alarms_changed.disconnect(listen)
    assert heard == [[alarm.pk], [alarm.pk]]
