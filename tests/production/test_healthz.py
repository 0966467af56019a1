"""``/healthz``: 200 ``ok`` when the database and the broker answer, 503 with a bare body otherwise.

Each case is a process of its own with production settings (DEBUG off, HTTPS redirect
on: /healthz is exempt so container checks can use plain HTTP) asking through Django's
test client, as gunicorn would: the database is this run's test database (up) or a
port nothing listens on (down); the broker is the Redis of the Celery tests
(``CELERY_TEST_BROKER_URL``; these tests fail, never skip, when it cannot be reached)
or a closed port. ``python -m alokon.health`` (the worker and beat containers' check)
answers the same by its exit status.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_celery_worker import REDIS_URL, _test_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
CLOSED_DATABASE = "postgresql://alokon:hunter2@127.0.0.1:{port}/alokon"
CLOSED_BROKER = "redis://127.0.0.1:{port}/0"

ASK = """
import django, json, time
django.setup()
from django.test import Client
from alokon.health import healthy
started = time.monotonic()
response = Client().get("/healthz", HTTP_HOST="alokon.example.go.id")
print(json.dumps({"status": response.status_code, "body": response.content.decode(),
                  "type": response["Content-Type"], "cache": response.get("Cache-Control", ""),
                  "seconds": time.monotonic() - started}))
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on leaving: nothing listens there


@pytest.fixture
def ask(db, tmp_path):
    """Run /healthz (or ``python -m alokon.health``) in processes of their own, concurrently."""

    def run(cases: dict[str, dict[str, str]], command=("-c", ASK)) -> dict[str, subprocess.CompletedProcess]:
        base = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(BASE_DIR),
            "DJANGO_SETTINGS_MODULE": "alokon.settings",
            "ALOKON_DATA_DIR": str(tmp_path),
            "SECRET_KEY": "healthz-test-" + "k" * 50,
            "ALLOWED_HOSTS": "alokon.example.go.id",
            "LOG_FORMAT": "plain",
        }
        running = {
            name: subprocess.Popen(
                [sys.executable, *command],
                cwd=BASE_DIR,
                env={**base, **extra},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, extra in cases.items()
        }
        results = {}
        for name, process in running.items():
            out, err = process.communicate(timeout=60)
            results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
        return results

    return run


def answer(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.celery
def test_healthz_is_200_when_both_answer_and_503_without_details_when_either_does_not(ask):
    up = {"DATABASE_URL": _test_database_url(), "CELERY_BROKER_URL": REDIS_URL}
    database_down = {**up, "DATABASE_URL": CLOSED_DATABASE.format(port=closed_port())}
    broker_down = {**up, "CELERY_BROKER_URL": CLOSED_BROKER.format(port=closed_port())}
    results = ask({"up": up, "database_down": database_down, "broker_down": broker_down})

    ok = answer(results["up"])
    assert (ok["status"], ok["body"]) == (200, "ok\n")
    assert ok["type"].startswith("text/plain")
    assert "no-cache" in ok["cache"]  # a proxy must not answer for us

    for case, what in (("database_down", "the database did not answer"), ("broker_down", "the broker did not")):
        down = answer(results[case])
        assert (down["status"], down["body"]) == (503, "unavailable\n"), case
        assert down["seconds"] < 5, "the broker check gives up within its 2 s"
        # The reason is in the log, never in the body.
        assert what in results[case].stderr
    assert "hunter2" not in results["database_down"].stdout


@pytest.mark.celery
def test_the_worker_and_beat_health_command_answers_by_exit_status(ask):
    up = {"DATABASE_URL": _test_database_url(), "CELERY_BROKER_URL": REDIS_URL}
    database_down = {**up, "DATABASE_URL": CLOSED_DATABASE.format(port=closed_port())}
    results = ask({"up": up, "database_down": database_down}, command=("-m", "alokon.health"))
    assert results["up"].returncode == 0, results["up"].stderr[-2000:]
    assert results["database_down"].returncode == 1


def test_healthz_needs_no_login_and_takes_no_post(db, client, settings):
    # The test run's own database, and its broker (the filesystem transport unless set).
    settings.ALLOWED_HOSTS = ["testserver"]
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert client.post("/healthz").status_code == 405
