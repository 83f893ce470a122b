"""The tasks page: who asked for each task, the worker's polls hidden unless asked for, and
results as sentences."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from bms.tasks import queue
from bms.tasks.models import BACnetTask

pytestmark = pytest.mark.django_db


def rows(html: str) -> dict[int, str]:
    """Each task row's text, by task id."""
    found = re.findall(r'<tr data-task-id="(\d+)">(.*?)</tr>', html, re.S)
    return {int(pk): " ".join(re.sub(r"<[^>]+>", " ", row).split()) for pk, row in found}


@pytest.fixture
def asked_and_polled(operator_client, building):
    """A discovery an operator asked for (finished), and three scheduled polls after it."""
    response = operator_client.post(
        reverse("web:discover"), {"force": "on"}, HTTP_ACCEPT="application/json"
    )
    asked = BACnetTask.objects.get(id=response.json()["task_id"])
    started = timezone.now()
    BACnetTask.objects.filter(id=asked.id).update(
        status="completed",
        started_at=started,
        completed_at=started + timezone.timedelta(seconds=0.4),
        result={"cached": False, "devices_found": 3, "devices": [1, 2, 3], "unreadable": []},
    )
    polls = [queue.enqueue("collect", {"device_ids": None, "scheduled": True}) for _ in range(3)]
    return asked, polls


def test_the_tasks_page_names_who_asked_and_says_the_result_in_words(
    viewer_client, asked_and_polled
):
    asked, _polls = asked_and_polled
    html = viewer_client.get(reverse("web:tasks")).content.decode()
    assert "<th>Requested by</th>" in html
    assert "otto" in rows(html)[asked.id]
    assert "found 3 devices in 0.4 s" in rows(html)[asked.id]
    assert "devices_found" not in html


def test_scheduled_polls_are_hidden_unless_asked_for(viewer_client, asked_and_polled):
    asked, polls = asked_and_polled
    plain = rows(viewer_client.get(reverse("web:tasks")).content.decode())
    assert asked.id in plain
    assert not any(p.id in plain for p in polls)
    with_polls = rows(viewer_client.get(reverse("web:tasks") + "?polls=1").content.decode())
    assert all("schedule" in with_polls[p.id] for p in polls)
    assert asked.id in with_polls


def test_the_devices_page_lists_recent_tasks_but_no_polls(viewer_client, asked_and_polled):
    asked, polls = asked_and_polled
    shown = rows(viewer_client.get(reverse("web:devices")).content.decode())
    assert asked.id in shown
    assert not any(p.id in shown for p in polls)
