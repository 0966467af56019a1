"""Exports of the registered reports (``reports.report_registry``) to XLSX and CSV.

``export_start`` is what the export buttons of every report page call:

1. the report's form validates the page's query as the asking user (a bad filter,
   an unknown format or report is refused with a translated message, 400/404);
2. the size: the report's ``estimate`` (cheap), else the rows themselves are computed
   and counted;
3. up to ``sync_row_limit()`` rows (``ALOKON_EXPORT_SYNC_ROWS``, 5,000 by default) the
   file is built at once and answered directly (``ExportFile``);
4. above it, an ``ExportJob`` is queued and ``reports.tasks_exports.run_export`` is
   sent after commit; the user follows it on "your exports" and downloads the file
   when it is ready (``job_for_download``: only the user who asked).

The job re-validates the saved query as the user when it runs (``export_run``), so a
file never holds more than its asker may see at that moment. A retried or duplicated
task message runs a job once: the task claims it with a conditional UPDATE
(queued → running). Files live under ``MEDIA_ROOT/exports/`` and are deleted after
``KEEP_DAYS`` days (``export_purge``, daily from beat).

Writing: the report's import-export ``Resource`` turns the rows into a ``tablib``
dataset with native values (``force_native_type``); the XLSX is written by openpyxl in
write-only mode (a national export of 160,000 rows fits in little memory), the CSV by
the csv module with a byte-order mark so that Excel keeps the accents. A text cell
starting with "=" loses it (``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT``): a location
name must never become a live formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.http import Http404, QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from inventory.errors import InvalidDocument, ScopeError
from reports.models import ExportFormat, ExportJob, ExportStatus
from reports.report_registry import ReportSpec, get_report

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
CONTENT_TYPES = {ExportFormat.XLSX: XLSX_TYPE, ExportFormat.CSV: CSV_TYPE}
DEFAULT_SYNC_ROWS = 5_000
#: days a finished export's file is kept
KEEP_DAYS = 7
#: query keys that are not filters
NOT_PARAMS = ("page", "format", "csrfmiddlewaretoken")


def sync_row_limit() -> int:
    """Rows up to which an export is answered at once; above, it runs as a job."""
    return int(getattr(settings, "ALOKON_EXPORT_SYNC_ROWS", DEFAULT_SYNC_ROWS))


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    filename: str
    content_type: str
    rows: int


# --- building a file ------------------------------------------------------------------


def _escape(value):
    if isinstance(value, str) and value.startswith("=") and settings.IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT:
        return value[1:]
    return value


def _local(value: dt.datetime) -> dt.datetime:
    """A datetime as the wall-clock time of the installation (Excel and CSV have no time zones)."""
    return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value


def _xlsx(dataset, title: str) -> bytes:
    def cell_value(value):
        value = _escape(value)
        if isinstance(value, str):
            return ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", value)
        if isinstance(value, dt.datetime):
            return _local(value)
        return value

    workbook = Workbook(write_only=True)
    # Excel limits sheet titles to 31 characters and forbids a few.
    sheet = workbook.create_sheet(title="".join(c for c in title if c not in "[]:*?/\\")[:31] or "export")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in dataset.headers:
        cell = WriteOnlyCell(sheet, value=cell_value(name))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in dataset:
        sheet.append([cell_value(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return _local(value).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return _escape(value)


def _csv(dataset) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_csv_value(v) for v in dataset.headers])
    for row in dataset:
        writer.writerow([_csv_value(v) for v in row])
    # A byte-order mark so that Excel opens the UTF-8 file with its accents intact.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render_file(spec: ReportSpec, rows, file_format: str) -> tuple[bytes, int]:
    """The rows as an XLSX or CSV file, through the report's resource; (content, row count)."""
    dataset = spec.resource().export(queryset=rows, force_native_type=True)
    if file_format == ExportFormat.XLSX:
        return _xlsx(dataset, str(spec.title)), dataset.height
    return _csv(dataset), dataset.height


# --- starting an export ------------------------------------------------------------------


def _report(key: str) -> ReportSpec:
    spec = get_report(key)
    if spec is None:
        raise ScopeError(_("Report %(key)s was not found.") % {"key": key})
    return spec


def _format(value: str | None) -> str:
    if value not in ExportFormat.values:
        raise InvalidDocument(_("Choose the file format: Excel (XLSX) or CSV."))
    return value


def query_params(query: QueryDict) -> dict[str, list[str]]:
    """A page's filters as JSON (name → values), without paging and the format."""
    return {key: values for key, values in query.lists() if key not in NOT_PARAMS}


def _query(params: dict[str, list[str]]) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, values in params.items():
        query.setlist(key, [str(v) for v in values])
    return query


def report_params(spec: ReportSpec, user, params: dict[str, list[str]]) -> dict:
    """The report's cleaned parameters for ``user``; a bad filter is an ``InvalidDocument``."""
    form = spec.form(_query(params), user=user)
    if not form.is_valid():
        messages = [str(m) for errors in form.errors.values() for m in errors]
        raise InvalidDocument(" ".join(messages))
    return form.cleaned_data


