"""Queuing tasks for the pages and the API (bms.tasks.submission)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_save

from bms.devices.models import WriteAudit
from bms.tasks import submission
from bms.tasks.models import BACnetTask

pytestmark = pytest.mark.django_db


def test_a_write_names_who_asked_from_the_moment_it_is_created(building):
    """A worker may claim a task as soon as it commits: the writer is in the row it inserts,
    not added by a second save."""
    saved: list[dict] = []

    def on_save(sender, instance, created, **kwargs):
        saved.append({"created": created, **instance.parameters})

    post_save.connect(on_save, sender=BACnetTask)
    try:
        task = submission.write_point(building["bo"], "on", 8, False, user="otto", source="api")
    finally:
        post_save.disconnect(on_save, sender=BACnetTask)
    assert len(saved) == 1  # one insert, no second save to add the writer
    assert saved[0]["created"]
    assert (saved[0]["user"], saved[0]["source"]) == ("otto", "api")
    task = BACnetTask.objects.get(pk=task.pk)
    assert (task.parameters["value"], task.parameters["user"]) == ("active", "otto")


def test_a_refused_write_queues_nothing(building):
    before = BACnetTask.objects.count()
    with pytest.raises(submission.Refused, match="not commandable"):
        submission.write_point(building["ai"], 1, 8, False, user="otto", source="operator")
    assert BACnetTask.objects.count() == before


def test_a_bad_discovery_range_is_refused(building):
    with pytest.raises(submission.Refused, match=r"outside 0\.\.4194302"):
        submission.discover(0, 4194303)


@pytest.mark.parametrize("address", ["hello world", "127.0.0.300", "2:zz"])
def test_a_discovery_to_a_bad_address_is_refused_and_queues_nothing(building, address):
    before = BACnetTask.objects.count()
    with pytest.raises(submission.Refused, match="BACnet address"):
        submission.discover(address=address)
    assert BACnetTask.objects.count() == before


def test_a_discovery_keeps_a_good_address_and_asks_for_a_fresh_scan_when_forced(building):
    task = submission.discover(address=" 127.0.0.2:47809 ", force=True)
    assert task.parameters["address"] == "127.0.0.2:47809"
    assert task.parameters["force"] is True
    assert submission.discover(address="  ").parameters["address"] is None


def test_a_write_without_a_priority_names_the_configured_default(building, settings):
    settings.BACNET_DEFAULT_WRITE_PRIORITY = 10
    task = submission.write_point(building["ao"], "55", None, False, user="otto", source="api")
    assert task.parameters["priority"] == 10


def test_a_refused_write_without_a_priority_audits_the_default(building, settings):
    settings.BACNET_DEFAULT_WRITE_PRIORITY = 10
    with pytest.raises(submission.Refused):
        submission.write_point(building["ao"], "x", None, False, user="otto", source="api")
    assert WriteAudit.objects.filter(accepted=False).latest("id").priority == 10


def test_a_bad_default_priority_setting_is_named(building, settings):
    settings.BACNET_DEFAULT_WRITE_PRIORITY = 17
    with pytest.raises(
        ImproperlyConfigured, match=r"BACNET_DEFAULT_WRITE_PRIORITY must be 1\.\.16"
    ):
        submission.write_point(building["ao"], "55", None, False, user="otto", source="api")
