"""Django settings, read from the environment through the typed helpers in bms.env.

The embedded default needs no configuration: SQLite in ./var, a database-backed channel layer, the
native backend. A deployment sets DATABASE_URL (PostgreSQL), REDIS_URL and friends. Mistakes in
BACNET_* values are reported by the system checks in bms.worker.checks rather than here, so that
one `manage.py check` lists all of them at once. Settings import no app code.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from bms.env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BMS_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
_DEV_SECRET_KEY = "django-insecure-development-only-never-deploy-this-key"  # noqa: S105


def _secret_key() -> str:
    """SECRET_KEY; on the embedded default (no DATABASE_URL) the key `make run` keeps in
    ./var/secret_key, so `bms <command>` works on that instance out of the box. A deployment
    (DATABASE_URL) sets its own."""
    kept = VAR_DIR / "secret_key"
    if not env_str("SECRET_KEY", "") and not env_str("DATABASE_URL", "") and kept.is_file():
        return kept.read_text().strip()
    return env_str(
        "SECRET_KEY",
        _DEV_SECRET_KEY if DEBUG else None,
        hint=" when DEBUG is off (set a long random SECRET_KEY, DEBUG=1 for development, or run"
        " `make run` once: it keeps a key in ./var for the embedded default)",
    )


SECRET_KEY = _secret_key()
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is the development key; set a secret one or DEBUG=1")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    # daphne first: it replaces runserver with an ASGI server so Channels works in development.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "bms.tasks",
    "bms.virtual",
    "bms.devices",
    "bms.profiles",
    "bms.history",
    "bms.schedules",
    "bms.alarms",
    "bms.worker",
    # ninja in the apps so /api/docs serves Swagger UI from our static files, not a CDN.
    "ninja",
    "bms.accounts",
    "bms.realtime",
    "bms.web",
    # Sign-in throttling and its records (AccessAttempt, AccessFailureLog); see "Sign-in" below.
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "bms.web.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Configuration changes audited during a request name its user (bms.devices.config_audit).
    "bms.web.middleware.ConfigAuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes requires: turns a locked-out sign-in into a 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bms.urls"
WSGI_APPLICATION = "bms.wsgi.application"
ASGI_APPLICATION = "bms.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bms.web.context.user_role",
                "bms.web.context.alarm_counts",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    """PostgreSQL (or anything dj-database-url knows) from DATABASE_URL, else SQLite in var/."""
    url = env_str("DATABASE_URL", "")
    database: dict[str, Any]
    if url:
        conn_max_age = env_int("DATABASE_CONN_MAX_AGE", 60)
        database = dict(dj_database_url.parse(url, conn_max_age=conn_max_age))
    else:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "bms.sqlite3")}
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["OPTIONS"] = {**database.get("OPTIONS", {}), **_SQLITE_OPTIONS}
    return database


# The web process and the worker write the same SQLite file: WAL lets readers run during a write,
# the timeout makes a writer wait instead of failing with "database is locked", and IMMEDIATE takes
# the write lock at BEGIN, because upgrading a read transaction to a write one fails at once
# (SQLITE_BUSY) without honouring the timeout.
_SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    "timeout": env_float("SQLITE_TIMEOUT", 20.0),
    "transaction_mode": "IMMEDIATE",
}

DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise warns on every request cycle set-up when STATIC_ROOT is missing; collectstatic is
# optional here (see WHITENOISE_USE_FINDERS), so an empty directory is the normal case.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve the apps' static files without a collectstatic step (the embedded default has none);
# files that were collected into STATIC_ROOT are still served from there first.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)

# Sign-in: every page and API call needs an account (roles in bms.accounts.roles).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:devices"
LOGOUT_REDIRECT_URL = "login"
# Served over TLS (daphne's ssl endpoint, or a proxy that terminates TLS): BMS_TLS=1 turns on
# what `manage.py check --deploy` asks for; docs/deploy.md says how.
TLS = env_bool("BMS_TLS", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", TLS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", TLS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if TLS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", TLS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("BMS_TLS_PROXY", False):
    # A proxy in front terminates TLS and says so; without this the SSL redirect would loop.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Asking browsers to preload HSTS is a commitment for the whole domain that only its owner can
# make (hstspreload.org); it stays off unless SECURE_HSTS_PRELOAD=1, so its reminder is silenced.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Guessing is throttled (django-axes): after BMS_SIGNIN_FAILURE_LIMIT failed sign-ins for one
# account, or from one address, that account or address is refused (429) for
# BMS_SIGNIN_LOCKOUT_MINUTES; a success below the limit resets the count. Each failure is kept
# in AccessFailureLog (admin: Axes) and logged as one WARNING line.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("BMS_SIGNIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("BMS_SIGNIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False  # bms.accounts logs one line per failure instead of axes' several
# API tokens (bms.api.auth): an address sending this many wrong Bearer tokens within the window
# gets 429 until the window, counted from its first wrong token, ends.
API_TOKEN_FAILURE_LIMIT = env_int("BMS_TOKEN_FAILURE_LIMIT", 10)
API_TOKEN_LOCKOUT_SECONDS = env_int("BMS_TOKEN_LOCKOUT_SECONDS", 300)

# Alarm e-mails (bms.alarms.notifiers) go through Django's mail settings: printed to the console
# unless BMS_EMAIL_BACKEND names another (django.core.mail.backends.smtp.EmailBackend with the
# BMS_EMAIL_HOST and BMS_EMAIL_PORT below).
EMAIL_BACKEND = env_str("BMS_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("BMS_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("BMS_EMAIL_PORT", 25)
EMAIL_TIMEOUT = env_int("BMS_EMAIL_TIMEOUT_SECONDS", 10)  # a slow server holds one sender only
DEFAULT_FROM_EMAIL = env_str("BMS_EMAIL_FROM", "bms@localhost")

# Request bodies over this many bytes are answered 413 before they are read (bms.bodylimit): the
# API takes JSON of a few KB, and daphne would otherwise buffer any body whole in memory.
MAX_REQUEST_BYTES = env_int("BMS_MAX_REQUEST_BYTES", 5 * 1024 * 1024)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Redis, Celery and Channels ------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# BACnet tasks run for seconds to minutes: take one at a time and acknowledge after running, so
# a worker killed mid-task leaves the message for another one.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # The worker (which sees BACnet events) and the web server are separate processes, so the
    # in-memory layer would never reach a browser; this one relays group messages through a
    # database table that the web process polls (see bms.realtime.layer).
    CHANNEL_LAYERS = {"default": {"BACKEND": "bms.realtime.layer.DatabaseChannelLayer"}}

# BACnet --------------------------------------------------------------------------------------

# auto, native or docker; auto is resolved where the backend is used, from the broker setting
# and the machine (bms.tasks.backends.detection.configured_backend), not here: settings import
# no app code.
BACNET_BACKEND = env_choice("BACNET_BACKEND", ["auto", "native", "docker"], "auto")
# Required by the worker and never guessed (a wrong interface silently finds nothing); empty here
# so the web process starts without it. Example: 192.168.1.10/24 or 127.0.0.1/8:47808.
BACNET_ADDRESS = env_str("BACNET_ADDRESS", "")
BACNET_DEVICE_ID = env_int("BACNET_DEVICE_ID", 8888)
BACNET_DEVICE_NAME = env_str("BACNET_DEVICE_NAME", "Django_BMS")
BACNET_TIMEOUT = env_float("BACNET_TIMEOUT", 3.0)
BACNET_RETRIES = env_int("BACNET_RETRIES", 1)
# DeviceCommunicationControl and ReinitializeDevice sent to our device need this password (at
# most 20 characters); empty: both are always refused (bms.bacnet.device_management).
BACNET_DEVICE_PASSWORD = env_str("BACNET_DEVICE_PASSWORD", "")
# A worker on another IP subnet than its devices registers with their BBMD as a foreign device
# ("192.168.2.1" or "192.168.2.1:47808"); its Who-Is then reach them through the BBMD.
BACNET_FOREIGN_BBMD = env_str("BACNET_FOREIGN_BBMD", "")
BACNET_FOREIGN_TTL = env_int("BACNET_FOREIGN_TTL", 300)
# Routing key for multi-site installs: a worker takes only its site's tasks (and Celery queue).
BACNET_SITE = env_str("BACNET_SITE", "default")
BACNET_DISCOVERY_CACHE_SECONDS = env_int("BACNET_DISCOVERY_CACHE_SECONDS", 300)
# The priority of a write or command sent without one (an empty priority box): stored with the
# task and the audit. BACnet's own default is 16 (bms.bacnet.commanding.DEFAULT_PRIORITY).
BACNET_DEFAULT_WRITE_PRIORITY = env_int("BACNET_DEFAULT_WRITE_PRIORITY", 16)
# A claimed task's lease; the worker heartbeats well within it, and an expired lease means the
# worker died, so the task goes back to pending.
BACNET_TASK_LEASE_SECONDS = env_int("BACNET_TASK_LEASE_SECONDS", 60)
BACNET_WORKER_ALIVE_SECONDS = env_int("BACNET_WORKER_ALIVE_SECONDS", 30)
# Trending: the worker queues a `collect` of every online device this often (0 = never).
BACNET_POLL_SECONDS = env_int("BACNET_POLL_SECONDS", 0)
# On SIGTERM/Ctrl-C the worker lets running tasks finish this long, then hands them back.
BACNET_SHUTDOWN_SECONDS = env_float("BACNET_SHUTDOWN_SECONDS", 10.0)
# Monitoring (bms.devices.monitoring): what the worker watches and how, unless a device or a
# point says otherwise. Modes: cov (COV only), poll, auto (COV, polled where it is refused).
BACNET_MONITOR_DEFAULT = env_bool("BACNET_MONITOR_DEFAULT", False)
BACNET_MONITOR_DEFAULT_MODE = env_choice(
    "BACNET_MONITOR_DEFAULT_MODE", ["cov", "poll", "auto"], "auto"
)
BACNET_MONITOR_POLL_SECONDS = env_int("BACNET_MONITOR_POLL_SECONDS", 60)
# Changes of monitoring settings reach the worker within a second (a revision per site); this
# often it also looks for devices added, readdressed or deleted (device rows only, no points).
BACNET_MONITOR_RELOAD_SECONDS = env_float("BACNET_MONITOR_RELOAD_SECONDS", 10.0)
BACNET_COV_CONFIRMED = env_bool("BACNET_COV_CONFIRMED", False)
BACNET_COV_LIFETIME = env_int("BACNET_COV_LIFETIME", 300)  # seconds; renewed a fifth early
# Device health (bms.bacnet.health): this many failed requests in a row make a device
# unreachable; unreachable this long, offline; retried with backoff up to the last one.
BACNET_HEALTH_FAILURES = env_int("BACNET_HEALTH_FAILURES", 3)
BACNET_OFFLINE_AFTER_SECONDS = env_int("BACNET_OFFLINE_AFTER_SECONDS", 300)
BACNET_HEALTH_RETRY_MAX_SECONDS = env_int("BACNET_HEALTH_RETRY_MAX_SECONDS", 300)
# History (bms.history): raw readings are kept this many days, rolled up into 1-minute,
# 15-minute and hourly buckets kept as long (0 days: for ever). The worker queues a "history"
# task (roll-up and retention, at most BMS_HISTORY_MAX_ROWS rows per level and step) this
# often (0 = never); a bucket is rolled up GRACE seconds after it ends.
BMS_HISTORY_RAW_DAYS = env_int("BMS_HISTORY_RAW_DAYS", 30)
BMS_HISTORY_1MIN_DAYS = env_int("BMS_HISTORY_1MIN_DAYS", 90)
BMS_HISTORY_15MIN_DAYS = env_int("BMS_HISTORY_15MIN_DAYS", 2 * 365)
BMS_HISTORY_1H_DAYS = env_int("BMS_HISTORY_1H_DAYS", 0)
BMS_HISTORY_SECONDS = env_int("BMS_HISTORY_SECONDS", 60)
BMS_HISTORY_MAX_ROWS = env_int("BMS_HISTORY_MAX_ROWS", 50_000)
BMS_HISTORY_GRACE_SECONDS = env_int("BMS_HISTORY_GRACE_SECONDS", 120)
# A device the worker cannot reach raises a comm-loss alarm (bms.alarms.comm_loss) at this
# BACnet priority (0 most urgent .. 255).
BMS_COMM_LOSS_PRIORITY = env_int("BMS_COMM_LOSS_PRIORITY", 50)

# Logging -------------------------------------------------------------------------------------

# Every line goes through one handler on the root logger, printed once: configuring the root
# replaces the handler daphne's command line puts there (with it, each bms line was printed twice
# in the web process), and Django's own console handler (DEBUG only). A refused request (4xx) is
# one WARNING line, without the traceback of the exception that refused it (bms.log).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_errors_on_one_line": {"()": "bms.log.ClientErrorsOnOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "bms": {
            "level": env_choice(
                "BMS_LOG_LEVEL", ["debug", "info", "warning", "error"], "info"
            ).upper(),
        },
        "django": {"handlers": [], "level": "WARNING"},
        # Where daphne listens, once at start (scripts wait for "Listening on"); its access log
        # is off unless asked for (bms.run).
        "daphne.server": {"level": "INFO"},
        "django.request": {"filters": ["client_errors_on_one_line"], "level": "WARNING"},
    },
}
