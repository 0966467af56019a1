"""The stock status report: per (location, product) in a scope, the indicators of
``reports.selectors.indicators`` (stock on hand, in transit, AMC, MOS, status class,
suggested order) with the location and the product named.

Filters: the scope (a location's subtree), a level, a product, a status class. The
figures are as of now (stock on hand is the current balance; AMC is over the last three
complete months), so the report has no period. One call of ``stock_indicators`` for the
scope's active locations (of the level, if one is chosen); rows ordered by location
(tree order) and product code. The page, the XLSX and the CSV read these rows.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from inventory.models import Level, Location, Product
from reports.selectors.indicators import StockStatus, stock_indicators


def _locations(root: Location | None, level: str | None):
    locations = Location.objects.real().active()
    if root is not None:
        locations = locations.filter(path__startswith=root.path)
    if level:
        locations = locations.filter(level=level)
    return locations


def stock_status_rows(
    *,
    root: Location | None,
    level: str | None = None,
    product: Product | None = None,
    status: str | None = None,
    today: dt.date | None = None,
) -> list[dict]:
    """One dict per (active location in scope, active product), filtered."""
    locations = {
        pk: (code, name, loc_level, path)
        for pk, code, name, loc_level, path in _locations(root, level).values_list(
            "pk", "code", "name", "level", "path"
        )
    }
    if not locations:
        return []
    # Every location of the country: the unscoped statement reads the ledger once, in order.
    ids = None if root is None and not level else list(locations)
    products = {p.pk: p for p in Product.objects.filter(is_active=True)}
    rows = []
    for row in stock_indicators(ids, today or timezone.localdate()):
        if product is not None and row.product_id != product.pk:
            continue
        if status and row.status != status:
            continue
        if row.location_id not in locations or row.product_id not in products:
            continue
        code, name, loc_level, path = locations[row.location_id]
        item = products[row.product_id]
        rows.append(
            {
                "path": path,
                "location": code,
                "location_name": name,
                "level": str(Level(loc_level).label),
                "level_key": loc_level,
                "product": item.code,
                "product_name": item.name,
                "unit": item.get_unit_display(),
                "stock": row.soh,
                "in_transit": row.in_transit,
                "amc": row.amc,
                "mos": row.mos,
                "min_months": row.min_months,
                "max_months": row.max_months,
                "status": str(StockStatus(row.status).label),
                "status_key": row.status,
                "suggested_order": row.suggested_order,
            }
        )
    rows.sort(key=lambda r: (r["path"], r["product"]))
    return rows


def stock_status_size(*, root: Location | None, level: str | None = None, product: Product | None = None) -> int:
    """At most how many rows ``stock_status_rows`` returns (before the status filter): cheap."""
    products = 1 if product is not None else Product.objects.filter(is_active=True).count()
    return _locations(root, level).count() * products
