from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "bms.tasks"
    label = "tasks"
    verbose_name = "BACnet tasks"
