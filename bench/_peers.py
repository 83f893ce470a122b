"""BACnet peers for the benchmarks, one per process: servers and load clients.

    python bench/_peers.py serve --kind ours|bare --address 127.0.0.2/8:P --objects 50
    python bench/_peers.py rp-load --address 127.0.0.1/8:P --target 127.0.0.2:P --inflight 50
    python bench/_peers.py sim-load --impl ours|raw --what values|points --port P ...

A server prints "ready" and runs until SIGTERM, stdin EOF or --max-seconds. A load client runs
until --seconds or --max-requests (whichever first) and prints one JSON line with its counts.
Load clients are plain bacpypes3 Applications, except `sim-load --impl ours`, which drives
our Engine's Client (the thing being measured).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.app import Application
from bacpypes3.basetypes import ErrorType
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef

# ---- the objects both servers serve ---------------------------------------------------------

MIX = (
    ("analog-input", "degreesCelsius", ()),
    ("analog-output", "percent", ()),
    ("analog-value", "degreesCelsius", ()),
    ("binary-input", None, ()),
    ("binary-output", None, ()),
    ("binary-value", None, ()),
    ("multi-state-input", None, ("Clean", "Dirty", "Replace")),
    ("multi-state-output", None, ("Off", "Low", "Medium", "High")),
    ("multi-state-value", None, ("Occupied", "Unoccupied", "Standby")),
)
POINT_TYPES = {kind for kind, _units, _states in MIX}


def mixed_objects(count: int) -> list[dict[str, Any]]:
    """`count` objects cycling through the nine point types, as plain descriptions."""
    objects, next_instance = [], {kind: 1 for kind, _u, _s in MIX}
    for position in range(count):
        kind, units, states = MIX[position % len(MIX)]
        instance = next_instance[kind]
        next_instance[kind] += 1
        objects.append(
            {
                "kind": kind,
                "instance": instance,
                "units": units,
                "states": states,
                "name": f"Bench {kind} {instance}",
            }
        )
    return objects


def our_spec(obj: dict[str, Any]) -> Any:
    from bms.bacnet.local import ObjectSpec

    return ObjectSpec(
        object_type=obj["kind"],
        instance=obj["instance"],
        name=obj["name"],
        description="benchmark point",
        units=obj["units"],
        state_texts=obj["states"],
        present_value=1 if obj["states"] else None,
    )


def bare_object(obj: dict[str, Any]) -> Any:
    """A plain bacpypes3 local object (the simulator's classes: bacpypes3 + Commandable)."""
    from bms.simulator.objects import EMPTY_SLOT, OBJECT_CLASSES

    kind = obj["kind"]
    commandable = kind.endswith(("-output", "-value"))
    properties: dict[str, Any] = {
        "objectIdentifier": (kind, obj["instance"]),
        "objectName": obj["name"],
        "description": "benchmark point",
        "statusFlags": [0, 0, 0, 0],
        "eventState": "normal",
        "outOfService": False,
    }
    if kind.startswith("analog-"):
        properties.update(presentValue=0.0, units=obj["units"] or "no-units", covIncrement=0.0)
    elif kind.startswith("binary-"):
        inactive, active = obj["states"] if len(obj["states"]) == 2 else ("inactive", "active")
        properties.update(presentValue="inactive", activeText=active, inactiveText=inactive)
        if kind != "binary-value":
            properties["polarity"] = "normal"
    else:
        properties.update(
            presentValue=1, numberOfStates=len(obj["states"]), stateText=list(obj["states"])
        )
    if obj.get("present_value") is not None:
        properties["presentValue"] = obj["present_value"]
    if commandable:
        properties["priorityArray"] = [EMPTY_SLOT] * 16
        properties["relinquishDefault"] = properties["presentValue"]
    return OBJECT_CLASSES[(kind, commandable)](**properties)


async def serve(args: argparse.Namespace) -> int:
    stop = _stop_event()
    config = EngineConfig(
        address=args.address, device_instance=args.device_instance, device_name=f"bench-{args.kind}"
    )
    objects = (
        json.loads(Path(args.objects_json).read_text())
        if args.objects_json
        else mixed_objects(args.objects)
    )
    if args.kind == "ours":
        from bms.bacnet.engine import Engine

        engine = Engine(config)
        await engine.start()
        for obj in objects:
            engine.device.add_object(our_spec(obj))
        close: Callable[[], Awaitable[None]] = engine.stop
    else:
        app = await open_application(config, Application, objects=[bare_object(o) for o in objects])

        async def close() -> None:
            close_application(app)

    print(
        f"ready: {args.kind} device {args.device_instance} on {args.address} "
        f"with {len(objects)} objects",
        flush=True,
    )
    try:
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    except TimeoutError:
        print("max-seconds reached, stopping", flush=True)
    finally:
        await close()
    return 0


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


# ---- a plain bacpypes3 load client ------------------------------------------------------------


class Load:
    """Counts of one load run; errors are counted and the first few kept, never hidden."""

    def __init__(self) -> None:
        self.requests = self.ok = self.properties = self.errors = self.timeouts = 0
        self.first_errors: list[str] = []

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(text)

    def result(self, seconds: float, **extra: Any) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "properties": self.properties,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "first_errors": self.first_errors,
            "seconds": round(seconds, 3),
            "requests_per_s": round(self.ok / seconds, 1) if seconds else 0.0,
            "properties_per_s": round(self.properties / seconds, 1) if seconds else 0.0,
            **extra,
        }


