"""Consumption and CYP: what clinics gave to acceptors, per product and month, and the
couple-years of protection it bought, per method and area.

The rules, stated once (the pages say them in a short note):

- **Consumption** is what the ledger moved from clinics to the virtual "dispensed"
  location: per dispensing entry at a clinic (kind ``dispensing``, negative quantity),
  minus its quantity, in the month of its business date. A dispensing record that was
  later reversed (``movement_reverse``: the only other movement that touches the
  dispensed location) never happened: neither it nor its reversal counts, so a
  correction changes the month the mistake was made in, not the month it was found.
- **CYP** = units dispensed × ``Product.cyp_factor`` (CYP per unit), summed exactly
  per method (``Product.method``) and area, rounded to one decimal when shown. The
  areas are the children of the chosen location (a clinic's own row when it is a
  clinic); every unit dispensed under the location lies in exactly one of them.
- **Scope**: the clinics under ``root`` (``None``, or the national root, is the whole
  country: no location filter at all).
- **Period**: ``date_from`` to ``date_to``, inclusive business dates; consumption is
  shown per calendar month, so a period that starts or ends inside a month counts only
  its days there (the default period is whole months).

National scale: one aggregate statement per report, grouped in SQL (products × months,
or areas × products: a few hundred rows at most). The ledger has no index on dates, so
the statement starts from the first entry id that can be dated in the period
(``indicators.window_first_entry_id``, a binary search on the primary key) and reads
from there: a primary-key range scan for the whole country, the ``entry_stock_card``
index (location, product, id) for a district or a province.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils.translation import gettext as _

from inventory.models import Level, Location, Method, Product
from inventory.services.service_figures import add_months
from reports.selectors.indicators import window_first_entry_id

CYP_PLACES = Decimal("0.1")

# Entries of dispensing movements at clinics, in the period, not reversed since.
_DISPENSED_SQL = """
  FROM inventory_ledgerentry e
  {join}
 WHERE e.kind = 'dispensing' AND e.quantity < 0
   AND e.id >= %(first_id)s AND e.business_date >= %(start)s AND e.business_date < %(end)s
   AND NOT EXISTS (SELECT 1 FROM inventory_movement r WHERE r.reverses_id = e.movement_id)
   {scope} {product}
