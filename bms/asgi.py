"""ASGI entry point for daphne: HTTP, and websockets for signed-in users from allowed hosts.

Request bodies are bounded (settings.MAX_REQUEST_BYTES) before they are buffered: in daphne's own
request class, which would otherwise read any body whole before the app sees it, and as ASGI
middleware for any other server (bms.bodylimit).
"""

import os

import daphne.http_protocol
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bms.settings")
# Set up Django before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from bms.bodylimit import BodyLimitMiddleware, bounded_web_request  # noqa: E402
from bms.realtime.routing import websocket_urlpatterns  # noqa: E402

# daphne builds each connection's request from this module attribute (HTTPFactory.buildProtocol)
# and offers no other hook; its server starts after it has imported this module.
daphne.http_protocol.WebRequest = bounded_web_request(settings.MAX_REQUEST_BYTES)  # type: ignore[misc]

application = ProtocolTypeRouter(
    {
        "http": BodyLimitMiddleware(django_asgi_app, settings.MAX_REQUEST_BYTES),
        # The origin check stops another site's page from opening a socket with our cookies.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