async def run_workers(
    inflight: int, seconds: float, max_requests: int, one: Callable[[int, Load], Awaitable[None]]
) -> tuple[Load, float]:
    """`inflight` coroutines issue requests until the time or the request count runs out."""
    load = Load()
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline and load.requests < max_requests:
            number = load.requests
            load.requests += 1
            await one(number, load)

    started = time.monotonic()
    await asyncio.gather(
        *(asyncio.create_task(worker(), name=f"load-{i}") for i in range(inflight))
    )
    return load, time.monotonic() - started


async def _guarded(load: Load, call: Awaitable[Any], timeout: float) -> Any:
    """Await a bacpypes3 call; count Error/Reject/Abort (BaseExceptions there) and timeouts."""
    try:
        async with asyncio.timeout(timeout):
            result = await call
    except TimeoutError:
        load.timeouts += 1
        return None
    except ErrorRejectAbortNack as exc:
        load.error(repr(exc))
        return None
    if isinstance(result, ErrorRejectAbortNack):
        load.error(repr(result))
        return None
    return result


async def read_object_list(app: Any, target: Address, device_instance: int) -> list[Any]:
    objects = await app.read_property(
        target, ObjectIdentifier(("device", device_instance)), "object-list"
    )
    if isinstance(objects, ErrorRejectAbortNack) or not isinstance(objects, list):
        raise RuntimeError(f"cannot read the object list of {target}: {objects!r}")
    return [o for o in objects if str(o[0]) in POINT_TYPES]


async def rp_load(args: argparse.Namespace) -> int:
    config = EngineConfig(
        address=args.address, device_instance=args.client_instance, device_name="bench-client"
    )
    app = await open_application(config, Application)
    try:
        target = Address(args.target)
        points = await read_object_list(app, target, args.device_instance)
        if args.rpm_objects:
            groups = [
                points[i : i + args.rpm_objects] for i in range(0, len(points), args.rpm_objects)
            ]

            async def one(number: int, load: Load) -> None:
                group = groups[number % len(groups)]
                parameters: list[Any] = []
                for objid in group:
                    parameters += [objid, ["present-value"]]
                rows = await _guarded(load, app.read_property_multiple(target, parameters), 5)
                if rows is not None:
                    good = [r for r in rows if not isinstance(r[3], ErrorType)]
                    load.ok += 1
                    load.properties += len(good)
        else:

            async def one(number: int, load: Load) -> None:
                objid = points[number % len(points)]
                value = await _guarded(load, app.read_property(target, objid, "present-value"), 5)
                if value is not None:
                    load.ok += 1
                    load.properties += 1

        await run_workers(args.inflight, min(1.0, args.seconds), args.warmup, one)  # warm-up
        load, seconds = await run_workers(args.inflight, args.seconds, args.max_requests, one)
    finally:
        close_application(app)
    print(json.dumps(load.result(seconds, objects=len(points), inflight=args.inflight)))
    return 0


# ---- reading a simulated building: our Client versus a raw RPM loop ---------------------------


RAW_OBJECTS_PER_RPM = {"values": 24, "points": 8}


