"""The home page: one view, a different page per role.

- warehouse staff: their own warehouse's stock by product, links down the tree;
- field workers (PKB/PLKB): every clinic under their location, zero stock highlighted;
- managers: each child area's stock totals (warehouse and everything below it);
- administrators and superusers: links to the admin, then the manager's page.

Warehouse staff and managers also see the monthly stock-count reminder: the
locations in their scope not counted since the first of the month (``counts_due``;
a manager's list is cut at ``DUE_SHOWN`` with the total beside it).

Every role sees its open (not yet acknowledged) alerts first: the ``ALERTS_SHOWN``
most severe, with the total and a link to the inbox (``reports.selectors.alerts``).

A user without a home location sees nothing but a message saying so (a superuser
without one sees the whole tree, as ``visible_locations`` allows).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from alokon.models import Role
from inventory.models import Level
from inventory.selectors.counts import counts_due
from inventory.selectors.scope import visible_locations
from inventory.selectors.summaries import active_products, area_totals, location_summary, locations_summary
from reports import alert_text
from reports.selectors.alerts import open_alerts_for

#: reminders listed by name on a manager's home page; the rest are a number
DUE_SHOWN = 10
#: open alerts listed on the home page, most severe first; the rest are a number and a link
ALERTS_SHOWN = 5


@login_required
def home(request):
    user = request.user
    location = user.location
    if location is None and not user.is_superuser:
        return render(request, "inventory/home/no_location.html")

    if user.is_superuser or user.role == Role.ADMIN:
        return _manager(request, location, template="inventory/home/admin.html")
    if user.role == Role.MANAGER:
        return _manager(request, location, template="inventory/home/manager.html")
    if user.role == Role.FIELD:
        return _field(request, location)
    return _warehouse(request, location)


def _warehouse(request, location):
    return render(
        request,
        "inventory/home/warehouse.html",
        {
            "location": location,
            "summary": location_summary(location),
            "children": location.children.real(),
            "count_due": counts_due(request.user).exists(),
            **_open_alerts(request.user),
        },
    )


def _field(request, location):
    products = active_products()
    clinics = list(visible_locations(request.user).filter(level=Level.CLINIC, is_active=True))
    return render(
        request,
        "inventory/home/field.html",
        {
            "location": location,
            "products": products,
            "clinics": locations_summary(clinics, products),
            **_open_alerts(request.user),
        },
    )


def _manager(request, location, *, template):
    products = active_products()
    own, areas = area_totals(location, products)
    due = counts_due(request.user)
    due_total = due.count()
    return render(
        request,
        template,
        {
            "location": location,
            "products": products,
            "own": own,
            "areas": areas,
            "counts_due": list(due[:DUE_SHOWN]) if due_total else [],
            "counts_due_total": due_total,
            **_open_alerts(request.user),
        },
    )


def _open_alerts(user) -> dict:
    alerts = open_alerts_for(user)
    total = alerts.count()
    shown = list(alerts[:ALERTS_SHOWN]) if total else []
    return {
        "open_alerts_total": total,
        "open_alerts": [{"alert": a, "title": alert_text.title(a), "message": alert_text.describe(a)} for a in shown],
    }
