"""The read_object task: every property of one object of a remote device (the point page's
property browser), read by bms.bacnet.object_properties and kept on the object's point."""

from __future__ import annotations

from typing import Any

from bms.bacnet.engine import Engine
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import ObjectRef
from bms.tasks.models import BACnetTask
from bms.worker.db import run_db
from bms.worker.store.object_properties import save_object_properties
from bms.worker.store.readings import device_by_instance


async def read_object(engine: Engine, task: BACnetTask, progress: Any, cfg: Any) -> dict[str, Any]:
    """`progress` and `cfg` are bms.worker.jobs' Progress and JobSettings (typed loosely here,
    since jobs.py imports this module to list it among its JOBS)."""
    device_id = int(task.parameters["device_id"])
    ref = _object_ref(task.parameters["object"])
    device = await run_db(device_by_instance, cfg.site, device_id)
    await progress(message=f"reading every property of {ref} on device {device_id}")
    read = await engine.client.read_object(device.address, ref)
    point_id = await run_db(save_object_properties, device, read)
    result: dict[str, Any] = {
        "device_id": device_id,
        "object": str(ref),
        "point_id": point_id,
        "method": read.method,
        "properties": len(read.values),
        "errors": len(read.errors),
    }
    if point_id is None:  # nowhere else to keep them
        result |= {"values": read.values, "error_texts": read.errors}
    return result


def _object_ref(text: Any) -> ObjectRef:
    try:
        return ObjectRef.parse(str(text))
    except ValueError as exc:
        raise InvalidValueError(f"bad object {text!r}: expected like analog-input,1") from exc