async def sim_load(args: argparse.Namespace) -> int:
    from bms.bacnet.client import point_properties
    from bms.simulator.catalog import device_points
    from bms.simulator.plan import plan_building

    plans = plan_building(
        args.devices,
        first_address=args.first_host,
        first_instance=args.first_instance,
        port=args.port,
        no_segmentation_index=None,
        no_rpm_index=None,
    )
    refs = [spec.ref for spec in device_points(args.objects)]
    props: dict[ObjectRef, tuple[str, ...]] = {
        ref: (("present-value", "status-flags") if args.what == "values" else point_properties(ref))
        for ref in refs
    }
    config = EngineConfig(
        address=args.address,
        device_instance=args.client_instance,
        device_name="bench-client",
        timeout=args.timeout,
    )
    if args.impl == "ours":
        from bms.bacnet.engine import Engine

        engine = Engine(config)
        await engine.start()
        client = engine.client

        async def read_device(plan: Any, load: Load) -> None:
            if args.what == "values":
                values = await client.read_point_values(plan.address, refs)
                load.properties += 2 * len(values)
            else:
                infos = await client.read_points(plan.address, plan.instance, refs)
                load.properties += sum(len(props[info.ref]) for info in infos)
            load.ok += 1

        close: Callable[[], Awaitable[None]] = engine.stop
    else:
        if args.speedups:  # plain bacpypes3 plus the product's cached getattr_static
            from bms.bacnet import speedups

            speedups.install()
        app = await open_application(config, Application)
        per_rpm = RAW_OBJECTS_PER_RPM[args.what]
        groups = [refs[i : i + per_rpm] for i in range(0, len(refs), per_rpm)]

        async def rpm(target: Address, group: list[ObjectRef], load: Load) -> None:
            parameters: list[Any] = []
            for ref in group:
                parameters += [ObjectIdentifier((ref.object_type, ref.instance)), list(props[ref])]
            rows = await _guarded(load, app.read_property_multiple(target, parameters), 10)
            if rows is not None:
                load.properties += sum(1 for r in rows if not isinstance(r[3], ErrorType))

        async def read_device(plan: Any, load: Load) -> None:
            target = Address(plan.address)
            await asyncio.gather(
                *(asyncio.create_task(rpm(target, g, load), name="rpm") for g in groups)
            )
            load.ok += 1

        async def close() -> None:
            close_application(app)

    async def one_round(load: Load) -> None:
        await asyncio.gather(
            *(asyncio.create_task(read_device(p, load), name=f"dev-{p.instance}") for p in plans)
        )

    try:
        await one_round(Load())  # warm-up: capabilities, device-info caches
        load, started, rounds = Load(), time.monotonic(), 0
        deadline = started + args.seconds
        while rounds < args.max_rounds and time.monotonic() < deadline:
            await one_round(load)
            rounds += 1
        seconds = time.monotonic() - started
    finally:
        await close()
    expected = rounds * sum(len(p) for p in props.values()) * len(plans)
    print(
        json.dumps(
            load.result(
                seconds, rounds=rounds, expected_properties=expected, impl=args.impl, what=args.what
            )
        )
    )
    return 0


# ---- external writes at a fixed rate ----------------------------------------------------------

MAX_WRITES_IN_FLIGHT = 200  # below bacpypes3's 256 invoke IDs per peer


async def write_load(args: argparse.Namespace) -> int:
    """Open-loop writes: one every 1/rate s, each timed from send to its Simple-ACK."""
    from bacpypes3.primitivedata import Real

    config = EngineConfig(
        address=args.address, device_instance=args.client_instance, device_name="bench-writer"
    )
    app = await open_application(config, Application)
    kind, _, instance = args.object.partition(",")
    objid = ObjectIdentifier((kind, int(instance)))
    target = Address(args.target)
    load, latencies = Load(), []
    acked: list[tuple[int, float, float]] = []  # (number, value, wall-clock send time)
    count = min(args.max_writes, int(args.rate * args.seconds))

    async def one(number: int) -> None:
        try:
            await write_one(number)
        finally:
            in_flight[0] -= 1

    async def write_one(number: int) -> None:
        value = Real(args.low + (number % 100) * (args.high - args.low) / 100)
        sent, sent_at = time.perf_counter(), time.time()
        try:
            async with asyncio.timeout(5):
                answer = await app.write_property(target, objid, "present-value", value, priority=8)
        except TimeoutError:
            load.timeouts += 1
            return
        except ErrorRejectAbortNack as exc:
            load.error(repr(exc))
            return
        if isinstance(answer, ErrorRejectAbortNack):
            load.error(repr(answer))
            return
        latencies.append(time.perf_counter() - sent)
        load.ok += 1
        acked.append((number, float(value), sent_at))

    tasks: list[asyncio.Task[None]] = []
    skipped, in_flight = 0, [0]
    started = time.perf_counter()
    try:
        for number in range(count):
            delay = started + number / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if in_flight[0] >= MAX_WRITES_IN_FLIGHT:
                # bacpypes3 spins forever looking for a free invoke ID once 256 requests to
                # one peer are outstanding: a write that cannot be sent now is counted, not sent.
                skipped += 1
                continue
            load.requests += 1
            in_flight[0] += 1
            tasks.append(asyncio.create_task(one(number), name=f"write-{number}"))
        # Bounded: writes still unanswered 10 s after the last send count as timeouts.
        _done, late = await asyncio.wait(tasks, timeout=10)
        for task in late:
            task.cancel()
        load.timeouts += len(late)
        await asyncio.gather(*late, return_exceptions=True)
    finally:
        close_application(app)
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

    extra = (
        {"p50_ms": pct(50), "p99_ms": pct(99), "max_ms": round(1000 * ordered[-1], 2)}
        if ordered
        else {}
    )
    if args.send_log:
        Path(args.send_log).write_text(json.dumps(sorted(acked)))
    print(json.dumps(load.result(seconds, rate=args.rate, skipped_backlog=skipped, **extra)))
    return 0


