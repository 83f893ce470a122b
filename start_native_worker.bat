@echo off
REM Start the native BACnet worker on Windows (seed 000); start_native_worker.sh on macOS/Linux.
REM
REM The worker runs on Windows itself, next to the web app in Docker Desktop: Docker's networks
REM on Windows do not pass BACnet broadcasts (Who-Is/I-Am), so discovery from a container finds
REM nothing, while the native worker uses the PC's own network card.
REM
REM Required, and never guessed (a wrong network card silently finds no devices):
REM   set BACNET_ADDRESS=192.168.1.10/24
REM       the PC's IPv4 address on the BACnet network and its prefix length: `ipconfig` shows
REM       the address and the subnet mask (255.255.255.0 is /24); add :port if not 47808.
REM and, to share the web app's database (docker-compose.windows.yml publishes it on localhost):
REM   set DATABASE_URL=postgres://bms:PASSWORD@localhost:5432/bms
REM   set SECRET_KEY=the same secret key as the web app
REM Optional: BACNET_SITE, BACNET_DEVICE_ID (8888), BACNET_TIMEOUT; BMS_SKIP_INSTALL=1 skips
REM the `pip install -e .`; BMS_NO_PAUSE=1 does not wait for a key at the end. See docs\deploy.md.
REM Arguments are passed to the worker, e.g. --address 192.168.1.10/24.

setlocal
cd /d "%~dp0"

if exist .venv\Scripts\activate.bat (
    echo Activating .venv
    call .venv\Scripts\activate.bat
)

python --version >nul 2>&1
if errorlevel 1 (
    echo Error: Python not found. Install Python 3.11 or newer from python.org and tick
    echo "Add python.exe to PATH", or create .venv here with: py -3.11 -m venv .venv
    goto :failed
)
python -c "import sys; sys.exit(sys.version_info < (3, 11))"
if errorlevel 1 (
    echo Error: Python 3.11 or newer is required.
    goto :failed
)
if "%BACNET_ADDRESS%"=="" if "%~1"=="" (
    echo Error: BACNET_ADDRESS is not set. Set it to this PC's address on the BACnet network
    echo with its prefix length, e.g.   set BACNET_ADDRESS=192.168.1.10/24
    goto :failed
)

if not "%BMS_SKIP_INSTALL%"=="1" (
    echo Installing BMS and its dependencies: pip install -e .
    python -m pip install --quiet -e .
    if errorlevel 1 (
        echo Error: pip install failed, see the messages above.
        goto :failed
    )
)

REM The worker is started again whenever it exits with an error (a crash, its database or
REM network not ready at start), after a delay that doubles with each failure (2 s up to 60 s),
REM so nothing needs a human. It exits 0 when it was stopped: then this script ends too.
set DELAY=2
:start_worker
echo Starting the native BACnet worker. Ctrl-C stops it.
python bacnet_native_worker.py %*
set EXITCODE=%ERRORLEVEL%
if "%EXITCODE%"=="0" goto :end
echo The worker exited with status %EXITCODE%; starting it again in %DELAY% s. Ctrl-C stops.
timeout /t %DELAY% /nobreak >nul
set /a DELAY=DELAY*2
if %DELAY% GTR 60 set DELAY=60
goto :start_worker

:failed
set EXITCODE=1

:end
if not "%BMS_NO_PAUSE%"=="1" pause
endlocal & exit /b %EXITCODE%
