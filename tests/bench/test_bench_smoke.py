"""Each benchmark runs in its tiny --quick configuration and prints its one JSON line.

Speed is never asserted here (benchmarks measure it); this only keeps the scripts working.
They run side by side (about 3-4 minutes on the shared 2-core machine with cov.py, whose quick
run alone takes ~75 s of fixed costs: a database, daphne, four manage.py calls); each is bounded
by its own timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_services

ROOT = Path(__file__).resolve().parents[2]
QUICK = {
    "engine": ["--quick"],
    "read_path": ["--quick"],
    "polling": ["--quick"],
    "discovery": ["--quick"],
    "external_writes": ["--quick"],
    "memory": ["--quick"],
    "soak": ["--quick", "--seconds", "4"],
    "fuzz": ["--quick"],
    "cov": ["--quick"],
    "alarms": ["--quick"],
    "history": ["--quick"],
    "readrange": ["--quick"],
}


def _services_up() -> bool:
    import psycopg

    try:
        psycopg.connect("postgres://postgres@127.0.0.1:5432/test", connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_it_runs_every_benchmark_quickly_and_prints_one_json_line() -> None:
    if not _services_up():
        if require_services():
            pytest.fail("PostgreSQL is not reachable")
        pytest.skip("PostgreSQL is not reachable")
    running = {
        name: subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / f"{name}.py"), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in QUICK.items()
    }
    failures = []
    for name, proc in running.items():
        try:
            out, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            failures.append(f"{name}: timed out\n{err[-1500:]}")
            continue
        lines = [line for line in out.splitlines() if line.startswith('{"bench"')]
        if proc.returncode != 0 or len(lines) != 1:
            failures.append(
                f"{name}: exit {proc.returncode}, {len(lines)} JSON lines\n{err[-1500:]}"
            )
            continue
        assert json.loads(lines[0])["bench"] == name
        assert json.loads(lines[0])["quick"] is True
    assert not failures, "\n\n".join(failures)
