"""The BACnet backend API (seed 000): queue a BACnet job, get its task id back at once.

`native` leaves a pending BACnetTask row for a worker that polls the database; `docker` writes the
same row and also sends a Celery message with its id. Nothing here waits on BACnet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from bms.tasks.backends.base import BACnetBackend


def get_bacnet_backend(name: str | None = None, site: str | None = None) -> BACnetBackend:
    """The configured backend (settings.BACNET_BACKEND) or the one named."""
    # Imported here, not at the top: settings import this package (for detection) before the
    # app registry is ready, and these modules import models.
    from bms.tasks.backends.docker import DockerBackend
    from bms.tasks.backends.native import NativeBackend

    chosen = name or settings.BACNET_BACKEND
    reason = settings.BACNET_BACKEND_REASON if name is None else "chosen by the caller"
    if chosen == "native":
        return NativeBackend(site=site, reason=reason)
    if chosen == "docker":
        return DockerBackend(site=site, reason=reason)
    raise ValueError(f"unknown BACnet backend {chosen!r}")
