from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "bms.realtime"
    label = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Listen to the domain apps' change signals (wiring only: no sockets, no queries)."""
        from bms.realtime import receivers  # models are ready only now

        receivers.connect()
