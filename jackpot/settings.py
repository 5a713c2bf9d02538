"""Settings for the jackpot engine, read from the environment (django-environ).

One module for every environment: behaviour differences come from variables, never from a
separate production file. `.env.example` lists every variable read here.

With `DEBUG` on (the default, for a laptop) the secrets fall back to development values;
with `DEBUG=false` a missing `SECRET_KEY` or `OPERATOR_SECRET_ENCRYPTION_KEY` stops the
process at start-up instead of running with a guessable key.
"""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode
from pathlib import Path

import environ
import structlog
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=True) and (BASE_DIR / ".env").exists():
    environ.Env.read_env(str(BASE_DIR / ".env"))

# ----------------------------------------------------------------------------- core
DEBUG = env.bool("DEBUG", default=True)

_DEV_SECRET_KEY = "django-insecure-local-development-only-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
        )
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY is too weak for DEBUG=false: use 50+ random characters.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served locally (offline docs)
    "django_prometheus",
    "axes",
    "operators",
    "betcards",
    "tickets",
]

MIDDLEWARE = [
    "jackpot.api.answers.JsonAnswersMiddleware",  # the probes' answers are JSON, any Host
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "jackpot.admin_support.MalformedObjectIdIs404",  # a NUL in an admin URL's id: 404, not 500
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last but one: it reads the outcome of the login view (django-axes docs).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# The operator API (/be/, /bc/) is served by a handler of its own with only these
# (jackpot.wsgi): none of the browser's middleware above applies to a signed server call.
API_MIDDLEWARE = [
    "jackpot.api.answers.JsonAnswersMiddleware",  # every answer JSON; a bad Host is a 400
    "jackpot.api.deadline.DatabaseDeadlineMiddleware",  # a frozen database: 503 in bounded time
    "django.middleware.security.SecurityMiddleware",
    "jackpot.api.metrics.ApiMetricsMiddleware",  # 2 metric updates, not django-prometheus's 12
]

ROOT_URLCONF = "jackpot.urls"
WSGI_APPLICATION = "jackpot.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "jackpot" / "templates"],
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

# ----------------------------------------------------------------------------- database
# PostgreSQL only. Persistent connections (one per server worker) with health checks; see
# https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/jackpot"),
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")
# Django's backend with a health check that reads the socket instead of a SELECT 1 round
# trip per request (jackpot/core/postgres/base.py).
DATABASES["default"]["ENGINE"] = "jackpot.core.postgres"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# An outage must be a quick, retryable answer (503 on the API), not a hung request: give up
# connecting after DB_CONNECT_TIMEOUT_SECONDS (libpq's minimum is 2), drop a connection
# whose sent data goes unacknowledged for DB_TCP_USER_TIMEOUT_MS (a vanished server), and,
# where set (the web's compose service), cancel statements after DB_STATEMENT_TIMEOUT_MS.
DATABASES["default"].setdefault("OPTIONS", {}).update(
    {
        "connect_timeout": env.int("DB_CONNECT_TIMEOUT_SECONDS", default=2),
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": env.int("DB_TCP_USER_TIMEOUT_MS", default=3000),
    }
)
# Each database call of an operator API request (/be/, /bc/) waits at most this long, then
# the request is a 503 (jackpot/core/postgres/deadline.py): a frozen server, which enforces
# no statement_timeout, costs a bounded wait. 0 turns it off.
DB_REQUEST_DEADLINE_SECONDS = env.float("DB_REQUEST_DEADLINE_SECONDS", default=1.5)
if env.int("DB_STATEMENT_TIMEOUT_MS", default=0):
    DATABASES["default"]["OPTIONS"]["options"] = (
        f"-c statement_timeout={env.int('DB_STATEMENT_TIMEOUT_MS')}"
    )
# Server-side parameter binding with prepared statements: a statement run 5 times on a
# connection is prepared, so PostgreSQL parses and plans each placement query once per
# connection instead of once per request, and psycopg sends parameters instead of quoting
# them into the SQL text (docs/performance.md: a quarter less database CPU per ticket).
# Turn off behind a transaction-pooling PgBouncer older than 1.21.
if env.bool("DB_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ----------------------------------------------------------------------------- auth, i18n
# Back-office logins are throttled by django-axes: after AXES_FAILURE_LIMIT wrong passwords
# for one username from one address, that pair is locked out for AXES_COOLOFF_MINUTES (the
# right password too); staff can unlock it in the admin (Axes > Access attempts).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
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

# ----------------------------------------------------------------------------- static files
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# ----------------------------------------------------------------------------- security
# With DEBUG off these pass `manage.py check --deploy`. SECURE_SSL_REDIRECT defaults off
# because TLS usually ends at the deployer's proxy, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])
if not SECURE_SSL_REDIRECT:
    # TLS terminates at the proxy in front of the web server (docs/running.md).
    SILENCED_SYSTEM_CHECKS.append("security.W008")

# Operator secret keys are stored encrypted (Fernet). The variable holds one or more
# comma-separated Fernet keys: the first encrypts, all decrypt (key rotation).
_DEV_ENCRYPTION_KEY = urlsafe_b64encode(hashlib.sha256(b"jackpot-local-development").digest())
OPERATOR_SECRET_ENCRYPTION_KEYS = env.list("OPERATOR_SECRET_ENCRYPTION_KEY", default=[])
if not OPERATOR_SECRET_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "OPERATOR_SECRET_ENCRYPTION_KEY must be set when DEBUG is off (generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())'`)."
        )
    OPERATOR_SECRET_ENCRYPTION_KEYS = [_DEV_ENCRYPTION_KEY.decode()]

# ----------------------------------------------------------------------------- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "jackpot.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Jackpot Bet Engine API",
    "DESCRIPTION": (
        "The jackpot bet engine's operator API: sell tickets on jackpot cards (/be/) and read "
        "what you can sell (/bc/). Sign every request with the headers timestamp, "
        "operator-name and signature (HMAC-SHA256 of {timestamp}{body} with your secret). "
        "Business refusals are 400 {code, message} (each operation lists its codes); "
        "`webhooks` lists what the engine POSTs to your PAM."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "OAS_VERSION": "3.1.0",  # the PAM webhooks as `webhooks` (tickets.api.openapi)
    "SWAGGER_UI_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "jackpot.api.schema.request_bodies_required",
        "jackpot.api.schema.rate_limited_responses",
        "jackpot.api.schema.service_responses",
        "tickets.api.openapi.documented_webhooks",
        "jackpot.api.schema.nullable_as_31",
        "jackpot.api.schema.hoisted_components",  # last: after every hook that adds schemas
    ],
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Requests larger than this are refused with 413 before parsing (contract § Authentication).
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
# The web server (jackpot.serve, jackpot.rsgi): threads per worker process running Django,
# and how long a client may take to send its body (408 after).
WEB_THREADS = env.int("WEB_THREADS", default=8)
REQUEST_BODY_SECONDS = env.float("REQUEST_BODY_SECONDS", default=10.0)
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Prometheus multiprocess mode (jackpot.serve, docker-compose.yml): each process writes its
# values to files in this directory, and a scrape adds them up. The process that starts a
# role empties it; any other (a manage.py command, beat) only needs it to exist.
if env.str("PROMETHEUS_MULTIPROC_DIR", default=""):
    Path(env.str("PROMETHEUS_MULTIPROC_DIR")).mkdir(parents=True, exist_ok=True)

# ----------------------------------------------------------------------------- engine rules
SIGNATURE_MAX_SKEW_SECONDS = env.int("SIGNATURE_MAX_SKEW_SECONDS", default=300)
# The request rate per operator (operators/rate.py) is counted in this Redis (default: the
# broker's), shared by every web process and node. A counter that does not answer within
# RATE_LIMIT_TIMEOUT_SECONDS lets requests through, unchecked, for RATE_LIMIT_PAUSE_SECONDS.
RATE_LIMIT_REDIS_URL = env.str("RATE_LIMIT_REDIS_URL", default="") or env.str(
    "REDIS_URL", default="redis://127.0.0.1:6379/0"
)
RATE_LIMIT_TIMEOUT_SECONDS = env.float("RATE_LIMIT_TIMEOUT_SECONDS", default=0.25)
RATE_LIMIT_PAUSE_SECONDS = env.float("RATE_LIMIT_PAUSE_SECONDS", default=1.0)
# Operators and the Bet Card API's card answers are kept in each web process's memory,
# dropped on every committed change by database notifications (jackpot.core.change_feed).
LOCAL_CACHES = env.bool("LOCAL_CACHES", default=True)
TICKET_SOURCES = env.list(
    "TICKET_SOURCES",
    default=["desktop", "mobile", "android", "iphone", "ussd", "sms", "telegram", "app", "retail"],
)
TICKET_CODE_ATTEMPTS = env.int("TICKET_CODE_ATTEMPTS", default=5)
# Webhook URLs on loopback, link-local or private addresses (the engine's own network) are
# refused unless allowed; allowed by default only with DEBUG on (make run and tests allow
# them for the local fake PAM).
PAM_ALLOW_PRIVATE_URLS = env.bool("PAM_ALLOW_PRIVATE_URLS", default=DEBUG)
PAM_CONNECT_TIMEOUT_SECONDS = env.float("PAM_CONNECT_TIMEOUT_SECONDS", default=3.0)
PAM_READ_TIMEOUT_SECONDS = env.float("PAM_READ_TIMEOUT_SECONDS", default=10.0)
PAM_RETRY_BASE_SECONDS = env.float("PAM_RETRY_BASE_SECONDS", default=2.0)
PAM_RETRY_MAX_DELAY_SECONDS = env.float("PAM_RETRY_MAX_DELAY_SECONDS", default=300.0)
PAM_RETRY_WINDOW_SECONDS = env.float("PAM_RETRY_WINDOW_SECONDS", default=15 * 60.0)
PAM_DISCARD_RETRY_MINUTES = env.float("PAM_DISCARD_RETRY_MINUTES", default=30.0)
PAM_DELIVERY_LEASE_SECONDS = env.float("PAM_DELIVERY_LEASE_SECONDS", default=60.0)
# A delivery task gives one operator's PAM at most this many seconds of answers, then puts
# that operator's other rows of its batch at the back of the queue: a slow PAM cannot hold
# every pool process while other operators wait (docs/webhooks.md § Fairness).
PAM_OPERATOR_SHARE_SECONDS = env.float("PAM_OPERATOR_SHARE_SECONDS", default=2.0)
# A delivery task claims this many rows of its batch at a time (one statement), sends them
# at once, and records the answers (one statement for the 2xx ones). 25 is a whole sweep
# message: per webhook it cost 40 % less worker CPU and half the database CPU of 8
# (docs/webhooks.md § Second round). It is also how many requests each pool process may
# have open at one operator's PAM: lower it for PAMs that take few connections.
PAM_REQUESTS_PER_PROCESS = env.int("PAM_REQUESTS_PER_PROCESS", default=25)
PAM_OUTBOX_SWEEP_SECONDS = env.float("PAM_OUTBOX_SWEEP_SECONDS", default=10.0)
# A sweep takes overdue rows this many at a time, and goes on while it finds full batches
# (for at most PAM_OUTBOX_SWEEP_SECONDS) as long as the broker's queue holds fewer task
# messages than PAM_OUTBOX_SWEEP_MAX_QUEUED (25 rows to a message): docs/webhooks.md.
PAM_OUTBOX_SWEEP_BATCH = env.int("PAM_OUTBOX_SWEEP_BATCH", default=500)
PAM_OUTBOX_SWEEP_MAX_QUEUED = env.int("PAM_OUTBOX_SWEEP_MAX_QUEUED", default=40)
# The sweep re-queues a row once it has been due this long (its own kick had time to work).
PAM_OUTBOX_SWEEP_GRACE_SECONDS = env.float("PAM_OUTBOX_SWEEP_GRACE_SECONDS", default=15.0)
TICKET_CLOSED_DELAY_HOURS = env.float("TICKET_CLOSED_DELAY_HOURS", default=24.0)

# ----------------------------------------------------------------------------- Celery
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
# At-least-once: a task is acknowledged after it ran, and re-delivered if its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Pool processes per worker (prefork: acks_late with reject_on_worker_lost re-queues the task
# of a pool process that dies, and time limits hold). Delivery is I/O-bound: size it to the
# PAMs' latency: a process sends up to PAM_REQUESTS_PER_PROCESS (25) at once
# (docs/webhooks.md).
CELERY_WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", default=8)
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# Celery's Django fixup closes every database connection before and after each task unless
# this is set (then every 2 x N tasks): a new PostgreSQL connection per webhook cost more
# than the webhook, and every prepared statement with it. jackpot/celery.py handles them as
# Django does around a request instead (CONN_MAX_AGE, health check, broken ones dropped).
CELERY_DB_REUSE_MAX = 10_000
# Publishing must never hang a ticket placement when Redis is down: fail fast, the outbox
# sweep re-queues the row later.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # The outbox safety net (docs/webhooks.md): sends webhooks whose kick was lost. A sweep
    # that waited longer than one period is dropped; the next one does the same work.
    "pam-outbox-sweep": {
        "task": "tickets.pam_outbox_sweep",
        "schedule": PAM_OUTBOX_SWEEP_SECONDS,
        "options": {"expires": PAM_OUTBOX_SWEEP_SECONDS},
    },
}
# A worker has no web server: with WORKER_METRICS_PORT set it serves Prometheus metrics
# itself (prefork pool process N on port + N; docs/webhooks.md § Metrics). 0: off.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDR = env.str("WORKER_METRICS_ADDR", default="127.0.0.1")

