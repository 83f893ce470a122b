"""Roles, the account commands, and API tokens."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.management import CommandError, call_command

from bms.accounts.models import ApiToken
from bms.accounts.roles import can_operate, role_of
from tests.web.fixtures import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_role_groups_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "operator", "admin"}


def test_roles_rank_admin_over_operator_over_viewer(viewer, operator, admin_user):
    assert [role_of(u) for u in (viewer, operator, admin_user)] == ["viewer", "operator", "admin"]
    assert [can_operate(u) for u in (viewer, operator, admin_user)] == [False, True, True]
    assert role_of(AnonymousUser()) is None


def test_a_user_without_a_group_only_reads():
    user = User.objects.create_user("nobody", password="x")
    assert role_of(user) == "viewer"
    assert not can_operate(user)


def test_createadmin_is_idempotent_and_updates_the_password(capsys):
    call_command("bms_createadmin", "--username", "root", "--password", "first passphrase")
    call_command("bms_createadmin", "--username", "root", "--password", "second passphrase")
    user = User.objects.get(username="root")
    assert User.objects.filter(username="root").count() == 1
    assert user.check_password("second passphrase")
    assert user.is_superuser
    assert user.is_staff
    assert role_of(user) == "admin"
    assert "admin root updated" in capsys.readouterr().out


def test_createadmin_without_a_password_fails_clearly(monkeypatch):
    monkeypatch.delenv("BMS_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="--password"):
        call_command("bms_createadmin", "--username", "root")


def test_createadmin_reads_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("BMS_PASSWORD", "from-env")
    call_command("bms_createadmin", "--username", "root")
    assert User.objects.get(username="root").check_password("from-env")


def test_createuser_gives_exactly_one_role(capsys):
    call_command("bms_createuser", "--username", "op", "--password", PASSWORD, "--role", "operator")
    call_command("bms_createuser", "--username", "op", "--password", PASSWORD, "--role", "viewer")
    assert role_of(User.objects.get(username="op")) == "viewer"


def test_bms_token_prints_a_token_that_authenticates_only_by_its_hash(operator, capsys):
    call_command("bms_token", "--username", "otto", "--name", "script")
    token = capsys.readouterr().out.strip()
    assert token.startswith("bms_")
    assert not ApiToken.objects.filter(key_hash=token).exists()
    assert ApiToken.user_for(token) == operator
    assert ApiToken.user_for(token + "x") is None


def test_a_token_of_a_deactivated_user_stops_working(operator, operator_token):
    operator.is_active = False
    operator.save()
    assert ApiToken.user_for(operator_token) is None


def test_bms_token_for_an_unknown_user_fails():
    with pytest.raises(CommandError, match="no user"):
        call_command("bms_token", "--username", "ghost")
