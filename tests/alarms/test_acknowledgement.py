"""An operator's acknowledgement (bms.alarms.services.request_acknowledgement): checked, then
queued for the worker to send to the alarm's source (a rule's alarm is acknowledged at once);
the outcome the worker stores (record_ack_outcome); and the alarms_changed announcement every
recorded change makes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.services import (
    ACCEPTED,
    AlarmRefused,
    AlreadyAcknowledged,
    record_ack_outcome,
    record_local_transitions,
    request_acknowledgement,
)
from bms.alarms.signals import alarms_changed
from bms.tasks.models import BACnetTask
from bms.virtual.models import VirtualObject
from tests.alarms.test_services import T0, temperature, transition  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator():
    return get_user_model().objects.create_user("olga", password="x")


@pytest.fixture
def raised(temperature) -> Alarm:  # noqa: F811
    record_local_transitions([transition(temperature, "normal", "high-limit", T0)], 8888)
    return Alarm.objects.get(virtual_object=temperature)


def rule_alarm() -> Alarm:
    alarm = Alarm.objects.create(
        source_kind="rule", rule="comm-loss:1001", event_state="offnormal",
        acked_transitions=[False, True, True],
    )  # fmt: skip
    AlarmTransition.objects.create(
        alarm=alarm, from_state="normal", to_state="offnormal", transition="to-offnormal",
        time_stamp=timezone.now(), priority=50, notify_type="alarm", ack_required=True,
    )  # fmt: skip
    return alarm


def test_a_device_alarm_acknowledgement_is_queued_for_the_worker_naming_who_and_why(
    raised, operator
):
    pending = request_acknowledgement(raised, operator, "checked the chiller")

    task = BACnetTask.objects.get(task_type="acknowledge_alarm")
    assert task.parameters == {"transition_id": pending.pk, "user": "olga"}
    pending.refresh_from_db()
    assert pending.ack_task_id == task.id
    assert (pending.acked_by, pending.ack_comment) == (operator, "checked the chiller")
    assert pending.acked_at is None  # not until device 8888 took it
    raised.refresh_from_db()
    assert raised.unacknowledged


def test_a_second_request_while_the_first_is_under_way_is_refused(raised, operator):
    request_acknowledgement(raised, operator, "")
    with pytest.raises(AlarmRefused, match="already under way"):
        request_acknowledgement(raised, operator, "again")
    assert BACnetTask.objects.filter(task_type="acknowledge_alarm").count() == 1


def test_an_accepted_outcome_acknowledges_the_alarm_and_its_object(
    raised,
    operator,
    temperature,  # noqa: F811
):
    pending = request_acknowledgement(raised, operator, "")
    record_ack_outcome(pending.pk, ACCEPTED)
    pending.refresh_from_db()
    raised.refresh_from_db()
    assert pending.ack_result == ACCEPTED
    assert pending.acked_at is not None
    assert pending.ack_source == "olga"
    assert not raised.unacknowledged
    assert VirtualObject.objects.get(pk=temperature.pk).acked_transitions == [True, True, True]
    with pytest.raises(AlreadyAcknowledged, match="nothing to acknowledge"):
        request_acknowledgement(raised, operator, "again")


def test_a_refused_outcome_is_kept_and_the_operator_may_try_again(raised, operator):
    pending = request_acknowledgement(raised, operator, "")
    record_ack_outcome(pending.pk, "refused: error services/invalid-time-stamp")
    pending.refresh_from_db()
    raised.refresh_from_db()
    assert pending.ack_result == "refused: error services/invalid-time-stamp"
    assert pending.acked_at is None
    assert raised.unacknowledged
    again = request_acknowledgement(raised, operator, "second try")
    assert again.pk == pending.pk
    assert again.ack_result == ""
    assert BACnetTask.objects.filter(task_type="acknowledge_alarm").count() == 2


def test_a_rule_alarm_has_no_bacnet_source_and_is_acknowledged_at_once(operator):
    alarm = rule_alarm()
    acked = request_acknowledgement(alarm, operator, "cable fixed")
    acked.refresh_from_db()
    alarm.refresh_from_db()
    assert not alarm.unacknowledged
    assert (acked.acked_by, acked.ack_result, acked.ack_comment) == (
        operator,
        ACCEPTED,
        "cable fixed",
    )
    assert not BACnetTask.objects.filter(task_type="acknowledge_alarm").exists()
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
        pending = request_acknowledgement(alarm, operator, "")
        record_ack_outcome(pending.pk, ACCEPTED)
    finally:
        alarms_changed.disconnect(listen)
    assert heard == [[alarm.pk], [alarm.pk], [alarm.pk]]
