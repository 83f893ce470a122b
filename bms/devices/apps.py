from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "bms.devices"
    label = "devices"
    verbose_name = "BACnet devices"
