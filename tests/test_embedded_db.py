"""The embedded default database: a server from a pip wheel that starts, is shared, and stops.

The lifecycle test runs a second, private server in a fresh directory (never the
shared ``.data/pg`` that other processes on this machine use) and drives it the way
``make run`` and ``make stop`` do: ``python -m alokon.embedded_db [stop]``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from alokon import embedded_db
from alokon.env import database_config

BASE_DIR = Path(__file__).resolve().parent.parent


def test_data_dir_follows_alokon_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ALOKON_DATA_DIR", str(tmp_path))
    assert embedded_db.data_dir() == tmp_path.resolve()
    monkeypatch.delenv("ALOKON_DATA_DIR")
    assert embedded_db.data_dir() == BASE_DIR / ".data"


@pytest.mark.django_db
def test_settings_use_database_url_or_else_the_embedded_server():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('data_directory'), current_setting('server_version_num')::int")
        data_directory, version = cursor.fetchone()
    assert version >= 150000, "alokon needs PostgreSQL 15 or later"
    url = os.environ.get("DATABASE_URL")
    if url:
        expected = database_config(url)
        assert (connection.settings_dict["HOST"], connection.settings_dict["USER"]) == (
            expected["HOST"],
            expected["USER"],
        )
    else:
        assert Path(data_directory).resolve() == embedded_db.data_dir() / "pg"


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ALOKON_DATA_DIR": str(data_dir), "PYTHONPATH": str(BASE_DIR)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "alokon.embedded_db", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pg" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def _alive(pid: int, wait: float = 0) -> bool:
    deadline = time.monotonic() + wait
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)


@pytest.fixture
def private_data_dir():
    # Not tmp_path: as root the server runs as its own system user, which must be able
    # to traverse to the directory (pytest's temporary root is private to its user).
    path = Path(tempfile.mkdtemp(prefix="alokon-embedded-test-"))
    path.chmod(0o755)
    yield path
    pid = _postmaster_pid(path)
    if pid and _alive(pid):  # the test failed before stopping its own server
        os.kill(pid, signal.SIGTERM)
        _alive(pid, wait=10)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_fresh_server_starts_is_shared_and_stops(private_data_dir):
    started = _run(private_data_dir)
    assert started.returncode == 0, started.stderr
    assert "embedded PostgreSQL ready" in started.stdout
    pid = _postmaster_pid(private_data_dir)
    assert pid and _alive(pid)

    # A second process attaches to the running server instead of starting another.
    attached = _run(private_data_dir)
    assert attached.returncode == 0, attached.stderr
    assert _postmaster_pid(private_data_dir) == pid

    socket_dir = started.stdout.split("host=")[1].split()[0]
    with psycopg.connect(host=socket_dir, user="postgres", dbname=embedded_db.DATABASE_NAME) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (embedded_db.DATABASE_NAME,)

    stopped = _run(private_data_dir, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout
    assert not _alive(pid, wait=10)

    again = _run(private_data_dir, "stop")
    assert again.returncode == 0, again.stderr
    assert "not running" in again.stdout
