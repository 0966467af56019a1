"""Exports: start one (the Excel/CSV buttons of every report page), "your exports", download.

``POST /reports/exports/new/<report>/?<the page's filters>`` with ``format=xlsx|csv``:
a small export answers the file; a large one is queued and redirects to
``/reports/exports/``, which lists the user's jobs (refreshing itself while one is
pending) with a download link when ready. A refusal (unknown report, bad filter or
format) is the exports page with the message and its 4xx status. Downloads are served
only to the user who asked: any other job id is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from inventory.errors import AlokonError
from reports.report_registry import get_report
from reports.services.exports import ExportFile, export_start, job_for_download, jobs_for

PAGE_SIZE = 50


def _jobs_page(request, *, error: str | None = None, status: int = 200):
    jobs = jobs_for(request.user)
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    for job in page.object_list:
        spec = get_report(job.report)
        job.title = spec.title if spec else job.report
    return render(
        request,
        "reports/exports.html",
        {"page": page, "error": error, "pending": any(job.is_pending for job in page.object_list)},
        status=status,
    )


@login_required
@require_POST
def export_new(request, key):
    try:
        result = export_start(user=request.user, report=key, query=request.GET, file_format=request.POST.get("format"))
    except AlokonError as error:
        return _jobs_page(request, error=error.message, status=error.http_status)
    if isinstance(result, ExportFile):
        response = HttpResponse(result.content, content_type=result.content_type)
        response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
        return response
    messages.info(
        request,
        _("The export is large: it is being prepared. It will appear here, ready to download, in a few minutes."),
    )
    return redirect("report-exports")


@login_required
@require_GET
def export_list(request):
    return _jobs_page(request)


@login_required
@require_GET
def export_download(request, pk):
    job = job_for_download(request.user, pk)
    try:
        handle = job.file.open("rb")
    except FileNotFoundError:  # deleted from the disk behind the job's back
        raise Http404(_("Export %(id)s was not found.") % {"id": pk}) from None
    return FileResponse(handle, as_attachment=True, filename=job.file.name.rsplit("/", 1)[-1])
