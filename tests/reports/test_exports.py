"""The export machinery of every report (reports.services.exports, reports.tasks_exports):
small exports answered at once, large ones as a Celery job (eager here; one test with a
real worker on Redis), downloads only for the user who asked, the job re-scoped when it
runs, failures, duplicates and the weekly purge."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import uuid
from urllib.parse import urlencode

import openpyxl
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from alokon import celery_app
from alokon.models import Role
from inventory.models import Location, Product
from inventory.services.opening import opening_balance_post
from reports import report_registry
from reports.models import ExportJob, ExportStatus
from reports.services import exports
from reports.tasks_exports import run_export
from tests.factories import LotFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "media")]


# --- helpers shared with the report tests ----------------------------------------------------


def export(client, key: str, file_format: str, query: dict, expect: int = 200):
    """POST the export buttons of report ``key`` with a page's ``query``."""
    url = reverse("report-export", args=[key]) + ("?" + urlencode(query) if query else "")
    response = client.post(url, {"format": file_format})
    assert response.status_code == expect, (response.status_code, response.get("Content-Type"))
    return response


def xlsx_table(content: bytes) -> tuple[list, list[list]]:
    """(header, rows) of the first sheet, as openpyxl reads them (numbers as int or float)."""
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return rows[0], rows[1:]


