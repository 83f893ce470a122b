"""Fixtures shared by the web, API and realtime tests: users with each role, signed-in clients,
and a small building (a device with points, a task, a virtual device) to look at."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from bms.accounts.models import ApiToken
from bms.accounts.services import set_user
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading, WriteAudit
from bms.tasks import queue
from bms.virtual.services import create_virtual_device

PASSWORD = "correct horse battery staple"  # test accounts only


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """PBKDF2 is slow on purpose; the tests create a few users each and check no hashes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_throttles() -> Any:
    """Wrong-token counters live in the cache (bms.api.auth): one test's must not lock out the
    next test's client, which has the same address."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def viewer(db: Any) -> Any:
    return set_user("vera", PASSWORD, "viewer")[0]


@pytest.fixture
def operator(db: Any) -> Any:
    return set_user("otto", PASSWORD, "operator")[0]


@pytest.fixture
def admin_user(db: Any) -> Any:
    return set_user("ada", PASSWORD, "admin")[0]


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(viewer: Any) -> Client:
    return signed_in(viewer)


@pytest.fixture
def operator_client(operator: Any) -> Client:
    return signed_in(operator)


@pytest.fixture
def operator_token(operator: Any) -> str:
    return ApiToken.issue(operator, "tests")[1]


@pytest.fixture
def viewer_token(viewer: Any) -> str:
    return ApiToken.issue(viewer, "tests")[1]


@pytest.fixture
def building(db: Any) -> dict[str, Any]:
    """One remote device with an AI, a commandable AO, a BO and an MSV; a task; readings; a
    virtual AHU; one audit row."""
    device = BACnetDevice.objects.create(
        device_instance=1001, address="127.0.0.2", name="AHU-1", vendor_name="Sim", model_name="S1"
    )
    ai = BACnetPoint.objects.create(
        device=device,
        object_type="analog-input",
        instance=1,
        name="Zone_Temp",
        units="degrees-celsius",
        last_value=21.5,
        last_value_at=timezone.now(),
    )
    ao = BACnetPoint.objects.create(
        device=device,
        object_type="analog-output",
        instance=1,
        name="Damper",
        units="percent",
        commandable=True,
        last_value=40.0,
    )
    bo = BACnetPoint.objects.create(
        device=device,
        object_type="binary-output",
        instance=1,
        name="Fan",
        commandable=True,
        state_texts=["Off", "On"],
        last_value="inactive",
    )
    msv = BACnetPoint.objects.create(
        device=device,
        object_type="multi-state-value",
        instance=1,
        name="Mode",
        commandable=True,
        state_texts=["Off", "Heat", "Cool"],
        last_value=1,
    )
    now = timezone.now()
    BACnetReading.objects.bulk_create(
        BACnetReading(point=ai, value=20.0 + i, timestamp=now - timezone.timedelta(minutes=i))
        for i in range(10)
    )
    task = queue.enqueue("discover", {"low": None, "high": None})
    virtual = create_virtual_device(2001, "Virtual AHU", "test", "air_handling_unit")
    WriteAudit.objects.create(
        source="operator",
        who="otto",
        object_ref="1001:analog-output,1",
        point=ao,
        new_value=50.0,
        priority=8,
        accepted=True,
    )
    return {
        "device": device,
        "ai": ai,
        "ao": ao,
        "bo": bo,
        "msv": msv,
        "task": task,
        "virtual": virtual,
    }


@pytest.fixture
def north(db: Any) -> dict[str, Any]:
    """A second site, "north", with a live worker and its own device 1001 (the instance of
    `building`'s device) with a commandable analog output."""
    queue.worker_heartbeat("north-worker", "north")
    device = BACnetDevice.objects.create(
        site="north", device_instance=1001, address="10.1.0.5", name="AHU-N"
    )
    ao = BACnetPoint.objects.create(
        device=device, object_type="analog-output", instance=1, name="Damper", commandable=True
    )
    return {"device": device, "ao": ao}
