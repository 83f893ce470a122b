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

# The new token travels to the page after the redirect in the session (server-side, signed
# cookie id) and is removed the first time that page shows it.
ISSUED_KEY = "issued_token"


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """Issue a token on POST, then redirect (POST-redirect-GET): reloading the page shows the
    list, and the new token once, but never issues a second token."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _row, issued = ApiToken.issue(_user(request), form.cleaned_data["name"])
        request.session[ISSUED_KEY] = issued
        return redirect("web:tokens")
    return render(
        request,
        "web/tokens.html",
        {
            "tokens": ApiToken.objects.filter(user=_user(request)),
            "form": form,
            "issued": request.session.pop(ISSUED_KEY, None),
        },
        status=400 if request.method == "POST" else 200,
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
