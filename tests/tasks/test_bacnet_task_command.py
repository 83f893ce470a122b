"""The bacnet_task command, called in-process."""

import json
import re
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bms.devices.models import BACnetDevice, BACnetPoint
from bms.tasks import queue
from bms.tasks.models import BACnetTask
from tests.threads import run_in_threads


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_bacnet_task_queues_each_kind_with_its_parameters(settings):
    settings.BACNET_BACKEND = "native"
    device = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2")
    point = BACnetPoint.objects.create(device=device, object_type="binary-output", instance=1)
    outputs = [
        run(
            "bacnet_task",
            "discover",
            "--low",
            "1000",
            "--high",
            "1999",
            "--address",
            "127.255.255.255",
            "--force",
        ),
        run("bacnet_task", "collect", "--device", "1001", "--device", "1002"),
        run("bacnet_task", "read_points", "--device", "1001"),
        run(
            "bacnet_task",
            "write_point",
            "--point",
            str(point.id),
            "--value",
            "active",
            "--priority",
            "8",
        ),
        run("bacnet_task", "write_point", "--point", str(point.id), "--value", "21.5"),
        run(
            "bacnet_task",
            "write_point",
            "--point",
            str(point.id),
            "--relinquish",
            "--priority",
            "8",
        ),
    ]
    tasks = list(BACnetTask.objects.order_by("id"))
    assert outputs == [f"queued {t.task_type} task {t.id} (native backend)\n" for t in tasks]
    assert [t.parameters for t in tasks] == [
        {"low": 1000, "high": 1999, "address": "127.255.255.255", "force": True},
        {"device_ids": [1001, 1002]},
        {"device_id": 1001},
        {"point_id": point.id, "value": "active", "priority": 8, "relinquish": False},
        {"point_id": point.id, "value": 21.5, "priority": None, "relinquish": False},
        {"point_id": point.id, "value": None, "priority": 8, "relinquish": True},
    ]


@pytest.mark.django_db
def test_bacnet_task_refuses_bad_requests_with_a_message():
    with pytest.raises(CommandError, match="low 9 is above high 1"):
        run("bacnet_task", "discover", "--low", "9", "--high", "1")
    with pytest.raises(CommandError, match="not allowed with argument --value"):
        run("bacnet_task", "write_point", "--point", "1", "--value", "1", "--relinquish")
    assert not BACnetTask.objects.exists()


@pytest.mark.django_db
def test_bacnet_task_wait_gives_up_after_the_timeout():
    with pytest.raises(CommandError, match=r"still pending after 0.3 s"):
        run("bacnet_task", "collect", "--wait", "--timeout", "0.3")


@pytest.mark.django_db
def test_bacnet_task_status_prints_the_backend_status_as_json(settings):
    settings.BACNET_BACKEND = "native"
    run("bacnet_task", "collect")
    status = json.loads(run("bacnet_task", "status"))
    assert (status["backend"], status["reason"]) == (
        "native",
        "BACNET_BACKEND=native set explicitly",
    )
    assert [t["type"] for t in status["recent_tasks"]] == ["collect"]


@pytest.fixture
def north(db):
    """A second site with a live worker and a device of its own, 1001, with a writable point."""
    queue.worker_heartbeat("north-worker", "north")
    device = BACnetDevice.objects.create(site="north", device_instance=1001, address="10.1.0.5")
    return BACnetPoint.objects.create(device=device, object_type="analog-output", instance=1)


def test_bacnet_task_queues_for_the_site_given(north, settings):
    settings.BACNET_BACKEND = "native"
    outputs = [
        run("bacnet_task", "discover", "--site", "north"),
        run("bacnet_task", "collect", "--site", "north"),
    ]
    tasks = list(BACnetTask.objects.order_by("id"))
    assert [(t.task_type, t.site) for t in tasks] == [("discover", "north"), ("collect", "north")]
    assert outputs == [
        f"queued {t.task_type} task {t.id} for site north (native backend)\n" for t in tasks
    ]
    status = json.loads(run("bacnet_task", "status", "--site", "north"))
    assert status["site"] == "north"
    assert [w["worker_id"] for w in status["workers_alive"]] == ["north-worker"]


