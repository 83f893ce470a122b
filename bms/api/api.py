"""The REST API: one NinjaAPI, its routers, and errors that always say what was wrong."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import ValidationError

from bms.api import devices, tasks, virtual
from bms.api.auth import API_AUTH
from bms.tasks.submission import Refused
from bms.virtual.services import DuplicateObject, VirtualDeviceError
from bms.virtual.templates import UnknownTemplate

api = NinjaAPI(
    title="BMS API",
    version="1",
    description="BACnet devices, points, readings, tasks and virtual devices. "
    "Authenticate with `Authorization: Bearer <token>` (manage.py bms_token) or a session.",
    auth=API_AUTH,
    docs_decorator=login_required,
    urls_namespace="api",
)
api.add_router("/", devices.router)
api.add_router("/", tasks.router)
api.add_router("/", virtual.router)


@api.exception_handler(Refused)
def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=400)


@api.exception_handler(VirtualDeviceError)
@api.exception_handler(UnknownTemplate)
def virtual_refused(request: HttpRequest, exc: ValueError) -> HttpResponse:
    """What the virtual-device services refuse: 400 with their reason; a taken name or
    object identifier is a conflict (409)."""
    status = 409 if isinstance(exc, DuplicateObject) else 400
    return api.create_response(request, {"detail": str(exc)}, status=status)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """422 with ninja's list of errors plus one readable sentence for people and logs."""
    summary = "; ".join(_describe(error) for error in exc.errors)
    return api.create_response(request, {"detail": exc.errors, "message": summary}, status=422)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))