def csv_table(content: bytes) -> tuple[list, list[list]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff"), "a byte-order mark, for Excel"
    rows = list(csv.reader(io.StringIO(text[1:])))
    return rows[0], rows[1:]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def eager(settings):
    """Celery tasks run in this process, at ``delay()``, their errors raised (CELERY_TASK_ALWAYS_EAGER)."""
    # The app read its configuration from the settings at start-up: save it before changing either.
    saved = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    settings.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = saved


@pytest.fixture
def small_limit(settings):
    """Exports of more than 1 row run as jobs."""
    settings.ALOKON_EXPORT_SYNC_ROWS = 1
    return 1


@pytest.fixture
def lots(tree):
    """Expiring condom lots at both Palu clinics and at Sigi's clinic: 3 rows of the expiry report."""
    today = timezone.localdate()
    condom = Product.objects.get(code="KONDOM")
    soon = LotFactory(product=condom, batch="K-SOON", expiry=today + dt.timedelta(days=40))
    for clinic, quantity in (("c1", 30), ("c2", 20), ("c3", 10)):
        opening_balance_post(location=tree[clinic], lines=[(soon, quantity)], business_date=today)
    return tree


@pytest.fixture
def palu(make_user, lots):
    return make_user("kepala7271", lots["palu"], role=Role.MANAGER)


def expiry_rows_of(client, **query):
    response = client.get(reverse("report-expiry"), query)
    assert response.status_code == 200
    return list(response.context["page"].object_list)


# --- small exports: the file at once -----------------------------------------------------------


def test_a_small_export_is_answered_at_once(client, palu):
    client.force_login(palu)
    response = export(client, "expiry", "xlsx", {"product": "KONDOM"})
    assert response["Content-Type"] == exports.XLSX_TYPE
    header, rows = xlsx_table(response.content)
    assert header[:3] == ["location", "location name", "level"]
    assert [row[0] for row in rows] == ["72.71-001", "72.71-002"]
    assert not ExportJob.objects.exists()


def test_formulae_never_reach_the_file(client, palu, lots):
    Location.objects.filter(code="72.71-001").update(name='=HYPERLINK("http://evil","x")')
    client.force_login(palu)
    _header, rows = xlsx_table(export(client, "expiry", "xlsx", {}).content)
    assert rows[0][1] == 'HYPERLINK("http://evil","x")'
    _header, rows = csv_table(export(client, "expiry", "csv", {}).content)
    assert rows[0][1] == 'HYPERLINK("http://evil","x")'


@pytest.mark.parametrize(
    ("key", "data", "status", "message"),
    [
        ("expiry", {"format": "pdf"}, 400, "Choose the file format: Excel (XLSX) or CSV."),
        ("expiry", {}, 400, "Choose the file format: Excel (XLSX) or CSV."),
        ("nope", {"format": "xlsx"}, 404, "Report nope was not found."),
    ],
)
def test_bad_requests_are_refused_with_a_message(client, palu, key, data, status, message):
    client.force_login(palu)
    response = client.post(reverse("report-export", args=[key]), data)
    assert response.status_code == status
    assert message in response.content.decode()


def test_bad_filters_are_refused_with_the_forms_message(client, palu):
    client.force_login(palu)
    response = export(client, "expiry", "csv", {"months": "0"}, expect=400)
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    response = export(client, "expiry", "csv", {"location": "72.10"}, expect=400)  # Sigi: not Palu's
    assert "Location 72.10 was not found." in response.content.decode()


def test_export_needs_a_login_and_a_post(client, palu):
    url = reverse("report-export", args=["expiry"])
    assert client.post(url, {"format": "csv"}).status_code == 302
    client.force_login(palu)
    assert client.get(url, {"format": "csv"}).status_code == 405


# --- large exports: a job ----------------------------------------------------------------------


def test_a_large_export_runs_as_a_job_and_only_its_owner_downloads_it(
    client, palu, make_user, small_limit, eager, django_capture_on_commit_callbacks, english
):
    client.force_login(palu)
    shown = expiry_rows_of(client)  # the page: both Palu clinics' lots
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = export(client, "expiry", "xlsx", {"months": "3"}, expect=302)
    assert response["Location"] == reverse("report-exports")
    assert len(callbacks) == 1  # the task is sent after the job is committed
    job = ExportJob.objects.get()
    assert (job.user, job.report, job.format, job.status) == (palu, "expiry", "xlsx", ExportStatus.DONE)
    assert job.params == {"months": ["3"]} and job.language == "en" and job.rows == 2
    assert job.file.name.startswith("exports/") and job.finished_at is not None

    listing = client.get(reverse("report-exports"))
    html = listing.content.decode()
    download = reverse("report-export-download", args=[job.pk])
    assert download in html and "Expiring lots" in html and "Ready" in html
    assert 'http-equiv="refresh"' not in html  # nothing pending

    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="expiry_72.71_')
    _header, rows = xlsx_table(b"".join(response.streaming_content))
    assert [(r[0], r[4], r[7]) for r in rows] == [(r["location"], r["batch"], r["quantity"]) for r in shown]

    # Anyone else: the same 404 as an unknown job.
    client.force_login(make_user("other7271", palu.location, role=Role.MANAGER))
    assert client.get(download).status_code == 404
    assert download not in client.get(reverse("report-exports")).content.decode()
    client.logout()
    assert client.get(download).status_code == 302


def test_a_pending_job_cannot_be_downloaded_and_the_page_refreshes(client, palu, small_limit):
    client.force_login(palu)
    export(client, "expiry", "csv", {}, expect=302)  # no commit in this test: the task is never sent
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.QUEUED
    assert client.get(reverse("report-export-download", args=[job.pk])).status_code == 404
    html = client.get(reverse("report-exports")).content.decode()
    assert 'http-equiv="refresh"' in html and "Queued" in html


def test_the_job_sees_what_its_user_sees_when_it_runs(palu, small_limit, lots, eager):
    job = exports.export_queue(user=palu, report="expiry", params={"location": ["72.71-001"]}, file_format="csv")
    # Before it runs, the user moves to Sigi: Palu's clinic is no longer theirs.
    palu.location = lots["sigi"]
    palu.save()
    assert run_export.delay(job.pk).get() == ExportStatus.FAILED
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and not job.file
    assert job.error == "Location 72.71-001 was not found."


def test_a_duplicate_message_runs_the_job_once_and_a_redelivered_one_takes_it_again(palu, small_limit):
    job = exports.export_queue(user=palu, report="expiry", params={}, file_format="csv")
    stale = dt.timedelta(minutes=11)
    # Message A takes it; a killed worker leaves it running.
    assert exports._claim(job.pk, "task-a", timezone.now() - stale)
    # A duplicate message B does nothing; A delivered again runs it.
    assert exports.export_run(job.pk, task_id="task-b", stale_after=stale) is None
    done = exports.export_run(job.pk, task_id="task-a", stale_after=stale)
    assert done.status == ExportStatus.DONE and done.rows == 2
    # Finished: nothing runs it again.
    assert exports.export_run(job.pk, task_id="task-a", stale_after=stale) is None


def test_a_job_left_running_past_the_hard_time_limit_is_taken_by_the_next_message(palu):
    job = exports.export_queue(user=palu, report="expiry", params={}, file_format="csv")
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, task_id="dead", started_at=timezone.now() - dt.timedelta(minutes=12)
    )
    done = exports.export_run(job.pk, task_id="new", stale_after=dt.timedelta(minutes=11))
    assert done.status == ExportStatus.DONE


def test_an_error_fails_the_job_with_a_message_and_is_raised(palu, monkeypatch, eager):
    spec = report_registry.get_report("expiry")
    broken = report_registry.ReportSpec(**{**spec.__dict__, "rows": lambda user, params: 1 / 0})
    monkeypatch.setitem(report_registry._REGISTRY, "expiry", broken)
    job = exports.export_queue(user=palu, report="expiry", params={}, file_format="xlsx")
    with pytest.raises(ZeroDivisionError):
        run_export.delay(job.pk)
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and job.finished_at is not None
    assert job.error == "The export failed. Try again; if it fails again, tell an administrator."


