"""The whole product for browser tests, as a user runs it: an SQLite file migrated by
`manage.py`, users and a virtual device made by the commands, the simulated building (with its
control socket: `stack.simulator("silence 3001")`), the real `bacnet_worker`, and daphne serving
the app, all on loopback ports of their own."""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import _free_udp_port
from tests.worker.conftest import ROOT, Process, manage, process_env

PASSWORD = "browser-test-password"  # throwaway accounts in a temporary database
FIRST_INSTANCE = 3000
SIMULATED_DEVICES = 3
CONTROL_SECONDS = 10.0
SCHEDULE_SETUP = (
    "from bms.schedules.services import create_schedule; "
    "create_schedule(instance=1, name='Lobby lights', kind='binary', schedule_default='inactive')"
)


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Stack:
    database_url: str
    bacnet_port: int
    http_port: int
    logs: Path
    processes: list[Process] = field(default_factory=list)

    @property
    def control_path(self) -> Path:
        return self.logs / "simulator.sock"

    def simulator(self, command: str) -> str:
        """One command to the simulated building (bms.simulator.commands); its reply line.

        A blocking socket, not bms.simulator.control's asyncio client: Playwright's sync API
        already runs an event loop in the test's thread."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
            control.settimeout(CONTROL_SECONDS)
            control.connect(str(self.control_path))
            control.sendall(command.encode() + b"\n")
            reply = control.makefile("r").readline().rstrip("\n")
        assert reply.startswith("ok"), f"{command}: {reply}"
        return reply

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, name: str, args: list[str], **env: str) -> Process:
        process = Process(args, process_env(self.database_url, **env), self.logs / f"{name}.log")
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def start_web(self) -> Process:
        return self.start(
            "daphne",
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.http_port),
                "bms.asgi:application",
            ],
        )

    def stop_web(self) -> None:
        """Stop daphne (open pages lose their socket); start_web brings it back on the port."""
        web = next(p for p in self.processes if p.log_path.stem == "daphne")
        web.stop()
        self.processes.remove(web)
        web.log_path.rename(web.log_path.with_name("daphne-stopped.log"))

    def restart_web(self) -> None:
        self.start_web()
        wait_for_http(self.base_url + "/accounts/login/")

    def check_alive(self) -> None:
        """Fail with the logs when a process of the stack has died: a dead worker otherwise
        shows up as a page waiting for a task that never runs."""
        dead = [p for p in self.processes if p.popen.poll() is not None]
        if dead:
            names = ", ".join(f"{p.log_path.stem} (exit {p.popen.returncode})" for p in dead)
            raise AssertionError(f"stopped: {names}\n{self.output()}")

    def output(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.output()[-3000:]}" for p in self.processes)


def prepare(database_url: str) -> None:
    steps = [
        ("migrate", "--no-input"),
        ("bms_createuser", "--username", "otto", "--role", "operator", "--password", PASSWORD),
        ("bms_createuser", "--username", "vera", "--role", "viewer", "--password", PASSWORD),
        (
            "bacnet_virtual",
            "create",
            "--device-id",
            "2001",
            "--name",
            "Virtual AHU",
            "--template",
            "air_handling_unit",
        ),
        # A schedule of device 8888 for the week-grid editor (test_schedule_grid.py).
        ("shell", "-c", SCHEDULE_SETUP),
    ]
    for step in steps:
        done = manage(database_url, *step, timeout=120)
        assert done.returncode == 0, f"{step}: {done.stderr}"


def start_stack(tmp: Path) -> Iterator[Stack]:
    stack = Stack(f"sqlite:///{tmp / 'bms.sqlite3'}", _free_udp_port(), free_tcp_port(), tmp)
    prepare(stack.database_url)
    try:
        simulator = stack.start(
            "simulator",
            [
                sys.executable,
                "-m",
                "bms.simulator",
                "--devices",
                str(SIMULATED_DEVICES),
                "--objects",
                "20",
                "--first-address",
                "127.0.0.2",
                "--first-instance",
                str(FIRST_INSTANCE),
                "--port",
                str(stack.bacnet_port),
                "--change-interval",
                "1.0",
                "--control",
                str(stack.control_path),
            ],
        )
        worker = stack.start(
            "worker",
            [sys.executable, str(ROOT / "manage.py"), "bacnet_worker"],
            BACNET_ADDRESS=f"127.0.0.1/8:{stack.bacnet_port}",
        )
        stack.start_web()
        simulator.wait_for_output("ready")
        worker.wait_for_output("ready:", timeout=30)
        wait_for_http(stack.base_url + "/accounts/login/")
        yield stack
    finally:
        stack.stop()


def wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # loopback
                if response.status == 200:
                    return
        # A busy machine answers late: a read that timed out is tried again, like a refusal.
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer within {timeout}s: {exc}") from exc
        time.sleep(0.1)
