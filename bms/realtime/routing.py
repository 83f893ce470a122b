from django.urls import path

from bms.realtime.consumers import LiveConsumer, VirtualDeviceConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    path("ws/virtual-devices/", VirtualDeviceConsumer.as_asgi()),
]
