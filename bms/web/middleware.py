"""Request middleware of the web layer."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from bms.devices.config_audit import acting_for


class ConfigAuditActorMiddleware:
    """Configuration changes audited while a request is served name its user and address
    (the API's Bearer authentication sets request.user later: it is read when a row is made)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting_for(request):
            return self.get_response(request)
