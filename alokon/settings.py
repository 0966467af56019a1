"""alokon settings: everything that differs between machines comes from the environment.

Readers in ``alokon.env`` refuse values they cannot understand, so a typo stops
start-up with a clear message instead of running with a silent default. The README
has a table of every variable read here.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from alokon import embedded_db
from alokon.env import database_config, env_bool, env_int, env_int_map, env_list, env_str

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
else:
    DATABASES = {"default": embedded_db.database_settings()}
# No JIT compilation: alokon's statements are short (postings) or set-based over
# indexes (alerts, reports), where compiling costs more than it saves (0.3–1.5 s per
# alert run measured in bench/alerts.py). A URL's own options come first.
_options = DATABASES["default"].setdefault("OPTIONS", {})
_options["options"] = " ".join(filter(None, ["-c jit=off", _options.get("options", "")]))
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

# --- e-mail -------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "alokon <noreply@localhost>")

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

# --- logging ------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
