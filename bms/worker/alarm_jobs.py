"""Alarm tasks the worker runs: an operator's acknowledgement sent to the alarm's source, and
the BMS enrolled as a recipient of a remote notification class.

A remote alarm is acknowledged with AcknowledgeAlarm at its device (AE-ACK-A): the transition's
event state and time stamp, the operator's name as acknowledgment-source. Device 8888's own
alarm is acknowledged on the live object through the same code that serves a peer's
AcknowledgeAlarm (event_services.acknowledge_locally: its checks, the ack stored by the ack
hook, acked-transitions set, the ack notifications sent). Either way the outcome ("accepted" or
the BACnet error) is stored on the transition; a refusal also fails the task, with the reason.

Enrolment (AE-N-A's other half): the remote class's recipient-list is read and, unless the BMS
is in it already, written back with our device added (confirmed notifications, every
transition, all week), so the device sends us that class's events without anyone configuring
it at the device. A device that refuses the write fails the task with its error.
"""

from __future__ import annotations

import logging
from typing import Any

from bms.alarms.services import ACCEPTED, AckTarget, ack_target, record_ack_outcome
from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError
from bms.bacnet.event_client import EventClient
from bms.bacnet.event_services import EventServices
from bms.bacnet.requester import Requester, parse_peer
from bms.devices.models import BACnetDevice
from bms.tasks.models import BACnetTask
from bms.worker.db import run_db

log = logging.getLogger(__name__)

# acknowledging-process-identifier of the BMS's acknowledgements (our notification recipients
# use their own process ids; the device only records this one).
ACKNOWLEDGING_PROCESS_ID = 1
# The process identifier the BMS enrols with: the console takes notifications of any process.
RECIPIENT_PROCESS_ID = 1

Progress = Any  # bms.worker.jobs.Progress (not imported: jobs imports this module)


async def acknowledge_alarm(
    engine: Engine, task: BACnetTask, progress: Progress, cfg: Any
) -> dict[str, Any]:
    target = await run_db(ack_target, int(task.parameters["transition_id"]))
    await progress(message=f"acknowledging {target.alarm} ({target.state}) at its source")
    try:
        if target.source_kind == "remote":
            await _acknowledge_remote(engine, target)
        else:
            await _acknowledge_local(engine, target)
    except BACnetError as exc:
        await run_db(record_ack_outcome, target.transition_id, f"refused: {exc}")
        raise  # the task fails with the reason too
    await run_db(record_ack_outcome, target.transition_id, ACCEPTED)
    return {
        "transition_id": target.transition_id,
        "alarm": target.alarm,
        "state": target.state,
        "result": ACCEPTED,
    }


async def _acknowledge_remote(engine: Engine, target: AckTarget) -> None:
    events = EventClient(Requester(engine.app, engine.config))
    await events.acknowledge(
        parse_peer(target.address),
        target.ref,
        target.state,
        target.time_stamp,
        target.source,
        process_id=ACKNOWLEDGING_PROCESS_ID,
    )


async def _acknowledge_local(engine: Engine, target: AckTarget) -> None:
    app = engine.app
    if not isinstance(app, EventServices):
        raise TypeError("device 8888's application does not serve alarms")
    await app.acknowledge_locally(
        target.ref,
        target.state,
        target.time_stamp,
        target.source,
        process_id=ACKNOWLEDGING_PROCESS_ID,
    )


async def enroll_alarms(
    engine: Engine, task: BACnetTask, progress: Progress, cfg: Any
) -> dict[str, Any]:
    instance = int(task.parameters["device_id"])
    notification_class = int(task.parameters["notification_class"])
    address = await run_db(_device_address, task.site, instance)
    await progress(
        message=f"enrolling at device {instance}, notification class {notification_class}"
    )
    events = EventClient(Requester(engine.app, engine.config))
    enrolled = await events.enroll(
        parse_peer(address),
        notification_class,
        engine.config.device_instance,
        process_id=RECIPIENT_PROCESS_ID,
    )
    return {"device_id": instance, "class": notification_class, "enrolled": enrolled}


def _device_address(site: str, instance: int) -> str:
    device = BACnetDevice.objects.filter(site=site, device_instance=instance).first()
    if device is None:
        raise LookupError(f"device {instance} is not known on site {site!r}")
    return device.address