"""


def month_range(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """The first days of every month that the period ``date_from``..``date_to`` touches."""
    months, month = [], date_from.replace(day=1)
    while month <= date_to:
        months.append(month)
        month = add_months(month, 1)
    return months


def is_whole_country(root: Location | None) -> bool:
    return root is None or (root.parent_id is None and root.level == Level.NATIONAL)


def clinic_ids(root: Location | None) -> list[int] | None:
    """The clinics under ``root`` (only clinics dispense); None for the whole country."""
    if is_whole_country(root):
        return None
    if root.level == Level.CLINIC:
        return [root.pk]
    return list(Location.objects.filter(path__startswith=root.path, level=Level.CLINIC).values_list("pk", flat=True))


def _params(root, date_from: dt.date, date_to: dt.date, product: Product | None) -> tuple[dict, dict]:
    start, end = date_from, date_to + dt.timedelta(days=1)
    locations = clinic_ids(root)
    params = {
        "start": start,
        "end": end,
        "first_id": window_first_entry_id(start),
        "locations": locations,
        "product": product.pk if product else None,
    }
    clauses = {
        "scope": "AND e.location_id = ANY(%(locations)s)" if locations is not None else "",
        "product": "AND e.product_id = %(product)s" if product else "",
    }
    return params, clauses


# --- consumption per product and month ------------------------------------------------------


@dataclass
class ConsumptionTable:
    """Units dispensed: one row per month, one column per product (the chart's lines)."""

    months: list[dt.date]
    products: list[Product]
    units: dict[int, dict[dt.date, int]] = field(default_factory=dict)  # product id → month → units

    def value(self, product: Product, month: dt.date) -> int:
        return self.units.get(product.pk, {}).get(month, 0)

    def total(self, product: Product) -> int:
        return sum(self.units.get(product.pk, {}).values())

    def rows(self) -> list[dict]:
        """``{"month": "YYYY-MM", <product code>: units, …}`` per month: the page's table and the exports."""
        return [
            {"month": f"{month:%Y-%m}", **{p.code: self.value(p, month) for p in self.products}}
            for month in self.months
        ]


def consumption_by_month(
    *, root: Location | None, date_from: dt.date, date_to: dt.date, product: Product | None = None
) -> ConsumptionTable:
    """Units dispensed under ``root`` per product and month (every month and active product, zeros
    included; a product no longer active shows when it was dispensed in the period)."""
    params, clauses = _params(root, date_from, date_to, product)
    sql = f"""
    SELECT e.product_id, date_trunc('month', e.business_date)::date AS month, -sum(e.quantity) AS units
    {_DISPENSED_SQL.format(join="", **clauses)}
     GROUP BY 1, 2
    """
    units: dict[int, dict[dt.date, int]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for product_id, month, quantity in cursor.fetchall():
            units[product_id][month] = int(quantity)
    if product is not None:
        products = [product]
    else:
        products = list(Product.objects.filter(pk__in=list(units)) | Product.objects.filter(is_active=True))
        products.sort(key=lambda p: p.code)
    return ConsumptionTable(months=month_range(date_from, date_to), products=products, units=dict(units))


# --- CYP by method and area -----------------------------------------------------------------


def cyp(units: int, factor: Decimal) -> Decimal:
    return Decimal(units) * factor


def rounded(value: Decimal) -> Decimal:
    return value.quantize(CYP_PLACES, rounding=ROUND_HALF_UP)


@dataclass
class CypRow:
    location: Location
    by_method: dict[str, Decimal]  # method → exact CYP
    units: dict[str, int]  # method → units dispensed

    @property
    def total(self) -> Decimal:
        return sum(self.by_method.values(), Decimal(0))


@dataclass
class CypTable:
    root: Location | None
    methods: list[tuple[str, str]]  # (method, label) in Method order
    rows: list[CypRow]  # one per area, by code
    total: CypRow  # the whole of ``root``

    def export_rows(self) -> list[dict]:
        """One dict per area and the total: the page's table and the exports (CYP rounded to 0.1)."""
        rows = [self._row(row, row.location.code, row.location.name) for row in self.rows]
        name = self.root.name if self.root else _("Whole country")
        rows.append(self._row(self.total, "", _("Total: %(name)s") % {"name": name}))
        return rows

    def _row(self, row: CypRow, code: str, name: str) -> dict:
        return {
            "code": code,
            "name": name,
            **{method: rounded(row.by_method.get(method, Decimal(0))) for method, _label in self.methods},
            "total": rounded(row.total),
        }


def country_root() -> Location | None:
    """The one top location of the tree (national), or None when there is not exactly one."""
    tops = list(Location.objects.real().filter(parent__isnull=True)[:2])
    return tops[0] if len(tops) == 1 else None


def areas_of(root: Location | None) -> list[Location]:
    """The rows of the CYP table: ``root``'s children (the top locations when there is no root)."""
    if root is None:
        return list(Location.objects.real().filter(parent__isnull=True).order_by("code"))
    if root.level == Level.CLINIC:
        return [root]
    return list(Location.objects.real().filter(parent=root).order_by("code"))


def cyp_by_area(
    *, root: Location | None, date_from: dt.date, date_to: dt.date, product: Product | None = None
) -> CypTable:
    """CYP of the units dispensed under ``root`` in the period, per method, for each of its children
    (without a root, the whole country: the national location's children)."""
    if root is None:
        root = country_root()
    params, clauses = _params(root, date_from, date_to, product)
    # The area of a clinic: the first code of its path below the root's (its own code for a clinic root).
    prefix = root.path if root is not None and root.level != Level.CLINIC else ""
    params["prefix_length"] = len(prefix)
    if root is not None and root.level == Level.CLINIC:
        area = "%(area_code)s"
        params["area_code"] = root.code
    else:
        area = "split_part(substr(l.path, %(prefix_length)s + 1), '/', 1)"
    sql = f"""
    SELECT {area} AS area, e.product_id, -sum(e.quantity) AS units
    {_DISPENSED_SQL.format(join="JOIN inventory_location l ON l.id = e.location_id", **clauses)}
     GROUP BY 1, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    products = Product.objects.in_bulk()
    areas = {loc.code: loc for loc in areas_of(root)}
    by_area: dict[str, CypRow] = {code: CypRow(loc, {}, {}) for code, loc in areas.items()}
    total = CypRow(root, {}, {})
    for code, product_id, units in found:
        p = products[product_id]
        row = by_area[code]  # paths are derived from the codes: every area is a child of the root
        for target in (row, total):
            target.by_method[p.method] = target.by_method.get(p.method, Decimal(0)) + cyp(int(units), p.cyp_factor)
            target.units[p.method] = target.units.get(p.method, 0) + int(units)
    methods = [(value, str(label)) for value, label in Method.choices]
    if product is not None:
        methods = [(m, label) for m, label in methods if m == product.method]
    return CypTable(
        root=root, methods=methods, rows=sorted(by_area.values(), key=lambda r: r.location.code), total=total
    )
