"""In Chromium against the whole product: a virtual AI commanded over its high limit alarms;
the alarm appears in the open console and the navigation bar's counts change without a reload;
the operator acknowledges it from the page with a comment; it moves to acknowledged and its
page names who acknowledged it and why. And a remote device's own alarm, shown live and
acknowledged from the page, reaches the device as AcknowledgeAlarm."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import ObjectSpec, serve_device
from bms.bacnet.local.alarm_spec import AlarmSpec, Destination, NotificationClassSpec
from bms.bacnet.stack import close_application
from bms.bacnet.types import ObjectRef
from tests.browser.conftest import screenshot
from tests.browser.stack import Stack
from tests.browser.test_browser import sign_in
from tests.worker.conftest import manage

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]
LIVE = 20_000  # ms: the worker's virtual sync (about 2 s) plus the alarm's way to the page


def add_alarming_sensor(stack: Stack, device_id: int) -> int:
    """A virtual temperature sensor (its AI alarms above 30.0 through notification class 1) with
    no time delay, so a crossing alarms at once; the AI's pk. The worker serves it within its
    virtual sync interval."""
    made = manage(
        stack.database_url, "bacnet_virtual", "create", "--device-id", str(device_id),
        "--name", f"Sensor {device_id}", "--template", "temperature_sensor",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    code = (
        "from bms.virtual import services\n"
        "from bms.virtual.models import VirtualObject\n"
        f"obj = VirtualObject.objects.get(device__device_id={device_id}, name='Temperature')\n"
        "services.update_virtual_object(obj, time_delay=0)\n"
        "print(obj.pk)\n"
    )
    configured = manage(stack.database_url, "shell", "-c", code)
    assert configured.returncode == 0, configured.stderr
    return int(configured.stdout.strip().splitlines()[-1])


def command(page: Any, object_pk: int, value: float) -> None:
    """Through the API, with the page's session and CSRF token (as a script in the page would)."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post(
        f"/api/virtual-objects/{object_pk}/command",
        data=json.dumps({"value": value}),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert answer.status == 200, answer.text()


def test_an_alarm_appears_live_and_is_acknowledged_from_the_console(page: Any, stack: Stack):
    sensor = add_alarming_sensor(stack, 2101)
    sign_in(page, "otto")
    page.goto("/alarms/")
    unacked = page.locator("#alarm-counts [data-alarm-count=unacknowledged]")
    active = page.locator("#alarm-counts [data-alarm-count=active]")
    expect(unacked).to_have_text("0")

    command(page, sensor, 35.0)
    row = page.locator("#alarm-console tr[data-alarm-id]", has_text="Temperature")
    expect(row).to_be_visible(timeout=LIVE)
    expect(row.locator("[data-state]")).to_have_text("high-limit")
    expect(unacked).to_have_text("1")
    expect(active).to_have_text("1")
    screenshot(page, "alarm-console-unacknowledged")

    row.locator("input[name=comment]").fill("checked the room")
    row.locator("button", has_text="Acknowledge").click()
    expect(page).to_have_url("/alarms/")
    row = page.locator("#alarm-console tr[data-alarm-id]", has_text="Temperature")
    expect(row.locator("[data-ack]")).to_have_text("acknowledged", timeout=LIVE)
    expect(unacked).to_have_text("0", timeout=LIVE)
    expect(active).to_have_text("1")

    row.locator("a").first.click()
    acked = page.locator("#alarm-transitions tr[data-transition-id] [data-acked]").first
    expect(acked).to_contain_text("by otto")
    expect(acked).to_contain_text("checked the room")
    screenshot(page, "alarm-acknowledged")


def add_silent_point(stack: Stack) -> int:
    """A remote point no value will come for (not monitored, its device is not on the
    network); its pk."""
    code = (
        "from bms.devices.models import BACnetDevice, BACnetPoint\n"
        "device = BACnetDevice.objects.create(device_instance=3999, address='127.0.0.250:47808')\n"
        "point = BACnetPoint.objects.create(device=device, object_type='analog-input',\n"
        "    instance=1, name='Silent sensor', monitored=False)\n"
        "print(point.pk)\n"
    )
    made = manage(stack.database_url, "shell", "-c", code)
    assert made.returncode == 0, made.stderr
    return int(made.stdout.strip().splitlines()[-1])


