"""Trend report pages: consumption, CYP, distribution and MOBIYA (issue 6).

Each page validates its filters with the report's registered form
(``reports.resources_trends``: a location inside the user's scope, a product, a
period), reads its data with one selector, and renders its table from the report's
import-export resource over the very rows the exports write
(``spec.rows(user, params)`` is built from the same data), so what is shown is what is
downloaded. The Excel/CSV buttons (``reports/_export_links.html``) post the page's
filters to the shared export view (``reports.views_exports``): the file at once, or a
Celery job for a large one.

Bad input (an unknown or out-of-scope location, a malformed date, a period the wrong
way round or too long) is a 400 with the form's message; a user without a home
location a 403.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from reports import resources_trends as trends
from reports.report_registry import ReportSpec
from reports.selectors.consumption import rounded

#: rows of a long table shown on the page (MOBIYA: clinics); the exports hold them all
PAGE_ROWS = 1000


def page_table(spec: ReportSpec, rows: list[dict]) -> dict:
    """The page's table: the report's resource over ``rows``, exactly as the exports write it."""
    dataset = spec.resource().export(queryset=rows, force_native_type=True)
    return {
        "headers": list(dataset.headers),
        "rows": [
            [(v, isinstance(v, int | float | Decimal) and not isinstance(v, bool)) for v in row] for row in dataset
        ],
    }


def _form(request, spec: ReportSpec):
    data = request.GET.copy()
    if getattr(spec.form, "has_default_period", False):
        # Show the report's default period in the form (the exports' form applies the same defaults).
        first, last = spec.form.initial_period()
        data.setdefault("from", first.isoformat())
        data.setdefault("to", last.isoformat())
    return spec.form(data, user=request.user)


def _page(request, spec: ReportSpec, template: str, build):
    form = _form(request, spec)
    if not form.is_valid():
        return render(request, template, {"form": form, "spec": spec}, status=400)
    params = form.cleaned_data
    context = {"form": form, "spec": spec, "params": params, "root": params["root"]}
    context.update(build(params))
    return render(request, template, context)


@login_required
@require_GET
def consumption_report(request):
    def build(params):
        data = trends.consumption_data(params)
        rows = data.rows()
        chart = {
            "kind": "lines",
            "x": [row["month"] for row in rows],
            "y_title": _("units dispensed"),
            "series": [
                {"name": f"{p.code} · {p.name}", "unit": p.get_unit_display(), "y": [row[p.code] for row in rows]}
                for p in data.products
            ],
        }
        return {"table": page_table(trends.CONSUMPTION, rows), "chart": chart, "partial": _partial(params)}

    return _page(request, trends.CONSUMPTION, "reports/consumption.html", build)


def _partial(params) -> bool:
    """Whether the period starts or ends inside a month (its first or last month is partial)."""
    start, end = params["from"], params["to"]
    return start.day != 1 or (end + dt.timedelta(days=1)).day != 1


@login_required
@require_GET
def cyp_report(request):
    def build(params):
        data = trends.cyp_data(params)
        chart = {
            "kind": "stacked",
            "x": [row.location.name for row in data.rows],
            "y_title": _("couple-years of protection"),
            "series": [
                {"name": str(label), "y": [float(rounded(row.by_method.get(method, Decimal(0)))) for row in data.rows]}
                for method, label in data.methods
            ],
        }
        return {"table": page_table(trends.CYP, data.export_rows()), "chart": chart}

    return _page(request, trends.CYP, "reports/cyp.html", build)


@login_required
@require_GET
def distribution_report(request):
    def build(params):
        # The rows the exports write are the level rows, then the pair rows; the page shows every
        # level row and the first PAGE_ROWS pair rows only (a national month has a row per clinic
        # route and product), so the selector groups only those by pair.
        data = trends.distribution_data(params, pair_limit=PAGE_ROWS)
        pairs = page_table(trends.DISTRIBUTION, [row.as_dict() for row in data.by_pair[:PAGE_ROWS]])
        return {
            "by_level": page_table(trends.DISTRIBUTION, [row.as_dict() for row in data.by_level]),
            "by_pair": {**pairs, "total": data.pair_total, "cut": data.pair_total > PAGE_ROWS},
            "default_period": (params["from"], params["to"]) == trends.DISTRIBUTION.form.initial_period(),
        }

    return _page(request, trends.DISTRIBUTION, "reports/distribution.html", build)


@login_required
@require_GET
def mobiya_report_page(request):
    def build(params):
        report = trends.mobiya_data(params)
        return {"report": report, "districts": _cut_districts(report.districts, PAGE_ROWS), "shown_clinics": PAGE_ROWS}

    return _page(request, trends.MOBIYA, "reports/mobiya.html", build)


def _cut_districts(districts, limit: int):
    """(district, its clinics) of the first ``limit`` clinics, in order (the exports hold every one)."""
    shown, left = [], limit
    for district in districts:
        if left <= 0:
            break
        shown.append((district, district.clinics[:left]))
        left -= len(district.clinics)
    return shown
