"""Network scans and the devices that answered them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from bms.bacnet.types import DeviceInfo, IAmRecord
from bms.devices.models import BACnetDevice, NetworkScan
from bms.worker.store.monitoring import mark_discovery


def cached_scan(site: str, parameters: dict[str, Any], max_age_seconds: int) -> NetworkScan | None:
    """The newest scan with the same parameters younger than `max_age_seconds`, if any."""
    since = timezone.now() - timedelta(seconds=max_age_seconds)
    return (
        NetworkScan.objects.filter(site=site, parameters=parameters, scan_time__gte=since)
        .order_by("-scan_time")
        .first()
    )


def save_discovery(
    site: str,
    records: list[IAmRecord],
    infos: dict[int, DeviceInfo],
    parameters: dict[str, Any],
    started: datetime,
    task_id: int | None,
) -> tuple[NetworkScan, list[BACnetDevice]]:
    """Upsert the devices that answered and record the scan, in one transaction; known
    devices that answered are online again, those in the scanned range that did not are
    unreachable (store.monitoring.mark_discovery, each change recorded as a health event).
    Returns the scan and the devices that answered.

    A few statements whatever the number of devices (INSERT ... ON CONFLICT DO UPDATE in
    batches, then one read back), not a SELECT FOR UPDATE and a write per device: a scan of
    1,000 devices was 2,000 round trips in the worker's process. A device whose properties
    could not be read keeps the ones stored before; first_seen is set only on insert.
    """
    now = timezone.now()
    latest = {record.device_instance: record for record in records}  # the last answer wins
    with_info = [_device_row(site, r, infos[i], now) for i, r in latest.items() if i in infos]
    without = [_device_row(site, r, None, now) for i, r in latest.items() if i not in infos]
    with transaction.atomic():
        for rows, fields in ((with_info, _DEVICE_INFO_FIELDS), (without, _I_AM_FIELDS)):
            if rows:
                BACnetDevice.objects.bulk_create(
                    rows,
                    batch_size=500,
                    update_conflicts=True,
                    unique_fields=["site", "device_instance"],
                    update_fields=fields,
                )
        mark_discovery(
            site,
            set(latest),
            parameters.get("low"),
            parameters.get("high"),
            parameters.get("address"),
            now,
        )
        stored = BACnetDevice.objects.filter(site=site, device_instance__in=list(latest))
        by_instance = {device.device_instance: device for device in stored}
        scan = NetworkScan.objects.create(
            site=site,
            scan_time=now,
            parameters=parameters,
            devices_found=len(records),
            duration=now - started,
            task_id=task_id,
        )
    return scan, [by_instance[instance] for instance in latest]


_I_AM_FIELDS = [
    "address",
    "network_number",
    "mac",
    "vendor_id",
    "max_apdu",
    "segmentation",
    "last_seen",
]
_DEVICE_INFO_FIELDS = [
    *_I_AM_FIELDS,
    "name",
    "vendor_name",
    "model_name",
    "firmware_revision",
    "application_software_version",
    "protocol_revision",
    "description",
    "location",
    "services_supported",
]


def _device_row(
    site: str, record: IAmRecord, info: DeviceInfo | None, now: datetime
) -> BACnetDevice:
    fields: dict[str, Any] = {
        "address": record.address,
        "network_number": record.network,
        "mac": record.mac or "",
        "vendor_id": record.vendor_id,
        "max_apdu": record.max_apdu,
        "segmentation": record.segmentation,
        "last_seen": now,
    }
    if info is not None:
        fields.update(
            name=info.name,
            vendor_name=info.vendor_name,
            model_name=info.model_name,
            firmware_revision=info.firmware_revision,
            application_software_version=info.application_software_version,
            protocol_revision=info.protocol_revision,
            description=info.description,
            location=info.location,
            services_supported=list(info.services_supported),
        )
        if info.vendor_id is not None:
            fields["vendor_id"] = info.vendor_id
    return BACnetDevice(site=site, device_instance=record.device_instance, first_seen=now, **fields)
