"""The tables of the report machinery: export jobs, and dashboard snapshots of large scopes.

**ExportJob**: one large export a user asked for (``reports.services.exports``). The
Celery task ``reports.tasks_exports.run_export`` takes its id, claims it
(queued → running in one conditional UPDATE, so a duplicated message runs it once),
builds the file from the report's rows as the asking user sees them *when it runs*
(scope and language), and writes it under ``MEDIA_ROOT/exports/``. The file is never
served from MEDIA_URL: the download view hands it only to the user who asked. A job's
file goes with it, however the job is deleted (the daily purge, the admin, or the user
it belongs to being deleted), once that deletion commits.

**DashboardSnapshot**: the dashboard's figures of one scope (a location's subtree, or
the whole country) too large to compute while a user waits (the stock indicators of
20,000 clinics take seconds). The dashboard reads a fresh snapshot, or computes and
stores one; ``reports.tasks_exports.refresh_dashboard_snapshots`` recomputes, every few
minutes, the snapshots someone read recently, so a national manager never waits.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportFormat(models.TextChoices):
    XLSX = "xlsx", _("Excel (XLSX)")
    CSV = "csv", _("CSV")


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")


class ExportJob(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="export_jobs"
    )
    report = models.CharField(_("report"), max_length=64)
    # The report page's query (filter name → list of values), validated again by the
    # report's form when the job runs.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    format = models.CharField(_("format"), max_length=8, choices=ExportFormat.choices)
    # Column headers and labels are written in the language of the page that asked.
    language = models.CharField(_("language"), max_length=16, default="", blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    file = models.FileField(_("file"), upload_to="exports/%Y/%m/", max_length=255, blank=True)
    rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    # The Celery message running it: the same message may take it again (redelivered after its
    # worker died, or retried), a duplicate one may not.
    task_id = models.CharField(_("task id"), max_length=64, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error message"), blank=True, default="")

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="exportjob_user_created")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done") | (~Q(file="") & Q(finished_at__isnull=False)),
                name="exportjob_done_has_file",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | Q(finished_at__isnull=False),
                name="exportjob_failed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.report} {self.format} for {self.user_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)


class DashboardSnapshot(models.Model):
    # NULL: every location (an unscoped superuser's dashboard).
    root = models.ForeignKey(
        "inventory.Location",
        verbose_name=_("location"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the unique constraint below serves every lookup
    )
    day = models.DateField(_("day"))
    figures = models.JSONField(_("figures"))
    computed_at = models.DateTimeField(_("computed at"))
    # Refreshed in the background only while someone reads it.
    read_at = models.DateTimeField(_("read at"))

    class Meta:
        verbose_name = _("dashboard snapshot")
        verbose_name_plural = _("dashboard snapshots")
        constraints = [
            models.UniqueConstraint(fields=["root"], nulls_distinct=False, name="dashboardsnapshot_one_per_root")
        ]

    def __str__(self) -> str:
        return f"{self.root_id or 'all'} @ {self.computed_at:%Y-%m-%d %H:%M}"


@receiver(post_delete, sender=ExportJob, dispatch_uid="reports.exportjob.delete_file")
def _delete_the_file_with_its_job(sender, instance: ExportJob, **kwargs) -> None:
    # Also for a job deleted by a cascade (its user deleted): Django sends the signal for
    # each. After the commit: a rolled-back deletion keeps its file.
    if instance.file:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: storage.delete(name))
