"""Settings, all read from the environment here and nowhere else, and checked at start-up.

With no variable set, the project runs on the embedded default: SQLite, the
local-memory cache and Celery tasks executed eagerly in-process, so a first
``make run`` needs no server. ``DEBUG`` is off unless the environment turns it
on (``make run`` and the test suite do). Production sets ``DATABASE_URL`` and
``REDIS_URL`` (and ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``CMP_SIGNING_KEYS``).

Every value is parsed once, here (``cmp/environment.py``); one that does not
parse is listed by ``manage.py check`` (``cmp.E001``), and the web server and
Celery refuse to start with it (``cmp/checks.py``).
"""
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from cmp.environment import Environment

BASE_DIR = Path(__file__).resolve().parent.parent
env = Environment()

DEBUG = env.flag("DEBUG", False)
SECRET_KEY = env.text("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = env.items("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")

INSTALLED_APPS = [
    "cmp",  # the project's own checks (cmp/checks.py)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The platform's apps, from the core up (each imports only those above it
    # in this list: see docs/architecture.md and the contracts in .importlinter).
    "consent",
    "audit",
    "delivery",
    "api",
    "banner",
    "privacy_requests",
    "scanner",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "cmp.fastpath.FastPathMiddleware",  # the consent lookup and the site script /c/<site>.js stop here
    "cmp.compression.CompressionMiddleware",  # brotli or gzip below the lookup (cmp/compression.py)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cmp.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "cmp.urls"
WSGI_APPLICATION = "cmp.wsgi.application"

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
            ],
        },
    },
]

# --- Storage -----------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env.text("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env.integer("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable PostgreSQL must cost a request seconds (then a 503), not
    # libpq's unbounded wait until gunicorn kills the worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.integer("DB_CONNECT_TIMEOUT", 3, minimum=1))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.redis_url("REDIS_URL")  # one server, a Redis Cluster or Sentinels (docs/cache.md)
