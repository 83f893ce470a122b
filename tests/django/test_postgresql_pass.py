"""Run the whole Django suite a second time, on PostgreSQL, from the one `pytest` run CI makes.

Why a subprocess: Django binds the database at setup, once per process, and the queue's claim
takes a different path per database (SKIP LOCKED vs a conditional UPDATE). Rerunning the same
tests with DATABASE_URL pointing at PostgreSQL covers both paths with identical test code; a
second DATABASES alias would instead need `.using()` threaded through every function under test.
PostgreSQL-only tests (fixture `on_postgresql`) skip in the SQLite pass and run here.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_django_suite_passes_on_postgresql(postgres_url):
    if connection.vendor == "postgresql":
        pytest.skip("this already is the PostgreSQL pass")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/django",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--ignore={Path(__file__).relative_to(ROOT)}",
    ]
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        command,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": postgres_url},
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert " passed" in summary and "failed" not in summary, summary
    print(f"PostgreSQL pass: {summary}")
