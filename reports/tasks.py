"""Celery tasks of the alerts. Thin: each calls ``compute_alerts`` or the notification service.

``compute_queued_alerts`` is the debounced run after postings. ``movement_post``
queues each real location it touches in ``inventory_locationchange`` and, when a
quiet location got queued, sends this task by name after commit. The task takes the
rows older than ``AlertSettings.debounce_seconds``:

    WITH due AS (SELECT … WHERE changed_at <= now() - debounce FOR UPDATE SKIP LOCKED)
    DELETE … USING due RETURNING location_id

and recomputes those locations' alerts in the same transaction, so:

- two workers never take the same rows (``SKIP LOCKED``);
- a worker killed mid-run rolls back: the rows are still queued, and the message,
  acknowledged late (``CELERY_TASK_ACKS_LATE``, ``…_REJECT_ON_WORKER_LOST``), is
  delivered again (or the sweep below takes the rows);
- a posting that touches a location while its alerts are being computed waits for
  that transaction and then queues the location again (its conflict is gone), so
  no change is missed.

The alert-sync lock is taken before the rows are, so a long nightly run delays
this task but never holds queued rows (and the postings queuing them) while waiting.

When rows remain that are not yet due, the task sends itself again for when the
earliest is (a few hops at most: every wake-up message has its own follow-up, and
duplicates are harmless because the work is idempotent). ``sweep_alert_queue``, every
few minutes from beat, takes whatever a lost wake-up message left (the broker was
down at posting time) and repairs undelivered notifications.

Test hook: ``ALOKON_ALERTS_TEST_DELAY`` (seconds, from the environment, unset in
production) makes the debounced run wait inside its transaction after computing, so
the end-to-end tests can kill a worker mid-task deterministically.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass

from celery import shared_task
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from inventory.models import LocationChange
from reports.models import AlertSettings
from reports.services.alert_sync import lock_alerts
from reports.services.alerts import compute_alerts
from reports.services.notifications import deliver_pending, send_daily_digests

logger = logging.getLogger(__name__)

#: locations recomputed per transaction (a mass import queues thousands at once). Small
#: on purpose: a posting that touches a location of the batch being recomputed waits for
#: that transaction (its queue row is being deleted there) before it queues the location
#: again, so a batch is kept to a fraction of a second of work.
BATCH = 200
#: how many times a debounced run sends itself again for rows not yet due
MAX_HOPS = 3
#: seconds added to a follow-up's countdown: the worker's clock and the database's may differ a little
SLACK_SECONDS = 1

_TAKE_DUE = f"""
WITH due AS (
    SELECT location_id FROM {LocationChange._meta.db_table}
     WHERE changed_at <= statement_timestamp() - make_interval(secs => %(debounce)s)
     ORDER BY changed_at, location_id
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED
)
DELETE FROM {LocationChange._meta.db_table} c USING due
 WHERE c.location_id = due.location_id
RETURNING c.location_id
"""

_NEXT_DUE = f"""
SELECT EXTRACT(EPOCH FROM min(changed_at) + make_interval(secs => %(debounce)s) - statement_timestamp())
  FROM {LocationChange._meta.db_table}
"""


@dataclass
class QueueRun:
    locations: int = 0  # locations whose alerts were recomputed
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    next_due_in: float | None = None  # seconds until the earliest row still queued is due


def _test_delay() -> float:
    value = os.environ.get("ALOKON_ALERTS_TEST_DELAY", "")
    return float(value) if value else 0.0


def compute_queued(*, debounce: int | None = None) -> QueueRun:
    """Recompute the alerts of every queued location whose debounce interval has passed."""
    if debounce is None:
        debounce = AlertSettings.current().debounce_seconds
    run = QueueRun()
    while True:
        with transaction.atomic():
            lock_alerts()
            with connection.cursor() as cursor:
                cursor.execute(_TAKE_DUE, {"debounce": debounce, "batch": BATCH})
                location_ids = sorted(row[0] for row in cursor.fetchall())
            if not location_ids:
                break
            result = compute_alerts(location_ids)
            if delay := _test_delay():
                logger.warning("alerts: test delay %ss inside the run (pid %d)", delay, os.getpid())
                time.sleep(delay)
        run.locations += len(location_ids)
        run.opened += len(result.opened)
        run.updated += len(result.updated)
        run.resolved += len(result.resolved)
        if len(location_ids) < BATCH:
            break
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_DUE, {"debounce": debounce})
        (seconds,) = cursor.fetchone()
    run.next_due_in = None if seconds is None else float(seconds)
    return run


def _follow_up(task, run: QueueRun, hops: int) -> None:
    """Send the debounced task again for when the earliest queued row is due."""
    if run.next_due_in is None or hops >= MAX_HOPS:
        return
    countdown = max(run.next_due_in, 0) + SLACK_SECONDS
    # The queue this message came from (beat's default queue, or a test worker's own).
    queue = (getattr(task.request, "delivery_info", None) or {}).get("routing_key")
    # Always the debounced task (the sweep takes no ``hops``): it is what runs when a row is due.
    compute_queued_alerts.apply_async(kwargs={"hops": hops + 1}, countdown=countdown, queue=queue)


def _log(name: str, run: QueueRun) -> None:
    logger.info(
        "alerts (%s): %d location(s) recomputed: %d opened, %d updated, %d resolved",
        name,
        run.locations,
        run.opened,
        run.updated,
        run.resolved,
    )


_RETRIES = {
    # A database that restarts or fails over must not cost the run.
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "max_retries": 5,
}


# Named explicitly: the posting service sends it by this name (it does not import the reports app).
@shared_task(
    bind=True, name="reports.tasks.compute_queued_alerts", soft_time_limit=5 * 60, time_limit=6 * 60, **_RETRIES
)
def compute_queued_alerts(self, hops: int = 0) -> int:
    """The debounced run after postings; return how many locations were recomputed."""
    run = compute_queued()
    _log("queued", run)
    _follow_up(self, run, hops)
    return run.locations


@shared_task(bind=True, soft_time_limit=10 * 60, time_limit=11 * 60, **_RETRIES)
def sweep_alert_queue(self) -> int:
    """Every few minutes: take queued rows a lost wake-up left, repair undelivered notifications."""
    run = compute_queued()
    _log("sweep", run)
    _follow_up(self, run, hops=0)
    deliver_pending()
    return run.locations


@shared_task(soft_time_limit=20 * 60, time_limit=22 * 60, **_RETRIES)
def compute_all_alerts() -> int:
    """The nightly run: every alert kind everywhere; return how many alerts opened."""
    started = time.monotonic()
    result = compute_alerts()
    logger.info(
        "alerts (nightly): %d opened, %d updated, %d resolved in %.1fs",
        len(result.opened),
        len(result.updated),
        len(result.resolved),
        time.monotonic() - started,
    )
    return len(result.opened)


@shared_task(soft_time_limit=20 * 60, time_limit=22 * 60, **_RETRIES)
def send_alert_digests(day: str | None = None) -> int:
    """Each morning: the daily digest e-mails; return how many were sent."""
    today = dt.date.fromisoformat(day) if day else timezone.localdate()
    return send_daily_digests(today)


from reports import tasks_exports  # noqa: E402,F401  (export jobs, dashboard snapshots: found by autodiscovery)
