"""The expiry report: lots in stock that expire within N months, by location.

A row is a balance (location, lot) with stock, at a real location in the scope, whose
lot expires on or before today + N months (calendar months: 6 months from 15 March is
15 September). Lots already past their expiry date and still in stock are listed too
(flagged "expired"): they must be written off. A lot expiring today is still usable
today. One query over the balance rows (joined to their lot, product and location);
ordered by expiry date, then location (tree order), product and batch.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import Level, Location, Product, StockBalance
from inventory.services.service_figures import add_months


def expiry_until(today: dt.date, months: int) -> dt.date:
    """``today`` plus ``months`` calendar months (the month's last day when it is shorter)."""
    first = add_months(today.replace(day=1), months)
    last = (add_months(first, 1) - dt.timedelta(days=1)).day
    return first.replace(day=min(today.day, last))


def expiring_balances(*, root: Location | None, product: Product | None, until: dt.date) -> QuerySet:
    balances = StockBalance.objects.filter(quantity__gt=0, lot__expiry__lte=until).exclude(
        location__level=Level.VIRTUAL
    )
    if root is not None:
        balances = balances.filter(location__path__startswith=root.path)
    if product is not None:
        balances = balances.filter(product=product)
    return balances


def expiry_rows(
    *, root: Location | None, product: Product | None = None, months: int = 6, today: dt.date | None = None
) -> list[dict]:
    today = today or timezone.localdate()
    until = expiry_until(today, months)
    rows = (
        expiring_balances(root=root, product=product, until=until)
        .annotate(
            location_code=F("location__code"),
            location_name=F("location__name"),
            location_level=F("location__level"),
            product_code=F("product__code"),
            batch=F("lot__batch"),
            expiry=F("lot__expiry"),
        )
        .order_by("lot__expiry", "location__path", "product__code", "lot__batch")
        .values("location_code", "location_name", "location_level", "product_code", "batch", "expiry", "quantity")
    )
    expired, expiring = _("Expired"), _("Expiring")
    return [
        {
            "location": r["location_code"],
            "location_name": r["location_name"],
            "level": str(Level(r["location_level"]).label),
            "product": r["product_code"],
            "batch": r["batch"],
            "expiry": r["expiry"],
            "days_left": (r["expiry"] - today).days,
            "quantity": r["quantity"],
            "state": expired if r["expiry"] < today else expiring,
            "expired": r["expiry"] < today,
        }
        for r in rows
    ]


def expiry_size(*, root: Location | None, product: Product | None = None, months: int = 6) -> int:
    return expiring_balances(root=root, product=product, until=expiry_until(timezone.localdate(), months)).count()
