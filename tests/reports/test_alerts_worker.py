"""Alerts end to end on real parts: a receipt, Redis, a real ``celery worker`` process, e-mail files.

The worker is a separate process on the Redis broker (``CELERY_TEST_BROKER_URL``; the
``celery`` tests fail, never skip, when it cannot be reached) and the test database
(committed data: ``transaction=True``). Its e-mail goes to a file-based backend in a
temporary folder this process reads. Each worker consumes its own queue, so runs that
share the Redis database do not take each other's messages: this process's wake-up
messages (``movement_post`` → ``send_task`` after commit) are routed there, and the
worker's follow-ups go back to the queue their message came from.

The debounced task is made slow deterministically with ``ALOKON_ALERTS_TEST_DELAY``
(seconds it waits inside its transaction, read from the worker's environment; see
``reports.tasks``) so a worker can be killed mid-run.

Also here, without a worker: the queue processing itself (debounce, follow-up
countdown) and the beat rows.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import override_settings
from django.utils import timezone

from alokon import celery_app
from alokon.models import AlertEmail
from inventory.models import DispensingPeriod, LocationChange, Product, Receipt
from inventory.services import alert_wakeup
from inventory.services.dispensing import DispensingLineSpec, dispensing_record, month_end
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from reports.models import Alert, AlertKind, AlertSettings, AlertStatus, Notification
from tests.factories import LotFactory, UserFactory
from tests.test_celery_worker import REDIS_URL, _test_database_url, redis_broker  # noqa: F401 - fixture

BASE_DIR = Path(__file__).resolve().parent.parent.parent
#: a Redis port nothing listens on: the broker is down
DEAD_BROKER_URL = "redis://127.0.0.1:1/15"
DEBOUNCE = 2
TASK = "reports.tasks.compute_queued_alerts"
SWEEP = "reports.tasks.sweep_alert_queue"


class AlertWorker:
    """``celery -A alokon worker`` on its own queue, writing its e-mail into ``mail_dir``."""

    def __init__(self, *, workdir: Path, queue: str, mail_dir: Path, pool: str = "solo", delay: float = 0):
        self.queue = queue
        self.log_path = workdir / f"worker-{uuid.uuid4().hex[:6]}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
        env.update(
            DJANGO_SETTINGS_MODULE="alokon.test_settings",
            DATABASE_URL=_test_database_url(),
            ALOKON_DATA_DIR=str(workdir),
            PYTHONPATH=os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")])),
            CELERY_BROKER_URL=REDIS_URL,
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(mail_dir),
            ALOKON_ALERTS_TEST_DELAY=str(delay) if delay else "",
        )
        command = [
            *(sys.executable, "-m", "celery", "-A", "alokon", "worker", f"--pool={pool}", "--concurrency=1"),
            *("--loglevel=INFO", "-Q", queue, "-n", f"{queue}-{uuid.uuid4().hex[:4]}@%h"),
            *("--without-mingle", "--without-gossip", "--without-heartbeat"),
        ]
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, pattern: str, timeout: float = 25) -> re.Match:
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if match := regex.search(text):
                return match
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{text[-3000:]}")
            time.sleep(0.1)
        pytest.fail(f"the worker did not log {pattern!r} within {timeout}s:\n{self.log()[-3000:]}")

    def wait_ready(self) -> AlertWorker:
        self.wait_for(r"@\S+ ready\.$")
        return self

    def wait_for_run(self, task: str = TASK, locations: int = 1, timeout: float = 25) -> None:
        """Wait until a run of ``task`` succeeded having recomputed ``locations`` location(s)."""
        self.wait_for(rf"Task {re.escape(task)}\[[\w-]+\] succeeded in [\d.]+s: {locations}$", timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            # Cold shutdown: the test is over, nothing is running; its database
            # connections close with the process.
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def lab(redis_broker, tmp_path):  # noqa: F811 - the fixture imported above
    """Start and stop workers on one private queue; read the e-mail they wrote."""

    class Lab:
        def __init__(self):
            self.queue = f"alokon-test-alerts-{uuid.uuid4().hex[:12]}"
            self.mail_dir = tmp_path / "mail"
            self.workers: list[AlertWorker] = []

        def worker(self, **options) -> AlertWorker:
            started = AlertWorker(workdir=tmp_path, queue=self.queue, mail_dir=self.mail_dir, **options)
            self.workers.append(started)
            return started

        def emails(self) -> list[str]:
            """Every message the workers wrote (the file backend ends each with a line of 79 dashes)."""
            if not self.mail_dir.exists():
                return []
            messages = []
            for path in sorted(self.mail_dir.iterdir()):
                messages += [m for m in path.read_text().split("-" * 79 + "\n") if m.strip()]
            return messages

        def send(self, name: str, **kwargs):
            with celery_app.connection_for_write(url=REDIS_URL) as conn:
                return celery_app.send_task(name, queue=self.queue, connection=conn, **kwargs)

    lab = Lab()
    try:
        yield lab
    finally:
        for worker in lab.workers:
            worker.stop()
        # Leave the shared Redis as it was: the queue, and messages a killed worker left unacknowledged.
        keys = list(redis_broker.scan_iter(match=f"*{lab.queue}*"))
        if keys:
            redis_broker.delete(*keys)
        for tag, payload in redis_broker.hgetall("unacked").items():
            if lab.queue.encode() in payload:
                redis_broker.hdel("unacked", tag)
                redis_broker.zrem("unacked_index", tag)


@contextmanager
def wake_messages(queue: str, url: str = REDIS_URL):
    """Postings wake the worker (as in production), on ``queue`` at ``url``."""
    original = celery_app.send_task

    def send_task(name, *args, **kwargs):
        kwargs.pop("connection", None)  # the posting's fail-fast connection: replaced by one to ``url``
        with celery_app.connection_for_write(
            url=url, connect_timeout=2, transport_options={"max_retries": 0, "socket_connect_timeout": 2}
        ) as conn:
            return original(name, *args, queue=queue, connection=conn, **kwargs)

    celery_app.send_task = send_task
    # In production a daemon thread sends the wake-up after the commit (alert_wakeup);
    # here it is sent at once, inside this block, so the patched send_task is the one used.
    waker = alert_wakeup._waker
    alert_wakeup._waker = SimpleNamespace(wake=alert_wakeup.send_wakeup)
    try:
        with override_settings(ALOKON_ALERTS_WAKE_WORKER=True):
            yield
    finally:
        alert_wakeup._waker = waker
        del celery_app.send_task  # the instance attribute: back to the class's method


@pytest.fixture
def clinic(tree):
    """Puskesmas Talise dispensed 100 cycles of pills a month for three months and has 50
    left; Kota Palu has 30 on its way to it. Once received the clinic holds 80: 0.8 months
    of stock, below its minimum of 1 month and above its emergency point of 0.5."""
    product = Product.objects.get(code="PIL-KOMB")
    lot = LotFactory(product=product, batch="PK-E2E")
    today = timezone.localdate()
    staff = UserFactory(username="talise", location=tree["c1"], email="talise@example.org")
    # The district's staff would get the clinic's alert too; they chose no e-mail.
    district = UserFactory(username="palu", location=tree["palu"], alert_email=AlertEmail.OFF)

    first = (today.replace(day=1) - dt.timedelta(days=100)).replace(day=1)
    opening_balance_post(location=tree["c1"], lines=[(lot, 350)], business_date=first)
    month = today.replace(day=1)
    for _ in range(3):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        dispensing_record(
            location=tree["c1"],
            date=month_end(month),
            period=DispensingPeriod.MONTH,
            lines=[DispensingLineSpec(product, 100, lot)],
            actor=staff,
        )
    opening_balance_post(location=tree["palu"], lines=[(lot, 500)], business_date=today - dt.timedelta(days=10))
    shipment = shipment_create(
        origin=tree["palu"], destination=tree["c1"], lines=[LineSpec(product, 30, lot)], actor=district
    )
    shipment_dispatch(shipment=shipment, actor=district)
    shipment.refresh_from_db()

    settings_row = AlertSettings.current()
    settings_row.debounce_seconds = DEBOUNCE
    settings_row.save()
    LocationChange.objects.all().delete()  # only the receipt below queues anything
    return {"product": product, "lot": lot, "staff": staff, "shipment": shipment, **tree}


def receive(clinic) -> Receipt:
    result = receipt_record(
        shipment=clinic["shipment"],
        lines=[ReceiptLineSpec(clinic["product"], clinic["lot"], 30)],
        client_uuid=uuid.uuid4(),
        actor=clinic["staff"],
    )
    return result.receipt


def assert_one_low_stock_alert_and_one_email(clinic, lab) -> None:
    alert = Alert.objects.get(kind=AlertKind.LOW_STOCK, location=clinic["c1"], product=clinic["product"])
    assert alert.status == AlertStatus.OPEN
    assert Decimal(str(alert.figures["soh"])) == 80
    assert not Alert.objects.exclude(pk=alert.pk).filter(location=clinic["c1"]).exists()
    assert not LocationChange.objects.exists()
    emails = lab.emails()
    assert len(emails) == 1, emails
    assert "To: talise@example.org" in emails[0]
    assert f"/alerts/{alert.pk}/" in emails[0]
    assert Notification.objects.get(alert=alert, user=clinic["staff"]).emailed_at is not None


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_receipt_below_min_opens_one_alert_and_sends_one_email(lab, clinic):
    worker = lab.worker().wait_ready()
    with wake_messages(lab.queue):
        receive(clinic)
    received = timezone.now()
    assert list(LocationChange.objects.values_list("location", flat=True)) == [clinic["c1"].pk]

    worker.wait_for_run(locations=1)

    assert_one_low_stock_alert_and_one_email(clinic, lab)
    alert = Alert.objects.get(location=clinic["c1"])
    assert alert.opened_at >= received + dt.timedelta(seconds=DEBOUNCE), "debounced"
    assert ledger_check().ok


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_pool_process_killed_mid_run_is_redelivered_and_nothing_doubles(lab, clinic):
    # prefork: the task runs in a child; when it dies, the parent gives the message back
    # to the broker (acks_late + reject_on_worker_lost) and a new child runs it again.
    worker = lab.worker(pool="prefork", delay=2).wait_ready()
    with wake_messages(lab.queue):
        receive(clinic)

    child = int(worker.wait_for(r"alerts: test delay [\d.]+s inside the run \(pid (\d+)\)").group(1))
    os.kill(child, signal.SIGKILL)
    worker.wait_for(r"WorkerLostError|signal 9")

    worker.wait_for_run(locations=1)
    assert worker.log().count("alerts: test delay") == 2, "the killed run was delivered again"
    assert_one_low_stock_alert_and_one_email(clinic, lab)


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_and_restarted_loses_and_doubles_nothing(lab, clinic):
    worker = lab.worker(delay=30).wait_ready()
    with wake_messages(lab.queue):
        receive(clinic)

    worker.wait_for(r"alerts: test delay")
    worker.kill()  # SIGKILL: no warm shutdown, its transaction is rolled back by PostgreSQL
    assert not Alert.objects.exists()
    assert list(LocationChange.objects.values_list("location", flat=True)) == [clinic["c1"].pk]

    # Its message stays with Redis, unacknowledged, until the visibility timeout (an
    # hour); meanwhile beat's sweep, every few minutes, finds the row still queued.
    restarted = lab.worker()
    lab.send(SWEEP)
    restarted.wait_for(rf"Task ({re.escape(SWEEP)}|{re.escape(TASK)})\[[\w-]+\] succeeded in [\d.]+s: 1$")
    assert_one_low_stock_alert_and_one_email(clinic, lab)

    # The lost message delivered late (or a duplicate): nothing more happens.
    sent = lab.send(TASK)
    restarted.wait_for(rf"Task {re.escape(TASK)}\[{sent.id}\] succeeded in [\d.]+s: 0$")
    assert_one_low_stock_alert_and_one_email(clinic, lab)


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_a_receipt_posts_and_the_sweep_catches_up(lab, clinic, caplog):
    with wake_messages(lab.queue, url=DEAD_BROKER_URL):
        receipt = receive(clinic)  # no exception: the posting committed before the broker was tried

    assert Receipt.objects.filter(pk=receipt.pk, movement__isnull=False).exists()
    assert list(LocationChange.objects.values_list("location", flat=True)) == [clinic["c1"].pk]
    assert "could not reach the broker" in caplog.text
    assert not Alert.objects.exists()

    # The broker is back (the real one) with a worker; beat sends the sweep.
    worker = lab.worker()
    lab.send(SWEEP)
    worker.wait_for(rf"Task ({re.escape(SWEEP)}|{re.escape(TASK)})\[[\w-]+\] succeeded in [\d.]+s: 1$")
    assert_one_low_stock_alert_and_one_email(clinic, lab)


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_with_the_worker_down_the_message_waits_in_redis(lab, clinic):
    with wake_messages(lab.queue):
        receive(clinic)
    time.sleep(DEBOUNCE)  # no worker yet: the wake-up waits in the queue
    assert not Alert.objects.exists()

    worker = lab.worker()
    worker.wait_for_run(locations=1)
    assert_one_low_stock_alert_and_one_email(clinic, lab)


# --- the queue processing and the schedule, without a worker -------------------------------------


@pytest.mark.django_db
def test_only_rows_older_than_the_debounce_interval_are_taken(tree, monkeypatch):
    from reports.services import alerts
    from reports.tasks import compute_queued

    seen: list[list[int]] = []
    monkeypatch.setattr(alerts, "COMPUTERS", (alerts.KindComputer((), lambda ids, today, t: seen.append(ids) or []),))
    now = timezone.now()
    LocationChange.objects.all().delete()
    LocationChange.objects.create(location=tree["c1"], changed_at=now - dt.timedelta(seconds=120))
    LocationChange.objects.create(location=tree["c2"], changed_at=now - dt.timedelta(seconds=61))
    LocationChange.objects.create(location=tree["c3"], changed_at=now - dt.timedelta(seconds=20))

    run = compute_queued(debounce=60)

    assert seen == [sorted([tree["c1"].pk, tree["c2"].pk])]
    assert run.locations == 2
    assert list(LocationChange.objects.values_list("location", flat=True)) == [tree["c3"].pk]
    assert 35 < run.next_due_in <= 40  # c3 is due 60 s after its change, 20 s ago

    assert compute_queued(debounce=60).locations == 0
    assert compute_queued(debounce=10).locations == 1
    assert compute_queued(debounce=10).next_due_in is None


@pytest.mark.django_db
def test_the_debounced_task_sends_itself_again_for_the_earliest_row(tree, monkeypatch):
    from reports import tasks

    sent: list[dict] = []
    monkeypatch.setattr(tasks.compute_queued_alerts, "apply_async", lambda **kw: sent.append(kw))
    monkeypatch.setattr(tasks, "compute_alerts", lambda ids: pytest.fail("nothing is due"))
    LocationChange.objects.all().delete()
    LocationChange.objects.create(location=tree["c1"], changed_at=timezone.now())
    AlertSettings.objects.update_or_create(pk=1, defaults={"debounce_seconds": 300})

    assert tasks.compute_queued_alerts.apply().get() == 0
    (follow_up,) = sent
    assert follow_up["kwargs"] == {"hops": 1}
    assert 299 < follow_up["countdown"] <= 301 + tasks.SLACK_SECONDS

    sent.clear()
    tasks.compute_queued_alerts.apply(kwargs={"hops": tasks.MAX_HOPS})
    assert sent == [], "a bounded number of hops"


@pytest.mark.django_db
def test_alert_tasks_are_scheduled_in_the_database():
    from django_celery_beat.models import PeriodicTask

    tasks = {t.task: t for t in PeriodicTask.objects.filter(task__startswith="reports.tasks.")}
    assert set(tasks) == {
        "reports.tasks.compute_all_alerts",
        "reports.tasks.sweep_alert_queue",
        "reports.tasks.send_alert_digests",
    }
    nightly = tasks["reports.tasks.compute_all_alerts"].crontab
    digest = tasks["reports.tasks.send_alert_digests"].crontab
    assert (nightly.minute, nightly.hour, str(nightly.timezone)) == ("0", "3", "Asia/Makassar")
    assert (digest.minute, digest.hour, str(digest.timezone)) == ("0", "7", "Asia/Makassar")
    sweep = tasks["reports.tasks.sweep_alert_queue"].interval
    assert (sweep.every, sweep.period) == (5, "minutes")
    assert all(t.enabled for t in tasks.values())
    celery_app.loader.import_default_modules()
    assert set(tasks) | {TASK} <= set(celery_app.tasks), "beat or the posting would send a task no worker knows"