def test_bacnet_task_without_a_site_queues_for_bacnet_site(north, settings):
    settings.BACNET_SITE = "hq"
    run("bacnet_task", "discover")
    run("bacnet_task", "collect")
    assert [t.site for t in BACnetTask.objects.all()] == ["hq", "hq"]


@pytest.mark.parametrize(
    ("site", "message"),
    [
        ("nowhere", "there is no site 'nowhere'; known sites: default, north"),
        ("bad site!", "site 'bad site!' is not a site name: use letters"),
        ("../north", "is not a site name"),
    ],
)
@pytest.mark.parametrize(
    "action", [["discover"], ["collect"], ["read_points", "--device", "7"], ["status"]]
)
def test_bacnet_task_refuses_an_unknown_or_ill_formed_site_and_queues_nothing(
    north, site, message, action
):
    with pytest.raises(CommandError, match=re.escape(message)):
        run("bacnet_task", *action, "--site", site)
    assert not BACnetTask.objects.exists()


def test_bacnet_task_sends_work_on_a_device_to_the_devices_site(north, settings):
    settings.BACNET_BACKEND = "native"
    run("bacnet_task", "read_points", "--device", "1001")
    run("bacnet_task", "collect", "--device", "1001")
    out = run("bacnet_task", "write_point", "--point", str(north.id), "--value", "30")
    tasks = BACnetTask.objects.order_by("id")
    assert [(t.task_type, t.site) for t in tasks] == [
        ("read_points", "north"),
        ("collect", "north"),
        ("write_point", "north"),
    ]
    assert out.endswith("for site north (native backend)\n")


def test_bacnet_task_needs_the_site_of_an_instance_known_on_two_sites(north):
    BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2")
    with pytest.raises(CommandError, match=r"several sites \(default, north\): give the site"):
        run("bacnet_task", "read_points", "--device", "1001")
    assert not BACnetTask.objects.exists()
    run("bacnet_task", "read_points", "--device", "1001", "--site", "default")
    assert BACnetTask.objects.get().site == "default"


def test_bacnet_task_refuses_a_write_naming_another_site_than_its_points(north):
    with pytest.raises(CommandError, match="is on site 'north', not 'default'"):
        run(
            "bacnet_task",
            "write_point",
            "--point",
            str(north.id),
            "--value",
            "30",
            "--site",
            "default",
        )
    assert not BACnetTask.objects.exists()


def act_as_worker(outcome: str) -> None:
    """A stand-in for the real worker: claim, report progress, then finish."""
    deadline = time.monotonic() + 10
    while (task := queue.claim_next("test-worker", "default", lease_seconds=30)) is None:
        assert time.monotonic() < deadline, "the command never queued its task"
        time.sleep(0.05)
    queue.update_progress(task, done=1, total=2, message="reading device 1001")
    time.sleep(0.6)  # long enough for the command's 0.25 s poll to see the progress
    if outcome == "complete":
        queue.complete(task, {"devices_found": 2})
    else:
        queue.fail(task, "no answer from 127.255.255.255")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outcome", ["complete", "fail"])
def test_bacnet_task_wait_prints_progress_until_the_task_finishes(settings, outcome):
    settings.BACNET_SITE = "default"
    out = StringIO()

    def command(index: int) -> str:
        if index == 0:
            act_as_worker(outcome)
            return ""
        if outcome == "complete":
            call_command("bacnet_task", "discover", "--wait", "--timeout", "10", stdout=out)
            return "ok"
        with pytest.raises(CommandError, match=r"failed: no answer from 127\.255\.255\.255"):
            call_command("bacnet_task", "discover", "--wait", "--timeout", "10", stdout=out)
        return "raised"

    assert run_in_threads(2, command)[1] == ("ok" if outcome == "complete" else "raised")
    task_id = BACnetTask.objects.get().id
    lines = out.getvalue().splitlines()
    assert lines[0] == f"queued discover task {task_id} (native backend)"
    assert f"task {task_id} running 1/2 reading device 1001" in lines
    if outcome == "complete":
        assert lines[-1] == f'task {task_id} completed: {{"devices_found": 2}}'
