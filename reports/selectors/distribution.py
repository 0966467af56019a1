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

National scale: one statement (a year of the whole country: about 500,000 shipments).
The shipments of the period are one scan of the shipment table; their lines, receipts
and late receipts are hash joins; the ledger is read only for the shipments still in
transit (index lookups by movement, ``entry_movement_lot``); the rows are grouped in SQL
(GROUPING SETS) into a few rows per route, with ``work_mem`` raised for the statement so
that its sorts stay in memory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from inventory.models import Location, Product, ShipmentLine, VirtualRole
from inventory.selectors.shipments import SHIPMENT_MOVEMENTS_SQL
from inventory.services.posting import virtual_location
from reports.selectors.indicators import WORK_MEM
from reports.selectors.reconciliation import level_label, level_order, rate, shipments_in_scope

_SQL = """
WITH s AS MATERIALIZED (
    SELECT s.id, s.origin_id, s.destination_id, s.dispatch_movement_id, s.dispatch_date, s.status,
           o.level AS origin_level, d.level AS destination_level
      FROM inventory_shipment s
      JOIN inventory_location o ON o.id = s.origin_id
      JOIN inventory_location d ON d.id = s.destination_id
     WHERE s.id IN ({shipments})
),
shipped AS (
    SELECT l.shipment_id, l.product_id, sum(l.quantity) AS quantity
      FROM inventory_shipmentline l
      JOIN s ON s.id = l.shipment_id
     WHERE true {product_l}
     GROUP BY 1, 2
),
received AS (
    SELECT shipment_id, product_id, sum(quantity) AS quantity
      FROM (
            SELECT r.shipment_id, rl.product_id, rl.received AS quantity
              FROM inventory_receipt r
              JOIN s ON s.id = r.shipment_id
              JOIN inventory_receiptline rl ON rl.receipt_id = r.id
             WHERE true {product_rl}
            UNION ALL
            SELECT d.shipment_id, d.product_id, d.quantity
              FROM inventory_discrepancy d
              JOIN s ON s.id = d.shipment_id
             WHERE d.resolution = 'late_receipt' {product_d}
           ) got
     GROUP BY 1, 2
),
first_receipt AS (
    SELECT r.shipment_id, min(r.business_date) AS day
      FROM inventory_receipt r
      JOIN s ON s.id = r.shipment_id
     GROUP BY 1
),
transit AS (
    SELECT s.id AS shipment_id, e.product_id, sum(e.quantity) AS quantity
      FROM s
      JOIN {movements} ON m.movement_id IS NOT NULL
      JOIN inventory_ledgerentry e ON e.movement_id = m.movement_id AND e.location_id = %s
     WHERE s.status IN ('dispatched', 'partially_received') {product_e}
     GROUP BY 1, 2
),
sp AS (
    -- one row per shipment and product; first_row marks one row per shipment, so that an
    -- all-products group counts each shipment (and its lead time) once
    SELECT s.id AS shipment_id, s.origin_id, s.destination_id, s.origin_level, s.destination_level,
           sh.product_id, sh.quantity AS shipped,
           coalesce(rc.quantity, 0) AS received, coalesce(t.quantity, 0) AS in_transit,
           f.day - s.dispatch_date AS lead_days,
           row_number() OVER (PARTITION BY s.id ORDER BY sh.product_id) = 1 AS first_row
      FROM s
      JOIN shipped sh ON sh.shipment_id = s.id
      LEFT JOIN first_receipt f ON f.shipment_id = s.id
      LEFT JOIN received rc ON rc.shipment_id = s.id AND rc.product_id = sh.product_id
      LEFT JOIN transit t ON t.shipment_id = s.id AND t.product_id = sh.product_id
)
SELECT GROUPING(sp.origin_id) = 1 AS by_level, GROUPING(sp.product_id) = 1 AS all_products,
       sp.origin_level, sp.destination_level, sp.origin_id, sp.destination_id, sp.product_id,
       CASE WHEN GROUPING(sp.product_id) = 1 THEN count(*) FILTER (WHERE sp.first_row) ELSE count(*) END,
       sum(sp.shipped), sum(sp.received), sum(sp.in_transit),
       CASE WHEN GROUPING(sp.product_id) = 1
            THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY sp.lead_days) FILTER (WHERE sp.first_row)
            ELSE percentile_cont(0.5) WITHIN GROUP (ORDER BY sp.lead_days) END,
       max(sp.lead_days),
       CASE WHEN GROUPING(sp.product_id) = 1
            THEN count(sp.lead_days) FILTER (WHERE sp.first_row) ELSE count(sp.lead_days) END
  FROM sp
 GROUP BY GROUPING SETS ({sets})
"""

