"""Report pages and their exports.

The reconciliation report shows, for a period and the user's scope (optionally
narrowed to a location inside it), the sections of
``reports.selectors.reconciliation.report_sections``. ``?format=xlsx`` (one sheet
per section) and ``?format=csv`` (a section column first; each section's
header line, then its rows) export exactly those rows: the page and the files are built from
the same call with the same scope.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from inventory.selectors.scope import filter_location
from inventory.views.stock_card import DateRangeForm
from reports.report_registry import scope_root
from reports.selectors.reconciliation import report_sections

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def current_month(today: dt.date) -> tuple[dt.date, dt.date]:
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


class ReconciliationForm(DateRangeForm):
    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["location"] = forms.CharField(
            label=gettext_lazy("Location code"),
            required=False,
            max_length=32,
            help_text=gettext_lazy("Leave empty for everything you can see."),
        )

    def clean_location(self):
        return filter_location(self.user, self.cleaned_data["location"])


@login_required
@require_GET
def reconciliation_report(request):
    user = request.user
    scope_root(user)  # a user without a location sees no report
    today = timezone.localdate()
    default_from, default_to = current_month(today)
    data = request.GET.copy()
    data.setdefault("from", default_from.isoformat())
    data.setdefault("to", default_to.isoformat())
    form = ReconciliationForm(data, user=user)
    context = {"form": form}
    if not form.is_valid():
        return render(request, "reports/reconciliation.html", context, status=400)

    date_from = form.cleaned_data["from"] or default_from
    date_to = form.cleaned_data["to"] or default_to
    root = form.cleaned_data["location"] or user.location  # None: an unscoped superuser sees everything
    sections = report_sections(root=root, date_from=date_from, date_to=date_to, today=today)
    export = request.GET.get("format")
    filename = f"reconciliation_{root.code if root else 'all'}_{date_from.isoformat()}_{date_to.isoformat()}"
    if export == "xlsx":
        return _xlsx(sections, filename)
    if export == "csv":
        return _csv(sections, filename)

    for section in sections:
        section.cells = [[(v, isinstance(v, int | Decimal)) for v in row] for row in section.rows]
    query = request.GET.copy()
    query.pop("format", None)
    context.update(
        {
            "sections": sections,
            "root": root,
            "date_from": date_from,
            "date_to": date_to,
            "query": query.urlencode(),
        }
    )
    return render(request, "reports/reconciliation.html", context)


def _cell(value):
    """Numbers stay numbers in the spreadsheet (a Decimal rate as a float with one decimal)."""
    if isinstance(value, Decimal):
        return float(value)
    return value


def _xlsx(sections, filename: str) -> HttpResponse:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for section in sections:
        # Excel limits sheet titles to 31 characters and forbids a few characters.
        title = "".join(c for c in section.title if c not in "[]:*?/\\")[:31]
        sheet = workbook.create_sheet(title=title)
        sheet.append(section.columns)
        for row in section.rows:
            sheet.append([_cell(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def _csv(sections, filename: str) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    for section in sections:
        # Every line starts with its section's title: the first line of a section is
        # its header, so a section without rows still shows, and a filter on the
        # first column gives one section with its header.
        writer.writerow([section.title, *section.columns])
        for row in section.rows:
            writer.writerow([section.title, *["" if v is None else v for v in row]])
    # A byte-order mark so that Excel opens the UTF-8 file with its accents intact.
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
