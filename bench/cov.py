"""COV monitoring end to end: a simulated building's changes -> the worker -> PostgreSQL and pages.

Setup: a fresh PostgreSQL database, a simulated building of D devices x P points (`--processes`
children, `--control` socket, values still unless told), the worker with monitoring on for every
point in COV mode (BACNET_MONITOR_DEFAULT=1, BACNET_COV_LIFETIME=--lifetime so renewals happen
during the hold), publishing through Redis; daphne and a signed-in WebSocket client listening on
every device's group (/ws/live/?groups=device-N,...). A discover and a collect task find the
devices and their points; then the worker subscribes by itself (D x P subscriptions, counted on
the devices through the simulator's `status` command).

COV phase: for --hold seconds the bench sets --rate values/s on the devices through the
simulator's control sockets (`set DEVICE OBJECT VALUE`; the analog points in turn, devices
interleaved, each value unique per point), open loop. Each change is timed on the device (the
simulator's reply says when it set it). A thread polls the readings table every 10 ms and timestamps
each new COV row; the WebSocket client timestamps each value of the "points" events.
Figures: notifications stored/s, changes lost (set on a device, no COV row with that value: target
0), p50/p99 change -> row visible in PostgreSQL (target p99 <= 100 ms; includes up to 10 ms of the
bench's polling) and change -> WebSocket message (target p99 <= 250 ms), subscriptions still held
after the hold (> the lifetime, so only renewals keep them).

Poll phase (the baseline, same run): every device is switched to poll mode (the worker cancels
its subscriptions at its next reload) with a poll interval of D x P / rate seconds, so polling
stores as many values per second as COV did, and the same change load runs for --poll-hold s.
Figure: worker CPU (user + system, psutil) per change LEARNT at the same freshness, COV vs poll
(target: COV <= 1/5). COV: CPU of the COV phase / changes learnt. Poll: to be as fresh as COV,
polling must read every point once per F seconds, F = COV's p99 change -> row, at least 1 s
(a floor that favours polling); each read costs what one read cost in the poll phase (CPU /
points read there, every read being stored as a row), so poll CPU per change learnt = CPU per
read x (points / F) reads/s / changes learnt per s (at most one per point read: min(rate,
points / F)). The rig cannot poll 10,000 points a second, so this is computed from the measured
cost of a read, not run. CPU per value stored is shown too, and polling's staleness.

Latency only: `--skip-poll` leaves the poll phase out (no CPU ratio). `--profile` records the
worker with py-spy for the COV phase (py-spy must be installed: `.venv/bin/pip install py-spy`;
the profile is written to the logs directory, kept with --keep-logs). The worker's own stage
timings (bms.worker.reading_batch: a batch's oldest value waiting, the commit, the live update)
are printed from its log.

    .venv/bin/python bench/cov.py [--quick] [--skip-poll] [--profile] [--keep-logs]
"""

from __future__ import annotations

import asyncio
import math
import signal
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    PYTHON,
    REDIS_URL,
    ROOT,
    BenchError,
    Processes,
    cpu_seconds,
    emit,
    free_udp_port,
    manage,
    parser,
    percentile,
    postgres_database,
    print_table,
    ratio,
    sql,
    start_worker,
)
from _stack import Message, start_listener, task, websocket_unavailable

sys.path.insert(0, str(ROOT))

from bms.bacnet.types import ObjectRef
from bms.simulator.catalog import device_points
from bms.simulator.commands import parse_reply
from bms.simulator.control import ControlClient, child_path
from bms.simulator.plan import plan_building
from bms.simulator.processes import split_devices

WORKER_HOST = "127.0.0.1"
TARGET_LOST = 0
TARGET_DB_P99_MS = 100.0
TARGET_WS_P99_MS = 250.0
TARGET_CPU_RATIO = 0.2
TICK_SECONDS = 0.01
MAX_BATCH = 200  # commands per child per tick when the driver is behind
FIRST_VALUE = 1000.0  # values are FIRST_VALUE + n: exact in a 32-bit Real up to 2**24
SETTLE_SECONDS = 2.0  # after the load: notifications and batches still on their way
SUBSCRIBE_DEADLINE = 600.0
STABLE_SECONDS = 10.0  # a subscription count that has not moved for this long is final