def test_a_stale_rule_made_in_the_page_raises_its_alarm_on_the_workers_clock(
    page: Any, stack: Stack
):
    """The rule form refuses a stale rule without its limit, with the reason; saved, the
    worker (its rules reloaded within 10 s, its clock every 5 s) raises the alarm live."""
    point = add_silent_point(stack)
    sign_in(page, "otto")
    page.goto(f"/alarms/rules/?point={point}")
    form = page.locator("#new-alarm-rule")
    form.locator("select[name=kind]").select_option("stale")
    form.locator("input[name=priority]").fill("30")
    form.locator("button", has_text="Create").click()
    expect(page.locator("#new-alarm-rule p.error")).to_contain_text("stale_seconds above 0")

    page.locator("#new-alarm-rule input[name=stale_seconds]").fill("1")
    page.locator("#new-alarm-rule button", has_text="Create").click()
    expect(page.locator("#alarm-rules tr[data-rule]", has_text="Silent sensor")).to_be_visible()

    page.goto("/alarms/")
    row = page.locator("#alarm-console tr[data-alarm-id]", has_text="Silent sensor")
    expect(row).to_be_visible(timeout=30_000)
    expect(row.locator("[data-state]")).to_have_text("fault")
    expect(row).to_contain_text("no value for 1 s")
    screenshot(page, "alarm-rule-stale")


REMOTE_INSTANCE = 4200
REMOTE_HOST = "127.0.0.200"  # beside the simulated building (127.0.0.2 on) and the worker (.1)


class RemoteAlarmDevice:
    """A remote device with intrinsic reporting (device 8888's own code as instance 4200) on a
    loopback host of its own: its AI notifies the worker (confirmed, class 5) above 30.0, and
    the acknowledgements it receives are kept in `acks`. Its event loop runs in a thread beside
    the synchronous browser test; bacpypes3 is only touched from that loop."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.acks: list[Any] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="remote-device")
        self.app: Any = None
        self.device: Any = None

    def __enter__(self) -> RemoteAlarmDevice:
        self.thread.start()
        self.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=15)

    def set_temperature(self, value: float) -> None:
        async def setting() -> None:
            self.device.set_present_value("AI:1", value)

        self.run(setting())

    async def _start(self) -> None:
        config = EngineConfig(
            address=f"{REMOTE_HOST}/8:{self.port}", device_instance=REMOTE_INSTANCE
        )
        self.app, self.device = await serve_device(config)
        worker = Destination(1, address=f"127.0.0.1:{self.port}", confirmed=True)
        self.device.add_notification_class(
            NotificationClassSpec(5, "Alarms", priorities=(10, 20, 30), recipients=(worker,))
        )
        self.device.add_object(
            ObjectSpec(
                "AI",
                1,
                "Remote_Temperature",
                present_value=22.0,
                alarm=AlarmSpec(notification_class=5, high_limit=30.0, deadband=1.0),
            )
        )

        async def keep(ack: Any) -> None:
            self.acks.append(ack)

        self.device.set_event_hooks(None, keep)

    async def _stop(self) -> None:
        await self.app.notifier.finish(1.0)
        close_application(self.app)


def test_a_remote_devices_alarm_is_shown_live_and_its_acknowledgement_reaches_the_device(
    page: Any, stack: Stack
):
    """A device on the network raises an alarm on its own (intrinsic reporting, a confirmed
    EventNotification to the worker); it appears in the open console; the operator's
    acknowledgement from the page is sent to the device as AcknowledgeAlarm."""
    known = manage(
        stack.database_url, "shell", "-c",
        "from bms.devices.models import BACnetDevice\n"
        f"BACnetDevice.objects.create(device_instance={REMOTE_INSTANCE}, "
        f"address='{REMOTE_HOST}:{stack.bacnet_port}', name='Remote AHU')\n",
    )  # fmt: skip
    assert known.returncode == 0, known.stderr
    with RemoteAlarmDevice(stack.bacnet_port) as remote:
        sign_in(page, "otto")
        page.goto("/alarms/")
        row = page.locator("#alarm-console tr[data-alarm-id]", has_text=str(REMOTE_INSTANCE))
        expect(row).to_have_count(0)

        remote.set_temperature(35.0)
        expect(row).to_be_visible(timeout=LIVE)
        expect(row.locator("[data-state]")).to_have_text("high-limit")
        expect(row.locator("[data-ack]")).to_contain_text("unacknowledged")

        row.locator("input[name=comment]").fill("remote checked")
        row.locator("button", has_text="Acknowledge").click()
        expect(page).to_have_url("/alarms/")
        deadline = time.monotonic() + LIVE / 1000
        while not remote.acks and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [(ack.ref, ack.acknowledged_state) for ack in remote.acks] == [
            (ObjectRef("analog-input", 1), "high-limit")
        ]
        row = page.locator("#alarm-console tr[data-alarm-id]", has_text=str(REMOTE_INSTANCE))
        expect(row.locator("[data-ack]")).to_have_text("acknowledged", timeout=LIVE)