LEVEL_SETS = ["(sp.origin_level, sp.destination_level, sp.product_id)"]
PAIR_SETS = ["(sp.origin_level, sp.destination_level, sp.origin_id, sp.destination_id, sp.product_id)"]
ALL_PRODUCT_SETS = [
    "(sp.origin_level, sp.destination_level)",
    "(sp.origin_level, sp.destination_level, sp.origin_id, sp.destination_id)",
]


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
    by_pair: list[RouteRow]


def _shipments_sql(root, start: dt.date, end: dt.date, product: Product | None) -> tuple[str, tuple]:
    shipments = shipments_in_scope(root).filter(
        dispatch_date__gte=start, dispatch_date__lt=end, dispatch_movement__isnull=False
    )
    if product is not None:
        shipments = shipments.filter(Exists(ShipmentLine.objects.filter(shipment=OuterRef("pk"), product=product)))
    return shipments.order_by().values("pk").query.sql_with_params()


def distribution(
    *, root: Location | None, date_from: dt.date, date_to: dt.date, product: Product | None = None
) -> DistributionReport:
    """Shipments dispatched under ``root`` from ``date_from`` to ``date_to`` (inclusive), per route."""
    start, end = date_from, date_to + dt.timedelta(days=1)
    shipments_sql, shipments_params = _shipments_sql(root, start, end, product)
    transit = virtual_location(VirtualRole.IN_TRANSIT).pk
    sets = LEVEL_SETS + PAIR_SETS + ([] if product else ALL_PRODUCT_SETS)
    sql = _SQL.format(
        shipments=shipments_sql,
        product_l="AND l.product_id = %s" if product else "",
        product_rl="AND rl.product_id = %s" if product else "",
        product_d="AND d.product_id = %s" if product else "",
        product_e="AND e.product_id = %s" if product else "",
        movements=SHIPMENT_MOVEMENTS_SQL,
        sets=", ".join(sets),
    )
    # Positional parameters, in the order they appear in the statement.
    by_product = [product.pk] if product else []
    params = [*shipments_params, *by_product, *by_product, *by_product, transit, *by_product]
    with transaction.atomic(), connection.cursor() as cursor:
        # Local to this transaction: the statement's sorts stay in memory at national scale.
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute(sql, params)
        found = cursor.fetchall()

    location_ids = {row[i] for row in found for i in (4, 5) if row[i] is not None}
    locations = Location.objects.only("code", "name", "level").in_bulk(location_ids)
    products = Product.objects.in_bulk()
    by_level, by_pair = [], []
    for (
        level_row,
        _all,
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
    ) in found:
        row = RouteRow(
            origin_level=origin_level,
            destination_level=destination_level,
            origin=locations.get(origin_id),
            destination=locations.get(destination_id),
            product=products.get(product_id),
            shipments=count,
            shipped=int(shipped or 0),
            received=int(received or 0),
            in_transit=int(in_transit or 0),
            lead_median=None if median is None else Decimal(str(median)).quantize(Decimal("0.1")),
            lead_max=longest,
            received_shipments=received_count,
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
    return DistributionReport(by_level=by_level, by_pair=by_pair)
