"""Distribution: how goods flow down the tree, per route and period.

The rules, stated once (the page says them in a short note):

- **Shipments of the period**: those dispatched (``Shipment.dispatch_date``) from
  ``date_from`` to ``date_to`` inclusive, in scope by the rule of every shipment page (origin or destination
  under the root: ``reconciliation.shipments_in_scope``). Drafts have moved nothing
  and are left out. With a product chosen, the shipments that carry it.
- **Routes**: by level (origin level → destination level) and by location pair
  (origin → destination); per route one row for all products, then one per product.
- **Shipped**: the quantity of the shipment's lines.
- **Received**: the good units the shipment's receipts counted (``ReceiptLine.received``)
  plus the shorts that came late (discrepancies resolved by a late receipt), whenever
  that happened: what entered the destination's stock from this shipment (damaged units
  went to loss). An over-receipt counts, so the fill rate can pass 100 %; goods sent
  back travel on a return shipment of their own (a route of its own).
- **Fill rate** = received ÷ shipped, in percent (one decimal).
- **Lead time**: days from the dispatch date to the business date of the shipment's
  first receipt, over the shipments received at least once: median and maximum. In the
  all-products row each shipment counts once.
- **In transit**: now, not as of the period's end: for the shipments still dispatched or
  partially received, what their movements (``SHIPMENT_MOVEMENTS_SQL``: dispatch,
  receipts, resolutions) left at the in-transit location, the rule of
  ``reconciliation.in_transit_by_shipment``.

Mixed units: the all-products row adds cycles, vials and pieces, as the reconciliation
report's quantities do; the per-product rows are the ones to compare.

National scale: one statement (a month of the whole country: about 40,000 shipments and
50,000 rows by pair; a year: about 500,000 and 175,000). The shipments of the period are one
scan of the shipment table (materialized once); their lines, receipts and late receipts are
hash joins; the ledger is read only for the shipments still in transit (index lookups by
movement, ``entry_movement_lot``). The rows are grouped in SQL (GROUPING SETS) into a
histogram of the lead times per route, product and lead time, which gives the sums and the
medians (the mean of the middle lead times, as ``percentile_cont(0.5)``) without sorting
each group; ``work_mem`` is raised for the statement so that its sorts and hash tables stay
in memory. The page asks for its first rows by pair only (``pair_limit``): the routes are
counted in the same pass as the rows by level, and only the first routes in the page's
order are grouped by pair; the rows by level and the count of rows by pair always cover
every shipment. The exports read every row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils.translation import gettext as _

from inventory.models import Level, Location, Product, ShipmentLine, VirtualRole
from inventory.selectors.shipments import SHIPMENT_MOVEMENTS_SQL
from inventory.services.posting import virtual_location
from reports.selectors.indicators import WORK_MEM
from reports.selectors.reconciliation import level_label, level_order, rate, shipments_in_scope

_SQL = """
WITH s (id, origin_id, destination_id, dispatch_movement_id, dispatch_date, status, origin_level, destination_level)
  AS MATERIALIZED ({shipments}),