def export_start(*, user, report: str, query: QueryDict, file_format: str | None) -> ExportFile | ExportJob:
    """Export report ``report`` with a page's ``query`` as ``user``: the file, or the queued job."""
    spec = _report(report)
    file_format = _format(file_format)
    params = query_params(query)
    cleaned = report_params(spec, user, params)
    limit = sync_row_limit()
    rows = None
    size = spec.estimate(user, cleaned) if spec.estimate else None
    if size is None:
        rows = list(spec.rows(user, cleaned))
        size = len(rows)
    if size > limit:
        return export_queue(user=user, report=spec.key, params=params, file_format=file_format)
    if rows is None:
        rows = spec.rows(user, cleaned)
    content, count = render_file(spec, rows, file_format)
    return ExportFile(content, spec.filename(cleaned, file_format), CONTENT_TYPES[file_format], count)


def export_queue(*, user, report: str, params: dict, file_format: str) -> ExportJob:
    """Queue an export job; the task is sent once the job is committed."""
    from reports.tasks_exports import run_export

    with transaction.atomic():
        job = ExportJob.objects.create(
            user=user,
            report=report,
            params=params,
            format=file_format,
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )
        transaction.on_commit(partial(run_export.delay, job.pk))
    return job


# --- running a job (the Celery task's body) ------------------------------------------------


def _claim(job_id: int, task_id: str, stale_before: dt.datetime) -> bool:
    """Take the job for task message ``task_id``, in one conditional UPDATE: a queued job; or one
    already running under the same message (redelivered after its worker died, or retried after a
    database error); or one running longer than the task's hard time limit (its worker is gone).
    A second, duplicate message finds it taken and does nothing."""
    return (
        ExportJob.objects.filter(pk=job_id)
        .filter(
            Q(status=ExportStatus.QUEUED)
            | Q(status=ExportStatus.RUNNING, task_id=task_id)
            | Q(status=ExportStatus.RUNNING, started_at__lt=stale_before)
        )
        .update(status=ExportStatus.RUNNING, started_at=timezone.now(), task_id=task_id)
        == 1
    )


#: errors of the report's own checks, shown to the user as they are
REPORT_ERRORS = (InvalidDocument, ScopeError, Http404, PermissionDenied)


def export_run(job_id: int, *, task_id: str, stale_after: dt.timedelta) -> ExportJob | None:
    """Build the file of job ``job_id`` as its user, then mark it done; None when the job is not
    this message's to run (taken by another, finished, gone). A refusal of the report (the user
    lost the location, a filter no longer valid) marks it failed with that message; any other
    error propagates to the task, which retries or fails the job."""
    if not _claim(job_id, task_id, timezone.now() - stale_after):
        return None
    job = ExportJob.objects.select_related("user").get(pk=job_id)
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            spec = _report(job.report)
            cleaned = report_params(spec, job.user, job.params)
            content, count = render_file(spec, spec.rows(job.user, cleaned), job.format)
            filename = spec.filename(cleaned, job.format)
    except REPORT_ERRORS as error:
        export_fail(job_id, str(error))
        return ExportJob.objects.get(pk=job_id)
    # A random folder: file names never collide, and nobody guesses one.
    job.file.save(f"{secrets.token_urlsafe(12)}/{filename}", ContentFile(content), save=False)
    ExportJob.objects.filter(pk=job_id, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE, file=job.file.name, rows=count, finished_at=timezone.now(), error=""
    )
    job.refresh_from_db()
    return job


#: why a job failed, in words for its user
FAILED = gettext_lazy("The export failed. Try again; if it fails again, tell an administrator.")
TOO_LONG = gettext_lazy("The export took too long. Narrow the filters (a location, a product) and try again.")


def export_fail(job_id: int, message) -> None:
    """Mark a job that has not finished failed, with ``message`` (lazy or not) in its user's language."""
    language = ExportJob.objects.filter(pk=job_id).values_list("language", flat=True).first()
    with translation.override(language or settings.LANGUAGE_CODE):
        text = str(message)
    ExportJob.objects.filter(pk=job_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]).update(
        status=ExportStatus.FAILED, finished_at=timezone.now(), error=text
    )


# --- reading and cleaning up ------------------------------------------------------------------


def jobs_for(user):
    return ExportJob.objects.filter(user=user).order_by("-created_at", "-id")


def job_for_download(user, job_id: int) -> ExportJob:
    """A finished job of ``user``; anything else (another user's job, not ready, unknown) is a 404."""
    job = jobs_for(user).filter(pk=job_id, status=ExportStatus.DONE).first()
    if job is None or not job.file:
        raise Http404(_("Export %(id)s was not found.") % {"id": job_id})
    return job


def export_purge(*, now: dt.datetime | None = None, keep_days: int = KEEP_DAYS) -> int:
    """Delete the jobs (and their files) finished more than ``keep_days`` ago; how many."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=keep_days)
    # Each job's file goes with it (a post_delete receiver in reports.models_exports).
    count, _deleted = ExportJob.objects.filter(finished_at__lt=cutoff).delete()
    return count
