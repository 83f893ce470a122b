"""The REST API: one NinjaAPI, its routers, and errors that always say what was wrong.

No request a client can send is answered 500: what the services refuse is a 400 or 409 with
their reason; input that does not fit the schema is a 422 listing where; and as a safety net,
a database or model error that escapes a service becomes a 4xx too, logged at ERROR with its
traceback, because it means a check is missing in front of it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as ModelValidationError
from django.db import DataError, IntegrityError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from bms.api import (
    alarm_config,
    alarms,
    calendars,
    devices,
    engineering,
    history,
    profiles,
    schedules,
    tasks,
    virtual,
)
from bms.api.auth import API_AUTH, session_or_token
from bms.api.responses import with_too_large
from bms.profiles.services import ProfileConflict, ProfileError
from bms.schedules.records import ScheduleConflict, ScheduleError, UnknownObject
from bms.tasks.submission import Refused
from bms.virtual.services import Conflict, VirtualDeviceError
from bms.virtual.templates import UnknownTemplate

logger = logging.getLogger(__name__)


class BmsAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        return with_too_large(super().get_openapi_schema(**kwargs))


api = BmsAPI(
    title="BMS API",
    version="1",
    # Swagger UI renders the description as Markdown: its first line is the way back to the app.
    description="[← Back to BMS](/)\n\n"
    "BACnet devices, points, readings, tasks and virtual devices. "
    "Authenticate with `Authorization: Bearer <token>` (manage.py bms_token) or a session. "
    "Errors: `{detail}` with a reason; 422 adds the list of what did not fit the schema.",
    auth=API_AUTH,
    # The schema and its page need a session or a token, like the API: an anonymous scanner
    # learns nothing, and a script with a token can read the schema it is calling.
    docs_decorator=session_or_token,
    urls_namespace="api",
)
api.add_router("/", devices.router)
api.add_router("/", tasks.router)
api.add_router("/", virtual.router)
api.add_router("/", history.router)
api.add_router("/", alarms.router)
api.add_router("/", alarm_config.router)
api.add_router("/", schedules.router)
api.add_router("/", calendars.router)
api.add_router("/", profiles.router)
api.add_router("/", engineering.router)


@api.exception_handler(Refused)
def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=400)


@api.exception_handler(VirtualDeviceError)
@api.exception_handler(UnknownTemplate)
def virtual_refused(request: HttpRequest, exc: ValueError) -> HttpResponse:
    """What the virtual-device services refuse: 400 with their reason; a taken device id,
    object name or object identifier is a conflict (409)."""
    status = 409 if isinstance(exc, Conflict) else 400
    return api.create_response(request, {"detail": str(exc)}, status=status)


@api.exception_handler(ProfileError)
def profile_refused(request: HttpRequest, exc: ProfileError) -> HttpResponse:
    """What the profile services refuse (an EDE file's line included): 400; a taken name or a
    profile in use: 409."""
    status = 409 if isinstance(exc, ProfileConflict) else 400
    return api.create_response(request, {"detail": str(exc)}, status=status)


@api.exception_handler(ScheduleError)
def schedule_refused(request: HttpRequest, exc: ScheduleError) -> HttpResponse:
    """What the schedule and calendar services refuse: 400 with the reason; a taken instance
    or name, or a calendar a schedule uses: 409; a target that does not exist: 404."""
    status = (
        409 if isinstance(exc, ScheduleConflict) else 404 if isinstance(exc, UnknownObject) else 400
    )
    return api.create_response(request, {"detail": str(exc)}, status=status)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """422 with ninja's list of errors plus one readable sentence for people and logs."""
    return unprocessable(request, exc.errors)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja's `{detail}`; a 422 takes the shape of every other 422."""
    if exc.status_code == 422:
        return unprocessable(request, [{"loc": [], "msg": str(exc), "type": "value_error"}])
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


def unprocessable(request: HttpRequest, errors: list[dict[str, Any]]) -> HttpResponse:
    summary = "; ".join(_describe(error) for error in errors)
    return api.create_response(request, {"detail": errors, "message": summary}, status=422)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
    what = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {what}" if where else what


# The safety net -------------------------------------------------------------------------------


@api.exception_handler(IntegrityError)
def conflict(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    _missed_check(request, exc)
    return api.create_response(
        request, {"detail": "this conflicts with what is stored; nothing was changed"}, status=409
    )


@api.exception_handler(DataError)
@api.exception_handler(ModelValidationError)
def unstorable(request: HttpRequest, exc: Exception) -> HttpResponse:
    _missed_check(request, exc)
    reason = "; ".join(exc.messages) if isinstance(exc, ModelValidationError) else str(exc)
    error = {"loc": [], "msg": f"the database cannot store this: {reason}", "type": "data_error"}
    return unprocessable(request, [error])


def _missed_check(request: HttpRequest, exc: Exception) -> None:
    """Not the client's fault alone: the input should have been refused before the database."""
    logger.error(
        "%s %s reached the database unchecked: %s",
        request.method,
        request.path,
        exc,
        exc_info=exc,
    )
