"""Users and roles in the pages, for admins only: list, create (with Django's password
validators), change role, deactivate, reset a password; each change in the audit log."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from bms.accounts.roles import role_of
from bms.devices.models import ConfigAudit
from tests.web.fixtures import PASSWORD, signed_in

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a long and unusual passphrase 42"  # test account


def can_sign_in(username: str, password: str) -> bool:
    """Through the sign-in page, as a person would (axes needs the request)."""
    response = Client().post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


@pytest.fixture
def admin_client(admin_user):
    return signed_in(admin_user)


def test_viewers_and_operators_get_403_on_every_user_page(viewer_client, operator_client, viewer):
    gets = [reverse("web:users"), reverse("web:user", args=[viewer.id])]
    posts = [
        (reverse("web:user_create"), {"username": "x", "role": "admin", "password": NEW_PASSWORD}),
        (reverse("web:user_role", args=[viewer.id]), {"role": "admin"}),
        (reverse("web:user_active", args=[viewer.id]), {}),
        (reverse("web:user_password", args=[viewer.id]), {"password": NEW_PASSWORD}),
    ]
    for client in (viewer_client, operator_client):
        for url in gets:
            assert client.get(url).status_code == 403, url
        for url, data in posts:
            assert client.post(url, data).status_code == 403, url
    assert role_of(User.objects.get(username="vera")) == "viewer"
    assert not User.objects.filter(username="x").exists()


def test_the_users_link_is_only_in_an_admins_menu(admin_client, operator_client):
    assert reverse("web:users") in admin_client.get(reverse("web:devices")).content.decode()
    assert reverse("web:users") not in operator_client.get(reverse("web:devices")).content.decode()


def test_an_admin_creates_a_user_who_can_sign_in_with_that_role(admin_client):
    response = admin_client.post(
        reverse("web:user_create"),
        {"username": "olga", "role": "operator", "password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    olga = User.objects.get(username="olga")
    assert role_of(olga) == "operator"
    assert can_sign_in("olga", NEW_PASSWORD)
    assert 'data-username="olga"' in admin_client.get(reverse("web:users")).content.decode()
    audit = ConfigAudit.objects.get(action="user_created", target="user olga")
    assert (audit.who, audit.target, audit.after) == (
        "ada",
        "user olga",
        {"role": "operator", "active": True},
    )


def test_a_weak_password_or_a_taken_name_is_refused_with_the_reason(admin_client, viewer):
    weak = admin_client.post(
        reverse("web:user_create"), {"username": "sam", "role": "viewer", "password": "short"}
    )
    assert weak.status_code == 400
    assert "too short" in weak.content.decode()
    taken = admin_client.post(
        reverse("web:user_create"),
        {"username": "vera", "role": "viewer", "password": NEW_PASSWORD},
        HTTP_ACCEPT="application/json",
    )
    assert taken.status_code == 400
    assert taken.json()["error"] == "there is already a user 'vera'"
    assert not User.objects.filter(username="sam").exists()


def test_an_admin_changes_a_role_and_the_audit_says_from_what_to_what(admin_client, viewer):
    response = admin_client.post(reverse("web:user_role", args=[viewer.id]), {"role": "operator"})
    assert response.status_code == 302
    assert role_of(User.objects.get(id=viewer.id)) == "operator"
    audit = ConfigAudit.objects.get(action="user_changed")
    assert (audit.who, audit.before, audit.after) == (
        "ada",
        {"role": "viewer"},
        {"role": "operator"},
    )


def test_a_deactivated_user_can_no_longer_sign_in_and_is_activated_again(admin_client, viewer):
    admin_client.post(reverse("web:user_active", args=[viewer.id]))
    assert not User.objects.get(id=viewer.id).is_active
    assert not can_sign_in("vera", PASSWORD)
    admin_client.post(reverse("web:user_active", args=[viewer.id]), {"active": "on"})
    assert can_sign_in("vera", PASSWORD)
    changes = ConfigAudit.objects.filter(action="user_changed").order_by("time")
    assert [(c.before, c.after) for c in changes] == [
        ({"active": True}, {"active": False}),
        ({"active": False}, {"active": True}),
    ]


def test_a_password_reset_is_validated_and_audited_without_the_password(admin_client, viewer):
    weak = admin_client.post(reverse("web:user_password", args=[viewer.id]), {"password": "vera"})
    assert weak.status_code == 400
    assert can_sign_in("vera", PASSWORD)
    admin_client.post(reverse("web:user_password", args=[viewer.id]), {"password": NEW_PASSWORD})
    assert can_sign_in("vera", NEW_PASSWORD)
    audit = ConfigAudit.objects.get(action="password_reset")
    assert (audit.who, audit.target, audit.before, audit.after) == ("ada", "user vera", None, None)


def test_the_last_admin_can_be_neither_demoted_nor_deactivated(admin_client, admin_user):
    demote = admin_client.post(
        reverse("web:user_role", args=[admin_user.id]),
        {"role": "viewer"},
        HTTP_ACCEPT="application/json",
    )
    assert demote.status_code == 400
    assert "last active admin" in demote.json()["error"]
    assert role_of(User.objects.get(id=admin_user.id)) == "admin"
    own = admin_client.post(
        reverse("web:user_active", args=[admin_user.id]), HTTP_ACCEPT="application/json"
    )
    assert own.status_code == 400
    assert User.objects.get(id=admin_user.id).is_active


def test_an_unknown_user_or_role_is_a_404_or_a_400(admin_client, viewer):
    assert admin_client.get(reverse("web:user", args=[999])).status_code == 404
    bad = admin_client.post(reverse("web:user_role", args=[viewer.id]), {"role": "root"})
    assert bad.status_code == 400