# Through the domain service, which tells the worker (a bare UPDATE would wait for a reload).
SWITCH_TO_POLL = (
    "from bms.devices.models import BACnetDevice; "
    "from bms.devices.monitoring import set_device_monitoring; "
    "[set_device_monitoring(device, mode='poll') for device in BACnetDevice.objects.all()]"
)

Key = tuple[int, float]  # (point id, value)


@dataclass(frozen=True)
class Change:
    point_id: int
    value: float
    at: float  # wall clock on the device


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--devices", type=int, default=50)
    p.add_argument("--objects", type=int, default=200)
    p.add_argument("--rate", type=float, default=1000.0, help="value changes/s (1000)")
    p.add_argument("--hold", type=float, default=330.0, help="seconds of COV load (330)")
    p.add_argument("--lifetime", type=int, default=120, help="COV lifetime, s (120)")
    p.add_argument("--poll-hold", type=float, default=60.0, help="seconds of poll load (60)")
    p.add_argument("--processes", type=int, default=2, help="simulator processes (2)")
    p.add_argument("--skip-poll", action="store_true", help="no poll phase (latency only)")
    p.add_argument("--profile", action="store_true", help="py-spy the worker in the COV phase")
    args = p.parse_args()
    if args.quick:
        args.devices, args.objects, args.rate = 2, 20, 20.0
        args.hold, args.lifetime, args.poll_hold, args.processes = 6.0, 4, 4.0, 1
    # A SIGTERM (a test's timeout) unwinds the context managers, which stop every subprocess.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ws_skip = websocket_unavailable()
    if ws_skip:
        raise BenchError(f"this benchmark needs Redis and websockets: {ws_skip}")
    started = time.monotonic()
    with postgres_database() as database, Processes(args.keep_logs) as procs:
        figures = run(args, database, procs)
    report(args, figures, time.monotonic() - started)
    return 0


def run(args: Any, database: str, procs: Processes) -> dict[str, Any]:
    port = free_udp_port()
    control = str(procs.logdir / "sim.sock")
    manage(database, "migrate", "--no-input")
    simulator = procs.start(
        "simulator",
        [
            PYTHON, "-m", "bms.simulator",
            "--devices", str(args.devices), "--objects", str(args.objects),
            "--port", str(port), "--processes", str(args.processes),
            "--change-interval", "86400",  # values move only when the bench sets them
            "--no-segmentation-index", "none", "--no-rpm-index", "none",
            "--control", control,
        ],
    )  # fmt: skip
    simulator.wait_for("ready:", timeout=180)
    say(f"simulator ready: {args.devices} devices x {args.objects} points")
    poll_seconds = max(1, round(args.devices * args.objects / args.rate))
    worker = start_worker(
        procs,
        database,
        f"{WORKER_HOST}/8:{port}",
        REDIS_URL=REDIS_URL,
        BACNET_MONITOR_DEFAULT="1",
        BACNET_MONITOR_DEFAULT_MODE="cov",
        BACNET_MONITOR_POLL_SECONDS=str(poll_seconds),
        BACNET_MONITOR_RELOAD_SECONDS="2",
        BACNET_COV_LIFETIME=str(args.lifetime),
    )
    say("worker ready")
    found = task(database, "discover", "--force")
    if found["result"]["devices_found"] != args.devices:
        raise BenchError(f"discovered {found['result']} of {args.devices} devices")
    device_pks = [pk for (pk,) in sql(database, "SELECT id FROM devices_bacnetdevice")]
    groups = ",".join(f"device-{pk}" for pk in device_pks)
    listener = start_listener(procs, database, f"/ws/live/?groups={groups}", is_points)
    collect = task(database, "collect")  # reads the point lists; monitoring starts next reload
    say(f"discovered in {found['run_s']:.1f} s, points read in {collect['run_s']:.1f} s")
    routes = control_routes(args, control)
    subscribe_s, held = asyncio.run(wait_subscriptions(routes, args.devices * args.objects))
    say(f"{held} subscriptions held after {subscribe_s} s; COV load for {args.hold:g} s")
    targets = change_targets(args, database)
    profiler = None
    if args.profile:  # the worker, and the first simulator process (the load's own cost)
        profiler = start_profiler(procs, worker.pid, args.hold, "worker")
        children = simulator_children(simulator.pid)
        if children:
            start_profiler(procs, children[0], args.hold, "simulator")
    cov = measure(args, database, worker.pid, simulator.pid, routes, targets, "cov", args.hold)
    cov.update(subscribe_s=subscribe_s, held=held, held_after=asyncio.run(subscriptions(routes)))
    say(f"COV: {summary(cov)}")
    if profiler is not None:
        profiler.wait_for("Wrote", timeout=120)
        say(f"py-spy profile of the worker: {procs.logdir / 'worker.speedscope.json'}")
    cov["worker_timings"] = worker_timings(worker.output())
    for line in cov["worker_timings"]:
        say(f"worker: {line}")
    if args.skip_poll:
        arrivals = listener.stop()
        cov["websocket"] = websocket_delays(
            arrivals, cov.pop("changes"), cov.pop("timeline"), procs.logdir / "cov_timeline.csv"
        )
        return {"cov": cov, "poll": None}
    manage(database, "shell", "-c", SWITCH_TO_POLL)  # as the pages and the API change it
    # Subscriptions the worker dropped without telling the device (it thought it unreachable)
    # stay there until their lifetime ends: wait that long at most, and say what is left.
    cancel_s, left = asyncio.run(wait_subscriptions(routes, 0, deadline=args.lifetime + 30))
    say(
        f"switched to polling every {poll_seconds} s ({left} subscriptions left after {cancel_s} s)"
    )
    time.sleep(poll_seconds)  # one interval: every point's polls are on their own rhythm
    # At least two intervals: a shorter window learns few changes and inflates CPU per change.
    poll_hold = max(args.poll_hold, 2 * poll_seconds)
    poll = measure(args, database, worker.pid, simulator.pid, routes, targets, "poll", poll_hold)
    poll.update(cancel_s=cancel_s, subscriptions_left=left, poll_seconds=poll_seconds)
    say(f"poll: {summary(poll)}")
    arrivals = listener.stop()
    cov["websocket"] = websocket_delays(
        arrivals, cov.pop("changes"), cov.pop("timeline"), procs.logdir / "cov_timeline.csv"
    )
    poll.pop("changes")
    poll.pop("timeline")
    if not worker.alive():
        raise BenchError(f"the worker died:\n{worker.output()[-2000:]}")
    return {"cov": cov, "poll": poll}


