"""`make run` (bms.run): the steps it takes on a fresh ./var, and the README's commands against
the instance it leaves behind. Each step runs manage.py as a real subprocess, as `make run` does."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bms import run
from tests.make_run import ROOT, bms, make_var, shell_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def made_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ./var as `make run` leaves it: its kept secret key and a migrated database."""
    var = tmp_path_factory.mktemp("make_run") / "var"
    make_var(var)
    return var


def test_generated_secrets_never_start_with_a_dash():
    # One in 64 of token_urlsafe's values start with "-"; 2,000 draws miss all of them with
    # probability (63/64)**2000, about 2e-14.
    assert not [s for s in (run.new_secret() for _ in range(2000)) if s.startswith("-")]


def test_kept_secrets_are_private_and_survive_restarts(tmp_path):
    first = run.kept_secret(tmp_path / "var", "secret_key")
    assert run.kept_secret(tmp_path / "var", "secret_key") == first
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_an_admin_password_starting_with_a_dash_is_set_not_read_as_an_option(made_var):
    password = "-9wiQx3_dash-first-password-kept-in-var"  # a test account
    env = {**shell_env(made_var), "SECRET_KEY": (made_var / "secret_key").read_text()}
    asyncio.run(run.create_admin(env, password))
    check = bms(
        made_var,
        "shell",
        "-c",
        "from django.contrib.auth.models import User;"
        f"print(User.objects.get(username='admin').check_password({password!r}))",
    )
    assert check.stdout.strip().splitlines()[-1] == "True", check.stderr


def test_readme_commands_work_on_the_make_run_instance_without_a_secret_key(made_var):
    listed = bms(made_var, "bacnet_virtual", "list")
    assert listed.returncode == 0, listed.stderr
    created = bms(
        made_var,
        "bms_createuser",
        "--username",
        "alice",
        "--role",
        "operator",
        BMS_PASSWORD="a long enough passphrase for alice",  # a test account
    )
    assert (created.returncode, created.stdout.strip()) == (0, "operator alice created")
    token = bms(made_var, "bms_token", "--username", "alice")
    assert token.returncode == 0, token.stderr
    assert token.stdout.startswith("bms_"), token.stderr


def test_a_deployment_database_still_needs_its_own_secret_key(made_var):
    result = bms(made_var, "check", DATABASE_URL="postgres://bms@127.0.0.1:1/bms")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_make_run_starts_without_django_settings(tmp_path):
    """`python -m bms.run` imports nothing that needs configured settings before it sets them."""
    result = subprocess.run(  # our interpreter, our code
        [sys.executable, "-c", "import bms.run"],
        cwd=ROOT,
        env=shell_env(tmp_path / "var"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_child_killed_with_kill_9_is_started_again_after_a_growing_delay(capsys):
    """make run's supervisor starts a child again when it dies (a crash, kill -9), each time
    after a longer delay, and stops cleanly on its stop signal."""

    async def scenario() -> tuple[int, list[int]]:
        env = dict(os.environ)
        args = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"]
        children = [await run.start("worker", args, env, "ready")]
        watchers = {asyncio.create_task(run.forward_output(children[0]), name="output")}
        stop = asyncio.Event()
        backoff = run.Backoff(first=0.2, longest=0.4)
        supervisor = asyncio.create_task(
            run.supervise(children, stop, env, watchers, backoff), name="supervise"
        )
        pids = []
        try:
            for _kill in range(3):
                child = children[0]
                async with asyncio.timeout(20):
                    await child.ready.wait()
                pids.append(child.process.pid)
                child.process.kill()
                while children[0] is child:  # until the supervisor has started it again
                    await asyncio.sleep(0.05)
            async with asyncio.timeout(20):
                await children[0].ready.wait()
            pids.append(children[0].process.pid)
            stop.set()
            status = await supervisor
        finally:
            await run.stop_all(children)
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        return status, pids

    status, pids = asyncio.run(scenario())
    assert status == 0
    assert len(set(pids)) == 4  # a new process each time
    out = capsys.readouterr().out
    delays = [line for line in out.splitlines() if "exited with" in line]
    assert delays == [
        "bms: worker exited with -9; starting it again in 0.2 s",
        "bms: worker exited with -9; starting it again in 0.4 s",
        "bms: worker exited with -9; starting it again in 0.4 s",  # bounded
    ]
    assert out.count("bms: worker started again (pid") == 3
    assert "bms: stopping" in out


def test_a_child_that_ran_long_enough_starts_again_after_the_first_delay():
    backoff = run.Backoff(first=1.0, longest=30.0, stable_after=60.0)
    child = run.Child("worker", process=None)  # type: ignore[arg-type]
    assert [child.restart_delay(backoff) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    child.started_at -= 61  # this run lasted a minute
    assert child.restart_delay(backoff) == 1
