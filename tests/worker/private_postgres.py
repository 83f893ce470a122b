"""A PostgreSQL server of the test's own, which the test may stop and start at will.

Never the shared server on 5432: an outage test stops the server under a running worker. The
cluster lives in a fresh directory under /tmp, listens on a free TCP port on 127.0.0.1 (and a
socket in its own directory), and is removed afterwards. PostgreSQL refuses to run as root, so
as root the server runs as the `postgres` user (runuser), which owns the directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

BIN = Path(os.environ.get("BMS_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> str | None:
    """Why a private server cannot run here, or None if it can."""
    if not (BIN / "initdb").is_file():
        return f"no initdb in {BIN} (set BMS_POSTGRES_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """initdb + pg_ctl on a directory of its own; `close()` stops it and removes it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bms-pg-"))
        self.port = _free_tcp_port()
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # fsync off: the tests measure the worker, not this disk; nothing here must survive
        # a crash of the machine.
        options = f"-p {self.port} -k {self.root} -h 127.0.0.1 -c fsync=off"
        log = str(self.root / "log")
        # -w: returns once the server accepts connections.
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends every session (what an administrator's stop does),
        `immediate` is a crash of the server."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_postgres, str(BIN / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}")