def simulator_children(pid: int) -> list[int]:
    import psutil

    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def start_profiler(procs: Processes, pid: int, seconds: float, name: str) -> Any:
    out = procs.logdir / f"{name}.speedscope.json"
    py_spy = ROOT / ".venv" / "bin" / "py-spy"
    return procs.start(
        "py-spy",
        [str(py_spy), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "50",
         "-f", "speedscope", "-o", str(out)],
    )  # fmt: skip


def worker_timings(log: str) -> list[str]:
    """The ReadingBatcher's stage summaries (see bms.worker.reading_batch)."""
    return [line.split("monitoring: ", 1)[1] for line in log.splitlines() if "commits in" in line]


def say(text: str) -> None:
    print(f"[cov] {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def summary(f: dict[str, Any]) -> str:
    return (
        f"{f['changes_made']} changes in {f['seconds']} s, {f['rows']} rows, {f['lost']} not "
        f"learnt, to PG p50/p99 {f['db_p50_ms']}/{f['db_p99_ms']} ms (to the commit's start "
        f"{f['commit_start_p50_ms']}/{f['commit_start_p99_ms']} ms; the bench's row query "
        f"p50/p99 {f['watcher_query_p50_ms']}/{f['watcher_query_p99_ms']} ms), worker CPU "
        f"{f['worker_cpu_s']} s ({f['worker_cpu_ms_per_change']} ms/change), simulator CPU "
        f"{f['simulator_cpu_s']} s"
    )


def is_points(message: Message) -> bool:
    return message.get("type") == "points"


# ---- the simulator's control sockets ---------------------------------------------------------


def control_routes(args: Any, control: str) -> dict[int, str]:
    """Device instance -> the control socket of the simulator process that runs it."""
    plans = plan_building(args.devices, port=1)
    if args.processes == 1:
        return {plan.instance: control for plan in plans}
    return {
        plan.instance: child_path(control, number)
        for number, part in enumerate(split_devices(plans, args.processes))
        for plan in part.plans
    }


async def subscriptions(routes: dict[int, str]) -> int:
    by_path = _by_path(routes, [f"status {instance}" for instance in routes])
    replies = await _send(by_path)
    return sum(int(parse_reply(reply)["subscriptions"]) for reply in replies)


async def wait_subscriptions(
    routes: dict[int, str], wanted: int, deadline: float | None = None
) -> tuple[float, int]:
    """(seconds, count) once the devices hold `wanted` subscriptions, or a count that has not
    moved for STABLE_SECONDS (a device that refuses some types). Past `deadline`: BenchError,
    or with a `deadline` given, (seconds, count) as they are then."""
    started = changed = time.monotonic()
    held = -1
    while time.monotonic() - started < (deadline or SUBSCRIBE_DEADLINE):
        now_held = await subscriptions(routes)
        if now_held != held:
            held, changed = now_held, time.monotonic()
        stable = held > 0 and time.monotonic() - changed > STABLE_SECONDS
        if held == wanted or stable:
            return round(changed - started, 1), held
        await asyncio.sleep(0.5)
    if deadline is not None:
        return round(time.monotonic() - started, 1), held
    raise BenchError(f"the devices hold {held} COV subscriptions, not {wanted}")


def _by_path(routes: dict[int, str], lines: list[str]) -> dict[str, list[str]]:
    by_path: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        by_path[routes[int(line.split()[1])]].append(line)
    return by_path


async def _send(by_path: dict[str, list[str]]) -> list[str]:
    clients = {path: await ControlClient.connect(path) for path in by_path}
    try:
        results = await asyncio.gather(
            *(clients[path].send_many(lines) for path, lines in by_path.items())
        )
    finally:
        for client in clients.values():
            await client.close()
    return [reply for replies in results for reply in replies]


# ---- the load ------------------------------------------------------------------------------


def change_targets(args: Any, database: str) -> list[tuple[int, ObjectRef, int]]:
    """(device instance, object, point id) of every analog point, devices interleaved."""
    point_ids = {
        (instance, kind, number): point_id
        for point_id, instance, kind, number in sql(
            database,
            "SELECT p.id, d.device_instance, p.object_type, p.instance FROM devices_bacnetpoint "
            "p JOIN devices_bacnetdevice d ON d.id = p.device_id",
        )
    }
    refs = [s.ref for s in device_points(args.objects) if s.ref.object_type.startswith("analog-")]
    instances = sorted({instance for instance, _kind, _number in point_ids})
    return [
        (instance, ref, point_ids[(instance, ref.object_type, ref.instance)])
        for ref in refs
        for instance in instances
    ]


class Driver:
    """Sets `rate` values/s for `seconds` (bounded in count and time), round robin."""

    def __init__(self, routes: dict[int, str], targets: list[tuple[int, ObjectRef, int]]):
        self._routes = routes
        self._targets = targets
        self._cursor = 0
        self._counts: dict[int, int] = defaultdict(int)  # values set per point, run-wide
        self.changes: list[Change] = []
        self.errors: list[str] = []

    async def run(self, rate: float, seconds: float) -> None:
        clients = {path: await ControlClient.connect(path) for path in set(self._routes.values())}
        total, sent = round(rate * seconds), 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            while sent < total and loop.time() - started < seconds + 10:
                due = min(total, int((loop.time() - started) * rate) + 1)
                batch = min(due - sent, MAX_BATCH * len(clients))
                if batch > 0:
                    await self._send(clients, batch)
                    sent += batch
                await asyncio.sleep(TICK_SECONDS)
        finally:
            for client in clients.values():
                await client.close()

    async def _send(self, clients: dict[str, ControlClient], batch: int) -> None:
        lines: dict[str, list[tuple[str, int, float]]] = defaultdict(list)
        for _ in range(batch):
            instance, ref, point_id = self._targets[self._cursor % len(self._targets)]
            self._cursor += 1
            self._counts[point_id] += 1
            value = FIRST_VALUE + self._counts[point_id]
            line = f"set {instance} {ref} {value:g}"
            lines[self._routes[instance]].append((line, point_id, value))
        paths = list(lines)
        results = await asyncio.gather(
            *(clients[path].send_many([line for line, _, _ in lines[path]]) for path in paths)
        )
        for path, replies in zip(paths, results, strict=True):
            for (_line, point_id, value), reply in zip(lines[path], replies, strict=True):
                if reply.startswith("ok"):
                    self.changes.append(Change(point_id, value, float(parse_reply(reply)["at"])))
                else:
                    self.errors.append(reply)


class RowWatcher:
    """Polls the readings table every 10 ms; the first time each (point, value) of `source`
    was seen.

    A row is stamped with the time its query was sent: the statement's snapshot, taken then,
    already held it. Its connection may not seq-scan: the readings partitions are analysed only
    when autovacuum gets to them, and until then the planner chose a parallel seq scan of the
    whole day's partition for `id > last` (25 ms at 400,000 rows, growing, 100 times a second,
    on two cores): the bench's own polling made the latency it measured. The watcher's query
    times are reported beside the figures."""

    def __init__(self, database: str, source: str) -> None:
        self._database, self._source = database, source
        self.seen: dict[Key, float] = {}
        self.query_seconds: list[float] = []
        self._stop = threading.Event()
        self.error: BaseException | None = None
        ((last,),) = sql(database, "SELECT coalesce(max(id), 0) FROM devices_bacnetreading")
        self.first_id = int(last)
        self._thread = threading.Thread(target=self._run, name="row-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        last = self.first_id
        deadline = time.monotonic() + 1800
        try:
            with psycopg.connect(self._database, autocommit=True) as db:
                db.execute("SET enable_seqscan = off")
                db.execute("SET max_parallel_workers_per_gather = 0")
                while not self._stop.is_set() and time.monotonic() < deadline:
                    sent = time.time()
                    rows = db.execute(
                        "SELECT id, point_id, value FROM devices_bacnetreading "
                        "WHERE id > %s AND source = %s ORDER BY id",
                        (last, self._source),
                    ).fetchall()
                    self.query_seconds.append(time.time() - sent)
                    for row_id, point_id, value in rows:
                        self.seen.setdefault((point_id, _number(value)), sent)
                        last = row_id
                    time.sleep(0.01)
        except Exception as exc:  # reported by stop(), never hidden
            self.error = exc

    def stop(self) -> dict[Key, float]:
        self._stop.set()
        self._thread.join(10)
        if self.error is not None:
            raise BenchError(f"the row watcher failed: {self.error!r}")
        return self.seen


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the simulator's processes)."""
    import psutil

    parent = psutil.Process(pid)
    total = 0.0
    for proc in [parent, *parent.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _number(value: Any) -> float:
    return round(float(value), 3) if isinstance(value, int | float) else float("nan")


def measure(
    args: Any,
    database: str,
    worker_pid: int,
    simulator_pid: int,
    routes: dict[int, str],
    targets: list[tuple[int, ObjectRef, int]],
    source: str,
    seconds: float,
) -> dict[str, Any]:
    """The load for `seconds`, and what the worker made of it."""
    watcher = RowWatcher(database, source)
    driver = Driver(routes, targets)
    cpu_before, wall_before = cpu_seconds(worker_pid), time.monotonic()
    sim_before = tree_cpu_seconds(simulator_pid)
    asyncio.run(driver.run(args.rate, seconds))
    elapsed = time.monotonic() - wall_before
    cpu = cpu_seconds(worker_pid) - cpu_before
    sim_cpu = tree_cpu_seconds(simulator_pid) - sim_before
    time.sleep(SETTLE_SECONDS)
    seen = watcher.stop()
    stored = sql(
        database,
        "SELECT point_id, value, timestamp FROM devices_bacnetreading WHERE id > %s AND "
        "source = %s ORDER BY id",
        watcher.first_id,
        source,
    )
    # A row's timestamp is when the worker began its commit: change -> commit start is the way
    # through the simulator, the network, the worker's receive path and the batcher's window.
    stamped: dict[Key, float] = {}
    for point_id, value, at in stored:  # the first row of a value (a renewal repeats it)
        stamped.setdefault((point_id, _number(value)), at.timestamp())
    rows = set(stamped)
    changes = driver.changes
    delays = [1000 * (seen[key] - c.at) for c in changes if (key := (c.point_id, c.value)) in seen]
    keys = [(c, (c.point_id, c.value)) for c in changes]
    timeline = [(c, seen.get(key), stamped.get(key)) for c, key in keys]
    to_commit = [
        1000 * (stamped[key] - c.at) for c in changes if (key := (c.point_id, c.value)) in stamped
    ]
    learned = sum(1 for c in changes if (c.point_id, c.value) in rows)
    return {
        "seconds": round(elapsed, 1),
        "changes": changes,
        "timeline": timeline,
        "changes_made": len(changes),
        "change_errors": len(driver.errors),
        "first_error": driver.errors[0] if driver.errors else None,
        "rows": len(stored),
        "rows_per_s": round(len(stored) / elapsed, 1),
        "lost": len(changes) - learned,
        "db_p50_ms": round(percentile(delays, 50), 1),
        "db_p99_ms": round(percentile(delays, 99), 1),
        "db_max_ms": round(max(delays), 1) if delays else None,
        "commit_start_p50_ms": round(percentile(to_commit, 50), 1),
        "commit_start_p99_ms": round(percentile(to_commit, 99), 1),
        "watcher_query_p50_ms": round(1000 * percentile(watcher.query_seconds, 50), 2),
        "watcher_query_p99_ms": round(1000 * percentile(watcher.query_seconds, 99), 2),
        "simulator_cpu_s": round(sim_cpu, 2),
        "worker_cpu_s": round(cpu, 2),
        "worker_cpu_ms_per_value": round(1000 * cpu / max(1, len(stored)), 3),
        "worker_cpu_ms_per_change": round(1000 * cpu / learned, 3) if learned else float("nan"),
        # In the poll phase every point read is stored as a row: CPU per read.
        "worker_cpu_ms_per_read": round(1000 * cpu / len(stored), 3) if stored else float("nan"),
    }


def poll_at_cov_freshness(args: Any, cov: dict[str, Any], poll: dict[str, Any]) -> dict:
    """What polling would cost per change learnt if it were as fresh as COV (see the module's
    docstring): every point read once per `freshness_s`."""
    points = args.devices * args.objects
    p99 = cov["db_p99_ms"]
    freshness = 1.0 if math.isnan(p99) else max(1.0, p99 / 1000)
    reads_per_s = points / freshness
    learnt_per_s = min(args.rate, reads_per_s)
    ms_per_change = poll["worker_cpu_ms_per_read"] * reads_per_s / learnt_per_s
    return {
        "freshness_s": round(freshness, 2),
        "reads_per_s": round(reads_per_s),
        "ms_per_change": round(ms_per_change, 3),
    }


def websocket_delays(
    arrivals: list[tuple[float, Message]],
    changes: list[Change],
    timeline: list[tuple[Change, float | None, float | None]] | None = None,
    timeline_csv: Path | None = None,
) -> dict:
    first: dict[Key, float] = {}
    for arrived, message in arrivals:
        for point in message.get("points", []):
            first.setdefault((point["id"], _number(point.get("value"))), arrived)
    if timeline is not None and timeline_csv is not None:
        write_timeline(timeline_csv, timeline, first)
    delays = [
        1000 * (first[key] - c.at) for c in changes if (key := (c.point_id, c.value)) in first
    ]
    return {
        "matched": len(delays),
        "unmatched": len(changes) - len(delays),
        "p50_ms": round(percentile(delays, 50), 1),
        "p99_ms": round(percentile(delays, 99), 1),
        "max_ms": round(max(delays), 1) if delays else None,
    }


def write_timeline(
    path: Path, timeline: list[tuple[Change, float | None, float | None]], ws: dict[Key, float]
) -> None:
    """One line per change: when it was made (wall clock) and its delays in ms to the commit's
    start, to the row seen in PostgreSQL and to the WebSocket: where the tail sits in time."""

    def ms(at: float | None, change: Change) -> str:
        return "" if at is None else f"{1000 * (at - change.at):.1f}"

    with path.open("w") as out:
        out.write("at,point_id,to_commit_start_ms,to_row_ms,to_websocket_ms\n")
        for change, seen, stamped in timeline:
            key = (change.point_id, change.value)
            out.write(
                f"{change.at:.3f},{change.point_id},{ms(stamped, change)},{ms(seen, change)},"
                f"{ms(ws.get(key), change)}\n"
            )
    say(f"per-change timeline: {path}")


# ---- the report ----------------------------------------------------------------------------


def report(args: Any, figures: dict[str, Any], elapsed: float) -> None:
    cov, poll = figures["cov"], figures["poll"]
    ws = cov["websocket"]
    if poll is None:
        report_latency(args, cov, elapsed)
        return
    # The target compares what learning one change costs at the same freshness (the module's
    # docstring); per value stored is shown beside it.
    fresh_poll = poll_at_cov_freshness(args, cov, poll)
    cpu_ratio = ratio(cov["worker_cpu_ms_per_change"], fresh_poll["ms_per_change"])
    print_table(
        f"COV: {args.devices} devices x {args.objects} points, {args.rate:g} changes/s for "
        f"{cov['seconds']:g} s, lifetime {args.lifetime} s; {cov['held']} subscriptions made "
        f"({cov['subscribe_s']} s after the first count), {cov['held_after']} held at the end",
        ["learnt by", "changes", "not learnt", "rows", "rows/s", "to PG p50 ms", "p99 ms",
         "max ms", "worker CPU ms/change", "ms/row"],
        [
            [name, f["changes_made"], f["lost"], f["rows"], f["rows_per_s"], f["db_p50_ms"],
             f["db_p99_ms"], f["db_max_ms"], f["worker_cpu_ms_per_change"],
             f["worker_cpu_ms_per_value"]]
            for name, f in (("COV", cov), (f"poll every {poll['poll_seconds']} s", poll))
        ],
    )  # fmt: skip
    print(
        f"\nWebSocket (change on the device -> value at a signed-in client) of {ws['matched']} "
        f"of {cov['changes_made']} changes: p50 {ws['p50_ms']} ms, p99 {ws['p99_ms']} ms, max "
        f"{ws['max_ms']} ms (target p99 <= {TARGET_WS_P99_MS:g} ms)\n"
        f"Targets: COV lost {TARGET_LOST} ({cov['lost']}), to PostgreSQL p99 <= "
        f"{TARGET_DB_P99_MS:g} ms ({cov['db_p99_ms']}), COV CPU per change learnt <= "
        f"{TARGET_CPU_RATIO:g} x polling's at COV's freshness ({cpu_ratio}: COV "
        f"{cov['worker_cpu_ms_per_change']} ms vs polling every {fresh_poll['freshness_s']} s = "
        f"{fresh_poll['reads_per_s']} reads/s at {poll['worker_cpu_ms_per_read']} ms each -> "
        f"{fresh_poll['ms_per_change']} ms per change learnt). Polling misses a change that "
        "another one overwrites before the next poll."
    )
    emit(
        "cov",
        args.quick,
        seconds=round(elapsed, 1),
        devices=args.devices,
        points=args.devices * args.objects,
        rate=args.rate,
        lifetime_s=args.lifetime,
        cov=cov,
        poll=poll,
        poll_at_cov_freshness=fresh_poll,
        cpu_ratio_cov_vs_poll=cpu_ratio,
        targets={
            "lost": TARGET_LOST,
            "db_p99_ms": TARGET_DB_P99_MS,
            "ws_p99_ms": TARGET_WS_P99_MS,
            "cpu_ratio": TARGET_CPU_RATIO,
        },
    )


def report_latency(args: Any, cov: dict[str, Any], elapsed: float) -> None:
    """--skip-poll: the COV phase alone, no CPU comparison."""
    ws = cov["websocket"]
    print_table(
        f"COV: {args.devices} devices x {args.objects} points, {args.rate:g} changes/s for "
        f"{cov['seconds']:g} s, lifetime {args.lifetime} s; {cov['held']} subscriptions made, "
        f"{cov['held_after']} held at the end (no poll phase)",
        ["changes", "not learnt", "rows/s", "to PG p50 ms", "p99 ms", "max ms", "WS p50 ms",
         "WS p99 ms", "WS max ms", "worker CPU ms/change"],
        [[cov["changes_made"], cov["lost"], cov["rows_per_s"], cov["db_p50_ms"], cov["db_p99_ms"],
          cov["db_max_ms"], ws["p50_ms"], ws["p99_ms"], ws["max_ms"],
          cov["worker_cpu_ms_per_change"]]],
    )  # fmt: skip
    emit(
        "cov",
        args.quick,
        seconds=round(elapsed, 1),
        devices=args.devices,
        points=args.devices * args.objects,
        rate=args.rate,
        lifetime_s=args.lifetime,
        cov=cov,
        poll=None,
    )


if __name__ == "__main__":
    raise SystemExit(main())
