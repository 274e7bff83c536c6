"""Settings for the consortium planner: one module, driven by environment variables.

Every value has an embedded default suitable for a laptop (SQLite file, a filesystem broker),
except secrets in production: with DEBUG off, SECRET_KEY must come from the environment.
A malformed value raises ImproperlyConfigured at start-up rather than being guessed at.
"""

from __future__ import annotations

import datetime
import logging
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    """An empty variable counts as unset, as docker-compose's `${NAME:-}` passes one through."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_decimal(name: str, default: str, *, minimum: str = "0") -> Decimal:
    value = env_str(name, default)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if not number.is_finite() or number < Decimal(minimum):
        raise ImproperlyConfigured(f"{name} must be a finite number of at least {minimum}, got {value!r}")
    return number


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_redis_url(name: str) -> str:
    url = env_str(name, "")
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("redis", "rediss") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number in 1-65535
        valid = False
    if not valid:
        raise ImproperlyConfigured(f"{name} must look like redis://host:6379/0, got {url!r}")
    return url


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"
elif not DEBUG and SECRET_KEY.startswith("change-me"):
    # The placeholder from .env.example is public: signing sessions with it is no secret at all.
    raise ImproperlyConfigured("SECRET_KEY is still the .env.example placeholder; set a long random value")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "consortium",
    "accounts",
    "labs",
    "simulations",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "consortium.middleware.RejectNulBytesMiddleware",
    "consortium.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "consortium.headers.PrivacyHeadersMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so it sees the response of the log-in view and replaces it when the attempt was refused.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "consortium.urls"
WSGI_APPLICATION = "consortium.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
# Connections are kept for 60 s and checked before reuse: a PostgreSQL restart costs a reconnect, not a 500.
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL ({DATABASE_URL!r}): {exc}") from None
if not DATABASES["default"]["NAME"]:
    raise ImproperlyConfigured(f"DATABASE_URL names no database: {DATABASE_URL!r}")
# The report endpoints' fixed lookups (reports/rows.py) run as prepared statements, parsed once per
# connection and, after a few runs, no longer planned on every request. Django leaves prepared statements off because
# connection poolers in transaction mode used to break them: set DATABASE_PREPARED_STATEMENTS=false
# behind such a pooler (PgBouncer before 1.21, or without max_prepared_statements). Other queries
# use client-side binding either way and are never prepared.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_PREPARED_STATEMENTS:
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Several processes (web, worker) share the file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Invitations one consortium may send in any 24 hours: a stranger's consortium cannot flood labs' dashboards.
INVITATIONS_PER_DAY = env_int("INVITATIONS_PER_DAY", 20, minimum=1)

# Log-in throttling (django-axes). Failed log-ins are counted per account and, separately, per
# client address (the one the API's throttle uses, see NUM_PROXIES); either count reaching
# LOGIN_FAILURE_LIMIT locks that account or address out of /accounts/login/ and /admin/login/ for
# LOGIN_COOLOFF_MINUTES after the last attempt (0: until staff unlock it). Counts and lockouts are
# rows in the database, so they survive restarts and are shared by every web process.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15)
AUTHENTICATION_BACKENDS = [
    "consortium.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=LOGIN_COOLOFF_MINUTES) if LOGIN_COOLOFF_MINUTES else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "consortium.login_throttle.client_address"
AXES_LOCKOUT_CALLABLE = "consortium.login_throttle.lockout_response"
# Log-ins that succeed are kept too (the admin's "Access logs"): who signed in from where and when.
AXES_RESET_ON_SUCCESS = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "landing"

# Email (password resets, lab invitations): the console backend prints messages to the web
# process's output until an SMTP server is configured.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Consortium planner <planner@localhost>")
# How long a password-reset link and a lab invitation link stay valid.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600, minimum=3600)
LAB_INVITATION_DAYS = env_int("LAB_INVITATION_DAYS", 7, minimum=1)

# Security: secure by default when DEBUG is off; SECURE_SSL_REDIRECT can be turned off behind a
# proxy that already redirects.
# X-Forwarded-Proto is believed only when a proxy we control sets it: with gunicorn published
# directly any client could send the header and pass as HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Health probes (docker-compose, load balancers) call /healthz over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts, styles, images and fonts from this site only, no
# inline script or style anywhere (templates keep them in static/), no plugins, no framing. The API
# docs pages, served from drf-spectacular-sidecar, widen it for themselves (consortium/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Powerful browser features no page of the planner uses, refused for the page and any frame.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# Celery: Redis when REDIS_URL is set, otherwise Kombu's filesystem transport, which carries
# tasks between separate processes on one machine without any server.
REDIS_URL = env_redis_url("REDIS_URL")
BROKER_DIR = Path(env_str("BROKER_DIR", str(DATA_DIR / "broker")))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A task a lost worker had reserved goes back to the queue after visibility_timeout; it must
    # exceed the longest task (SIMULATION_TIME_LIMIT) or running tasks would be handed out twice.
    # A short connect timeout lets a web request learn quickly that the broker is down.
    # Workers look for such overdue tasks every SIMULATION_RESTORE_INTERVAL seconds (Kombu's own
    # default sweep is only every 100 s).
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": env_int("SIMULATION_VISIBILITY_TIMEOUT", 3600, minimum=1),
        "unacked_restore_interval": env_int("SIMULATION_RESTORE_INTERVAL", 60, minimum=1),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": 2,
    }
else:
    # The host part means nothing to this transport; naming one stops Kombu warning it is missing.
    CELERY_BROKER_URL = "filesystem://localhost/"
    for folder in ("out", "control", "processed"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
# Caches. "default" holds the API's rate-limit counters (reports/throttling.py): in Redis when
# REDIS_URL is set, so that every web process counts against the same limit, else in this
# process's memory (a laptop's single process). Short timeouts: a Redis outage must not hang
# requests (the throttle then lets them through). "local" holds what each process may keep for
# itself: report rows and bodies of run results, which never change once stored.
if REDIS_URL:
    DEFAULT_CACHE: dict[str, object] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "planner",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
else:
    DEFAULT_CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"}
CACHES = {
    "default": DEFAULT_CACHE,
    "local": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "local",
        "TIMEOUT": 3600,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A worker keeps trying to reach a broker that went away instead of exiting after 100 attempts.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_ROUTES = {"simulations.tasks.*": {"queue": "simulations"}}
SIMULATION_SOFT_TIME_LIMIT = env_int("SIMULATION_SOFT_TIME_LIMIT", 600, minimum=1)
SIMULATION_TIME_LIMIT = env_int("SIMULATION_TIME_LIMIT", 660, minimum=1)
if SIMULATION_TIME_LIMIT <= SIMULATION_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("SIMULATION_TIME_LIMIT must be greater than SIMULATION_SOFT_TIME_LIMIT")
SIMULATION_CHUNK_DRAWS = env_int("SIMULATION_CHUNK_DRAWS", 500, minimum=1)
# Seconds between two passes of the worker's re-dispatcher (queued runs never handed to the
# broker) and watchdog (running runs that stopped making progress).
SIMULATION_DISPATCH_INTERVAL = env_int("SIMULATION_DISPATCH_INTERVAL", 10, minimum=1)
# Backstop for single lost messages: a run sent (or chunks handed out) this long ago that shows no
# sign of life is sent again. A broker that lost everything is noticed on the next pass instead.
SIMULATION_STALE_AFTER = env_int("SIMULATION_STALE_AFTER", SIMULATION_TIME_LIMIT + 120, minimum=1)
# A computing chunk (or a merge) writes a heartbeat every SIMULATION_HEARTBEAT_INTERVAL seconds; one
# silent for SIMULATION_HEARTBEAT_TIMEOUT seconds has lost its worker and is sent again.
SIMULATION_HEARTBEAT_INTERVAL = env_int("SIMULATION_HEARTBEAT_INTERVAL", 20, minimum=1)
SIMULATION_HEARTBEAT_TIMEOUT = env_int("SIMULATION_HEARTBEAT_TIMEOUT", 90, minimum=2)
if SIMULATION_HEARTBEAT_TIMEOUT <= SIMULATION_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured("SIMULATION_HEARTBEAT_TIMEOUT must be greater than SIMULATION_HEARTBEAT_INTERVAL")
# Transient database errors (statement cancels, dropped connections, deadlocks, serialization
# failures, lock timeouts) are retried up to SIMULATION_RETRY_MAX times, waiting
# SIMULATION_RETRY_BACKOFF seconds and doubling up to SIMULATION_RETRY_BACKOFF_MAX (1, 2, 4, 8, 16,
# 30, 30, ... : about three minutes in all with the defaults) before the run fails.
SIMULATION_RETRY_MAX = env_int("SIMULATION_RETRY_MAX", 10, minimum=0)
SIMULATION_RETRY_BACKOFF = env_int("SIMULATION_RETRY_BACKOFF", 1, minimum=1)
SIMULATION_RETRY_BACKOFF_MAX = env_int("SIMULATION_RETRY_BACKOFF_MAX", 30, minimum=1)


# Bounds on the work one request or one consortium can ask for (docs/operations.md, "Limits").
# Request bodies larger than this are refused before they are read (413 under /api/).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_BODY_MAX_BYTES", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("REQUEST_MAX_FORM_FIELDS", 1000, minimum=10)
# Arrays and objects nested deeper than this in a JSON body are refused before decoding (400).
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 20, minimum=4)
SCENARIO_MAX_LABS = env_int("SCENARIO_MAX_LABS", 100, minimum=2)
# The membership advisor computes one game per candidate and per member on page load: scenarios with more
# labs are refused (a variant then has up to one more), and at most this many candidates are shown.
ADVISOR_MAX_LABS = env_int("ADVISOR_MAX_LABS", 20, minimum=2)
ADVISOR_MAX_CANDIDATES = env_int("ADVISOR_MAX_CANDIDATES", 20, minimum=1)
# Queued plus running runs of one consortium's scenarios; one more start answers 429.
CONSORTIUM_MAX_ACTIVE_RUNS = env_int("CONSORTIUM_MAX_ACTIVE_RUNS", 5, minimum=1)
# Monte Carlo draws times the scenario's labs, per run; more answers 400.
RUN_MAX_DRAW_LABS = env_int("RUN_MAX_DRAW_LABS", 500_000, minimum=2)
# Monte Carlo draws each trial value of a lever study is checked over (a few seconds for 14 labs).
LEVER_STUDY_DRAWS = env_int("LEVER_STUDY_DRAWS", 100, minimum=10)
# Seconds a client is told to wait (Retry-After) when the database cannot be reached (503).
DATABASE_OUTAGE_RETRY_AFTER = env_int("DATABASE_OUTAGE_RETRY_AFTER", 30, minimum=1)


# A ledger entry delivering more than this multiple of its pledge needs an explicit confirmation.
LEDGER_DELIVERED_OVER_PLEDGED_RATIO = env_decimal("LEDGER_DELIVERED_OVER_PLEDGED_RATIO", "1.5", minimum="1")


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as `600/min` (per second, min, hour or day)."""
    value = env_str(name, default).strip()
    number, _, period = value.partition("/")
    if not number.isdigit() or int(number) < 1 or period[:1] not in {"s", "m", "h", "d"}:
        raise ImproperlyConfigured(f"{name} must be a rate such as 600/min, got {value!r}")
    return value


