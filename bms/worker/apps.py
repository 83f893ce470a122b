from django.apps import AppConfig


class WorkerConfig(AppConfig):
    """The BACnet worker's commands. ready() starts nothing: only `bacnet_worker` opens sockets."""

    name = "bms.worker"
    label = "worker"
