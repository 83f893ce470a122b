"""The backend API: native leaves a row; docker leaves a row and a Celery message in Redis."""

import base64
import json

import pytest
import redis
from celery import Celery
from django.db import transaction

from bms.devices.models import BACnetDevice, BACnetPoint
from bms.tasks import queue
from bms.tasks.backends import get_bacnet_backend
from bms.tasks.backends.docker import RUN_TASK_NAME, DockerBackend, celery_queue
from bms.tasks.backends.native import NativeBackend
from bms.tasks.models import BACnetTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def point():
    device = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2")
    return BACnetPoint.objects.create(
        device=device, object_type="analog-value", instance=3, commandable=True
    )


def test_the_configured_backend_is_returned(settings):
    settings.BACNET_BACKEND = "docker"
    backend = get_bacnet_backend()
    assert (type(backend), backend.reason) == (
        DockerBackend,
        "BACNET_BACKEND=docker set explicitly",
    )
    assert type(get_bacnet_backend("native")) is NativeBackend


def test_native_calls_return_task_ids_of_pending_rows_with_their_parameters(point):
    backend = NativeBackend(site="plant")
    ids = [
        backend.discover_devices(low=1000, high=1999, address="192.168.1.255", force=True),
        backend.collect_readings([1001, 1002]),
        backend.read_points(1001),
        backend.write_point(point.id, 21.5, priority=8),
        backend.write_point(point.id, priority=8, relinquish=True),
    ]
    rows = {t.id: t for t in BACnetTask.objects.filter(id__in=ids)}
    assert [(rows[i].task_type, rows[i].parameters) for i in ids] == [
        ("discover", {"low": 1000, "high": 1999, "address": "192.168.1.255", "force": True}),
        ("collect", {"device_ids": [1001, 1002]}),
        ("read_points", {"device_id": 1001}),
        ("write_point", {"point_id": point.id, "value": 21.5, "priority": 8, "relinquish": False}),
        ("write_point", {"point_id": point.id, "value": None, "priority": 8, "relinquish": True}),
    ]
    assert {(t.status, t.site) for t in rows.values()} == {("pending", "plant")}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b, p: b.discover_devices(low=5), "both low and high"),
        (lambda b, p: b.discover_devices(low=9, high=5), "low 9 is above high 5"),
        (lambda b, p: b.discover_devices(low=0, high=4194303), "outside 0..4194302"),
        (lambda b, p: b.read_points(-1), "outside 0..4194302"),
        (lambda b, p: b.collect_readings([4194303]), "outside 0..4194302"),
        (lambda b, p: b.write_point(p.id, 1, priority=17), "priority 17 is outside 1..16"),
        (lambda b, p: b.write_point(p.id, 1, relinquish=True), "either a value or relinquish"),
        (lambda b, p: b.write_point(p.id), "a value is required"),
        (lambda b, p: b.write_point(p.id + 1000, 1), "no point with id"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_queued(point, call, message):
    with pytest.raises(ValueError, match=message):
        call(NativeBackend(), point)
    assert not BACnetTask.objects.exists()


def test_status_shows_backend_recent_tasks_and_live_workers():
    backend = NativeBackend(site="plant", reason="Windows host")
    for _ in range(7):
        backend.collect_readings()
    queue.enqueue("discover", site="elsewhere")
    queue.worker_heartbeat("w1", "plant", backend="native", hostname="pc", pid=42)
    status = backend.get_status()
    assert (status["backend"], status["reason"], status["site"]) == (
        "native",
        "Windows host",
        "plant",
    )
    assert [t["type"] for t in status["recent_tasks"]] == ["collect"] * 5
    assert [(w["worker_id"], w["pid"]) for w in status["workers_alive"]] == [("w1", 42)]


def test_wait_returns_the_finished_task():
    backend = NativeBackend(site="s")
    task_id = backend.collect_readings()
    task = queue.claim_next("w1", "s", lease_seconds=30)
    queue.fail(task, "no devices answered")
    assert backend.wait(task_id, timeout=1).error_message == "no devices answered"


@pytest.fixture
def celery_app(redis_url):
    app = Celery("bms-test", broker=redis_url)
    yield app
    app.close()


@pytest.fixture
def site_queue(redis_url, unique_site):
    """The Redis list behind the site's Celery queue, emptied afterwards."""
    client = redis.Redis.from_url(redis_url)
    key = celery_queue(unique_site)
    yield client, key
    client.delete(key, f"_kombu.binding.{key}", f"_kombu.binding_permanent.{key}")
    client.close()


def decode(raw: bytes) -> tuple[str, list, dict]:
    message = json.loads(raw)
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    return message["headers"]["task"], args, kwargs


def test_docker_sends_the_task_id_to_the_sites_queue_in_redis_on_commit(
    celery_app, site_queue, unique_site, django_capture_on_commit_callbacks
):
    client, key = site_queue
    backend = DockerBackend(site=unique_site, celery_app=celery_app)
    with django_capture_on_commit_callbacks(execute=True):
        task_id = backend.discover_devices(low=1, high=9)
        assert client.llen(key) == 0, "sent before the row was committed"
    assert [decode(raw) for raw in client.lrange(key, 0, -1)] == [(RUN_TASK_NAME, [task_id], {})]
    assert BACnetTask.objects.get(id=task_id).status == "pending"


def test_docker_sends_nothing_when_the_transaction_rolls_back(
    celery_app, site_queue, unique_site, django_capture_on_commit_callbacks
):
    client, key = site_queue
    backend = DockerBackend(site=unique_site, celery_app=celery_app)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        backend.collect_readings()
        transaction.set_rollback(True)  # the request failed after queuing
    assert (callbacks, client.llen(key), BACnetTask.objects.count()) == ([], 0, 0)
