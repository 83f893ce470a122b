from django.apps import AppConfig


class WorkerConfig(AppConfig):
    """The BACnet worker's commands. ready() starts nothing: only `bacnet_worker` opens sockets."""

    name = "bms.worker"
    label = "worker"

    def ready(self) -> None:
        # Wiring only: registers the BACNET_* system checks.
        from bms.worker import checks  # noqa: F401
