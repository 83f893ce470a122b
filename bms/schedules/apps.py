from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    name = "bms.schedules"
    label = "schedules"
    verbose_name = "Schedules and calendars (served by the BMS device)"
