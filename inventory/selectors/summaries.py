"""Rows the pages show: stock per product with AMC, months of stock and policy status.

A location's own stock (``location_summary``, ``locations_summary``) comes from the
indicators the alerts use (``reports.selectors.indicators``: AMC adjusted for days
stocked out, issues to the subtree at warehouses, in transit, status class,
suggested order), one statement for any number of locations, so a page and an
alert never disagree. Area totals (``area_totals``) add up stock only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import CharField, Func, Sum, Value
from django.db.models.functions import Substr
from django.utils import timezone

from inventory.models import Location, Product, StockBalance, StockPolicy
from inventory.selectors.stock import months_of_stock

EXPIRY_WARNING_DAYS = 90


class Status:
    """CSS-friendly status of one product's stock against the max-min policy."""

    STOCKOUT = "stockout"
    EMERGENCY = "emergency"
    LOW = "low"
    OK = "ok"
    OVER = "over"
    UNKNOWN = ""  # no consumption yet: months of stock cannot be known


@dataclass(frozen=True)
class ProductStock:
    product: Product
    quantity: int
    amc: Decimal | None = None
    mos: Decimal | None = None
    status: str = Status.UNKNOWN
    in_transit: int = 0
    suggested_order: int | None = None


@dataclass(frozen=True)
class LocationStock:
    location: Location
    products: list[ProductStock]

    @property
    def stockouts(self) -> int:
        return sum(1 for row in self.products if row.quantity == 0)


def active_products() -> list[Product]:
    return list(Product.objects.filter(is_active=True).order_by("code"))


def _status(quantity: int, mos: Decimal | None, policy: StockPolicy | None) -> str:
    if quantity == 0:
        return Status.STOCKOUT
    if mos is None or policy is None:
        return Status.UNKNOWN
    if mos < policy.min_months:
        return Status.LOW
    if mos > policy.max_months:
        return Status.OVER
    return Status.OK


def _rows(products, quantities: dict[int, int], amc: dict[int, Decimal], policy) -> list[ProductStock]:
    rows = []
    for product in products:
        quantity = quantities.get(product.pk, 0)
        product_amc = amc.get(product.pk)
        mos = months_of_stock(quantity, product_amc)
        rows.append(ProductStock(product, quantity, product_amc, mos, _status(quantity, mos, policy)))
    return rows


# reports.selectors.indicators' status class → the CSS status above.
_FROM_INDICATOR = {
    "stocked_out": Status.STOCKOUT,
    "emergency": Status.EMERGENCY,
    "below_min": Status.LOW,
    "within": Status.OK,
    "above_max": Status.OVER,
}


def _indicator_rows(locations: list[Location], products: list[Product]) -> dict[int, list[ProductStock]]:
    from reports.selectors.indicators import stock_indicators

    found = {(row.location_id, row.product_id): row for row in stock_indicators([loc.pk for loc in locations])}
    result = {}
    for location in locations:
        rows = []
        for product in products:
            row = found.get((location.pk, product.pk))
            if row is None:
                rows.append(ProductStock(product, 0, status=Status.STOCKOUT))
                continue
            status = _FROM_INDICATOR.get(row.status, Status.UNKNOWN)
            if row.soh == 0:
                status = Status.STOCKOUT  # held or not: nothing on the shelf is what the page shows
            rows.append(ProductStock(product, row.soh, row.amc, row.mos, status, row.in_transit, row.suggested_order))
        result[location.pk] = rows
    return result


def location_summary(location: Location, products: list[Product] | None = None) -> list[ProductStock]:
    """Stock held at ``location`` itself, every active product (zero included: a stockout matters)."""
    products = products if products is not None else active_products()
    return _indicator_rows([location], products)[location.pk]


def locations_summary(locations: list[Location], products: list[Product]) -> list[LocationStock]:
    """Own stock of each location, with AMC and months of stock (the field worker's clinic list)."""
    rows = _indicator_rows(locations, products)
    return [LocationStock(loc, rows[loc.pk]) for loc in locations]


class _SplitPart(Func):
    function = "split_part"
    output_field = CharField()


def area_totals(root: Location | None, products: list[Product]) -> tuple[list[ProductStock], list[LocationStock]]:
    """Stock of ``root``'s own warehouse, and of each child's whole subtree (warehouse and below).

    One query: every balance in the subtree is grouped by the first path segment
    after ``root``'s path, which is the code of the child it lies under ('' for the
    root itself). With ``root=None`` (a superuser without a home location) the
    areas are the top-level real locations.
    """
    prefix = root.path if root else ""
    balances = StockBalance.objects.filter(quantity__gt=0)
    if prefix:
        balances = balances.filter(location__path__startswith=prefix)
    grouped = (
        balances.annotate(area=_SplitPart(Substr("location__path", len(prefix) + 1), Value("/"), Value(1)))
        .values("area", "product_id")
        .annotate(total=Sum("quantity"))
    )
    totals: dict[str, dict[int, int]] = defaultdict(dict)
    for r in grouped:
        totals[r["area"]][r["product_id"]] = r["total"]
    areas = list(root.children.real() if root else Location.objects.real().filter(parent=None))
    own = _rows(products, totals.get("", {}), {}, None) if root else []
    return own, [LocationStock(area, _rows(products, totals.get(area.code, {}), {}, None)) for area in areas]


def expiry_flag(expiry: dt.date, today: dt.date | None = None) -> str:
    """'expired' (on or after its expiry date: no longer dispensed or dispatched),
    'expiring' (within 90 days) or ''."""
    today = today or timezone.localdate()
    if expiry <= today:
        return "expired"
    if expiry <= today + dt.timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return ""
