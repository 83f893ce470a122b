from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "bms.alarms"
    label = "alarms"
    verbose_name = "Alarms and events"
