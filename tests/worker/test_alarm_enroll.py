"""The enroll_alarms task (bms.worker.alarm_jobs): the BMS adds itself to a remote notification
class's recipient list over real UDP (a plain bacpypes3 device on loopback), once: a second run
finds it there and writes nothing; another recipient already listed is kept; a class the device
does not have fails the task with the device's error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from bacpypes3.app import Application
from bacpypes3.basetypes import Destination, Recipient
from bacpypes3.object import NotificationClassObject
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError
from bms.bacnet.stack import close_application
from bms.devices.models import BACnetDevice
from bms.tasks import submission
from bms.tasks.describe import result_text
from bms.tasks.models import BACnetTask
from bms.worker.alarm_jobs import RECIPIENT_PROCESS_ID, enroll_alarms
from tests.bacnet.client_peers import open_peer

pytestmark = pytest.mark.django_db(transaction=True)
REMOTE, BMS = 4100, 9004


def other_recipient() -> Destination:
    return Destination(
        validDays=[1] * 7,
        fromTime=(0, 0, 0, 0),
        toTime=(23, 59, 59, 99),
        recipient=Recipient(device=ObjectIdentifier(("device", 77))),
        processIdentifier=3,
        issueConfirmedNotifications=False,
        transitions=[1, 1, 1],
    )


@pytest.fixture
async def peers(bacnet_port: int) -> AsyncIterator[tuple[Application, Engine]]:
    plant = NotificationClassObject(
        objectIdentifier=("notification-class", 5),
        objectName="Plant",
        notificationClass=5,
        priority=[10, 20, 30],
        ackRequired=[1, 1, 0],
        recipientList=[other_recipient()],
    )
    device = await open_peer(bacnet_port, 2, REMOTE, [plant])
    engine = Engine(EngineConfig(address=f"127.0.0.3/8:{bacnet_port}", device_instance=BMS))
    await engine.start()
    await sync_to_async(BACnetDevice.objects.create)(
        device_instance=REMOTE, address=f"127.0.0.2:{bacnet_port}"
    )
    try:
        yield device, engine
    finally:
        await engine.stop()
        close_application(device)


async def run(engine: Engine, notification_class: int) -> dict[str, Any]:
    device = await sync_to_async(BACnetDevice.objects.get)(device_instance=REMOTE)
    task = await sync_to_async(submission.enroll_alarms)(device, notification_class, user="otto")

    async def progress(**fields: Any) -> None:
        """Not looked at here."""

    return await enroll_alarms(engine, await sync_to_async(BACnetTask.objects.get)(pk=task.pk),
                               progress, None)  # fmt: skip


def recipients(device: Application) -> list[tuple[Any, int]]:
    plant = device.get_object_id(ObjectIdentifier("notification-class,5"))
    return [(entry.recipient.device, entry.processIdentifier) for entry in plant.recipientList]


async def test_the_bms_is_added_once_and_the_other_recipients_are_kept(peers):
    device, engine = peers
    assert await run(engine, 5) == {"device_id": REMOTE, "class": 5, "enrolled": True}
    listed = recipients(device)
    assert listed[0] == (ObjectIdentifier(("device", 77)), 3)
    assert listed[1] == (ObjectIdentifier(("device", BMS)), RECIPIENT_PROCESS_ID)
    again = await run(engine, 5)
    assert again["enrolled"] is False
    assert len(recipients(device)) == 2
    shown = BACnetTask(task_type="enroll_alarms", result=again)
    assert result_text(shown) == f"device {REMOTE} notification class 5: already a recipient"


async def test_a_class_the_device_does_not_have_fails_with_its_error(peers):
    _, engine = peers
    with pytest.raises(BACnetError, match="unknown-object"):
        await run(engine, 6)
