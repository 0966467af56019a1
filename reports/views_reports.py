"""The stock status and expiry report pages.

Each page validates its filters with its report's form (``reports.resources``) and
shows the report's rows, 100 to a page; the Excel/CSV buttons post the same query to
``report-export`` (``reports.views_exports``), which exports the same rows. A bad
filter is a 400 with the form's message; a user without a location sees no report
(403), like every report.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from reports.report_registry import get_report, scope_root

PAGE_SIZE = 100


def report_page(request, key: str, template: str):
    """Render report ``key``'s rows with its filters: the shape of every registered report's page.

    Context: ``spec``, ``form``, ``root`` (the scope), ``page`` (rows of this page), ``total``,
    ``filter_query`` (the query without the page number), ``export_key``.
    """
    spec = get_report(key)
    scope_root(request.user)  # a user without a location sees no report
    form = spec.form(request.GET, user=request.user)
    context = {"spec": spec, "form": form, "export_key": key}
    if not form.is_valid():
        return render(request, template, context, status=400)
    rows = spec.rows(request.user, form.cleaned_data)
    query = request.GET.copy()
    query.pop("page", None)
    context.update(
        {
            "root": form.cleaned_data["root"],
            "params": form.cleaned_data,
            "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
            "total": len(rows),
            "filter_query": query.urlencode(),
        }
    )
    return render(request, template, context)


@login_required
@require_GET
def stock_status_report(request):
    return report_page(request, "stock-status", "reports/stock_status.html")


@login_required
@require_GET
def expiry_report(request):
    return report_page(request, "expiry", "reports/expiry.html")
