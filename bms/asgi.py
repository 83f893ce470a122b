"""ASGI entry point for daphne: HTTP now; the web engineer adds the websocket routes here."""

import os

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bms.settings")
# Set up Django before anything imports models (websocket consumers will).
django_asgi_app = get_asgi_application()

application = ProtocolTypeRouter({"http": django_asgi_app})
