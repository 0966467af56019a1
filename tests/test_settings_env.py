"""Settings fail loudly: a bad environment stops start-up with a message naming the variable.

The start-up cases run ``django.setup()`` in a subprocess, as ``manage.py`` would,
because settings are read once per process. They run concurrently to stay fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from alokon.env import database_config, env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
SETUP = "import django; django.setup(); from django.conf import settings; print('DEBUG', settings.DEBUG)"
# Every variable these cases set; removed from the inherited environment first so the
# outer test run (CI's DATABASE_URL, test_settings' SECRET_KEY) cannot mask a failure.
CONTROLLED = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "API_PAGE_SIZE", "CELERY_TASK_TIME_LIMIT", "ALOKON_DATA_DIR")
GOOD_URL = "postgresql://alokon@db.example:5432/alokon"  # parsed only: setup() opens no connection

# case: (environment, the text stderr must contain; None = start-up must succeed)
CASES = {
    "debug_maybe": ({"DEBUG": "maybe", "SECRET_KEY": "k", "DATABASE_URL": GOOD_URL}, "DEBUG='maybe' is not a boolean"),
    "mysql_url": (
        {"DEBUG": "0", "SECRET_KEY": "k", "DATABASE_URL": "mysql://x"},
        "DATABASE_URL must be a postgresql://",
    ),
    "url_without_host_or_db": (
        {"DEBUG": "0", "SECRET_KEY": "k", "DATABASE_URL": "postgresql://"},
        "DATABASE_URL names no database",
    ),
    "url_port_not_a_number": (
        {"DEBUG": "0", "SECRET_KEY": "k", "DATABASE_URL": "postgresql://u@db.example:port/alokon"},
        "DATABASE_URL is malformed",
    ),
    "no_secret_key_without_debug": ({"DEBUG": "0", "DATABASE_URL": GOOD_URL}, "SECRET_KEY must be set"),
    "page_size_not_a_number": (
        {"DEBUG": "1", "DATABASE_URL": GOOD_URL, "API_PAGE_SIZE": "ten"},
        "API_PAGE_SIZE='ten' is not an integer",
    ),
    "time_limit_below_minimum": (
        {"DEBUG": "1", "DATABASE_URL": GOOD_URL, "CELERY_TASK_TIME_LIMIT": "0"},
        "CELERY_TASK_TIME_LIMIT=0 must be at least 1",
    ),
    "debug_without_secret_key_starts": ({"DEBUG": "yes", "DATABASE_URL": GOOD_URL}, None),
    "production_with_secret_key_starts": ({"DEBUG": "off", "SECRET_KEY": "k", "DATABASE_URL": GOOD_URL}, None),
}


@pytest.fixture(scope="module")
def startups(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    data_dir = tmp_path_factory.mktemp("data")
    base = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    base.update(DJANGO_SETTINGS_MODULE="alokon.settings", ALOKON_DATA_DIR=str(data_dir), PYTHONPATH=str(BASE_DIR))
    running = {
        name: subprocess.Popen(
            [sys.executable, "-c", SETUP],
            cwd=BASE_DIR,
            env={**base, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (extra, _) in CASES.items()
    }
    results = {}
    for name, proc in running.items():
        out, err = proc.communicate(timeout=60)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


@pytest.mark.parametrize("case", [name for name, (_, expected) in CASES.items() if expected])
def test_bad_environment_stops_startup_naming_the_variable(startups, case):
    result = startups[case]
    expected = CASES[case][1]
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert expected in result.stderr


@pytest.mark.parametrize("case", [name for name, (_, expected) in CASES.items() if expected is None])
def test_good_environment_starts(startups, case):
    result = startups[case]
    assert result.returncode == 0, result.stderr
    debug = CASES[case][0]["DEBUG"] in ("yes", "1")
    assert f"DEBUG {debug}" in result.stdout


# --- the readers themselves -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("FALSE", False), ("no", False)],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


def test_env_bool_default_when_unset_or_empty(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    assert env_bool("FLAG", True) is True
    monkeypatch.setenv("FLAG", "")
    assert env_bool("FLAG", False) is False


def test_env_bool_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG='maybe' is not a boolean"):
        env_bool("FLAG", False)


def test_env_str_treats_empty_as_unset(monkeypatch):
    monkeypatch.setenv("NAME", "")
    assert env_str("NAME", "fallback") == "fallback"
    monkeypatch.setenv("NAME", "value")
    assert env_str("NAME", "fallback") == "value"


def test_env_int_parses_checks_minimum_and_names_the_variable(monkeypatch):
    monkeypatch.delenv("SIZE", raising=False)
    assert env_int("SIZE", 7) == 7
    monkeypatch.setenv("SIZE", "12")
    assert env_int("SIZE", 7, minimum=1) == 12
    monkeypatch.setenv("SIZE", "12.5")
    with pytest.raises(ImproperlyConfigured, match="SIZE='12.5' is not an integer"):
        env_int("SIZE", 7)
    monkeypatch.setenv("SIZE", "0")
    with pytest.raises(ImproperlyConfigured, match="SIZE=0 must be at least 1"):
        env_int("SIZE", 7, minimum=1)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example, b.example ,,")
    assert env_list("HOSTS", ["x"]) == ["a.example", "b.example"]
    monkeypatch.delenv("HOSTS")
    assert env_list("HOSTS", ["x"]) == ["x"]


def test_env_choice_refuses_unknown_values(monkeypatch):
    monkeypatch.setenv("MODE", "fast")
    assert env_choice("MODE", "slow", ("slow", "fast")) == "fast"
    monkeypatch.setenv("MODE", "warp")
    with pytest.raises(ImproperlyConfigured, match="MODE='warp' must be one of: slow, fast"):
        env_choice("MODE", "slow", ("slow", "fast"))


def test_database_config_reads_a_postgresql_url():
    config = database_config("postgresql://alokon:s3cret@db.example:5433/stock")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("stock", "alokon", "s3cret")
    assert (config["HOST"], config["PORT"]) == ("db.example", 5433)


def test_database_config_accepts_a_unix_socket_host():
    config = database_config("postgresql://postgres@%2Fvar%2Frun%2Fpostgresql/stock")
    assert (config["HOST"], config["NAME"]) == ("/var/run/postgresql", "stock")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x", "must be a postgresql:// URL"),
        ("sqlite:///db.sqlite3", "must be a postgresql:// URL"),
        ("postgresql://", "DATABASE_URL names no database"),
        ("postgresql://db.example:5432/", "names no database"),
        ("postgresql://u@db.example:port/stock", "DATABASE_URL is malformed"),
    ],
)
def test_database_config_refuses_what_is_not_a_usable_postgresql_url(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_config(url)
