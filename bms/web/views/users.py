"""Users and roles, for admins: list, create, change role, (de)activate, reset a password.
Viewers and operators get 403. The rules and the audit are bms.accounts.users'."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bms.accounts import users
from bms.accounts.roles import ADMIN, has_role
from bms.web.forms import first_error
from bms.web.user_forms import ActiveForm, NewUserForm, PasswordForm, RoleForm
from bms.web.views.common import done, refused


def admin_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in with the admin role; anyone else gets 403 with a reason."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_role(request.user, ADMIN):
            raise PermissionDenied("Managing users needs the admin role.")
        return view(request, *args, **kwargs)

    return login_required(checked)


@admin_only
def user_list(request: HttpRequest) -> HttpResponse:
    accounts = User.objects.prefetch_related("groups").order_by("username")
    return render(
        request,
        "web/users.html",
        {
            "accounts": [(user, users.granted_role(user)) for user in accounts],
            "form": NewUserForm(),
        },
    )


@admin_only
@require_POST
def user_create(request: HttpRequest) -> HttpResponse:
    back = reverse("web:users")
    form = NewUserForm(request.POST)
    if not form.is_valid():
        return refused(request, first_error(form), back)
    data = form.cleaned_data
    try:
        user = users.create_user(data["username"], data["password"], data["role"], by=_me(request))
    except users.UserRefused as exc:
        return refused(request, str(exc), back)
    return done(request, f"User {user.username} created ({data['role']})", back)


@admin_only
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    role = users.granted_role(user)
    return render(
        request,
        "web/user_detail.html",
        {
            "account": user,
            "account_role": role,
            "role_form": RoleForm(initial={"role": role}),
            "password_form": PasswordForm(),
        },
    )


@admin_only
@require_POST
def user_role(request: HttpRequest, pk: int) -> HttpResponse:
    user, back = _account(pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return refused(request, first_error(form), back)
    return _changed(
        request,
        lambda: users.change_role(user, form.cleaned_data["role"], by=_me(request)),
        f"{user.username} is now {form.cleaned_data['role']}",
        back,
    )


@admin_only
@require_POST
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    user, back = _account(pk)
    form = ActiveForm(request.POST)
    form.is_valid()  # a missing box means "deactivate": nothing here can be invalid
    active = bool(form.cleaned_data.get("active"))
    return _changed(
        request,
        lambda: users.set_active(user, active, by=_me(request)),
        f"{user.username} {'activated' if active else 'deactivated'}",
        back,
    )


@admin_only
@require_POST
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    user, back = _account(pk)
    form = PasswordForm(request.POST)
    if not form.is_valid():
        return refused(request, first_error(form), back)
    return _changed(
        request,
        lambda: users.reset_password(user, form.cleaned_data["password"], by=_me(request)),
        f"Password of {user.username} reset",
        back,
    )


def _account(pk: int) -> tuple[User, str]:
    return get_object_or_404(User, pk=pk), reverse("web:user", args=[pk])


def _changed(
    request: HttpRequest, change: Callable[[], None], message: str, back: str
) -> HttpResponse:
    try:
        change()
    except users.UserRefused as exc:
        return refused(request, str(exc), back)
    return done(request, message, back)


def _me(request: HttpRequest) -> str:
    return str(request.user.get_username())
