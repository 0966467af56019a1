"""The dashboard at ``/reports/``: the user's scope at a glance (``reports.selectors.dashboard``).

``?location=<code>`` narrows it to a location inside the scope (the links of each
figure keep it). Every figure links to the page behind it: the stock status report
filtered the same way, the shipments in transit, the open discrepancies, the
dropout-risk alerts (and the MOBIYA report when it is installed), the CYP report.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from inventory.models import ShipmentStatus
from reports.models import AlertKind
from reports.report_registry import ReportForm
from reports.selectors.alerts import kinds_for
from reports.selectors.dashboard import dashboard_for


def _url(name: str, **query) -> str | None:
    """The page ``name`` with a query, or None when that page is not installed."""
    try:
        url = reverse(name)
    except NoReverseMatch:
        return None
    query = {key: value for key, value in query.items() if value}
    return f"{url}?{urlencode(query)}" if query else url


def dashboard_links(user, root_code: str | None) -> dict:
    """The pages behind the figures; ``stock_status`` takes the other filters."""
    kinds = kinds_for(user)
    receives_dropout = kinds is None or AlertKind.DROPOUT_RISK in kinds
    return {
        "stock_status": reverse("report-stock-status"),
        "location": root_code or "",
        "shipments": _url("shipment-list", status=ShipmentStatus.DISPATCHED),
        "partially_received": _url("shipment-list", status=ShipmentStatus.PARTIALLY_RECEIVED),
        "reconciliation": _url("reconciliation-report", location=root_code),
        "discrepancies": _url("discrepancy-list", location=root_code),
        "dropout_alerts": _url("alert-list", kind=AlertKind.DROPOUT_RISK, location=root_code)
        if receives_dropout
        else None,
        "mobiya": _url("report-mobiya", location=root_code),
        "cyp": _url("report-cyp", location=root_code),
    }


class DashboardForm(ReportForm):
    """The report filters' location field alone: the dashboard covers every product."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["product"]


@login_required
@require_GET
def dashboard(request):
    form = DashboardForm(request.GET, user=request.user)
    if not form.is_valid():
        return render(request, "reports/dashboard.html", {"form": form}, status=400)
    root = form.cleaned_data["root"]
    figures = dashboard_for(root)
    return render(
        request,
        "reports/dashboard.html",
        {
            "form": form,
            "root": root,
            "figures": figures,
            "links": dashboard_links(request.user, form.cleaned_data["location"] and root.code),
        },
    )
