"""Rows the pages show: stock per product with AMC, months of stock and policy status.

Built from the selectors in a fixed, small number of queries per page whatever the
number of locations (one for balances, one for consumption, one for policies), so
a district with 30 clinics costs the same round trips as one clinic.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import CharField, Func, Q, Sum, Value
from django.db.models.functions import Substr
from django.utils import timezone

from inventory.models import Location, Product, StockBalance, StockPolicy
from inventory.selectors.stock import amc_by_location, average_monthly_consumption, months_of_stock

EXPIRY_WARNING_DAYS = 90


class Status:
    """CSS-friendly status of one product's stock against the max-min policy."""

    STOCKOUT = "stockout"
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


def location_summary(location: Location, products: list[Product] | None = None) -> list[ProductStock]:
    """Stock held at ``location`` itself, every active product (zero included: a stockout matters)."""
    products = products if products is not None else active_products()
    quantities = dict(
        StockBalance.objects.filter(location=location)
        .values("product_id")
        .annotate(total=Sum("quantity"))
        .values_list("product_id", "total")
    )
    amc = average_monthly_consumption(location)
    return _rows(products, quantities, amc, StockPolicy.objects.for_location(location))


def _policies_for(locations: list[Location]) -> dict[int, StockPolicy | None]:
    """``StockPolicy.objects.for_location`` for many locations in one query."""
    policies = list(StockPolicy.objects.filter(Q(location__in=locations) | Q(location__isnull=True)))
    by_location = {p.location_id: p for p in policies if p.location_id}
    by_level = {p.level: p for p in policies if p.location_id is None}
    return {loc.pk: by_location.get(loc.pk) or by_level.get(loc.level) for loc in locations}


def locations_summary(locations: list[Location], products: list[Product]) -> list[LocationStock]:
    """Own stock of each location, with AMC and months of stock (the field worker's clinic list)."""
    ids = [loc.pk for loc in locations]
    quantities: dict[int, dict[int, int]] = defaultdict(dict)
    for r in (
        StockBalance.objects.filter(location_id__in=ids)
        .values("location_id", "product_id")
        .annotate(total=Sum("quantity"))
    ):
        quantities[r["location_id"]][r["product_id"]] = r["total"]
    amc = amc_by_location(ids)
    policies = _policies_for(locations)
    return [
        LocationStock(loc, _rows(products, quantities[loc.pk], amc.get(loc.pk, {}), policies[loc.pk]))
        for loc in locations
    ]


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