lines AS (
    SELECT l.shipment_id, l.product_id, sum(l.quantity)::bigint AS shipped
      FROM s
      JOIN inventory_shipmentline l ON l.shipment_id = s.id
     WHERE true {product_l}
     GROUP BY 1, 2
),
r AS MATERIALIZED (
    SELECT r.id, r.shipment_id, r.business_date
      FROM s
      JOIN inventory_receipt r ON r.shipment_id = s.id
),
received AS (
    SELECT shipment_id, product_id, sum(quantity)::bigint AS quantity
      FROM (
            SELECT r.shipment_id, rl.product_id, rl.received AS quantity
              FROM r
              JOIN inventory_receiptline rl ON rl.receipt_id = r.id
             WHERE true {product_rl}
            UNION ALL
            SELECT d.shipment_id, d.product_id, d.quantity
              FROM s
              JOIN inventory_discrepancy d ON d.shipment_id = s.id
             WHERE d.resolution = 'late_receipt' {product_d}
           ) got
     GROUP BY 1, 2
),
first_receipt AS (
    SELECT shipment_id, min(business_date) AS day
      FROM r
     GROUP BY 1
),
transit AS (
    SELECT s.id AS shipment_id, e.product_id, sum(e.quantity)::bigint AS quantity
      FROM s
      JOIN {movements} ON m.movement_id IS NOT NULL
      JOIN inventory_ledgerentry e ON e.movement_id = m.movement_id AND e.location_id = %s
     WHERE s.status IN ('dispatched', 'partially_received') {product_e}
     GROUP BY 1, 2
),
sp AS MATERIALIZED (
    -- one row per shipment and product; first_row marks one row per shipment, so that an
    -- all-products group counts each shipment (and its lead time) once
    SELECT s.origin_id, s.destination_id, s.origin_level, s.destination_level,
           l.product_id, l.shipped, coalesce(rc.quantity, 0) AS received, coalesce(t.quantity, 0) AS in_transit,
           f.day - s.dispatch_date AS lead_days,
           l.product_id = min(l.product_id) OVER (PARTITION BY s.id) AS first_row
      FROM s
      JOIN lines l ON l.shipment_id = s.id
      LEFT JOIN received rc ON rc.shipment_id = s.id AND rc.product_id = l.product_id
      LEFT JOIN transit t ON t.shipment_id = s.id AND t.product_id = l.product_id
      LEFT JOIN first_receipt f ON f.shipment_id = s.id
){routes},
h AS (
    -- per route (and product) and lead time: a histogram of the lead times with the sums;
    -- the medians are read from it below
    {level_histogram}
    UNION ALL
    SELECT false, GROUPING(product_id) = 1, origin_level, destination_level,
           origin_id, destination_id, product_id, lead_days, {n}, sum(shipped), sum(received), sum(in_transit)
      FROM sp
     WHERE {pair_filter}
     GROUP BY GROUPING SETS ({pair_sets})
),
c AS (
    SELECT h.*,
           sum(n) FILTER (WHERE lead_days IS NOT NULL) OVER route AS leads,
           sum(n) OVER (route ORDER BY lead_days ROWS UNBOUNDED PRECEDING) AS upto
      FROM h
    WINDOW route AS (PARTITION BY by_level, all_products, origin_level, destination_level,
                                  origin_id, destination_id, product_id)
)
SELECT by_level, origin_level, destination_level, origin_id, destination_id, product_id,
       sum(n), sum(shipped), sum(received), sum(in_transit),
       -- the median (as percentile_cont(0.5)): the mean of the lead times at the middle positions
       (min(lead_days) FILTER (WHERE upto >= floor((leads + 1) / 2))
        + min(lead_days) FILTER (WHERE upto >= floor(leads / 2) + 1)) / 2.0,
       max(lead_days), coalesce(max(leads), 0), {pair_total}
  FROM c
 GROUP BY by_level, all_products, origin_level, destination_level, origin_id, destination_id, product_id
