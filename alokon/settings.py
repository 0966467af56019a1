"""alokon settings: everything that differs between machines comes from the environment.

Readers in ``alokon.env`` refuse values they cannot understand, so a typo stops
start-up with a clear message instead of running with a silent default. The README
has a table of every variable read here.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from alokon import embedded_db
from alokon.env import database_config, env_bool, env_choice, env_int, env_int_map, env_list, env_str
from alokon.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = embedded_db.data_dir()

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)"
        )
    SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = (env_str("SITE_URL", "http://127.0.0.1:8000") or "").rstrip("/")

# --- HTTPS and security headers -------------------------------------------------------
# With DEBUG off every default is the secure one (`manage.py check --deploy` is clean
# with a real SECRET_KEY and ALLOWED_HOSTS); each can be turned off for a server that
# is reached over plain HTTP on purpose (a laptop in a clinic's LAN): see the README.
# Behind a TLS-terminating proxy, SECURE_PROXY_SSL_HEADER names the header the proxy
# sets (e.g. X-Forwarded-Proto); the proxy must overwrite a client's own.
_secure = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _secure)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks ask over plain HTTP
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _secure)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _secure)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _secure else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _secure)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _secure)
_proxy_ssl_header = env_str("SECURE_PROXY_SSL_HEADER")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "import_export",
    "django_celery_beat",
    "axes",
    "alokon",
    "inventory",
    "reports",
]

AUTH_USER_MODEL = "alokon.User"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "alokon.urls"
WSGI_APPLICATION = "alokon.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "alokon" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------
_database_url = env_str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": database_config(_database_url)}
    # The password apart from the URL, so that it can come from a secret file
    # (DATABASE_PASSWORD_FILE, the same file the database container reads).
    _database_password = env_str("DATABASE_PASSWORD")
    if _database_password:
        DATABASES["default"]["PASSWORD"] = _database_password
else:
    DATABASES = {"default": embedded_db.database_settings()}
# No JIT compilation: alokon's statements are short (postings) or set-based over
# indexes (alerts, reports), where compiling costs more than it saves (0.3–1.5 s per
# alert run measured in bench/alerts.py). A URL's own options come first.
_options = DATABASES["default"].setdefault("OPTIONS", {})
_options["options"] = " ".join(filter(None, ["-c jit=off", _options.get("options", "")]))
# A server that does not answer fails a request (and /healthz) after this long instead of hanging.
_options.setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed logins are rate limited by django-axes, on the login form, the admin and the
# API's token endpoint alike (alokon/lockout.py). A lockout is per user name *and*
# client address: many clinics reach the internet through one mobile carrier address,
# so locking an address alone would lock out a district. A successful login through the
# form or the admin clears the count (a token request logs no one in, so it does not);
# the lockout lasts AXES_COOLOFF_MINUTES (an administrator can lift it sooner in the
# admin, under Axes, or with `manage.py axes_reset_username USER`). Behind a proxy every
# client has the proxy's address: the lockout is then per user name.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "alokon.lockout.AxesHandler"
AXES_LOCKOUT_CALLABLE = "alokon.lockout.lockout_response"

# --- language -------------------------------------------------------------------
LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "alokon" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Makassar")  # WITA: Sulawesi Tengah
USE_I18N = True
USE_TZ = True

# --- static files -----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "alokon" / "static"]
# Files the application writes (exports): not served as static files, each is handed
# out by a view that checks the user's scope.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
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

# --- REST API ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 100, minimum=1),
    "EXCEPTION_HANDLER": "alokon.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "alokon API",
    "DESCRIPTION": "Stock of contraceptives along the family-planning supply chain.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several models have a "kind" or a "status" with different choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "MovementKindEnum": "inventory.models.MovementKind",
        "DiscrepancyKindEnum": "inventory.models.DiscrepancyKind",
        "ShipmentStatusEnum": "inventory.models.ShipmentStatus",
        "DiscrepancyStatusEnum": "inventory.models.DiscrepancyStatus",
    },
}

# --- imports and exports ----------------------------------------------------------
# A cell such as =HYPERLINK(...) in a location name must not become a live formula.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
IMPORT_EXPORT_USE_TRANSACTIONS = True

# --- Celery -----------------------------------------------------------------------
# Without CELERY_BROKER_URL, a filesystem transport under .data/broker carries
# tasks between processes on one machine with no server at all.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if not CELERY_BROKER_URL:
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540, minimum=1)
# After a posting queues a quiet location for alert computation, send the worker a
# message (the worker waits out the debounce interval). Off: only the periodic run
# computes queued locations (the tests turn it off; the Celery tests turn it on).
ALOKON_ALERTS_WAKE_WORKER = env_bool("ALOKON_ALERTS_WAKE_WORKER", True)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 2, minimum=1)

# --- e-mail -------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "alokon <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The SMTP backend (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are both on: choose one (STARTTLS or implicit TLS)")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)

# --- reports --------------------------------------------------------------------------
# An export of up to this many rows is answered at once; a larger one is run by the
# worker and downloaded from "Your exports" when ready.
ALOKON_EXPORT_SYNC_ROWS = env_int("ALOKON_EXPORT_SYNC_ROWS", 5000, minimum=0)

# --- shipments ------------------------------------------------------------------------
# Dispatch warns when a lot expires within this many days after the expected arrival.
ALOKON_EXPIRY_WARNING_DAYS = env_int("ALOKON_EXPIRY_WARNING_DAYS", 90, minimum=0)
# Expected lead time in days per route, "<origin level>><destination level>=days"; a
# shipment still in transit after it is overdue (a daily task opens a discrepancy).
# Routes not listed (returns, between siblings) use ALOKON_LEAD_DAYS_DEFAULT.
ALOKON_LEAD_DAYS = env_int_map(
    "ALOKON_LEAD_DAYS", {"national>province": 14, "province>district": 14, "district>clinic": 7}
)
ALOKON_LEAD_DAYS_DEFAULT = env_int("ALOKON_LEAD_DAYS_DEFAULT", 14, minimum=0)

# --- demo ---------------------------------------------------------------------------
ALOKON_DEMO_PASSWORD = env_str("ALOKON_DEMO_PASSWORD", "alokon-demo")

# --- backups --------------------------------------------------------------------------
# Where `manage.py backup` writes when given no --output.
ALOKON_BACKUP_DIR = Path(env_str("ALOKON_BACKUP_DIR", str(DATA_DIR / "backups")))

# --- logging ------------------------------------------------------------------------
# JSON lines on stdout in production (alokon/logging.py), readable lines when debugging.
LOG_FORMAT = env_choice("LOG_FORMAT", "plain" if DEBUG else "json", ("json", "plain"))
LOGGING = logging_config(log_format=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))
if LOG_FORMAT == "json":
    # Python's warnings (deprecations, Celery's) as log records too, not bare lines on stderr.
    logging.captureWarnings(True)
# Celery's worker replaces the root logger's handlers with its own format unless told
# not to: in JSON mode its records go through the handler above like everyone else's.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
