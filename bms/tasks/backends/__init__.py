"""The BACnet backend API (seed 000): queue a BACnet job, get its task id back at once.

`native` leaves a pending BACnetTask row for a worker that polls the database; `docker` writes the
same row and also sends a Celery message with its id. Nothing here waits on BACnet.
"""

from __future__ import annotations

from bms.tasks.backends.base import BACnetBackend
from bms.tasks.backends.detection import configured_backend
from bms.tasks.backends.docker import DockerBackend
from bms.tasks.backends.native import NativeBackend


def get_bacnet_backend(name: str | None = None, site: str | None = None) -> BACnetBackend:
    """The configured backend (settings.BACNET_BACKEND, auto resolved) or the one named."""
    chosen, reason = configured_backend() if name is None else (name, "chosen by the caller")
    if chosen == "native":
        return NativeBackend(site=site, reason=reason)
    if chosen == "docker":
        return DockerBackend(site=site, reason=reason)
    raise ValueError(f"unknown BACnet backend {chosen!r}")