# Settlement (docs/settlement.md): beat sends `ticket_closed` once TICKET_CLOSED_DELAY_HOURS
# have passed after a ticket's result.
TICKET_CLOSED_SWEEP_SECONDS = env.float("TICKET_CLOSED_SWEEP_SECONDS", default=300.0)
CELERY_BEAT_SCHEDULE["tickets-close-due"] = {
    "task": "tickets.tickets_close_due",
    "schedule": TICKET_CLOSED_SWEEP_SECONDS,
    "options": {"expires": TICKET_CLOSED_SWEEP_SECONDS},
}

# Pay later (docs/api.md): beat cancels expired reservations every
# RESERVATION_SWEEP_SECONDS (a `paid` after the expiry is refused even before it runs), and
# deletes the replay receipts whose signatures' skew window has passed.
RESERVATION_SWEEP_SECONDS = env.float("RESERVATION_SWEEP_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE["reservations-expire"] = {
    "task": "tickets.reservations_expire",
    "schedule": RESERVATION_SWEEP_SECONDS,
    "options": {"expires": RESERVATION_SWEEP_SECONDS},
}
CELERY_BEAT_SCHEDULE["write-receipts-forget"] = {
    "task": "tickets.write_receipts_forget",
    "schedule": 60.0,
    "options": {"expires": 60.0},
}

# ----------------------------------------------------------------------------- logging
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"without_traceback": {"()": "jackpot.core.logs.WithoutTraceback"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "console_brief": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["without_traceback"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # A bad Host header is the client's mistake (or a scanner's): one line, no traceback.
        "django.security.DisallowedHost": {
            "level": "WARNING",
            "handlers": ["console_brief"],
            "propagate": False,
        },
        # httpx (the tests' and benchmarks' client) logs one line per request.
        "httpx": {"level": "WARNING"},
        # django-axes logs every login at INFO; lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # Celery's own "Task ... received/succeeded" lines: our `pam_webhook_attempt` event
        # says the same, structured (CELERY_TASK_LOG_LEVEL=INFO brings them back).
        "celery.app.trace": {"level": env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")},
        "celery.worker.strategy": {"level": env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")},
    },
}
# structlog events (webhook deliveries, docs/webhooks.md) go through the stdlib handler
# above as `event key=value ...`, so LOGGING alone governs levels and destinations.
structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        structlog.contextvars.merge_contextvars,
        structlog.processors.format_exc_info,
        structlog.processors.KeyValueRenderer(key_order=["event"]),
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
