from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "bms.profiles"
    label = "profiles"
    verbose_name = "Device profiles and engineering data (EDE)"
