from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "bms.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the sign-in log receivers; starts nothing.
        from bms.accounts import signins  # noqa: F401
