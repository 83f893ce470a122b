"""Alarm tasks the worker runs: an operator's acknowledgement sent to the alarm's source.

A remote alarm is acknowledged with AcknowledgeAlarm at its device (AE-ACK-A): the transition's
event state and time stamp, the operator's name as acknowledgment-source. Device 8888's own
alarm is acknowledged on the live object through the same code that serves a peer's
AcknowledgeAlarm (event_services.acknowledge_locally: its checks, the ack stored by the ack
hook, acked-transitions set, the ack notifications sent). Either way the outcome ("accepted" or
the BACnet error) is stored on the transition; a refusal also fails the task, with the reason.
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
from bms.tasks.models import BACnetTask
from bms.worker.db import run_db

log = logging.getLogger(__name__)

# acknowledging-process-identifier of the BMS's acknowledgements (our notification recipients
# use their own process ids; the device only records this one).
ACKNOWLEDGING_PROCESS_ID = 1

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
