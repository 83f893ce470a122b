"""A simulated building: N plain bacpypes3 devices on consecutive loopback addresses.

Each device is one bacpypes3 `Application` bound on its own host (127.0.0.2, .3, ...) with a /8
prefix on a shared port, so a Who-Is to 127.255.255.255 reaches all of them. Devices start
concurrently; one named task per building moves the analog inputs by a bounded random walk.

    async with SimulatedBuilding(devices=20, objects=100, port=bacnet_port) as building:
        device = building.devices[0]   # .instance, .address, .app, .objects, ...

Quirks, like on a real site: the device at `no_segmentation_index` (default the 2nd) cannot
segment and accepts 480-octet APDUs, so its object list must be read index by index; the device
at `no_rpm_index` (default the 3rd) rejects ReadPropertyMultiple.

Faults on command (faults.py): `silence(instance)`, `restore(instance)`, `restart(instance)`
(silent for a moment, COV subscriptions forgotten, then an I-Am) and `set_value(instance, ref,
value)` to drive COV changes; with `flaky`, the devices at `flaky_indexes` go silent on a
schedule. control.py offers the same commands on a Unix socket.

A cloned building (`SimulatedBuilding.from_clone`, clone.py) runs described devices instead of
the generated catalog: their instances, names, points and quirks, and values replayed from the
site's history, with the same start-up, faults and control commands.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet import speedups
from bms.bacnet.config import EngineConfig
from bms.bacnet.read_range import MemoryRecords
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef
from bms.simulator.catalog import PointSpec, device_points
from bms.simulator.clone import ClonedDevice, plan_clone
from bms.simulator.clone_build import clone_config, cloned_objects, cloned_trend_logs
from bms.simulator.faults import DEFAULT_RESTART_SECONDS, DeviceSwitch, FlakySchedule, run_flaky
from bms.simulator.objects import ObjectFactory
from bms.simulator.plan import (
    DEFAULT_NO_RPM_INDEX,
    DEFAULT_NO_SEGMENTATION_INDEX,
    SEGMENTED,
    DevicePlan,
    plan_building,
)
from bms.simulator.quirks import NoRpmApplication, SimulatedApplication
from bms.simulator.schedules import schedule_objects
from bms.simulator.trendlogs import (
    DEFAULT_TREND_BUFFER,
    DEFAULT_TREND_INTERVAL,
    SimulatedTrendLog,
    trend_logs_for,
)

log = logging.getLogger(__name__)

# Setting a present value costs ~80 us in bacpypes3; this caps one tick at ~0.1 s of CPU. Smaller
# buildings move every analog input on every tick, bigger ones a rotating share of them.
MAX_CHANGES_PER_TICK = 1200
CHANGES_BETWEEN_YIELDS = 200
# Devices bind concurrently in waves: building a device's objects is CPU work, and an unbounded
# wave would let the first binds' 5 s deadline (bms.bacnet.stack) expire while later devices are
# still being built.
START_WAVE = 50


@dataclass(frozen=True, eq=False)
class SimulatedDevice:
    """One running simulated device."""

    instance: int
    address: str  # "127.0.0.2:47808"
    name: str
    app: Any  # the bacpypes3 Application
    segmentation: str  # "segmented-both" or "no-segmentation"
    supports_rpm: bool
    max_apdu: int
    objects: tuple[ObjectRef, ...]  # the points; the object list also has device and network-port
    bbmd: bool = False  # also its subnet's BBMD

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0]

    @property
    def segmented(self) -> bool:
        return self.segmentation == SEGMENTED

    def describe(self) -> str:
        """One line for the CLI: instance, address and quirks."""
        return (
            f"device {self.instance} {self.address} objects={len(self.objects)} "
            f"max-apdu={self.max_apdu} segmentation={self.segmentation} "
            f"rpm={'yes' if self.supports_rpm else 'no'}" + (" bbmd=yes" if self.bbmd else "")
        )


class Mover(Protocol):
    """How a value moves each step: a catalog.Walk, or a clone.Replay of recorded values."""

    def next(self, value: float, rng: random.Random) -> Any: ...


@dataclass(frozen=True)
class _OpenedDevice:
    device: SimulatedDevice
    walkers: list[tuple[Any, Mover]]  # the objects that move and how each one does


Opener = Callable[[DevicePlan], Coroutine[Any, Any, _OpenedDevice]]


class SimulatedBuilding:
    """Starts, animates and stops a building of simulated devices."""

    def __init__(
        self,
        devices: int,
        objects: int,
        first_address: str = "127.0.0.2",
        first_instance: int = 1000,
        port: int = 47808,
        prefix: int = 8,
        seed: int = 0,
        change_interval: float = 2.0,
        no_segmentation_index: int | None = DEFAULT_NO_SEGMENTATION_INDEX,
        no_rpm_index: int | None = DEFAULT_NO_RPM_INDEX,
        allow_non_loopback: bool = False,
        bbmd: bool = False,
        flaky: FlakySchedule | None = None,
        flaky_indexes: tuple[int, ...] = (),
        trend_interval: float = DEFAULT_TREND_INTERVAL,
        trend_buffer: int = DEFAULT_TREND_BUFFER,
        clone: Sequence[ClonedDevice] | None = None,
    ) -> None:
        if objects < 0:
            raise ValueError(f"objects must be >= 0, not {objects}")
        if change_interval <= 0:
            raise ValueError(f"change_interval must be > 0, not {change_interval}")
        self._clone = {device.instance: device for device in clone or ()}
        self._plans = (
            plan_clone(
                clone,
                first_address=first_address,
                port=port,
                prefix=prefix,
                allow_non_loopback=allow_non_loopback,
            )
            if clone is not None
            else plan_building(
                devices,
                first_address=first_address,
                first_instance=first_instance,
                port=port,
                prefix=prefix,
                no_segmentation_index=no_segmentation_index,
                no_rpm_index=no_rpm_index,
                allow_non_loopback=allow_non_loopback,
                bbmd=bbmd,
            )
        )
        self._object_count = objects
        self._rng = random.Random(seed)  # noqa: S311 - simulated readings, not secrets
        self._change_interval = change_interval
        self.devices: list[SimulatedDevice] = []
        self._walkers: list[tuple[Any, Mover]] = []
        self._walk_cursor = 0
        self._stop = asyncio.Event()
        self._updater: asyncio.Task[None] | None = None
        self._switches: dict[int, DeviceSwitch] = {}
        self._flaky = flaky
        self._flaky_indexes = tuple(index for index in flaky_indexes if index < len(self._plans))
        self._flaky_task: asyncio.Task[None] | None = None
        self._started = False
        # Trend logs (trendlogs.py): every device's records, logged by one task.
        self.trend_records = MemoryRecords(keep=trend_buffer)
        self._trend_interval = trend_interval
        self._trend_buffer = trend_buffer
        self._trend_logs: list[SimulatedTrendLog] = []
        self._trend_task: asyncio.Task[None] | None = None

    @classmethod
    def from_clone(cls, devices: Sequence[ClonedDevice], **options: Any) -> SimulatedBuilding:
        """A building of the described devices (clone.py) instead of the generated catalog;
        `options` as for the constructor (addresses, port, change interval, flaky...)."""
        return cls(devices=len(devices), objects=0, clone=devices, **options)

    async def __aenter__(self) -> SimulatedBuilding:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Bind every device (concurrently) and start moving values; all or nothing."""
        if self._started:
            raise RuntimeError("this building was already started")
        self._started = True
        speedups.install()
        try:
            await self._open_devices()
        except BaseException:
            self._close_devices()
            await _release_sockets()
            raise
        first = self._plans[0].instance if self._plans else 0
        self._updater = asyncio.create_task(self._walk_values(), name=f"simulator-values-{first}")
        self._trend_task = asyncio.create_task(self._log_trends(), name=f"simulator-trends-{first}")
        if self._flaky is not None and self._flaky_indexes:
            switches = [self._switches[self.devices[i].instance] for i in self._flaky_indexes]
            self._flaky_task = asyncio.create_task(
                run_flaky(self._flaky, switches, self._stop), name=f"simulator-flaky-{first}"
            )

    async def stop(self) -> None:
        """Stop the value task, close every device and let the sockets go."""
        self._stop.set()
        running = (self._updater, self._flaky_task, self._trend_task)
        tasks = [task for task in running if task is not None]
        self._updater = self._flaky_task = self._trend_task = None
        try:
            for task in tasks:
                await task
        finally:
            self._close_devices()
            await _release_sockets()

    async def serve(self, stop: asyncio.Event) -> None:
        """Wait until `stop` is set; raise at once if the value task fails."""
        if self._updater is None:
            raise RuntimeError("start() the building before serving it")
        waiter = asyncio.create_task(stop.wait(), name="simulator-stop-waiter")
        running = (self._updater, self._flaky_task, self._trend_task)
        watched = {task for task in running if task is not None}
        try:
            await asyncio.wait({waiter, *watched}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        for task in watched:
            if task.done() and not self._stop.is_set():
                task.result()  # re-raise the task's error
                raise RuntimeError(f"the simulator's task {task.get_name()} ended unexpectedly")

    def device(self, instance: int) -> SimulatedDevice:
        """The running device `instance`; ValueError if this building has none."""
        for device in self.devices:
            if device.instance == instance:
                return device
        raise ValueError(f"no device {instance} in this building")

    def switch(self, instance: int) -> DeviceSwitch:
        self.device(instance)  # the clear error for an unknown instance
        return self._switches[instance]

    def silence(self, instance: int) -> None:
        """Device `instance` stops hearing and sending anything, as if unplugged."""
        self.switch(instance).silence()

    def restore(self, instance: int) -> None:
        self.switch(instance).restore()

    async def restart(self, instance: int, seconds: float = DEFAULT_RESTART_SECONDS) -> int:
        """Reboot device `instance` (see faults.py); returns the subscriptions it forgot."""
        return await self.switch(instance).restart(seconds)

    def set_value(self, instance: int, ref: ObjectRef, value: Any) -> Any:
        """Set an object's present value on the device, as its own logic would (subscribers
        get a COV notification); returns the value as the object stores it."""
        app = self.device(instance).app
        obj = app.get_object_id(ObjectIdentifier((ref.object_type, ref.instance)))
        if obj is None or ref not in self.device(instance).objects:
            raise ValueError(f"device {instance} has no point {ref}")
        obj.presentValue = value
        return obj.presentValue

    def change_values(self, limit: int = MAX_CHANGES_PER_TICK) -> int:
        """Move the next `limit` analog inputs one random step; returns how many moved."""
        count = min(len(self._walkers), limit)
        for _ in range(count):
            obj, walk = self._walkers[self._walk_cursor]
            self._walk_cursor = (self._walk_cursor + 1) % len(self._walkers)
            obj.presentValue = walk.next(float(obj.presentValue), self._rng)
        return count

    def log_trends(self) -> int:
        """Every trend log takes a record now (the trend task does it each interval)."""
        for trend in self._trend_logs:
            trend.log(self.trend_records)
        return len(self._trend_logs)

    async def _open_devices(self) -> None:
        open_one = self._device_opener()
        for first in range(0, len(self._plans), START_WAVE):
            wave = self._plans[first : first + START_WAVE]
            await self._open_wave(wave, open_one)

    def _device_opener(self) -> Opener:
        if self._clone:
            return lambda plan: self._open_cloned(plan, self._clone[plan.instance])
        specs = device_points(self._object_count)
        factory = ObjectFactory(self._rng)
        return lambda plan: self._open_device(plan, specs, factory)

    async def _open_wave(self, wave: list[DevicePlan], open_one: Opener) -> None:
        tasks = [
            asyncio.create_task(open_one(plan), name=f"simulator-open-{plan.instance}")
            for plan in wave
        ]
        # Let every bind finish (no half-open sockets left behind), then report the first error.
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:  # in plan order, whatever order the binds finished in
            if isinstance(result, _OpenedDevice):
                self.devices.append(result.device)
                self._walkers.extend(result.walkers)
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:
            raise errors[0]

    async def _open_device(
        self, plan: DevicePlan, specs: list[PointSpec], factory: ObjectFactory
    ) -> _OpenedDevice:
        # Objects are built before the first await, in task order, so a seed gives the same
        # values whatever the scheduling of the binds.
        objects = [factory.build(spec) for spec in specs]
        app_class = SimulatedApplication if plan.supports_rpm else NoRpmApplication
        trends = trend_logs_for(
            plan.instance,
            objects,
            specs,
            self.trend_records,
            interval=self._trend_interval,
            buffer_size=self._trend_buffer,
        )
        self._trend_logs.extend(trends)
        served = [*objects, *schedule_objects(specs), *(trend.obj for trend in trends)]
        app = await open_application(_engine_config(plan), app_class, objects=served)
        self._switches[plan.instance] = DeviceSwitch(app)
        walkers: list[tuple[Any, Mover]] = [
            (obj, spec.template.walk)
            for obj, spec in zip(objects, specs, strict=True)
            if spec.template.walk is not None
        ]
        device = SimulatedDevice(
            instance=plan.instance,
            address=plan.address,
            name=plan.name,
            app=app,
            segmentation=plan.segmentation,
            supports_rpm=plan.supports_rpm,
            max_apdu=plan.max_apdu,
            objects=tuple(spec.ref for spec in specs),
            bbmd=plan.bbmd,
        )
        return _OpenedDevice(device, walkers)

    async def _open_cloned(self, plan: DevicePlan, cloned: ClonedDevice) -> _OpenedDevice:
        built = cloned_objects(cloned)
        trends = cloned_trend_logs(
            cloned,
            built,
            self.trend_records,
            interval=self._trend_interval,
            buffer_size=self._trend_buffer,
        )
        self._trend_logs.extend(trends)
        served = [*built.objects, *(trend.obj for trend in trends)]
        app_class = SimulatedApplication if plan.supports_rpm else NoRpmApplication
        app = await open_application(clone_config(plan, cloned), app_class, objects=served)
        self._switches[plan.instance] = DeviceSwitch(app)
        device = SimulatedDevice(
            instance=plan.instance,
            address=plan.address,
            name=plan.name,
            app=app,
            segmentation=plan.segmentation,
            supports_rpm=plan.supports_rpm,
            max_apdu=plan.max_apdu,
            objects=tuple(point.ref for point in cloned.points),
        )
        return _OpenedDevice(device, list(built.replays))

    def _close_devices(self) -> None:
        devices, self.devices = self.devices, []
        self._switches.clear()
        for device in devices:
            close_application(device.app)

    async def _walk_values(self) -> None:
        # Ends when stop() sets the event; each round moves at most MAX_CHANGES_PER_TICK values.
        while not await self._stopped_within(self._change_interval):
            await self._change_batch()

    async def _log_trends(self) -> None:
        while not await self._stopped_within(self._trend_interval):
            self.log_trends()

    async def _change_batch(self) -> None:
        # Small slices with a yield between them keep the devices answering during a tick.
        remaining = min(len(self._walkers), MAX_CHANGES_PER_TICK)
        while remaining > 0:
            remaining -= self.change_values(min(remaining, CHANGES_BETWEEN_YIELDS))
            await asyncio.sleep(0)

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True


async def _release_sockets() -> None:
    # Closed transports close their sockets on the next loop iteration; after that the
    # addresses are free for the next building.
    await asyncio.sleep(0)


def _engine_config(plan: DevicePlan) -> EngineConfig:
    return EngineConfig(
        address=plan.bind_address,
        device_instance=plan.instance,
        device_name=plan.name,
        vendor_name="BMS open source (simulator)",
        model_name="Simulated AHU controller",
        description=f"Air-handling unit controller {plan.index + 1} of a simulated building",
        location=f"Plant room {plan.index // 20 + 1}",
        max_apdu=plan.max_apdu,
        segmentation=plan.segmentation,
        support_rpm=plan.supports_rpm,
        accept_foreign_devices=plan.bbmd,
    )
