#!/bin/sh
# Start the native BACnet worker on macOS or Linux (seed 000); start_native_worker.bat on Windows.
#
# The worker runs on the host, where the BACnet network is: Docker Desktop (macOS) cannot pass
# BACnet broadcasts (Who-Is/I-Am) into a container, so discovery from a container finds nothing.
# On Linux you may run the worker in Docker with host networking instead (docs/deploy.md).
#
# Required, and never guessed (a wrong interface silently finds no devices):
#   export BACNET_ADDRESS=192.168.1.10/24   # this host's address on the BACnet network and its
#                                           # prefix length (`ip -4 addr` / `ifconfig`), :port
#                                           # optional (47808)
# and, to share the web app's database (otherwise SQLite under ./var):
#   export DATABASE_URL=postgres://bms:PASSWORD@localhost:5432/bms
#   export SECRET_KEY=...                   # the web app's secret key
# Optional: BACNET_SITE, BACNET_DEVICE_ID (8888), BACNET_TIMEOUT, PYTHON (python3);
# BMS_SKIP_INSTALL=1 skips `pip install -e .` when the install is up to date.
# Arguments are passed to the worker, e.g. --address 192.168.1.10/24.
set -eu
cd "$(dirname "$0")"

if [ -f .venv/bin/activate ]; then
    echo "Activating .venv"
    set +u  # activate scripts read variables that may be unset
    . .venv/bin/activate
    set -u
    PYTHON=python
fi
PYTHON=${PYTHON:-python3}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "Error: $PYTHON not found. Install Python 3.11 or newer." >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "Error: Python 3.11 or newer is required ($("$PYTHON" --version 2>&1) found)." >&2
    exit 1
fi
if [ -z "${BACNET_ADDRESS:-}" ] && ! printf '%s\n' "$@" | grep -q -- '^--address'; then
    echo "Error: BACNET_ADDRESS is not set. Set it to this host's address on the BACnet" >&2
    echo "network with its prefix length, e.g. export BACNET_ADDRESS=192.168.1.10/24" >&2
    exit 1
fi

if [ "${BMS_SKIP_INSTALL:-0}" != "1" ]; then
    echo "Installing BMS and its dependencies (pip install -e .)"
    "$PYTHON" -m pip install --quiet -e .
fi

# The worker is started again whenever it exits with an error (a crash, a kill, its database
# or network not ready at start), after a delay that doubles with each quick failure (2 s up to
# 60 s; back to 2 s once it has run for a minute), so nothing needs a human. It exits 0 when it
# was stopped (Ctrl-C, SIGTERM): then this script ends too.
stopping=0
child=
trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' INT TERM
delay=2
while :; do
    echo "Starting the native BACnet worker (Ctrl-C stops it)"
    started=$(date +%s)
    "$PYTHON" bacnet_native_worker.py "$@" &
    child=$!
    status=0
    wait "$child" || status=$?
    while kill -0 "$child" 2>/dev/null; do  # a trapped signal interrupted wait: wait again
        status=0
        wait "$child" || status=$?
    done
    child=
    if [ "$stopping" = 1 ] || [ "$status" -eq 0 ]; then
        exit "$status"
    fi
    if [ $(($(date +%s) - started)) -ge 60 ]; then
        delay=2
    fi
    echo "start_native_worker: the worker exited with status $status; starting it again in" \
        "${delay}s (Ctrl-C stops)" >&2
    sleep "$delay" &
    child=$!
    wait "$child" || true
    child=
    if [ "$stopping" = 1 ]; then
        exit "$status"
    fi
    delay=$((delay * 2))
    if [ "$delay" -gt 60 ]; then
        delay=60
    fi
done
