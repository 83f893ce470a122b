"""`make run`: the whole product on the embedded default, on loopback, in one command.

Steps: migrate an SQLite database under ./var, create an admin account and (first start only)
one virtual device per template, then start and supervise three processes:

- a simulated building of 10 devices at 127.0.0.2-11 (port 47808),
- the BACnet worker as device 8888 "Django_BMS" on 127.0.0.1/8 (it never shares the web process),
- the web server (daphne) on http://127.0.0.1:8000,

and queue a first discovery. Ctrl-C (or SIGTERM) stops all three. A child that exits on its
own (a crash, a kill) is started again after a delay that doubles with each quick exit (1 s up
to 30 s, back to 1 s once it has run for a minute), each restart logged: nothing needs a
human. Nothing here binds anything but loopback.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bms.accounts import PASSWORD_ENV
from bms.env import env_bool, env_int

ROOT = Path(__file__).resolve().parents[1]
VAR = Path(os.environ.get("BMS_VAR_DIR", ROOT / "var"))
WEB_HOST = "127.0.0.1"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# Request lines are not what an operator needs (1,110 lines in 9 minutes of use); BMS_ACCESS_LOG=1
# turns them on.
ACCESS_LOG_ENV = "BMS_ACCESS_LOG"


def new_secret() -> str:
    """A random URL-safe value that does not start with "-": one in 64 of token_urlsafe's do,
    and a command line (or a person typing it after `-p`) reads those as an option."""
    while True:
        value = secrets.token_urlsafe(40)  # 54 characters: check --deploy wants 50+ in a key
        if not value.startswith("-"):
            return value


def kept_secret(var: Path, name: str) -> str:
    """A random value kept in `var` (0600), so sessions and the admin password survive restarts.
    bms.settings reads ./var/secret_key too, so `bms <command>` works on this instance."""
    path = var / name
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.write_text(new_secret())
        path.chmod(0o600)
    return path.read_text().strip()


def product_env(var: Path = VAR, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every process `make run` starts: `base` (os.environ) plus defaults."""
    env = dict(os.environ if base is None else base)
    env.setdefault("DJANGO_SETTINGS_MODULE", "bms.settings")
    env.setdefault("BMS_VAR_DIR", str(var))
    env.setdefault("SECRET_KEY", kept_secret(var, "secret_key"))
    env.setdefault("BACNET_ADDRESS", "127.0.0.1/8")
    env.setdefault("BACNET_POLL_SECONDS", "30")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@dataclass(frozen=True)
class Backoff:
    """How long to wait before starting a child that exited on its own again."""

    first: float = 1.0
    longest: float = 30.0
    stable_after: float = 60.0  # a child that ran this long starts again after `first`


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    args: list[str] = field(default_factory=list)
    ready_spec: str | int = ""  # what `start` was given, to start the child again
    lines: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    ready_marker: str = ""
    ready_port: int | None = None
    started_at: float = field(default_factory=time.monotonic)
    next_delay: float | None = None  # None: the backoff's first delay

    def restart_delay(self, backoff: Backoff) -> float:
        """The delay before this child starts again; the next one doubles, up to `longest`,
        unless this run lasted `stable_after` seconds (then it starts from `first` again)."""
        quick = time.monotonic() - self.started_at < backoff.stable_after
        delay = self.next_delay if quick and self.next_delay is not None else backoff.first
        self.next_delay = min(delay * 2, backoff.longest)
        return delay


