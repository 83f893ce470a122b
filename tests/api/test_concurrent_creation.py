"""Virtual devices created at the same moment: each gets its own BACnet object identifiers.

Instances are allocated after the highest in use, so two creations that overlap can pick the
same one; the loser's transaction is rolled back whole by the unique constraint and allocated
again (bms.virtual.services). Issue 11: 6 of 8 concurrent POSTs answered 500. Real threads, each
with its own connection, on SQLite here and on PostgreSQL in its pass (test_postgresql_pass).
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from django.test import Client

from bms.virtual.models import VirtualBACnetDevice, VirtualObject
from tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)
CLIENTS = 8


def create_at_once(token: str, device_ids: list[int]) -> list:
    start = threading.Barrier(len(device_ids))

    def create(index: int):
        body = {"device_id": device_ids[index], "device_name": f"AHU {index}"}
        body["template"] = "air_handling_unit"
        start.wait()
        return Client().post(
            "/api/virtual-devices",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    return run_in_threads(len(device_ids), create)


def test_eight_concurrent_creations_all_succeed_with_distinct_identifiers(operator_token):
    responses = create_at_once(operator_token, [7000 + i for i in range(CLIENTS)])
    assert [r.status_code for r in responses] == [201] * CLIENTS, [r.content for r in responses]
    assert VirtualBACnetDevice.objects.count() == CLIENTS
    identifiers = Counter(VirtualObject.objects.values_list("object_type", "instance"))
    assert identifiers
    assert set(identifiers.values()) == {1}
    per_device = {r.json()["device_id"]: len(r.json()["objects"]) for r in responses}
    assert len(set(per_device.values())) == 1
    assert 0 not in per_device.values()


def test_the_same_device_id_created_at_once_is_one_201_and_the_rest_409(operator_token):
    responses = create_at_once(operator_token, [7100] * 4)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409], [r.content for r in responses]
    assert all("7100" in r.json()["detail"] for r in responses if r.status_code == 409)
    assert VirtualBACnetDevice.objects.filter(device_id=7100).count() == 1
