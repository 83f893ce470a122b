"""A user's own API tokens: issue one (shown once), list them, revoke one."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from bms.accounts.models import ApiToken
from bms.web.forms import TokenForm


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        _row, issued = ApiToken.issue(_user(request), form.cleaned_data["name"])
        form = TokenForm()
    status = 400 if request.method == "POST" and issued is None else 200
    return render(
        request,
        "web/tokens.html",
        {
            "tokens": ApiToken.objects.filter(user=_user(request)),
            "form": form,
            "issued": issued,
        },
        status=status,
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Someone else's token is a 404, not a 403: its existence is none of the caller's business.
    get_object_or_404(ApiToken, pk=pk, user=_user(request)).delete()
    return redirect("web:tokens")


def _user(request: HttpRequest) -> User:
    """The signed-in user (login_required has already turned everyone else away)."""
    if not isinstance(request.user, User):
        raise PermissionDenied("sign in first")
    return request.user
