"""Celery tasks of the report pages: export jobs and dashboard snapshots (imported by ``reports.tasks``).

Thin: each takes ids and calls a service.

- ``run_export(job_id)``: builds one export job's file (``reports.services.exports.export_run``).
  Time limits: soft 10 min (the job fails with a message asking to narrow the filters),
  hard 11 min. A database error (a restart, a failover) is retried three times with
  backoff under the same message, which may take its running job again; after the last
  one the job fails. A worker killed mid-run: the message is delivered again
  (``CELERY_TASK_ACKS_LATE``) and takes the job again.
- ``purge_exports()``: daily, deletes jobs and files older than ``KEEP_DAYS``.
- ``refresh_dashboard_snapshots()``: every few minutes, recomputes the dashboard
  snapshots read in the last day (``reports.selectors.dashboard``).
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from reports.services.exports import FAILED, TOO_LONG, export_fail, export_purge, export_run

logger = logging.getLogger(__name__)

SOFT_LIMIT = 10 * 60
HARD_LIMIT = 11 * 60
MAX_RETRIES = 3


@shared_task(bind=True, name="reports.tasks_exports.run_export", soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT)
def run_export(self, job_id: int) -> str:
    """Build export job ``job_id``'s file; return its final status (or "skipped")."""
    try:
        job = export_run(job_id, task_id=self.request.id or "", stale_after=dt.timedelta(seconds=HARD_LIMIT))
    except OperationalError as exc:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=5 * 2**self.request.retries) from exc
        export_fail(job_id, FAILED)
        raise
    except SoftTimeLimitExceeded:
        export_fail(job_id, TOO_LONG)
        logger.warning("export job %s: soft time limit", job_id)
        return "failed"
    except Exception:
        export_fail(job_id, FAILED)
        raise
    if job is None:
        logger.info("export job %s: not this message's to run", job_id)
        return "skipped"
    logger.info("export job %s: %s, %s rows", job_id, job.status, job.rows)
    return job.status


@shared_task(name="reports.tasks_exports.purge_exports", soft_time_limit=5 * 60, time_limit=6 * 60)
def purge_exports() -> int:
    """Delete export jobs and files older than a week; return how many."""
    return export_purge()


@shared_task(
    name="reports.tasks_exports.refresh_dashboard_snapshots",
    soft_time_limit=8 * 60,
    time_limit=9 * 60,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=3,
)
def refresh_dashboard_snapshots() -> int:
    """Recompute the dashboard snapshots someone read in the last day; return how many."""
    from reports.selectors.dashboard import snapshot_refresh

    return snapshot_refresh()
