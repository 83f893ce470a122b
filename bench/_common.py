"""Shared plumbing for the benchmarks: ports, subprocesses, databases, tables and the JSON line.

Every benchmark prints a human table and then exactly ONE line of JSON (starting with
`{"bench": ...`) that tests/bench and scripts parse. Baselines are measured in the same run and
reported as ratios next to the absolute figures, because the machine is shared and noisy.

Everything binds 127.0.0.0/8 only; every subprocess is started with a hard time limit of its own
(`--max-seconds`) and is stopped by us with SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
POSTGRES_ADMIN_URL = os.environ.get(
    "BMS_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BMS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


class BenchError(RuntimeError):
    """A benchmark could not run as set up (a peer did not start, a client failed...)."""


# ---- addresses ----------------------------------------------------------------------------


def free_udp_port() -> int:
    """A UDP port free on 127.0.0.1 now; every host of one benchmark shares it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_loopback(host: str) -> str:
    if not ipaddress.IPv4Address(host).is_loopback:
        raise BenchError(f"{host} is not a loopback address; benchmarks stay on 127.0.0.0/8")
    return host


# ---- arguments ----------------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny and fast (smoke tests)")
    p.add_argument("--keep-logs", action="store_true", help="keep subprocess logs")
    return p


# ---- subprocesses -------------------------------------------------------------------------


class Proc:
    """A subprocess with its output in a log file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self, name: str, args: Sequence[str], logdir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self._log = self.log_path.open("w")
        self.popen = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=env or child_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.output()[-3000:]
        raise BenchError(f"{self.name}: {needle!r} not printed within {timeout}s:\n{tail}")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 15.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if self.popen.stdin is not None:
            self.popen.stdin.close()
        self._log.close()
        return self.popen.returncode


class Processes(contextlib.AbstractContextManager["Processes"]):
    """Starts subprocesses into one log directory and stops them all (last first) on exit."""

    def __init__(self, keep_logs: bool = False) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bms-bench-")
        self.logdir = Path(self._tmp.name)
        self.keep_logs = keep_logs
        self._procs: list[Proc] = []

    def start(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> Proc:
        proc = Proc(f"{name}-{len(self._procs)}", args, self.logdir, env)
        self._procs.append(proc)
        return proc

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self._procs):
            proc.stop()
        if self.keep_logs:
            kept = Path(tempfile.mkdtemp(prefix="bms-bench-logs-"))
            for log in self.logdir.iterdir():
                log.rename(kept / log.name)
            print(f"logs kept in {kept}", file=sys.stderr)
        self._tmp.cleanup()


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACNET_", "DJANGO_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_json(
    args: Sequence[str], timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run a helper that prints one JSON object as its last stdout line; return it."""
    done = subprocess.run(
        list(args),
        cwd=ROOT,
        env=env or child_env(),
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(
            f"{' '.join(args[:4])}... exited {done.returncode}:\n"
            f"{done.stderr[-3000:]}\n{done.stdout[-1000:]}"
        )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise BenchError(f"no JSON line from {' '.join(args[:4])}...:\n{done.stdout[-2000:]}")


def peer_cmd(*args: str) -> list[str]:
    """Command line of the bench/_peers.py helper (servers and load clients)."""
    return [PYTHON, str(ROOT / "bench" / "_peers.py"), *args]


# ---- Django and databases -----------------------------------------------------------------


def django_env(database_url: str, **extra: str) -> dict[str, str]:
    env = child_env(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-only",
        BACNET_BACKEND="native",
        DJANGO_SETTINGS_MODULE="bms.settings",
        BACNET_TIMEOUT="3.0",
    )
    env.pop("REDIS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    env.update(extra)
    return env


def manage(
    database_url: str, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=timeout,
        env=django_env(database_url, **env),
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


@contextlib.contextmanager
def postgres_database(prefix: str = "bms_bench") -> Iterator[str]:
    """A fresh PostgreSQL database (URL), dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sql(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
            return db.execute(query.replace("%s", "?"), params).fetchall()
    import psycopg

    with psycopg.connect(database_url) as db:
        return db.execute(query, params).fetchall()


# ---- numbers and output -------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return round(float(statistics.median(values)), 1) if values else float("nan")


def ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 3) if baseline else float("nan")


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def emit(bench: str, quick: bool, **fields: Any) -> None:
    """The ONE JSON line of a benchmark run."""
    line = {
        "bench": bench,
        "quick": quick,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpus": os.cpu_count(),
        **fields,
    }
    print(json.dumps(line, sort_keys=False, default=str), flush=True)


# ---- the product's processes ------------------------------------------------------------------


def migrated_sqlite(logdir: Path) -> str:
    url = f"sqlite:///{logdir / 'bms.sqlite3'}"
    manage(url, "migrate", "--no-input")
    return url


def create_virtual_devices(
    database_url: str, templates: Sequence[str], first_device_id: int = 20001
) -> None:
    """One `manage.py bacnet_virtual create` per device, as a user would."""
    for offset, template in enumerate(templates):
        device_id = first_device_id + offset
        manage(
            database_url,
            "bacnet_virtual",
            "create",
            "--device-id",
            str(device_id),
            "--name",
            f"Bench {template} {device_id}",
            "--template",
            template,
        )


def virtual_objects(database_url: str) -> list[dict[str, Any]]:
    """The virtual objects as `_peers.py serve --kind bare --objects-json` takes them."""
    rows = sql(
        database_url,
        "SELECT o.object_type, o.instance, o.name, o.units, o.state_texts, "
        "o.present_value, d.device_id FROM virtual_virtualobject o JOIN "
        "virtual_virtualbacnetdevice d ON d.id = o.device_id ORDER BY o.id",
    )
    objects = []
    text_json = database_url.startswith("sqlite")  # psycopg decodes JSON columns itself
    for kind, instance, name, units, states, present, device_id in rows:
        if text_json:
            states = json.loads(states) if states is not None else []
            present = json.loads(present) if present is not None else None
        objects.append(
            {
                "kind": kind,
                "instance": instance,
                "units": units or None,
                "states": list(states or ()),
                "present_value": present,
                "name": f"Virtual_{device_id}_{name}",
            }
        )
    return objects


def start_worker(
    procs: Processes,
    database_url: str,
    address: str,
    name: str = "worker",
    timeout: float = 60,
    **env: str,
) -> Proc:
    worker = procs.start(
        name,
        [PYTHON, str(ROOT / "manage.py"), "bacnet_worker"],
        django_env(database_url, BACNET_ADDRESS=address, **env),
    )
    worker.wait_for("ready:", timeout=timeout)
    return worker


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def rss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 2**20


def udp_drops() -> int:
    """The kernel's count of UDP datagrams dropped for a full receive buffer (all sockets)."""
    lines = [
        line.split()
        for line in Path("/proc/net/snmp").read_text().splitlines()
        if line.startswith("Udp:")
    ]
    header, values = lines[0], lines[1]
    return int(values[header.index("RcvbufErrors")])
