"""Real Celery workers: a separate ``celery worker`` process consumes what this process sends.

Redis (``CELERY_TEST_BROKER_URL``, default ``redis://127.0.0.1:6379/15``) is required:
when it cannot be reached these tests fail, they never skip. The worker runs against
the test database, so the data it must see is committed (``transaction=True``).
Results come from the worker's log ("Task ...[id] succeeded in ...: result"): the
project has no result backend, and the log is what an operator reads too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from alokon import celery_app
from inventory.models import StockBalance

BASE_DIR = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("CELERY_TEST_BROKER_URL") or "redis://127.0.0.1:6379/15"


def _test_database_url() -> str:
    """The test database (not the development one) as a DATABASE_URL for the worker."""
    conf = connection.settings_dict
    auth = quote(conf["USER"] or "", safe="") + (":" + quote(conf["PASSWORD"], safe="") if conf["PASSWORD"] else "")
    host = quote(str(conf["HOST"] or "localhost"), safe="")  # a socket directory is percent-encoded
    port = f":{conf['PORT']}" if conf["PORT"] else ""
    return f"postgresql://{auth}@{host}{port}/{conf['NAME']}"


class Worker:
    """One ``celery -A alokon worker --pool=solo`` process on its own queue."""

    def __init__(self, *, workdir: Path, broker_url: str | None):
        self.queue = f"alokon-test-{uuid.uuid4().hex[:12]}"
        self.log_path = workdir / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
        env.update(
            DJANGO_SETTINGS_MODULE="alokon.test_settings",
            DATABASE_URL=_test_database_url(),
            # The filesystem broker lives under ALOKON_DATA_DIR/broker; with DATABASE_URL
            # set nothing else is read from there.
            ALOKON_DATA_DIR=str(workdir),
            PYTHONPATH=str(BASE_DIR),
        )
        if broker_url:
            env["CELERY_BROKER_URL"] = broker_url
        command = [
            *(sys.executable, "-m", "celery", "-A", "alokon", "worker", "--pool=solo", "--loglevel=INFO"),
            *("-Q", self.queue, "-n", f"{self.queue}@%h", "--without-mingle", "--without-gossip"),
        ]
        self._log = self.log_path.open("w")
        # cwd: kombu puts files it has no folder for relative to it; keep them out of the repo.
        self.process = subprocess.Popen(command, cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text()

    def result_of(self, task_name: str, task_id: str, timeout: float = 60) -> str:
        """Wait for the worker to log the task's outcome; return the logged return value."""
        done = re.compile(rf"Task {re.escape(task_name)}\[{task_id}\] succeeded in [\d.]+s: (.*)$", re.MULTILINE)
        failed = re.compile(rf"Task {re.escape(task_name)}\[{task_id}\] (raised|retry)")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if match := done.search(text):
                return match.group(1).strip()
            if failed.search(text):
                pytest.fail(f"the worker failed {task_name}:\n{text[-3000:]}")
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{text[-3000:]}")
            time.sleep(0.1)
        pytest.fail(f"no result for {task_name}[{task_id}] within {timeout}s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()  # warm shutdown: also closes its database connections
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def redis_broker():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis at {REDIS_URL} cannot be reached ({exc}). Start Redis or set CELERY_TEST_BROKER_URL; "
            'leave these tests out explicitly with -m "not celery".'
        )
    yield client
    client.close()


@pytest.fixture(scope="module")
def redis_worker(redis_broker, django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():  # only to read the test database's connection settings
        worker = Worker(workdir=tmp_path_factory.mktemp("redis-worker"), broker_url=REDIS_URL)
    yield worker
    worker.stop()
    # The queue and kombu's binding records of it: leave the shared Redis as it was.
    keys = list(redis_broker.scan_iter(match=f"*{worker.queue}*"))
    if keys:
        redis_broker.delete(*keys)


def _send(name: str, queue: str, **connection_options):
    with celery_app.connection_for_write(**connection_options) as conn:
        return celery_app.send_task(name, queue=queue, connection=conn)


@pytest.mark.celery
def test_worker_consumes_from_redis(redis_worker):
    sent = _send("inventory.tasks.ping", redis_worker.queue, url=REDIS_URL)
    assert redis_worker.result_of("inventory.tasks.ping", sent.id) == "'pong'"


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_worker_checks_the_committed_test_ledger(redis_worker, stocked, lot):
    sent = _send("inventory.tasks.check_ledger", redis_worker.queue, url=REDIS_URL)
    assert redis_worker.result_of("inventory.tasks.check_ledger", sent.id) == "0"

    # A balance that no longer matches its entries: the nightly check must report it.
    StockBalance.objects.filter(location=stocked["prov"], lot=lot).update(quantity=90)
    sent = _send("inventory.tasks.check_ledger", redis_worker.queue, url=REDIS_URL)
    assert redis_worker.result_of("inventory.tasks.check_ledger", sent.id) == "1"
    assert "ledger mismatch:" in redis_worker.log()


@pytest.mark.django_db
def test_filesystem_transport_carries_a_task_to_a_worker_process(tmp_path):
    # No CELERY_BROKER_URL: the worker's settings pick the filesystem transport under
    # ALOKON_DATA_DIR/broker; this process writes into the same folders.
    worker = Worker(workdir=tmp_path, broker_url=None)
    try:
        folder = tmp_path / "broker" / "queue"
        folder.mkdir(parents=True, exist_ok=True)
        options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(tmp_path / "broker" / "processed"),
            "control_folder": str(tmp_path / "broker" / "control"),
        }
        sent = _send("inventory.tasks.ping", worker.queue, url="filesystem://", transport_options=options)
        assert worker.result_of("inventory.tasks.ping", sent.id) == "'pong'"
        assert not any(folder.iterdir()), "the worker consumed the message file"
    finally:
        worker.stop()


@pytest.mark.django_db
def test_nightly_ledger_check_is_scheduled_in_the_database():
    from django.conf import settings
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="inventory.tasks.check_ledger")
    assert task.enabled and task.crontab is not None
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("30", "2", "*")
    assert str(crontab.timezone) == "Asia/Makassar"
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert task.task in celery_app.tasks, "beat would send a task no worker knows"
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"
