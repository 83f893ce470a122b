"""The worker's database side: small synchronous ORM functions, each one short transaction.

They run in a thread through `sync_to_async` (see `bms.worker.db`); none of them is ever called
while a transaction is held across BACnet I/O. One module per job:

- `discovery`: scans and the devices that answered them;
- `readings`: the points of remote devices and their readings (the polling hot path);
- `point_writes`: the audit of an operator's or API user's write to a remote point;
- `external_writes`: peers' writes to our virtual objects, stored before their ack, the audit
  of refused ones, and their live payload;
- `polling`: when the trending poll queues a collect;
- `capabilities`: what the client's capability cache learned about devices, kept in their rows;
- `expected`: a read device's points against its expected points (EDE), counted.

Callers use `from bms.worker import store` and `store.<function>`; the names are re-exported here.
"""

from bms.worker.store.capabilities import learned_changes, save_learned, stored_capabilities
from bms.worker.store.discovery import cached_scan, save_discovery
from bms.worker.store.expected import expected_point_counts
from bms.worker.store.external_writes import (
    STORED_PROPERTIES,
    StoredWrite,
    batch_statement,
    event_payload,
    record_refused_external_write,
    running_virtual_objects,
    store_external_write,
    store_external_writes,
    written_column,
)
from bms.worker.store.point_writes import Writer, point_for_write, record_point_write
from bms.worker.store.polling import enqueue_poll_if_idle
from bms.worker.store.readings import (
    device_by_instance,
    devices_to_collect,
    point_refs_by_device,
    save_collect_wave,
    save_points,
    save_readings,
)

__all__ = [
    "STORED_PROPERTIES",
    "StoredWrite",
    "Writer",
    "batch_statement",
    "cached_scan",
    "device_by_instance",
    "devices_to_collect",
    "enqueue_poll_if_idle",
    "event_payload",
    "expected_point_counts",
    "learned_changes",
    "point_for_write",
    "point_refs_by_device",
    "record_point_write",
    "record_refused_external_write",
    "running_virtual_objects",
    "save_collect_wave",
    "save_discovery",
    "save_learned",
    "save_points",
    "save_readings",
    "store_external_write",
    "store_external_writes",
    "stored_capabilities",
    "written_column",
]
