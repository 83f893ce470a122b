"""`manage.py bacnet_worker`: the BACnet service (client + device) fed by the task queue."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import ConfigurationError
from bms.tasks.backends.detection import configured_backend
from bms.worker.runtime import Worker, WorkerOptions

log = logging.getLogger(__name__)


def worker_options(address: str | None = None, backend: str | None = None) -> WorkerOptions:
    """Options from settings; BACNET_ADDRESS is required and never guessed. The backend is the
    configured one (auto resolved) unless given."""
    address = address or settings.BACNET_ADDRESS
    if not address:
        raise CommandError(
            "BACNET_ADDRESS is not set. Give the address of the network interface BACnet runs "
            "on, with its prefix length, e.g. BACNET_ADDRESS=192.168.1.10/24 (or "
            "127.0.0.1/8 for the simulated building)."
        )
    try:
        engine = EngineConfig(
            address=address,
            device_instance=settings.BACNET_DEVICE_ID,
            device_name=settings.BACNET_DEVICE_NAME,
            timeout=settings.BACNET_TIMEOUT,
            retries=settings.BACNET_RETRIES,
            foreign_bbmd=settings.BACNET_FOREIGN_BBMD,
            foreign_ttl=settings.BACNET_FOREIGN_TTL,
            device_password=settings.BACNET_DEVICE_PASSWORD,
            time_zone=settings.TIME_ZONE,  # the site's: local time and the schedules
        )
    except ConfigurationError as exc:
        raise CommandError(str(exc)) from exc
    return WorkerOptions(
        engine=engine,
        site=settings.BACNET_SITE,
        backend=backend or configured_backend()[0],
        lease_seconds=settings.BACNET_TASK_LEASE_SECONDS,
        discovery_cache_seconds=settings.BACNET_DISCOVERY_CACHE_SECONDS,
        poll_seconds=settings.BACNET_POLL_SECONDS,
        history_seconds=settings.BMS_HISTORY_SECONDS,
        shutdown_timeout=settings.BACNET_SHUTDOWN_SECONDS,
        broker_url=getattr(settings, "CELERY_BROKER_URL", "") or "",
        freeze_heap=True,
    )


class Command(BaseCommand):
    help = "Run the BACnet worker: device 8888 and client on BACNET_ADDRESS, fed by the task queue."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--address", help="override BACNET_ADDRESS, e.g. 127.0.0.1/8:47808")

    def handle(self, *args: Any, **options: Any) -> None:
        # The one process that logs the backend, once: the one whose behaviour it decides.
        backend, reason = configured_backend()
        log.info("BACnet backend: %s (%s)", backend, reason)
        worker_settings = worker_options(options.get("address"), backend)
        try:
            asyncio.run(_serve(Worker(worker_settings)))
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc


async def _serve(worker: Worker) -> None:
    stop = asyncio.Event()
    _install_stop_signals(stop)
    await worker.run(stop)


def _install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    if sys.platform == "win32":
        # No add_signal_handler on Windows: Ctrl-C / Ctrl-Break arrive as Python signals.
        for name in ("SIGINT", "SIGBREAK"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), lambda *_: loop.call_soon_threadsafe(stop.set))
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
