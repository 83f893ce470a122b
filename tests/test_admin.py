"""Every model of ours has a working admin list and change page."""

import pytest
from django.contrib import admin
from django.urls import reverse

from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading
from bms.tasks import queue
from bms.virtual.services import create_virtual_device

pytestmark = pytest.mark.django_db

OUR_APPS = {"tasks", "devices", "virtual"}


def test_each_admin_list_and_change_page_renders(admin_client):
    device = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2")
    point = BACnetPoint.objects.create(device=device, object_type="analog-input", instance=1)
    BACnetReading.objects.create(point=point, value=21.0)
    create_virtual_device(2001, "Room", template="temperature_sensor")
    queue.enqueue("discover")
    queue.worker_heartbeat("w1", "default")
    models = [m for m in admin.site._registry if m._meta.app_label in OUR_APPS]
    assert len(models) == 9
    for model in models:
        app, name = model._meta.app_label, model._meta.model_name
        listing = admin_client.get(reverse(f"admin:{app}_{name}_changelist"))
        assert listing.status_code == 200, model
        first = model.objects.first()
        if first is not None:
            change = admin_client.get(reverse(f"admin:{app}_{name}_change", args=[first.pk]))
            assert change.status_code == 200, model


def test_tasks_cannot_be_added_by_hand_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:tasks_bacnettask_add")).status_code == 403
