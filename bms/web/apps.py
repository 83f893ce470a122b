from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "bms.web"
    label = "web"
