"""Run inside tests.netns.two_subnets: a BBMD and devices on one subnet, clients on the other.

Prints one JSON line: what a normal client and a foreign-device client each discovered, what
the foreign one read across, and the BBMD's foreign device table.

    python -m tests.bacnet.foreign_scenario PORT
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bms.bacnet.client import Client
from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, foreign_registration, open_application
from tests.bacnet.client_peers import point_objects
from tests.netns import BUILDING_SUBNET, WORKER_SUBNET

BBMD, DEVICES = 900, (905, 906, 907)


async def scenario(port: int) -> dict[str, Any]:
    apps = [
        await open_application(
            EngineConfig(
                address=f"{BUILDING_SUBNET}.2/24:{port}",
                device_instance=BBMD,
                device_name="bbmd",
                accept_foreign_devices=True,
            )
        )
    ]
    try:
        for instance in DEVICES:
            apps.append(
                await open_application(
                    EngineConfig(
                        address=f"{BUILDING_SUBNET}.{instance - 900}/24:{port}",
                        device_instance=instance,
                        device_name=f"device-{instance}",
                    ),
                    objects=point_objects(),
                )
            )
        found: dict[str, Any] = {}
        for kind, host, bbmd in (
            ("normal", 10, ""),
            ("foreign", 11, f"{BUILDING_SUBNET}.2:{port}"),
        ):
            config = EngineConfig(
                address=f"{WORKER_SUBNET}.{host}/24:{port}",
                device_instance=5000 + host,
                device_name=kind,
                foreign_bbmd=bbmd,
                # How long opening waits for the BBMD to accept the registration (a pending
                # one refuses the Who-Is below); it ends as soon as the BBMD answers.
                timeout=5.0,
            )
            app = await open_application(config)
            apps.append(app)
            client = Client(app, config)
            try:
                records = await client.who_is(timeout=2.0)
                found[kind] = sorted(record.device_instance for record in records)
                found[f"{kind}_registration"] = foreign_registration(app)
                if bbmd:
                    found["read_across"] = await client.read_property(
                        f"{BUILDING_SUBNET}.5:{port}", "device,905", "object-name"
                    )
            finally:
                await client.close()
        bbmd_link = next(iter(apps[0].link_layers.values()))
        found["fdt"] = sorted(
            "{}:{}".format(*entry.fdAddress.addrTuple) for entry in bbmd_link.bbmdFDT
        )
        return found
    finally:
        for app in apps:
            close_application(app)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(scenario(int(sys.argv[1])))))