async def manage(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "manage.py"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{text}")
    return text


async def prepare(env: dict[str, str]) -> None:
    print("bms: migrating the database", flush=True)
    await manage(env, "migrate", "--no-input")
    await manage(env, "collectstatic", "--no-input", "--verbosity", "0")
    await create_admin(env, kept_secret(VAR, "admin_password"))
    print("bms:", (await manage(env, "bacnet_virtual_demo")).strip(), flush=True)


async def create_admin(env: dict[str, str], password: str) -> None:
    """The password goes in the environment, not argv: a value starting with "-" would be read
    as an option there (and argv is visible to every user in `ps`)."""
    await manage({**env, PASSWORD_ENV: password}, "bms_createadmin", "--username", "admin")


def web_command(port: int, env: dict[str, str]) -> list[str]:
    """daphne on loopback, quiet: warnings only (-v 0 also drops its access log), unless
    BMS_ACCESS_LOG=1 asks for one line per request."""
    args = [sys.executable, "-m", "daphne", "-v", "0", "-b", WEB_HOST, "-p", str(port)]
    if env_bool(ACCESS_LOG_ENV, False, environ=env):
        args += ["--access-log", "-"]
    return [*args, "bms.asgi:application"]


async def start(name: str, args: list[str], env: dict[str, str], ready: str | int) -> Child:
    """`ready` is a line the child prints when it is ready, or a port it listens on."""
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    if isinstance(ready, int):
        return Child(name, process, args, ready, ready_port=ready)
    return Child(name, process, args, ready, ready_marker=ready)


async def listening(port: int) -> None:
    """Returns once something accepts connections on WEB_HOST:port."""
    while True:
        try:
            _reader, writer = await asyncio.open_connection(WEB_HOST, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def forward_output(child: Child) -> None:
    """Print the child's lines with its name, and note when it says it is ready."""
    assert child.process.stdout is not None
    async for raw in child.process.stdout:
        line = raw.decode(errors="replace").rstrip()
        print(f"[{child.name}] {line}", flush=True)
        if child.ready_marker and child.ready_marker in line:
            child.ready.set()


async def wait_ready(child: Child, watchers: set[asyncio.Task[None]]) -> None:
    awaited = child.ready.wait() if child.ready_port is None else listening(child.ready_port)
    ready = asyncio.create_task(awaited, name=f"{child.name}-ready")
    exited = asyncio.create_task(child.process.wait(), name=f"{child.name}-exit")
    done, _ = await asyncio.wait(
        {ready, exited}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
    )
    for task in (ready, exited):
        task.cancel()
    if ready not in done:
        raise SystemExit(f"bms: {child.name} did not start (see its output above)")


async def stop_all(children: list[Child]) -> None:
    for child in reversed(children):
        if child.process.returncode is None:
            child.process.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            print(f"bms: {child.name} did not stop in {STOP_TIMEOUT}s; killing it", flush=True)
            child.process.kill()
            await child.process.wait()


async def run() -> int:
    env = product_env()
    await prepare(env)
    web_port = env_int("BMS_WEB_PORT", 8000, environ=env)
    python = sys.executable
    specs: list[tuple[str, list[str], str | int]] = [
        (
            "simulator",
            [
                python,
                "-m",
                "bms.simulator",
                "--devices",
                "10",
                "--objects",
                "40",
                "--first-address",
                "127.0.0.2",
                "--first-instance",
                "1000",
            ],
            "ready",
        ),
        ("worker", [python, str(ROOT / "manage.py"), "bacnet_worker"], "ready:"),
        ("web", web_command(web_port, env), web_port),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    children: list[Child] = []
    watchers: set[asyncio.Task[None]] = set()
    try:
        for name, args, marker in specs:
            child = await start(name, args, env, marker)
            children.append(child)
            watchers.add(asyncio.create_task(forward_output(child), name=f"{name}-output"))
            await wait_ready(child, watchers)
            if name == "worker":
                print(
                    "bms:",
                    (await manage(env, "bacnet_task", "discover", "--force")).strip(),
                    flush=True,
                )
        print(
            f"\nbms: ready at http://{WEB_HOST}:{web_port}/  (user admin, password in "
            f"{VAR / 'admin_password'})\nbms: device 8888 'Django_BMS' on "
            f"{env['BACNET_ADDRESS']}, simulated building at 127.0.0.2-11; Ctrl-C stops all\n",
            flush=True,
        )
        return await supervise(children, stop, env, watchers)
    finally:
        await stop_all(children)
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)


async def supervise(
    children: list[Child],
    stop: asyncio.Event,
    env: dict[str, str],
    watchers: set[asyncio.Task[None]],
    backoff: Backoff = Backoff(),  # frozen: one shared default is fine
) -> int:
    """Until `stop`: start again, after its backoff delay, each child that exits on its own.

    `children` is updated in place with the new processes (so stopping stops those);
    `watchers` gets the new output forwarders.
    """
    while True:
        exits = {asyncio.create_task(c.process.wait(), name=f"{c.name}-exit"): c for c in children}
        stopper = asyncio.create_task(stop.wait(), name="stop-signal")
        done, _ = await asyncio.wait({stopper, *exits}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopper, *exits):
            task.cancel()
        if stopper in done:
            print("\nbms: stopping", flush=True)
            return 0
        for child in [exits[task] for task in done if task in exits]:
            delay = child.restart_delay(backoff)
            print(
                f"bms: {child.name} exited with {child.process.returncode}; "
                f"starting it again in {delay:g} s",
                flush=True,
            )
            if await _stopped_within(stop, delay):
                print("\nbms: stopping", flush=True)
                return 0
            again = await start(child.name, child.args, env, child.ready_spec)
            again.next_delay = child.next_delay
            children[children.index(child)] = again
            watchers.add(asyncio.create_task(forward_output(again), name=f"{child.name}-output"))
            print(f"bms: {child.name} started again (pid {again.process.pid})", flush=True)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


def main() -> None:
    raise SystemExit(asyncio.run(run()))


if __name__ == "__main__":
    main()
