from django.apps import AppConfig


class VirtualConfig(AppConfig):
    name = "bms.virtual"
    label = "virtual"
    verbose_name = "Virtual BACnet devices"
