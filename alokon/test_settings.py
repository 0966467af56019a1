"""Settings for the test suite: the real settings with test-only defaults for secrets.

The database is the real one (``DATABASE_URL`` or the embedded server); pytest-django
creates a ``test_`` database beside it.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Readable log lines: the Celery tests read their worker's log (it inherits this).
os.environ.setdefault("LOG_FORMAT", "plain")

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

# The test client and the live server speak plain HTTP; tests/production checks the
# HTTPS settings of production in a process of their own.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# Rate limiting stays on (the login tests go through it). The test client's login()
# passes no request to authenticate(), which axes' own backend refuses; this one lets
# such calls through (see alokon.lockout). Failed attempts are rows in the test
# database, rolled back or flushed after every test, so no test inherits another's
# failures; within one test only a test that fails AXES_FAILURE_LIMIT times is locked out.
AUTHENTICATION_BACKENDS = ["alokon.lockout.RequestlessLoginBackend", "django.contrib.auth.backends.ModelBackend"]
