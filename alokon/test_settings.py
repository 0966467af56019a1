"""Settings for the test suite: the real settings with test-only defaults for secrets.

The database is the real one (``DATABASE_URL`` or the embedded server); pytest-django
creates a ``test_`` database beside it.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")

from alokon.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES = {  # noqa: F405
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Several test runs may share one server (the embedded default, or CI's): each can
# name its own test database.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("ALOKON_TEST_DB", "test_alokon")}  # noqa: F405

# Postings do not message a worker in tests (the queue row is still written); the
# Celery end-to-end tests switch it on.
ALOKON_ALERTS_WAKE_WORKER = False