"""

# the shipments of a group: in an all-products group, each shipment once
_N = "CASE WHEN GROUPING(product_id) = 1 THEN count(*) FILTER (WHERE first_row) ELSE count(*) END"

# Every row: the level histogram straight from the shipments.
_LEVEL_HISTOGRAM = """SELECT true AS by_level, GROUPING(product_id) = 1 AS all_products,
           origin_level, destination_level, NULL::bigint AS origin_id, NULL::bigint AS destination_id,
           product_id, lead_days, {n} AS n,
           sum(shipped) AS shipped, sum(received) AS received, sum(in_transit) AS in_transit
      FROM sp
     GROUP BY GROUPING SETS ({level_sets})"""

# The page's first rows: in the same pass as the level histogram, the routes (origin →
# destination) and their products; then only the first ``limit`` routes in the page's order
# are grouped by pair (each route has at least one row, so they hold the first ``limit`` rows).
_ROUTES = """,
hl AS MATERIALIZED (
    SELECT GROUPING(origin_id) = 0 AS route, GROUPING(product_id) = 1 AS all_products,
           origin_level, destination_level, origin_id, destination_id, product_id, lead_days,
           {n} AS n, sum(shipped) AS shipped, sum(received) AS received, sum(in_transit) AS in_transit
      FROM sp
     GROUP BY GROUPING SETS ({level_sets}, (origin_id, destination_id, product_id), (origin_id, destination_id))
),
first_routes AS (
    SELECT x.origin_id, x.destination_id
      FROM hl x
      JOIN inventory_location o ON o.id = x.origin_id
      JOIN inventory_location d ON d.id = x.destination_id
     WHERE x.route AND x.all_products
     ORDER BY array_position(%s::text[], o.level::text), array_position(%s::text[], d.level::text),
              o.code COLLATE "C", d.code COLLATE "C"
     LIMIT %s
)"""
_LIMITED_LEVEL_HISTOGRAM = """SELECT true AS by_level, all_products, origin_level, destination_level,
           NULL::bigint AS origin_id, NULL::bigint AS destination_id, product_id, lead_days,
           n, shipped, received, in_transit
      FROM hl
     WHERE NOT route"""
# the rows by pair there are: one per route and product, and one per route for all products
_PAIR_TOTAL = "(SELECT count(*) FROM hl WHERE route AND (NOT all_products OR {all_products}))"

LEVEL_SETS = ["(origin_level, destination_level, product_id, lead_days)"]
PAIR_SETS = ["(origin_level, destination_level, origin_id, destination_id, product_id, lead_days)"]
ALL_PRODUCT_LEVEL_SETS = ["(origin_level, destination_level, lead_days)"]
ALL_PRODUCT_PAIR_SETS = ["(origin_level, destination_level, origin_id, destination_id, lead_days)"]


@dataclass
class RouteRow:
    origin_level: str
    destination_level: str
    origin: Location | None  # None in the rows by level
    destination: Location | None
    product: Product | None  # None: all products
    shipments: int
    shipped: int
    received: int
    in_transit: int
    lead_median: Decimal | None
    lead_max: int | None
    received_shipments: int  # shipments with at least one receipt (the lead time's base)

    @property
    def fill_rate(self) -> Decimal | None:
        return rate(self.received, self.shipped)

    def as_dict(self) -> dict:
        """The row as the page and the exports show it."""
        return {
            "origin_level": level_label(self.origin_level),
            "destination_level": level_label(self.destination_level),
            "origin": self.origin.code if self.origin else "",
            "origin_name": self.origin.name if self.origin else "",
            "destination": self.destination.code if self.destination else "",
            "destination_name": self.destination.name if self.destination else "",
            "product": self.product.code if self.product else _("All products"),
            "shipments": self.shipments,
            "shipped": self.shipped,
            "received": self.received,
            "fill_rate": self.fill_rate,
            "lead_median": self.lead_median,
            "lead_max": self.lead_max,
            "in_transit": self.in_transit,
        }


@dataclass
class DistributionReport:
    by_level: list[RouteRow]
    by_pair: list[RouteRow]  # with a pair limit, the first ``pair_limit`` rows only
    pair_total: int  # how many rows by origin → destination there are, whatever the limit


def _shipments_sql(root, start: dt.date, end: dt.date, product: Product | None) -> tuple[str, tuple]:
    shipments = shipments_in_scope(root).filter(
        dispatch_date__gte=start, dispatch_date__lt=end, dispatch_movement__isnull=False
    )
    if product is not None:
        shipments = shipments.filter(Exists(ShipmentLine.objects.filter(shipment=OuterRef("pk"), product=product)))
    columns = ("pk", "origin_id", "destination_id", "dispatch_movement_id", "dispatch_date", "status")
    levels = {"origin_level": F("origin__level"), "destination_level": F("destination__level")}
    return shipments.order_by().values(*columns, **levels).query.sql_with_params()


def distribution(
    *,
    root: Location | None,
    date_from: dt.date,
    date_to: dt.date,
    product: Product | None = None,
    pair_limit: int | None = None,
) -> DistributionReport:
    """Shipments dispatched under ``root`` from ``date_from`` to ``date_to`` (inclusive), per route.

    ``pair_limit`` (the page): only the first ``pair_limit`` routes (origin → destination) in the
    rows' order are grouped by pair, and the first ``pair_limit`` rows by pair returned; the rows
    by level and ``pair_total`` always count every shipment.
    """
    start, end = date_from, date_to + dt.timedelta(days=1)
    shipments_sql, shipments_params = _shipments_sql(root, start, end, product)
    transit = virtual_location(VirtualRole.IN_TRANSIT).pk
    levels = [choice for choice, _label in Level.choices]
    limited = pair_limit is not None
    level_sets = ", ".join(LEVEL_SETS + ([] if product else ALL_PRODUCT_LEVEL_SETS))
    sql = _SQL.format(
        shipments=shipments_sql,
        product_l="AND l.product_id = %s" if product else "",
        product_rl="AND rl.product_id = %s" if product else "",
        product_d="AND d.product_id = %s" if product else "",
        product_e="AND e.product_id = %s" if product else "",
        movements=SHIPMENT_MOVEMENTS_SQL,
        routes=_ROUTES.format(n=_N, level_sets=level_sets) if limited else "",
        level_histogram=_LIMITED_LEVEL_HISTOGRAM if limited else _LEVEL_HISTOGRAM.format(n=_N, level_sets=level_sets),
        n=_N,
        pair_filter="(origin_id, destination_id) IN (SELECT origin_id, destination_id FROM first_routes)"
        if limited
        else "true",
        pair_sets=", ".join(PAIR_SETS + ([] if product else ALL_PRODUCT_PAIR_SETS)),
        pair_total=_PAIR_TOTAL.format(all_products="false" if product else "true") if limited else "NULL",
    )
    # Positional parameters, in the order they appear in the statement.
    by_product = [product.pk] if product else []
    params = [*shipments_params, *by_product, *by_product, *by_product, transit, *by_product]
    if limited:
        params += [levels, levels, pair_limit]
    with transaction.atomic(), connection.cursor() as cursor:
        # Local to this transaction: the statement's sorts and hash tables stay in memory (most of them
        # for a national year).
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute(sql, params)
        found = cursor.fetchall()

    location_ids = {row[i] for row in found for i in (3, 4) if row[i] is not None}
    locations = Location.objects.only("code", "name", "level").in_bulk(location_ids)
    products = Product.objects.in_bulk()
    by_level, by_pair = [], []
    for (
        level_row,
        origin_level,
        destination_level,
        origin_id,
        destination_id,
        product_id,
        count,
        shipped,
        received,
        in_transit,
        median,
        longest,
        received_count,
        _pair_total,
    ) in found:
        row = RouteRow(
            origin_level=origin_level,
            destination_level=destination_level,
            origin=locations.get(origin_id),
            destination=locations.get(destination_id),
            product=products.get(product_id),
            shipments=int(count),
            shipped=int(shipped or 0),
            received=int(received or 0),
            in_transit=int(in_transit or 0),
            lead_median=None if median is None else Decimal(median).quantize(Decimal("0.1")),
            lead_max=longest,
            received_shipments=int(received_count),
        )
        (by_level if level_row else by_pair).append(row)

    def order(row: RouteRow):
        return (
            level_order(row.origin_level),
            level_order(row.destination_level),
            row.origin.code if row.origin else "",
            row.destination.code if row.destination else "",
            row.product is not None,
            row.product.code if row.product else "",
        )

    by_level.sort(key=order)
    by_pair.sort(key=order)
    total = int(found[0][-1]) if limited and found else len(by_pair)
    return DistributionReport(by_level=by_level, by_pair=by_pair[:pair_limit], pair_total=total)