# ---- discovery through the engine directly ----------------------------------------------------


async def discover(args: argparse.Namespace) -> int:
    """Who-Is (as the worker's discover job sends it), then every device's properties."""
    from bms.bacnet.engine import Engine
    from bms.bacnet.errors import BACnetError

    config = EngineConfig(
        address=args.address,
        device_instance=args.client_instance,
        device_name="bench-discover",
        timeout=args.timeout,
    )
    out: dict[str, Any] = {}
    async with Engine(config) as engine:
        started = time.monotonic()
        records = await engine.client.who_is(expected=args.expected or None)
        out["who_is_s"] = round(time.monotonic() - started, 3)
        out["found"] = len(records)
        limit = asyncio.Semaphore(args.concurrency)
        failures: list[str] = []
        infos = 0

        async def read_one(record: Any) -> None:
            nonlocal infos
            async with limit:
                try:
                    await engine.client.read_device_info(
                        record.address, record.device_instance, i_am=record
                    )
                    infos += 1
                except BACnetError as exc:
                    failures.append(f"{record.device_instance}: {exc}")

        await asyncio.gather(
            *(asyncio.create_task(read_one(r), name=f"info-{r.device_instance}") for r in records)
        )
        out["total_s"] = round(time.monotonic() - started, 3)
        out["info_s"] = round(out["total_s"] - out["who_is_s"], 3)
        out["infos"] = infos
        out["failures"] = len(failures)
        out["first_failures"] = failures[:5]
    print(json.dumps(out))
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--kind", choices=["ours", "bare"], required=True)
    s.add_argument("--address", required=True)
    s.add_argument("--device-instance", type=int, default=8888)
    s.add_argument("--objects", type=int, default=50)
    s.add_argument("--objects-json", help="bare: serve these objects (kind, instance, ...)")
    s.add_argument("--max-seconds", type=float, default=900)
    r = sub.add_parser("rp-load")
    r.add_argument("--address", required=True)
    r.add_argument("--client-instance", type=int, default=7001)
    r.add_argument("--target", required=True)
    r.add_argument("--device-instance", type=int, default=8888)
    r.add_argument("--inflight", type=int, default=1)
    r.add_argument("--seconds", type=float, default=5.0)
    r.add_argument("--max-requests", type=int, default=200_000)
    r.add_argument("--warmup", type=int, default=100)
    r.add_argument("--rpm-objects", type=int, default=0, help="RPM of N objects instead of RP")
    m = sub.add_parser("sim-load")
    m.add_argument("--impl", choices=["ours", "raw"], required=True)
    m.add_argument("--what", choices=["values", "points"], default="values")
    m.add_argument("--address", required=True)
    m.add_argument("--client-instance", type=int, default=7002)
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--first-host", default="127.0.0.2")
    m.add_argument("--first-instance", type=int, default=1000)
    m.add_argument("--devices", type=int, default=10)
    m.add_argument("--objects", type=int, default=100)
    m.add_argument("--seconds", type=float, default=5.0)
    m.add_argument("--max-rounds", type=int, default=10_000)
    m.add_argument("--timeout", type=float, default=5.0, help="our per-attempt timeout (5)")
    m.add_argument(
        "--speedups",
        action="store_true",
        help="raw: install bms.bacnet.speedups (the worker has them)",
    )
    w = sub.add_parser("write-load")
    w.add_argument("--address", required=True)
    w.add_argument("--client-instance", type=int, default=7004)
    w.add_argument("--target", required=True)
    w.add_argument("--object", required=True, help="analog-output,1")
    w.add_argument("--rate", type=float, default=200.0)
    w.add_argument("--seconds", type=float, default=30.0)
    w.add_argument("--max-writes", type=int, default=100_000)
    w.add_argument("--low", type=float, default=18.0)
    w.add_argument("--high", type=float, default=28.0)
    w.add_argument("--send-log", help="write the acked writes' (number, value, send time)")
    d = sub.add_parser("discover")
    d.add_argument("--address", required=True)
    d.add_argument("--client-instance", type=int, default=7003)
    d.add_argument("--timeout", type=float, default=3.0, help="the engine's timeout (3)")
    d.add_argument("--expected", type=int, default=0, help="stop the Who-Is at N answers")
    d.add_argument("--concurrency", type=int, default=32, help="devices read at once (32)")
    args = p.parse_args()
    handler = {
        "serve": serve,
        "rp-load": rp_load,
        "sim-load": sim_load,
        "discover": discover,
        "write-load": write_load,
    }[args.command]
    return asyncio.run(handler(args))


if __name__ == "__main__":
    sys.exit(main())
