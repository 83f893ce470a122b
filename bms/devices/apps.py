from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "bms.devices"
    label = "devices"
    verbose_name = "BACnet devices"

    def ready(self) -> None:
        # Connects the configuration audit's model-signal receivers; opens nothing.
        from bms.devices import config_audit

        config_audit.connect()
