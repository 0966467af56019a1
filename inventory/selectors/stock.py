"""Stock on hand, consumption and the stock card, computed in SQL."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from inventory.models import LedgerEntry, Location, MovementKind, Product, StockBalance

AMC_MONTHS = 3


def stock_rows(location: Location, *, product_code: str | None = None, include_zero: bool = False) -> QuerySet:
    """Balances at one location by lot, with product and expiry (FEFO order)."""
    qs = StockBalance.objects.filter(location=location).select_related("lot", "product")
    if not include_zero:
        qs = qs.filter(quantity__gt=0)
    if product_code:
        qs = qs.filter(product__code=product_code)
    return qs.order_by("product__code", "lot__expiry", "lot__batch")


def stock_by_product(location: Location) -> QuerySet:
    """Stock on hand per product at one location (one row per product held)."""
    return (
        StockBalance.objects.filter(location=location, quantity__gt=0)
        .values("product_id", "product__code", "product__name", "product__unit")
        .annotate(quantity=Sum("quantity"))
        .order_by("product__code")
    )


def consumption_window(today: dt.date | None = None, months: int = AMC_MONTHS) -> tuple[dt.date, dt.date]:
    """The last ``months`` complete calendar months before ``today``: [start, end)."""
    today = today or timezone.localdate()
    end = today.replace(day=1)
    year, month = end.year, end.month - months
    while month <= 0:
        month += 12
        year -= 1
    return dt.date(year, month, 1), end


def amc_by_location(location_ids: list[int], today: dt.date | None = None) -> dict[int, dict[int, Decimal]]:
    """AMC per location id and product id, in one query: units dispensed over the last
    3 complete months ÷ 3.

    Only clinics dispense; for warehouses this is empty until the reports issue adds
    issues-to-subtree consumption.
    """
    start, end = consumption_window(today)
    rows = (
        LedgerEntry.objects.filter(
            location_id__in=location_ids,
            kind=MovementKind.DISPENSING,
            quantity__lt=0,
            business_date__gte=start,
            business_date__lt=end,
        )
        .values("location_id", "product_id")
        .annotate(total=Sum("quantity"))
    )
    result: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for r in rows:
        result[r["location_id"]][r["product_id"]] = Decimal(-r["total"]) / AMC_MONTHS
    return result


def average_monthly_consumption(location: Location, today: dt.date | None = None) -> dict[int, Decimal]:
    """AMC per product id at one location (see ``amc_by_location``)."""
    return amc_by_location([location.pk], today).get(location.pk, {})


def months_of_stock(quantity: int, amc: Decimal | None) -> Decimal | None:
    if not amc:
        return None
    return (Decimal(quantity) / amc).quantize(Decimal("0.1"))


def stock_card(location: Location, product: Product) -> QuerySet:
    """Every entry of one product at one location, in posting order, with its document.

    Filtering on product_id (not a join on the code) makes each page one ordered
    range scan of the entry_stock_card index (location, product, id), even at a
    deep offset of a 10-million-entry ledger. The related rows are fetched for the
    page's entries afterwards (prefetch, by id): joined in the same query, the
    planner joined a busy district's whole card before sorting and cutting a page.
    """
    return (
        LedgerEntry.objects.filter(location=location, product=product)
        .prefetch_related("lot", "movement", "recorded_by")
        .order_by("id")
    )


def stock_card_filter(date_from: dt.date | None, date_to: dt.date | None) -> Q:
    q = Q()
    if date_from:
        q &= Q(business_date__gte=date_from)
    if date_to:
        q &= Q(business_date__lte=date_to)
    return q
