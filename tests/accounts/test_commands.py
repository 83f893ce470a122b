"""The account commands refuse passwords Django's validators refuse, naming the reason, and
change nothing when they do."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "too short"),
        ("password123", "too common"),
        ("4815162342", "entirely numeric"),
        ("alice-the-operator", "too similar to the username"),
    ],
)
def test_createuser_refuses_a_weak_password_and_creates_no_one(password, reason):
    with pytest.raises(CommandError, match=reason):
        call_command(
            "bms_createuser",
            "--username",
            "alice-the-operator",
            "--role",
            "operator",
            "--password",
            password,
        )
    assert not User.objects.filter(username="alice-the-operator").exists()


def test_createadmin_refuses_a_weak_password_and_keeps_the_old_one():
    call_command("bms_createadmin", "--username", "root", "--password", "a sound old passphrase")
    with pytest.raises(CommandError, match="too short"):
        call_command("bms_createadmin", "--username", "root", "--password", "short")
    assert User.objects.get(username="root").check_password("a sound old passphrase")


def test_createuser_accepts_a_sound_password(capsys):
    call_command(
        "bms_createuser",
        "--username",
        "alice",
        "--role",
        "viewer",
        "--password",
        "a sound passphrase",
    )
    assert User.objects.get(username="alice").check_password("a sound passphrase")
    assert "viewer alice created" in capsys.readouterr().out
