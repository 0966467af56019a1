"""Production settings: ``manage.py check --deploy`` is clean, the secure defaults hold, secrets come from files.

Settings are read once per process, so each case starts its own (concurrently, to stay
fast), with a clean environment: nothing of the test run's own (test_settings' key,
CI's DATABASE_URL) can mask a failure.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from alokon.env import env_bool, env_str
from alokon.logging import JsonFormatter

BASE_DIR = Path(__file__).resolve().parent.parent.parent
#: parsed only: neither check nor setup() connects (check --deploy runs no database checks)
DATABASE_URL = "postgresql://alokon@db.example:5432/alokon"
SETTINGS_SHOWN = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "LOG_FORMAT",
    "AXES_ENABLED",
    "AXES_FAILURE_LIMIT",
    "MEDIA_ROOT",
)
SHOW = (
    "import django, json; django.setup(); from django.conf import settings; "
    f"print(json.dumps({{n: getattr(settings, n, None) for n in {SETTINGS_SHOWN!r}}}, default=str)); "
    "print(json.dumps(settings.DATABASES['default']['PASSWORD']))"
)


def production_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    key_file = tmp_path / "secret_key"
    key_file.write_text(secrets.token_urlsafe(50) + "\n")
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "alokon.settings",
        "ALOKON_DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY_FILE": str(key_file),
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": "redis://redis.example:6379/0",
        "ALLOWED_HOSTS": "alokon.example.go.id",
        "SITE_URL": "https://alokon.example.go.id",
        **extra,
    }


CASES = {
    "deploy": ([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], {}),
    "deploy_plain_http": (
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {"SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "off"},
    ),
    "defaults": ([sys.executable, "-c", SHOW], {}),
    "debug_defaults": ([sys.executable, "-c", SHOW], {"DEBUG": "1"}),
    "behind_proxy": (
        [sys.executable, "-c", SHOW],
        {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto", "DATABASE_PASSWORD_FILE": "PASSWORD_FILE"},
    ),
    "secret_twice": ([sys.executable, "-c", SHOW], {"SECRET_KEY": "x" * 60}),
    "secret_file_missing": ([sys.executable, "-c", SHOW], {"SECRET_KEY_FILE": "/nonexistent/secret_key"}),
    "tls_and_ssl": ([sys.executable, "-c", SHOW], {"EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("deploy")
    password_file = tmp / "db_password"
    password_file.write_text("s3cret from a file\n")
    running = {}
    for name, (command, extra) in CASES.items():
        extra = {k: (str(password_file) if v == "PASSWORD_FILE" else v) for k, v in extra.items()}
        running[name] = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=production_environment(tmp, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return results


def shown(result: subprocess.CompletedProcess) -> tuple[dict, object]:
    assert result.returncode == 0, result.stderr[-2000:]
    settings_line, password_line = result.stdout.strip().splitlines()[-2:]
    return json.loads(settings_line), json.loads(password_line)


def test_check_deploy_is_clean_with_the_production_environment(runs):
    result = runs["deploy"]
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_names_what_a_plain_http_setup_gives_up(runs):
    # The same check, proving it looks: turning the HTTPS settings off is reported.
    result = runs["deploy_plain_http"]
    assert result.returncode != 0
    assert "security.W008" in result.stderr and "security.W012" in result.stderr


def test_with_debug_off_every_default_is_the_secure_one(runs):
    values, password = shown(runs["defaults"])
    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": None,
        "LOG_FORMAT": "json",
        "AXES_ENABLED": True,
        "AXES_FAILURE_LIMIT": 5,
        "MEDIA_ROOT": values["MEDIA_ROOT"],
    }
    assert values["MEDIA_ROOT"].endswith("/data/media")
    assert password == ""  # none in the URL, none given


def test_debug_keeps_the_development_defaults(runs):
    values, _ = shown(runs["debug_defaults"])
    assert values["DEBUG"] is True
    assert not values["SECURE_SSL_REDIRECT"] and not values["SESSION_COOKIE_SECURE"]
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["LOG_FORMAT"] == "plain"


def test_proxy_header_and_database_password_from_a_file(runs):
    values, password = shown(runs["behind_proxy"])
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert password == "s3cret from a file"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("secret_twice", "SECRET_KEY and SECRET_KEY_FILE are both set"),
        ("secret_file_missing", "SECRET_KEY_FILE='/nonexistent/secret_key' cannot be read: No such file"),
        ("tls_and_ssl", "EMAIL_USE_TLS and EMAIL_USE_SSL are both on"),
    ],
)
def test_a_bad_secret_or_contradiction_stops_startup_naming_it(runs, case, message):
    result = runs[case]
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


# --- the readers and the log format, in this process -------------------------------------------


def test_every_reader_takes_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "flag"
    secret.write_text("  on\n")
    monkeypatch.delenv("ALOKON_FLAG", raising=False)
    monkeypatch.setenv("ALOKON_FLAG_FILE", str(secret))
    assert env_str("ALOKON_FLAG") == "on"
    assert env_bool("ALOKON_FLAG", False) is True
    secret.write_text("\n")  # an empty file is unset, like an empty variable
    assert env_str("ALOKON_FLAG", "default") == "default"


def test_an_unreadable_secret_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("ALOKON_FLAG_FILE", str(tmp_path))  # a directory
    with pytest.raises(ImproperlyConfigured, match="ALOKON_FLAG_FILE=.* cannot be read"):
        env_str("ALOKON_FLAG")


def test_json_log_records_are_one_line_each_with_their_fields():
    formatter = JsonFormatter()
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        record = logging.LogRecord("alokon.x", logging.ERROR, __file__, 1, "failed for %s", ("72.71",), sys.exc_info())
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "alokon.x", "failed for 72.71")
    assert "ValueError: broken\nacross lines" in entry["exc_info"]
    assert entry["time"].endswith("+00:00")

    atoms = {"m": "GET", "U": "/healthz", "s": "200", "B": 3, "M": 12, "h": "10.0.0.1", "a": "curl"}
    access = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(m)s %(U)s %(s)s", (atoms,), None)
    entry = json.loads(formatter.format(access))
    assert entry["message"] == "GET /healthz 200"
    assert (entry["method"], entry["path"], entry["status"], entry["duration_ms"]) == ("GET", "/healthz", "200", 12)