def test_the_soft_time_limit_fails_the_job_asking_for_narrower_filters(palu, monkeypatch, eager):
    def too_slow(user, params):
        raise SoftTimeLimitExceeded()

    spec = report_registry.get_report("expiry")
    monkeypatch.setitem(
        report_registry._REGISTRY, "expiry", report_registry.ReportSpec(**{**spec.__dict__, "rows": too_slow})
    )
    job = exports.export_queue(user=palu, report="expiry", params={}, file_format="csv")
    assert run_export.delay(job.pk).get() == "failed"
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert job.error.startswith("The export took too long.")


def test_failure_messages_are_in_the_askers_language(palu):
    job = exports.export_queue(user=palu, report="expiry", params={}, file_format="csv")
    ExportJob.objects.filter(pk=job.pk).update(language="id")
    # A sentence Django itself ships in Indonesian (alokon's own catalogue is translated later).
    exports.export_fail(job.pk, gettext_lazy("This field is required."))
    job.refresh_from_db()
    with translation.override("id"):
        indonesian = gettext("This field is required.")
    assert indonesian != "This field is required."
    assert (job.status, job.error) == (ExportStatus.FAILED, indonesian)


def test_old_exports_are_purged_with_their_files(palu, small_limit, media, django_capture_on_commit_callbacks):
    old = exports.export_queue(user=palu, report="expiry", params={}, file_format="csv")
    new = exports.export_queue(user=palu, report="expiry", params={}, file_format="csv")
    for job in (old, new):
        exports.export_run(job.pk, task_id=str(uuid.uuid4()), stale_after=dt.timedelta(minutes=11))
        job.refresh_from_db()
    old_path = old.file.path
    assert os.path.exists(old_path)
    ExportJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - dt.timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):  # the task runs in autocommit
        assert exports.export_purge() == 1
    assert not os.path.exists(old_path) and os.path.exists(new.file.path)
    assert list(ExportJob.objects.values_list("pk", flat=True)) == [new.pk]


def test_a_deleted_users_export_files_go_with_their_jobs(palu, small_limit, media, django_capture_on_commit_callbacks):
    job = exports.export_queue(user=palu, report="expiry", params={}, file_format="csv")
    exports.export_run(job.pk, task_id=str(uuid.uuid4()), stale_after=dt.timedelta(minutes=11))
    job.refresh_from_db()
    path = job.file.path
    assert os.path.exists(path)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        palu.delete()
    assert not ExportJob.objects.filter(pk=job.pk).exists()
    assert os.path.exists(path)  # not before the deletion commits
    for callback in callbacks:
        callback()
    assert not os.path.exists(path)


def test_the_periodic_tasks_are_scheduled_and_known_to_the_worker():
    from django_celery_beat.models import PeriodicTask

    celery_app.loader.import_default_modules()
    for name in ("reports.tasks_exports.refresh_dashboard_snapshots", "reports.tasks_exports.purge_exports"):
        task = PeriodicTask.objects.get(task=name)
        assert task.enabled and name in celery_app.tasks
    assert "reports.tasks_exports.run_export" in celery_app.tasks


def test_the_database_refuses_a_finished_job_without_its_file_or_time(palu):
    job = exports.export_queue(user=palu, report="expiry", params={}, file_format="csv")
    for update in ({"status": "done", "finished_at": timezone.now()}, {"status": "failed"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ExportJob.objects.filter(pk=job.pk).update(**update)


# --- the registry ---------------------------------------------------------------------------


def test_the_registry_finds_the_reports_of_every_resources_module():
    keys = {spec.key for spec in report_registry.all_reports()}
    assert {"stock-status", "expiry", "stock-card"} <= keys


# --- a real worker ---------------------------------------------------------------------------


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_builds_the_file(monkeypatch, tmp_path, make_user, lots, client, english):
    import redis

    from tests.test_celery_worker import REDIS_URL, Worker

    broker = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    broker.ping()  # fails (never skips) without Redis
    user = make_user("kepala7271", lots["palu"], role=Role.MANAGER)
    job = ExportJob.objects.create(user=user, report="expiry", params={"months": ["2"]}, format="xlsx", language="en")
    # The worker writes under its MEDIA_ROOT: the same folder as this process reads.
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path / "media"))
    worker = Worker(workdir=tmp_path, broker_url=REDIS_URL)
    try:
        with celery_app.connection_for_write(url=REDIS_URL) as conn:
            sent = celery_app.send_task(
                "reports.tasks_exports.run_export", args=[job.pk], queue=worker.queue, connection=conn
            )
        assert worker.result_of("reports.tasks_exports.run_export", sent.id, timeout=30) == "'done'"
    finally:
        worker.stop()
        keys = list(broker.scan_iter(match=f"*{worker.queue}*"))
        if keys:
            broker.delete(*keys)
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE and job.rows == 2
    client.force_login(user)
    response = client.get(reverse("report-export-download", args=[job.pk]))
    _header, rows = xlsx_table(b"".join(response.streaming_content))
    assert [row[0] for row in rows] == ["72.71-001", "72.71-002"]
