"""The audit of peers' management requests to device 8888 (DCC, ReinitializeDevice, time).

Every request is audited, accepted or refused; the device waits for an accepted one's audit
before it acts (bms.bacnet.device_management), so a failure here refuses the request.
"""

from __future__ import annotations

from bms.bacnet.device_management import ManagementRequest
from bms.devices.models import WriteAudit
from bms.devices.signals import announce_audit
from bms.worker.db import run_db


def record_management_request(request: ManagementRequest, device_instance: int) -> WriteAudit:
    audit = WriteAudit.objects.create(
        source="bacnet",
        who=request.source_address,
        object_ref=f"device,{device_instance}",
        property=request.service,
        new_value=request.detail,
        accepted=request.accepted,
        reason=request.reason,
    )
    announce_audit(audit)
    return audit


class ManagementAudit:
    def __init__(self, device_instance: int) -> None:
        self._device_instance = device_instance

    async def record(self, request: ManagementRequest) -> None:
        await run_db(record_management_request, request, self._device_instance)