REST_FRAMEWORK = {
    # API keys come last: they only answer report endpoints, and every other endpoint refuses them
    # with 403 instead of treating the request as anonymous (reports/authentication.py).
    # Token first: DRF takes the WWW-Authenticate challenge from the first class, so anonymous
    # requests get 401 (Session has no challenge and would turn them into 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "reports.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "reports.throttling.ApiKeyRateThrottle",
        "reports.throttling.UserRateThrottle",
        "reports.throttling.AnonRateThrottle",
    ],
    # Counted in the default cache (shared through Redis when REDIS_URL is set); high enough that
    # pages and test suites never meet them.
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env_rate("API_THROTTLE_API_KEY", "1000/min"),
        "user": env_rate("API_THROTTLE_USER", "5000/min"),
        "anon": env_rate("API_THROTTLE_ANON", "1000/min"),
    },
    # Anonymous clients are counted by address: REMOTE_ADDR, or behind NUM_PROXIES proxies the
    # address the nearest of them saw in X-Forwarded-For (never the whole header, which a client
    # could vary at will).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON with a depth bound first (consortium/api/parsers.py); forms for the browsable API.
    "DEFAULT_PARSER_CLASSES": [
        "consortium.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "consortium.api_errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Consortium planner API",
    "DESCRIPTION": "Labs, contributions, artifacts, consortia, scenarios, simulation runs and "
    "savings reports of an open AI-model consortium.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Only the landing page and the health check are public; the schema and docs need a login too.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # 413 on every operation with a body, 503 on every operation (consortium/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "consortium.api.schema.document_server_errors",
    ],
    # Several models have a "kind" or "status"; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "LabKindEnum": "labs.models.Lab.Kind",
        "ArtifactKindEnum": "labs.models.Artifact.Kind",
        "MembershipStatusEnum": "consortium.models.Membership.Status",
        "RunStatusEnum": "simulations.models.SimulationRun.Status",
    },
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if not isinstance(logging.getLevelName(LOG_LEVEL), int):
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
