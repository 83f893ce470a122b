#!/usr/bin/env python
"""The native BACnet worker (seed 000): `manage.py bacnet_worker` on the host's own network.

Run it where the BACnet network is, next to a web app in Docker (Windows, macOS) or on its own:

    set BACNET_ADDRESS=192.168.1.10/24           (Windows; `export ...` on macOS/Linux)
    set DATABASE_URL=postgres://bms:bms@localhost:5432/bms
    python bacnet_native_worker.py [--address 192.168.1.10/24]

It only picks the settings module and the native backend (the worker polls the BACnetTask table)
and hands over to the `bacnet_worker` command, so everything the command does (the required
BACNET_ADDRESS, clean stop on Ctrl-C / SIGTERM) is the same here. An explicit BACNET_BACKEND wins,
for a native install that does have a Redis broker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    # Runnable from any directory, also without `pip install -e .`.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bms.settings")
    if not os.environ.get("BACNET_BACKEND"):
        os.environ["BACNET_BACKEND"] = "native"
        print(
            "bacnet_native_worker: BACNET_BACKEND=native (set by this script; set "
            "BACNET_BACKEND yourself to choose another)",
            file=sys.stderr,
            flush=True,
        )
    from bms.manage import main as manage

    manage([argv[0], "bacnet_worker", *argv[1:]])


if __name__ == "__main__":
    main(sys.argv)
