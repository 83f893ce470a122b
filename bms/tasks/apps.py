import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("bms.settings")


class TasksConfig(AppConfig):
    name = "bms.tasks"
    label = "tasks"
    verbose_name = "BACnet tasks"

    def ready(self) -> None:
        # Wiring only (registering checks, one log line); sockets and threads belong to the worker.
        from bms.worker import checks  # noqa: F401  (registers the BACNET_* system checks)

        # Logged here rather than in settings: LOGGING is configured only after settings load.
        logger.info(
            "BACnet backend %s: %s", settings.BACNET_BACKEND, settings.BACNET_BACKEND_REASON
        )