CACHE_TIMEOUT_SECONDS = env.number("CACHE_TIMEOUT_SECONDS", 0.5, minimum=0.01)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "cmp.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering must cost a lookup a fraction of a
            # second (it then reads the database), not a TCP timeout.
            "OPTIONS": {
                "socket_connect_timeout": CACHE_TIMEOUT_SECONDS,
                "socket_timeout": CACHE_TIMEOUT_SECONDS,
            },
            "KEY_PREFIX": env.text("CACHE_KEY_PREFIX", "cmp"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ------------------------------------------------------------------

# memory://localhost/: kombu warns "No hostname was supplied" on every eagerly sent task without one.
CELERY_TASK_ALWAYS_EAGER = env.flag("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_BROKER_URL = env.broker_url("CELERY_BROKER_URL", REDIS_URL, needed=not CELERY_TASK_ALWAYS_EAGER)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With acks_late, a task whose worker died unacknowledged is handed out again
# after this many seconds (Redis transport); keep it above the longest task.
_VISIBILITY_TIMEOUT = env.integer("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _VISIBILITY_TIMEOUT,
    # Look for such abandoned tasks every few seconds (kombu's default is about 100 s).
    "unacked_restore_interval": max(1, min(10, _VISIBILITY_TIMEOUT // 2)),
    "unacked_restore_throttle": 1,
}
CELERY_TIMEZONE = "UTC"
# When the broker is down, fail fast: the caller keeps the work in the database
# (the webhook outbox) and a periodic sweep hands it over later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2

# --- HTTP, API and security ----------------------------------------------------

LANGUAGE_CODE = "en"
# The languages the platform's own texts are translated into (the banner's
# interface strings, the request form, its pages and its emails), one gettext
# catalog each under locale/ (README, "Translations"). A site may list other
# languages: their visitors get these texts in English.
LANGUAGES = [
    ("en", "English"), ("fr", "Français"), ("de", "Deutsch"), ("es", "Español"), ("nl", "Nederlands"),
    ("sv", "Svenska"), ("da", "Dansk"), ("ja", "日本語"), ("zh-hans", "简体中文"), ("ar", "العربية"), ("he", "עברית"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG  # serve straight from the apps while developing
# Files served at the site's root: /favicon.ico, which browsers ask for on every page.
WHITENOISE_ROOT = BASE_DIR / "cmp" / "root"
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

# Consent bodies are a few hundred bytes; anything near this is abuse.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer("MAX_BODY_BYTES", 16 * 1024, minimum=1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.LimitedJSONParser"],  # strict I-JSON, size-limited: every body
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Consent platform API",
    "DESCRIPTION": (
        "Consent write and lookup API of the self-hosted consent platform. "
        "Errors are JSON: {\"error\": code, \"detail\": message}."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"ConsentStateEnum": ["granted", "denied"]},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "LICENSE": {"name": "Apache-2.0"},  # the LICENSE file at the repository's root
    "OAS_VERSION": "3.1.0",  # 3.0 cannot say "this object, or null"; 3.1 (JSON Schema) can
}

# CORS is decided per site from the database (api/cors.py); nothing is
# allowed by default. Credentials are allowed so the NAI opt-out cookie of the
# platform's own host travels with the banner's requests.
CORS_URLS_REGEX = r"^/api/v1/sites/.*$"
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_HEADERS = ["content-type", "if-none-match", "authorization"]
CORS_EXPOSE_HEADERS = ["etag"]

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.flag("BEHIND_TLS_PROXY", False) else None
SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# Eligible for browsers' preload lists (submitting the domain stays a manual step).
SECURE_HSTS_PRELOAD = env.flag("SECURE_HSTS_PRELOAD", not DEBUG)
# The /healthz and /readyz probes come over plain HTTP from the orchestrator.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
CSRF_TRUSTED_ORIGINS = env.items("CSRF_TRUSTED_ORIGINS")
# Content-Security-Policy of the platform's own HTML pages (cmp/security.py).
CMP_CONTENT_SECURITY_POLICY = env.text(
    "CMP_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)

# --- The platform's own settings ------------------------------------------------

# The request header a trusted proxy or CDN sets to the visitor's ISO country
# code. Without it every visitor gets the site's default (strictest) regime.
CMP_COUNTRY_HEADER = env.text("CMP_COUNTRY_HEADER", "CF-IPCountry")
# The header with the visitor's region below the country (ISO 3166-2, e.g. CA or US-CA for California:
# Cloudflare's CF-Region-Code, CloudFront's CloudFront-Viewer-Country-Region); empty turns it off.
# Without it (or without a value) the region is the country (consent/regions.py).
CMP_REGION_HEADER = env.header("CMP_REGION_HEADER", "CF-Region-Code")
# The date this host's GPC support last changed, for /.well-known/gpc.json.
CMP_GPC_LAST_UPDATE = env.text("CMP_GPC_LAST_UPDATE", "2026-11-25")
# Domain for the NAI opt-out cookie; empty: the platform's own host only.
CMP_NAI_COOKIE_DOMAIN = env.text("CMP_NAI_COOKIE_DOMAIN")
# Agent authorisation documents of data subject requests: never served publicly.
CMP_PRIVATE_FILES_DIR = Path(env.text("CMP_PRIVATE_FILES_DIR", str(BASE_DIR / "private")))
# How long a request's email verification link and its download link stay valid.
CMP_DSR_VERIFY_HOURS = env.integer("CMP_DSR_VERIFY_HOURS", 72, minimum=1)
CMP_DSR_DOWNLOAD_HOURS = env.integer("CMP_DSR_DOWNLOAD_HOURS", 168, minimum=1)
# The platform's public address, for links in emails and embed snippets. Unset, it
# follows PORT (what `make run` serves on), so `PORT=9000 make run` links to port 9000.
CMP_PUBLIC_URL = env.text("CMP_PUBLIC_URL") or f"http://127.0.0.1:{env.integer('PORT', 8000, minimum=1)}"
SPECTACULAR_SETTINGS["SERVERS"] = [{"url": CMP_PUBLIC_URL, "description": "This platform (CMP_PUBLIC_URL)"}]
# Who gets the daily digest of due and overdue requests.
CMP_PRIVACY_TEAM_EMAILS = env.items("CMP_PRIVACY_TEAM_EMAILS", "privacy@example.com")
DEFAULT_FROM_EMAIL = env.text("DEFAULT_FROM_EMAIL", "privacy@example.com")
EMAIL_BACKEND = env.text("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# The header a trusted reverse proxy puts the client's address in (e.g.
# X-Forwarded-For; its last entry is used). Unset: the socket's address.
CMP_CLIENT_IP_HEADER = env.text("CMP_CLIENT_IP_HEADER")
# Where that header may come from (the proxy's addresses, CIDRs); unset: any peer.
CMP_TRUSTED_PROXIES = env.networks("CMP_TRUSTED_PROXIES")
# Development only: webhooks may also use plain http and loopback receivers
# (private, link-local and metadata addresses stay refused): delivery/addresses.py.
CMP_WEBHOOKS_ALLOW_LOCAL = env.flag("CMP_WEBHOOKS_ALLOW_LOCAL", False)
# Rate limits, "count/seconds": consent writes per client IP and per site, and
# data subject requests per client IP (an IPv6 client counts per /64).
# Counted in the cache (Redis in production).
CMP_RATE_WRITES_PER_IP = env.rate("CMP_RATE_WRITES_PER_IP", "600/60")
CMP_RATE_WRITES_PER_SITE = env.rate("CMP_RATE_WRITES_PER_SITE", "60000/60")
CMP_RATE_REQUESTS_PER_IP = env.rate("CMP_RATE_REQUESTS_PER_IP", "10/3600")
# Verification emails per recipient address (whatever client asks for them).
CMP_RATE_REQUESTS_PER_ADDRESS = env.rate("CMP_RATE_REQUESTS_PER_ADDRESS", "5/86400")
# How long a lookup answer may live in the cache; writes invalidate it anyway.
CMP_LOOKUP_CACHE_SECONDS = env.integer("CMP_LOOKUP_CACHE_SECONDS", 300, minimum=1)
# How long readers may trust the cache without re-checking the database for a
# failed invalidation; a write that could not reach Redis waits this long.
CMP_CACHE_LEASE_SECONDS = env.number("CMP_CACHE_LEASE_SECONDS", 1.0, minimum=0.05)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refusals_without_traceback": {"()": "cmp.logs.RefusalsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["refusals_without_traceback"]}},
    "root": {"handlers": ["console"], "level": env.text("LOG_LEVEL", "WARNING")},
}

# --- Audit and receipts (provable consent: audit/signing.py, audit/receipts.py) ---

# Ed25519 keys that sign consent receipts, tree heads and tombstones, as
# "kid1:key1,kid2:key2", each key 32 random bytes in base64url; or the same in
# the file CMP_SIGNING_KEYS_FILE names (a mounted secret). The first signs;
# the public half of every one is published at /.well-known/jwks.json. Unset
# with DEBUG on: a development key derived from SECRET_KEY (kid "dev-ed25519");
# unset in production: signing fails (and `check --deploy` says so).
CMP_SIGNING_KEYS = env.ed25519_keys("CMP_SIGNING_KEYS", dev_secret=SECRET_KEY if DEBUG else None)
# Public halves of retired keys ("kid:<32 bytes base64url>"): still published,
# so what they signed keeps verifying, while their private halves are destroyed.
CMP_RETIRED_PUBLIC_KEYS = env.ed25519_public_keys("CMP_RETIRED_PUBLIC_KEYS")
# Before Ed25519, HMAC keys ("kid:secret,…") signed receipts, checkpoints and
# tombstones; they now only verify those older records, for the operator.
# Unset with DEBUG on: the former development key (kid "dev").
CMP_RECEIPT_KEYS = env.signing_keys("CMP_RECEIPT_KEYS", dev_secret=SECRET_KEY if DEBUG else None)
env.distinct_key_ids(CMP_SIGNING_KEYS=CMP_SIGNING_KEYS, CMP_RETIRED_PUBLIC_KEYS=CMP_RETIRED_PUBLIC_KEYS,
                     CMP_RECEIPT_KEYS=CMP_RECEIPT_KEYS)
# Tree heads only cover events at least this old, so writes still in flight
# are never skipped by a site's log (audit/log.py).
CMP_AUDIT_CHECKPOINT_LAG_SECONDS = env.integer("CMP_AUDIT_CHECKPOINT_LAG_SECONDS", 60)
# Rows fetched per round trip when exporting the log (memory stays constant).
CMP_AUDIT_EXPORT_CHUNK = env.integer("CMP_AUDIT_EXPORT_CHUNK", 2000, minimum=1)

# --- The tracker scanner (scanner/; Playwright runs in the worker only) ----------

# Networks the scanner's Chromium may reach although they are not public
# (staging sites on a private network; the tests' loopback addresses). Every
# other private, loopback or link-local address is refused (scanner/guard.py).
CMP_SCANNER_PRIVATE_NETWORKS = env.networks("CMP_SCANNER_PRIVATE_NETWORKS")
# host=address pairs the scanner uses instead of DNS (a staging host, the proof page's fake hosts).
CMP_SCANNER_HOSTS = env.host_addresses("CMP_SCANNER_HOSTS")
# A running scan renews its lease after every page; past it the scan counts as
# abandoned (its worker died) and may be taken over or replaced.
CMP_SCANNER_LEASE_SECONDS = env.integer("CMP_SCANNER_LEASE_SECONDS", 300, minimum=10)

# Values above that did not parse: `manage.py check` lists them, servers refuse to start (cmp/checks.py).
SETTINGS_PROBLEMS = tuple(env.problems)
