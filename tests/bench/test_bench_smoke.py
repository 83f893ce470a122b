"""Each benchmark runs in its tiny --quick configuration and prints its one JSON line.

Speed is never asserted here (benchmarks measure it); this only keeps the scripts working.
They run four at a time (cov.py's quick run alone takes ~75 s of fixed costs: a database,
daphne, four manage.py calls); each is bounded by its own timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import require_services

ROOT = Path(__file__).resolve().parents[2]
# Longest first (seconds alone, --quick, on the 2-core CI machine): started last, cov.py's
# quick run was the tail the others had finished before.
QUICK = {
    "cov": ["--quick"],  # ~33 s
    "external_writes": ["--quick"],  # ~17
    "polling": ["--quick"],  # ~16
    "memory": ["--quick"],  # ~16
    "alarms": ["--quick"],  # ~16
    "soak": ["--quick", "--seconds", "4"],  # ~15
    "engine": ["--quick"],  # ~14
    "read_path": ["--quick"],  # ~13
    "discovery": ["--quick"],  # ~12
    "history": ["--quick"],  # ~11
    "readrange": ["--quick"],  # ~8
    "fuzz": ["--quick"],  # ~1
}


def _services_up() -> bool:
    import psycopg

    try:
        psycopg.connect("postgres://postgres@127.0.0.1:5432/test", connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


AT_ONCE = 4  # twelve side by side on two cores timed each other out; four keep the cores busy


def _run(name: str, args: list[str]) -> str | None:
    """Run one benchmark quickly; None when it printed its one JSON line, else what went wrong."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return f"{name}: timed out\n{err[-1500:]}"
    lines = [line for line in out.splitlines() if line.startswith('{"bench"')]
    if proc.returncode != 0 or len(lines) != 1:
        return f"{name}: exit {proc.returncode}, {len(lines)} JSON lines\n{err[-1500:]}"
    result = json.loads(lines[0])
    if result["bench"] != name or result["quick"] is not True:
        return f"{name}: printed {lines[0][:200]}"
    return None


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_it_runs_every_benchmark_quickly_and_prints_one_json_line() -> None:
    if not _services_up():
        if require_services():
            pytest.fail("PostgreSQL is not reachable")
        pytest.skip("PostgreSQL is not reachable")
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        outcomes = list(pool.map(lambda item: _run(*item), QUICK.items()))
    failures = [outcome for outcome in outcomes if outcome is not None]
    assert not failures, "\n\n".join(failures)
