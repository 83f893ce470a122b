"""The alarm console page (bms.web.views.alarms): its order and filters from GET parameters,
the counts in every page's navigation bar, an alarm's transitions, and acknowledging from the
page (operator only; recorded with who and the comment; a second ack refused with the reason)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from bms.alarms.models import Alarm, AlarmTransition
from bms.devices.models import BACnetDevice
from tests.api.test_alarms import alarms, rule_alarm  # noqa: F401

pytestmark = pytest.mark.django_db


def console_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-alarm-id="(\d+)"', html)]


def test_the_console_lists_unacknowledged_then_acknowledged_active_then_history(
    viewer_client,
    alarms,  # noqa: F811
):
    Alarm.objects.filter(pk=alarms["hot"].pk).update(acked_transitions=[True, True, True])
    html = viewer_client.get(reverse("web:alarms")).content.decode()
    assert console_ids(html) == [alarms["back"].pk, alarms["hot"].pk, alarms["quiet"].pk]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("state=active", ["hot"]),
        ("state=normal", ["back", "quiet"]),
        ("priority=64-127", ["hot", "quiet"]),
        ("priority=128-255", ["back"]),
        ("device=9999", []),
        ("state=bogus&priority=x-y&device=-1", ["back", "hot", "quiet"]),
    ],
)
def test_filters_are_get_parameters_and_nonsense_is_ignored(
    viewer_client,
    alarms,  # noqa: F811
    query,
    names,
):
    html = viewer_client.get(f"{reverse('web:alarms')}?{query}").content.decode()
    by_id = {alarm.pk: name for name, alarm in alarms.items()}
    assert sorted(by_id[pk] for pk in console_ids(html)) == names


def test_every_page_shows_the_counts_and_follows_the_alarms_group(
    viewer_client,
    alarms,  # noqa: F811
):
    html = viewer_client.get(reverse("web:tasks")).content.decode()
    assert '<span data-alarm-count="active">1</span>' in html
    assert '<span data-alarm-count="unacknowledged">2</span>' in html
    assert 'data-nav-groups="alarms"' in html


def test_an_alarm_page_lists_its_transitions(viewer_client, alarms):  # noqa: F811
    html = viewer_client.get(reverse("web:alarm", args=[alarms["back"].pk])).content.decode()
    assert html.index("high-limit → normal") < html.index("normal → high-limit")


def test_an_operator_acknowledges_from_the_page_with_a_comment(
    operator_client,
    operator,
    rule_alarm,  # noqa: F811
):
    back = f"{reverse('web:alarms')}?state=active"
    answer = operator_client.post(
        reverse("web:alarm_acknowledge", args=[rule_alarm.pk]),
        {"comment": "reset the sensor", "next": back},
    )
    assert answer.status_code == 302
    assert answer["Location"] == back
    row = AlarmTransition.objects.get(alarm=rule_alarm)
    assert (row.acked_by, row.ack_comment) == (operator, "reset the sensor")
    assert not Alarm.objects.get(pk=rule_alarm.pk).unacknowledged
    again = operator_client.post(reverse("web:alarm_acknowledge", args=[rule_alarm.pk]), {})
    assert again.status_code == 400
    html = again.content.decode()
    assert "nothing to acknowledge" in html, html[html.find("<main>") : html.find("</main>")]


def test_a_viewer_cannot_acknowledge_and_sees_no_button(viewer_client, alarms):  # noqa: F811
    assert "Acknowledge</button>" not in viewer_client.get(reverse("web:alarms")).content.decode()
    answer = viewer_client.post(reverse("web:alarm_acknowledge", args=[alarms["hot"].pk]), {})
    assert answer.status_code == 403
    assert Alarm.objects.get(pk=alarms["hot"].pk).unacknowledged


def test_the_way_back_after_an_ack_is_only_a_path_of_the_console(operator_client, rule_alarm):  # noqa: F811
    answer = operator_client.post(
        reverse("web:alarm_acknowledge", args=[rule_alarm.pk]),
        {"next": "https://evil.example/alarms/"},
    )
    assert answer["Location"] == reverse("web:alarms")


def test_the_site_filter_shows_a_rule_alarm_of_a_device_of_that_site(viewer_client):
    BACnetDevice.objects.create(site="north", device_instance=2002, address="10.1.0.2")
    rule = Alarm.objects.create(source_kind="rule", rule="rule:9", device_instance=2002)
    Alarm.objects.create(source_kind="rule", rule="comm-loss:7", device_instance=7)
    html = viewer_client.get(f"{reverse('web:alarms')}?site=north").content.decode()
    assert console_ids(html) == [rule.pk]


def test_acknowledging_an_unknown_alarm_is_a_404(operator_client):
    answer = operator_client.post(reverse("web:alarm_acknowledge", args=[999999]), {})
    assert answer.status_code == 404
