"""Stock of one location: by product (with AMC and months of stock) and by lot (with expiry).

The location comes from ``location_for_user``: unknown, virtual and out-of-scope
codes are all the same 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from inventory.models import StockPolicy
from inventory.selectors.scope import location_for_user
from inventory.selectors.stock import stock_rows
from inventory.selectors.summaries import expiry_flag, location_summary


def breadcrumbs(user, location):
    """The location's ancestors the user may see (their home location and below)."""
    ancestors = location.ancestors()
    if user.location is not None:
        ancestors = ancestors.filter(path__startswith=user.location.path)
    return ancestors


@login_required
def location_stock(request, code):
    location = location_for_user(request.user, code)
    today = timezone.localdate()
    lots = [(row, expiry_flag(row.lot.expiry, today)) for row in stock_rows(location)]
    return render(
        request,
        "inventory/location_stock.html",
        {
            "location": location,
            "breadcrumbs": breadcrumbs(request.user, location),
            "summary": location_summary(location),
            "lots": lots,
            "policy": StockPolicy.objects.for_location(location),
            "children": location.children.real(),
        },
    )
