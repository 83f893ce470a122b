"""What every page view shares: role checks and answering forms posted by fetch or by hand."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from bms.accounts.roles import can_operate


def operator_action(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """POST only, signed in, operator role; viewers get 403 with a reason."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_operate(request.user):
            raise PermissionDenied("This needs the operator role; your account can only read.")
        return view(request, *args, **kwargs)

    return login_required(require_POST(checked))


def wants_json(request: HttpRequest) -> bool:
    """Pages post forms with fetch and ask for JSON; a form posted without JS gets pages."""
    return "application/json" in request.headers.get("Accept", "")


def done(request: HttpRequest, message: str, to: str, **data: Any) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(
            {"ok": True, "message": message, **data}, status=202 if "task_id" in data else 200
        )
    messages.success(request, message)
    return redirect(to)


def refused(request: HttpRequest, message: str, back: str) -> HttpResponse:
    """400 with the reason: as JSON for fetch, as a short page (with a way back) otherwise."""
    if wants_json(request):
        return JsonResponse({"ok": False, "error": message}, status=400)
    return render(request, "web/refused.html", {"message": message, "back": back}, status=400)
