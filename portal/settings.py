"""Settings for the provisioning portal: one module, configured by environment variables.

Every variable is listed in README.md ("Configuration") and .env.example. PORTAL_ENV selects
the profile: "development" (default, what `make demo` runs) or "production".
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portal.env import (
    env_bool,
    env_choice,
    env_fernet_keys,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_uuid,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

PORTAL_ENV = env_choice("PORTAL_ENV", ("development", "production"), "development")
PRODUCTION = PORTAL_ENV == "production"

# Core
SECRET_KEY = env_secret(
    "SECRET_KEY",
    required=PRODUCTION,
    # Development only: a fixed key keeps sessions across restarts of the demo.
    default="dev-insecure-key-do-not-use-in-production-0123456789abcdefghijklmnop",
)
if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters.")
DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG=true is not allowed with PORTAL_ENV=production.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required: a comma-separated list of host names.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "ninja",  # the API docs' Swagger UI from our static files, not a CDN
    # Ours, from the base up (ARCHITECTURE.md "Rules between apps"); core is a library, not an app.
    "audit",
    "tenants",
    "provisioning",
    "directory",
    "api",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "portal.middleware.RejectNulBytesMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.SessionTimeoutMiddleware",
    "portal.middleware.CurrentTenantMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.PortalErrorPagesMiddleware",
]

ROOT_URLCONF = "portal.urls"
AUTH_USER_MODEL = "portal.User"

# Sign-in through Entra ID (portal/auth.py). Local passwords (ModelBackend, for the
# `createsuperuser` break-glass account) work only outside production.
AUTHENTICATION_BACKENDS = ["portal.backends.EntraBackend"]
if not PRODUCTION:
    AUTHENTICATION_BACKENDS.append("django.contrib.auth.backends.ModelBackend")
LOGIN_URL = "sign_in"
LOGIN_REDIRECT_URL = "home"
# Entra app role values that map to the portal's roles (highest wins).
ENTRA_ROLE_REQUESTER = env_str("ENTRA_ROLE_REQUESTER", "Portal.Requester")
ENTRA_ROLE_IT_STAFF = env_str("ENTRA_ROLE_IT_STAFF", "Portal.ITStaff")
ENTRA_ROLE_ADMIN = env_str("ENTRA_ROLE_ADMIN", "Portal.Admin")
# Operators run the whole portal (every organisation). The role is honoured only in a token
# from this Entra tenant (a GUID); empty: only Django superusers (createsuperuser) operate.
ENTRA_ROLE_OPERATOR = env_str("ENTRA_ROLE_OPERATOR", "Portal.Operator")
OPERATOR_TENANT_ID = env_uuid("OPERATOR_TENANT_ID")
# Sessions end after this many seconds without a request, and this long after sign-in.
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 30 * 60, minimum=60)
SESSION_ABSOLUTE_TIMEOUT = env_int("SESSION_ABSOLUTE_TIMEOUT", 8 * 3600, minimum=300)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
# Audit log source IP: the last X-Forwarded-For entry (set by our own proxy) instead of the
# socket address. Only behind a proxy that overwrites the header.
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", default=False)
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
                "tenants.context_processors.secret_expiry",
            ],
        },
    },
]

# Django's form renderer, but selects written in Python: one template per option was most of a
# filter form's time (core/renderers.py).
FORM_RENDERER = "core.renderers.FormRenderer"

# Demo mode: the built-in emulator stands in for Entra ID and Point (http allowed for it).
DEMO_MODE = env_bool("DEMO_MODE", default=not PRODUCTION)
if PRODUCTION and DEMO_MODE:
    raise ImproperlyConfigured("DEMO_MODE=true is not allowed with PORTAL_ENV=production.")
# Where msal's calls to login.microsoftonline.com go instead (demo and tests only).
EMULATOR_URL = env_str("EMULATOR_URL", "http://127.0.0.1:8001" if DEMO_MODE else "")
if EMULATOR_URL and not DEMO_MODE:
    raise ImproperlyConfigured("EMULATOR_URL is only allowed with DEMO_MODE=true.")
ENTRA_LOGIN_URL = "https://login.microsoftonline.com"

# Tenant secrets are encrypted with these Fernet keys (newest first; older ones still decrypt).
FIELD_ENCRYPTION_KEYS = env_fernet_keys(
    "FIELD_ENCRYPTION_KEYS",
    required=PRODUCTION,
    # Development only, so the demo works out of the box; never for real secrets.
    default=["ZGVtby1vbmx5IGtleSwgbmV2ZXIgZm9yIHJlYWwhISE="],
)

# Database: SQLite by default, PostgreSQL through DATABASE_URL.
_database_url = env_str("DATABASE_URL")
if PRODUCTION and not _database_url:
    raise ImproperlyConfigured("DATABASE_URL is required: postgres://user:password@host:5432/db.")
if not _database_url:
    (BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {
    "default": parse_database_url(
        "DATABASE_URL", _database_url or "sqlite:///var/portal.sqlite3", BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis when REDIS_URL is set (shared by every web node and worker), else local memory.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static files through whitenoise; hashed, compressed names in production.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
if not PRODUCTION:
    # whitenoise warns on every request when STATIC_ROOT is missing.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Security headers. Content Security Policy with per-request nonces: no CDN, no inline
# script without the nonce, no inline style.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    # Sign-in and sign-out post to the portal, which redirects to Entra: browsers apply
    # form-action to that redirect too, so Entra's origin (the emulator's in demo) is listed.
    "form-action": [CSP.SELF, ENTRA_LOGIN_URL, *([EMULATOR_URL] if EMULATOR_URL else [])],
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin" if not PRODUCTION else "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # __Host- cookies must be Secure, path /, and carry no Domain: the browser enforces it.
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# E-mail: printed to the console in development, SMTP in production.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if PRODUCTION or env_str("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env_str("EMAIL_HOST", "localhost"),
                "port": env_int("EMAIL_PORT", 587, minimum=1),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_secret("EMAIL_HOST_PASSWORD", required=False),
                "use_tls": env_bool("EMAIL_USE_TLS", default=True),
                "timeout": 10,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# django-q2. The ORM broker keeps tasks in the database and redelivers them after a worker
# dies; the Redis broker is faster but loses tasks in flight on a crash. Tasks are written
# to be idempotent either way. timeout < retry so a slow task is never run twice at once.
Q_CLUSTER_TIMEOUT = env_int("Q_TIMEOUT", 120, minimum=5)
Q_CLUSTER_RETRY = env_int("Q_RETRY", 300, minimum=10)
if Q_CLUSTER_RETRY <= Q_CLUSTER_TIMEOUT + 30:
    raise ImproperlyConfigured(
        f"Q_RETRY={Q_CLUSTER_RETRY} must exceed Q_TIMEOUT={Q_CLUSTER_TIMEOUT} by more than "
        "30 seconds, or a slow task would be delivered twice."
    )
Q_CLUSTER: dict[str, object] = {
    "name": "portal",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "queue_limit": env_int("Q_WORKERS", 2, minimum=1),
    "bulk": 1,
    "timeout": Q_CLUSTER_TIMEOUT,
    "retry": Q_CLUSTER_RETRY,
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 5, minimum=1),
    "ack_failures": False,
    "catch_up": False,
    "save_limit": 250,
    "recycle": 200,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Upstream calls (upstreams/, bound to a tenant in tenants/upstream.py): timeouts (s), retries
# with back-off and jitter for 5xx, connection errors and 429 (Retry-After honoured), all waits
# capped by a total budget (s). The names say POINT_ because Point was the first upstream.
POINT_CONNECT_TIMEOUT = env_int("POINT_CONNECT_TIMEOUT", 3, minimum=1)
POINT_READ_TIMEOUT = env_int("POINT_READ_TIMEOUT", 20, minimum=1)
POINT_MAX_RETRIES = env_int("POINT_MAX_RETRIES", 3, minimum=0)
POINT_BACKOFF_MS = env_int("POINT_BACKOFF_MS", 500, minimum=0)
POINT_RETRY_BUDGET = env_int("POINT_RETRY_BUDGET", 30, minimum=0)
# GT365's ProvisionGroup answers only once the group exists ("seconds to 2 minutes", seed 001),
# so its read timeout is longer, yet below the task timeout (a timeout is an unknown outcome,
# settled without a duplicate: GT365 refuses a second group with the same alias).
GT365_READ_TIMEOUT = env_int("GT365_READ_TIMEOUT", 100, minimum=1)
if GT365_READ_TIMEOUT >= Q_CLUSTER_TIMEOUT:
    raise ImproperlyConfigured(
        f"GT365_READ_TIMEOUT={GT365_READ_TIMEOUT} must be below Q_TIMEOUT={Q_CLUSTER_TIMEOUT}."
    )
# Microsoft Graph, for tenants provisioning through it and for every tenant's people picker and
# provisioning-job credentials (where the app is granted the Graph permissions). The demo's
# emulator serves a Graph of its own.
GRAPH_API_URL = env_str(
    "GRAPH_API_URL",
    f"{EMULATOR_URL.rstrip('/')}/graph/v1.0"
    if EMULATOR_URL
    else "https://graph.microsoft.com/v1.0",
)
# The people picker and owner checks ask Graph /users where the tenant's app holds
# User.Read.All, and fall back to the people the portal has seen where it does not.
PEOPLE_FROM_GRAPH = env_bool("PEOPLE_FROM_GRAPH", default=True)
# The REST API (api/): calls per client and period unless the client has its own rate_limit.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "120/min")
# An upstream's Retry-After is honoured up to this many seconds (a larger one is capped, so a
# bad header can neither park a request for hours nor overflow a date).
RETRY_AFTER_MAX = env_int("RETRY_AFTER_MAX", 900, minimum=1)
# Provisioning requests (docs/provisioning.md). A poller pass (every minute) checks every due
# request within POLL_BUDGET s, with at most POLL_CONCURRENCY checks in flight per tenant and
# POLL_WORKERS threads in all, and queues at most POLL_SEND_BATCH due sends; each request's poll
# interval starts at POLL_MIN_INTERVAL s and doubles to POLL_MAX_INTERVAL s while nothing
# changes upstream. A send that fails before reaching Point
# is tried again after SEND_RETRY_DELAY s (doubling, at most SEND_RETRY_MAX s, Retry-After
# honoured) up to SEND_MAX_ATTEMPTS times. A send attempt holds its row for SEND_LEASE s; it
# must outlast the task timeout, so a live attempt is never taken over.
# The IT dashboard's counts are kept this long (s; 0 counts on every view): counting reads
# every request. The page says how old they are and offers a recount.
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 30, minimum=0)
PROVISIONING_POLL_BUDGET = env_int("PROVISIONING_POLL_BUDGET", 40, minimum=0)
PROVISIONING_POLL_CONCURRENCY = env_int("PROVISIONING_POLL_CONCURRENCY", 10, minimum=1)
PROVISIONING_POLL_WORKERS = env_int("PROVISIONING_POLL_WORKERS", 16, minimum=1)
PROVISIONING_POLL_SEND_BATCH = env_int("PROVISIONING_POLL_SEND_BATCH", 200, minimum=1)
PROVISIONING_POLL_MIN_INTERVAL = env_int("PROVISIONING_POLL_MIN_INTERVAL", 10, minimum=1)
PROVISIONING_POLL_MAX_INTERVAL = env_int("PROVISIONING_POLL_MAX_INTERVAL", 300, minimum=1)
PROVISIONING_SEND_MAX_ATTEMPTS = env_int("PROVISIONING_SEND_MAX_ATTEMPTS", 5, minimum=1)
PROVISIONING_SEND_RETRY_DELAY = env_int("PROVISIONING_SEND_RETRY_DELAY", 30, minimum=1)
PROVISIONING_SEND_RETRY_MAX = env_int("PROVISIONING_SEND_RETRY_MAX", 600, minimum=1)
PROVISIONING_SEND_LEASE = env_int("PROVISIONING_SEND_LEASE", Q_CLUSTER_TIMEOUT + 60, minimum=1)
# A request the upstream accepted without naming it, or whose answer was lost, is looked for
# upstream until found; after this many seconds IT staff are asked to check (and may send it
# again when they find nothing). It is never failed, nor sent again, on a guess.
PROVISIONING_CONFIRM_ESCALATE_AFTER = env_int(
    "PROVISIONING_CONFIRM_ESCALATE_AFTER", 3600, minimum=60
)
# Portal approval stages (services/approvals.py): approvers of a stage waiting this many
# seconds are reminded by e-mail (and again after as long).
APPROVAL_REMIND_AFTER = env_int("APPROVAL_REMIND_AFTER", 86400, minimum=300)
# IT staff's "stuck" queue: requests neither final nor waiting for an approver with nothing
# in their timeline for this many seconds.
PROVISIONING_STUCK_AFTER = env_int("PROVISIONING_STUCK_AFTER", 3600, minimum=60)
# A check started just before the budget ends may take a read timeout and its retries.
if PROVISIONING_POLL_BUDGET + POINT_READ_TIMEOUT + POINT_RETRY_BUDGET >= Q_CLUSTER_TIMEOUT:
    raise ImproperlyConfigured(
        f"PROVISIONING_POLL_BUDGET={PROVISIONING_POLL_BUDGET} + POINT_READ_TIMEOUT + "
        f"POINT_RETRY_BUDGET must stay below Q_TIMEOUT={Q_CLUSTER_TIMEOUT}, or a poller pass "
        "could be stopped mid-check."
    )
if PROVISIONING_SEND_LEASE <= Q_CLUSTER_TIMEOUT:
    raise ImproperlyConfigured(
        f"PROVISIONING_SEND_LEASE={PROVISIONING_SEND_LEASE} must exceed Q_TIMEOUT="
        f"{Q_CLUSTER_TIMEOUT}, or a slow send could be taken over and posted twice."
    )
# Webhooks (docs/webhooks.md). The receiver refuses bodies over WEBHOOK_MAX_BODY bytes (413).
# With a tenant's webhooks on and healthy, an in-flight request is polled at most once every
# WEBHOOK_POLL_INTERVAL s; they are "quiet" (polling back to normal, /healthz warns) when no
# verified event arrived for WEBHOOK_QUIET_AFTER s while a request has waited that long for one,
# or polling found a change an event should have brought. An event dated more than
# WEBHOOK_CLOCK_SKEW s before a request's current send round is from an earlier attempt. The
# signing key is re-read at most every WEBHOOK_KEY_REREAD s while verification fails.
WEBHOOK_MAX_BODY = env_int("WEBHOOK_MAX_BODY", 65536, minimum=1024)
WEBHOOK_POLL_INTERVAL = env_int("WEBHOOK_POLL_INTERVAL", 1800, minimum=60)
WEBHOOK_QUIET_AFTER = env_int("WEBHOOK_QUIET_AFTER", 900, minimum=60)
WEBHOOK_CLOCK_SKEW = env_int("WEBHOOK_CLOCK_SKEW", 60, minimum=0)
WEBHOOK_KEY_REREAD = env_int("WEBHOOK_KEY_REREAD", 300, minimum=10)
WEBHOOK_KEEP_DAYS = env_int("WEBHOOK_KEEP_DAYS", 30, minimum=1)
# Absolute links in e-mails (the requester's request page) and the webhook receiver's URL.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Tenant app tokens are shared by every process (database) and renewed this long before expiry (s).
TOKEN_REFRESH_MARGIN = env_int("TOKEN_REFRESH_MARGIN", 300, minimum=0)
# Admins see a banner and /healthz a warning from this many days before a client secret expires.
SECRET_EXPIRY_WARNING_DAYS = env_int("SECRET_EXPIRY_WARNING_DAYS", 30, minimum=1)

# Directory browser (provisioning/directory.py): a report snapshot older than this (s) is marked
# stale; lists show this many rows a page; the worker polls a running report this often (ms)
# and gives up on it after DIRECTORY_REPORT_TIMEOUT (s).
DIRECTORY_SNAPSHOT_MAX_AGE = env_int("DIRECTORY_SNAPSHOT_MAX_AGE", 24 * 3600, minimum=60)
DIRECTORY_PAGE_SIZE = env_int("DIRECTORY_PAGE_SIZE", 50, minimum=5)
DIRECTORY_POLL_INTERVAL_MS = env_int("DIRECTORY_POLL_INTERVAL_MS", 2000, minimum=10)
DIRECTORY_REPORT_TIMEOUT = env_int("DIRECTORY_REPORT_TIMEOUT", 3600, minimum=60)
# The live group and site lists keep each upstream answer this long (s) in the cache above, so
# paging, sorting and coming back to a list do not wait on a slow upstream every time (and a
# sorted list is not read up to five times a page); the page says how old it is and offers a
# refresh. 0 reads live every time.
DIRECTORY_CACHE_SECONDS = env_int("DIRECTORY_CACHE_SECONDS", 60, minimum=0)

# Health: /healthz reports these as failures when exceeded.
HEALTH_MAX_QUEUE_AGE = env_int("HEALTH_MAX_QUEUE_AGE", 300, minimum=1)
HEALTH_MAX_HEARTBEAT_AGE = env_int("HEALTH_MAX_HEARTBEAT_AGE", 300, minimum=60)
# Worker supervision (docs/operations.md): `manage.py worker_alive` fails when the worker's
# heartbeat is older than WORKER_LIVENESS_MAX_AGE (s); `manage.py worker` checks every
# WORKER_CHECK_INTERVAL (s) and replaces a dead or wedged cluster.
WORKER_LIVENESS_MAX_AGE = env_int("WORKER_LIVENESS_MAX_AGE", 90, minimum=5)
WORKER_CHECK_INTERVAL = env_int("WORKER_CHECK_INTERVAL", 15, minimum=1)

# Error pages and error reports (DEBUG's technical 500 page included) never show a secret,
# token or client assertion: see docs/security.md.
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.errors.SecretScrubbingFilter"
DEFAULT_EXCEPTION_REPORTER = "portal.errors.SecretScrubbingReporter"

# Logging: to stderr; secrets never pass through here (see docs/security.md).
LOG_LEVEL = env_choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "scrub": {"()": "portal.errors.ScrubbingLogFilter"},
        "no_statements": {"()": "portal.errors.NoStatementsFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["scrub"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # With DEBUG on, each SQL statement would be logged with its values: session keys.
        "django.db.backends": {"filters": ["no_statements"]},
    },
}
