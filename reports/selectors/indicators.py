"""Stock indicators per (location, product): stock on hand, in transit, AMC, MOS, status.

One set-based SQL statement (``indicator_sql``) computes every indicator for every
active real location × active product (or for the given locations): the alerts,
the pages and the exports read the same figures. ``bench/alerts.py`` reuses the
statement and its parameters (``indicator_params``).

The rules, stated once:

- **Stock on hand** (soh): the sum of the location's balance rows of the product.
- **In transit to it**: per shipment still dispatched or partially received whose
  destination is the location, what its own movements (dispatch, receipts,
  discrepancy resolutions) left at the virtual in-transit location.
- **Consumption** C over the last ``AMC_MONTHS`` complete calendar months: units
  dispensed (clinics) plus units issued to the location's subtree (warehouses:
  dispatches whose shipment goes to a location below it; a return to the parent or
  a transfer to a sibling is not consumption). Reversals are not netted out.
- **Stockout days** in that window: days whose closing balance of the product (all
  lots) at the location was zero. The daily balance is rebuilt backwards from the
  stock on hand: balance at the end of day d = soh − net change of the days after
  d. A location only counts days once it held the product: from the window's start
  when it had entries before it, else from its first entry in the window.
- **AMC**, adjusted for stockouts as OpenLMIS does, with 30-day months (D = 30 × M):
  adjusted C = ceil(C × D / (D − stockout days)), AMC = adjusted C ÷ M, rounded to
  2 decimals. When it was out for D days or more, or the whole window (89 to 92
  days), there is no stocked time to extrapolate from: AMC is the unadjusted C ÷ M,
  or NULL (unknown) when C = 0.
- **MOS** = soh ÷ AMC (NULL when the AMC is 0 or unknown), 2 decimals.
- **Policy**: the location's own ``StockPolicy``, else its level's.
- **Status**: ``stocked_out`` when soh = 0 and the location ever held the product
  (it has a balance row: a product out since before the window is still out);
  ``not_stocked`` when soh = 0 and it never held it; ``unknown`` when soh > 0 but
  there is no AMC; then by MOS: ``emergency`` (< emergency order point),
  ``below_min`` (< min), ``above_max`` (> max), else ``within``.
- **Suggested order** = max(0, ceil(max months × AMC − soh − in transit)); NULL
  without an AMC.

Reading only the window. The ledger has no index on dates (every index costs each
posting an insert), but entry ids follow posting order and an entry is never dated
after the day it was posted. So the first entry id that can belong to the window is
found by a binary search on the primary key over ``recorded_at``
(``window_first_entry_id``), with two days of margin for postings that waited on a
lock; the statement then reads entries from that id on: one primary-key range scan
(all locations) or the ``entry_stock_card`` index (a few locations).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from django.db import connection, transaction
from django.db.models import TextChoices
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.models import Location, Product, VirtualRole
from inventory.selectors.shipments import SHIPMENT_MOVEMENTS_SQL
from inventory.selectors.stock import consumption_window
from inventory.services.posting import virtual_location

AMC_MONTHS = 3
DAYS_PER_MONTH = 30  # OpenLMIS: the adjustment counts 30-day months
# Postings are dated at most the day they are recorded, and a posting waits on
# locks for seconds, not days: ids recorded this long before the window cannot
# hold an entry dated in it.
ID_SEARCH_MARGIN = dt.timedelta(days=2)
WORK_MEM = "64MB"  # the sort of the window's daily rows stays in memory at national scale


class StockStatus(TextChoices):
    STOCKED_OUT = "stocked_out", _("Stocked out")
    EMERGENCY = "emergency", _("Below emergency order point")
    BELOW_MIN = "below_min", _("Below minimum")
    WITHIN = "within", _("Within plan")
    ABOVE_MAX = "above_max", _("Above maximum")
    UNKNOWN = "unknown", _("No consumption")
    NOT_STOCKED = "not_stocked", _("Not stocked")


@dataclass
class IndicatorRow:
    location_id: int
    product_id: int
    level: str
    soh: int
    in_transit: int
    consumption: int  # C: units consumed in the window
    stockout_days: int
    adjusted_consumption: int
    amc: Decimal | None
    mos: Decimal | None
    min_months: Decimal | None
    max_months: Decimal | None
    emergency_months: Decimal | None
    status: str
    suggested_order: int | None
    # Filled by ``indicators_for`` for pages; None from ``stock_indicators``.
    product: Product | None = None

    @property
    def status_label(self) -> str:
        return StockStatus(self.status).label

    @property
    def units_above_max(self) -> int:
        """Units beyond max months × AMC (0 when not above max)."""
        if self.status != StockStatus.ABOVE_MAX or self.amc is None or self.max_months is None:
            return 0
        return max(0, self.soh - int((self.max_months * self.amc).to_integral_value(rounding=ROUND_CEILING)))


_SQL = """
WITH loc AS (
    SELECT l.id, l.level
      FROM inventory_location l
     WHERE l.level <> 'virtual' AND l.is_active {scope_l}
),
product AS (
    SELECT p.id FROM inventory_product p WHERE p.is_active {product_p}
),
soh AS (
    SELECT b.location_id, b.product_id, sum(b.quantity) AS soh
      FROM inventory_stockbalance b
     WHERE true {scope_b} {product_b}
     GROUP BY b.location_id, b.product_id
),
-- Dispatches in the window to a location below the origin: issues to its subtree.
issue AS (
    SELECT s.dispatch_movement_id AS movement_id
      FROM inventory_shipment s
      JOIN inventory_location o ON o.id = s.origin_id
      JOIN inventory_location d ON d.id = s.destination_id
     WHERE s.dispatch_movement_id IS NOT NULL
       AND s.dispatch_date >= %(start)s AND s.dispatch_date < %(end)s
       AND starts_with(d.path, o.path) {scope_s_origin}
),
-- Net change and consumption per real location, product and day since the window's start.
day AS (
    SELECT e.location_id, e.product_id, e.business_date AS day, sum(e.quantity) AS net,
           -sum(e.quantity) FILTER (
                WHERE e.quantity < 0 AND e.business_date < %(end)s
                  AND (e.kind = 'dispensing' OR (e.kind = 'dispatch' AND i.movement_id IS NOT NULL))
           ) AS consumed
      FROM inventory_ledgerentry e
      LEFT JOIN issue i ON i.movement_id = e.movement_id
     WHERE e.id >= %(first_id)s AND e.business_date >= %(start)s
       AND e.balance_after IS NOT NULL {scope_e} {product_e}
     GROUP BY e.location_id, e.product_id, e.business_date
),
-- The closing balance of each day with a change, rebuilt backwards from the stock on hand;
-- it holds until the next day with a change.
run AS (
    SELECT d.location_id, d.product_id, d.day, d.net, d.consumed,
           coalesce(s.soh, 0) - coalesce(sum(d.net) OVER later, 0) AS balance,
           lead(d.day) OVER pair AS next_day
      FROM day d
      LEFT JOIN soh s ON s.location_id = d.location_id AND s.product_id = d.product_id
    WINDOW pair AS (PARTITION BY d.location_id, d.product_id ORDER BY d.day),
           later AS (pair ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
),
moved AS (
    SELECT r.location_id, r.product_id, sum(r.net) AS net, coalesce(sum(r.consumed), 0) AS consumed,
           min(r.day) AS first_day,
           coalesce(sum(greatest(0, least(coalesce(r.next_day, %(end)s), %(end)s) - r.day))
                    FILTER (WHERE r.balance <= 0), 0) AS out_days
      FROM run r
     GROUP BY r.location_id, r.product_id
),
transit AS (
    SELECT s.destination_id AS location_id, e.product_id, sum(e.quantity) AS quantity
      FROM inventory_shipment s
     CROSS JOIN {shipment_movements}
      JOIN inventory_ledgerentry e ON e.movement_id = m.movement_id AND e.location_id = %(transit)s
     WHERE s.status IN ('dispatched', 'partially_received') {scope_s_destination} {product_e}
     GROUP BY s.destination_id, e.product_id
),
base AS (
    SELECT l.id AS location_id, p.id AS product_id, l.level,
           coalesce(s.soh, 0)::bigint AS soh,
           s.location_id IS NOT NULL AS held,
           coalesce(w.consumed, 0)::bigint AS consumed,
           coalesce(s.soh, 0) - coalesce(w.net, 0) AS opening,
           w.location_id IS NOT NULL AS moved,
           w.first_day,
           coalesce(w.out_days, 0) AS out_days
      FROM loc l
     CROSS JOIN product p
      LEFT JOIN soh s ON s.location_id = l.id AND s.product_id = p.id
      LEFT JOIN moved w ON w.location_id = l.id AND w.product_id = p.id
),
stockout AS MATERIALIZED (
    SELECT b.*,
           b.out_days + CASE
               WHEN b.opening > 0 OR NOT b.held THEN 0
               -- Held before the window and out since: every day until its first change.
               WHEN NOT b.moved THEN %(end)s::date - %(start)s::date
               WHEN before.held THEN least(b.first_day, %(end)s::date) - %(start)s::date
               ELSE 0
           END AS stockout_days
      FROM base b
      -- Empty at the window's start but moved in it: did it hold the product before? One
      -- probe of its stock card, only for those rows.
      LEFT JOIN LATERAL (
            SELECT true AS held FROM inventory_ledgerentry x
             WHERE b.opening <= 0 AND b.held AND b.moved
               AND x.location_id = b.location_id AND x.product_id = b.product_id
               AND x.business_date < %(start)s
             LIMIT 1
           ) before ON true
)
SELECT so.location_id, so.product_id, so.level, so.soh,
       coalesce(t.quantity, 0)::bigint AS in_transit,
       so.consumed, so.stockout_days, adj.adjusted, a.amc, m.mos,
       pol.min_months, pol.max_months, pol.emergency_months,
       CASE
           WHEN so.soh = 0 THEN CASE WHEN so.held THEN 'stocked_out' ELSE 'not_stocked' END
           WHEN m.mos IS NULL THEN 'unknown'
           WHEN m.mos < pol.emergency_months THEN 'emergency'
           WHEN m.mos < pol.min_months THEN 'below_min'
           WHEN m.mos > pol.max_months THEN 'above_max'
           ELSE 'within'
       END AS status,
       CASE WHEN a.amc IS NOT NULL AND pol.max_months IS NOT NULL
            THEN greatest(0, ceil(pol.max_months * a.amc - so.soh - coalesce(t.quantity, 0)))::bigint
       END AS suggested_order
  FROM stockout so
  LEFT JOIN transit t ON t.location_id = so.location_id AND t.product_id = so.product_id
  LEFT JOIN inventory_stockpolicy own ON own.location_id = so.location_id
  LEFT JOIN inventory_stockpolicy lvl ON lvl.location_id IS NULL AND lvl.level = so.level
 CROSS JOIN LATERAL (
        SELECT coalesce(own.min_months, lvl.min_months) AS min_months,
               coalesce(own.max_months, lvl.max_months) AS max_months,
               coalesce(own.emergency_months, lvl.emergency_months) AS emergency_months
       ) pol
 CROSS JOIN LATERAL (
        SELECT so.stockout_days >= least(%(days)s, %(end)s::date - %(start)s::date) AS always
       ) outage
 CROSS JOIN LATERAL (
        SELECT (CASE WHEN so.stockout_days > 0 AND NOT outage.always
                     THEN ceil(so.consumed * %(days)s::numeric / (%(days)s - so.stockout_days))
                     ELSE so.consumed END)::bigint AS adjusted
       ) adj
 CROSS JOIN LATERAL (
        SELECT CASE WHEN outage.always AND so.consumed = 0 THEN NULL
                    ELSE round(adj.adjusted / %(months)s::numeric, 2) END AS amc
       ) a
 CROSS JOIN LATERAL (
        SELECT CASE WHEN a.amc > 0 THEN round(so.soh / a.amc, 2) END AS mos
       ) m
 ORDER BY so.location_id, so.product_id
"""

_SCOPES = {
    "scope_l": "AND l.id = ANY(%(locations)s)",
    "scope_b": "AND b.location_id = ANY(%(locations)s)",
    "scope_s_origin": "AND s.origin_id = ANY(%(locations)s)",
    "scope_e": "AND e.location_id = ANY(%(locations)s)",
    "scope_s_destination": "AND s.destination_id = ANY(%(locations)s)",
}


_PRODUCT_SCOPES = {
    "product_p": "AND p.id = ANY(%(products)s)",
    "product_b": "AND b.product_id = ANY(%(products)s)",
    "product_e": "AND e.product_id = ANY(%(products)s)",
}


def indicator_sql(scoped: bool, products_scoped: bool = False) -> str:
    """The statement, for every location (``scoped=False``) or for ``%(locations)s``; for
    every active product, or (``products_scoped``) for those of ``%(products)s``."""
    return _SQL.format(
        shipment_movements=SHIPMENT_MOVEMENTS_SQL,
        **{key: (clause if scoped else "") for key, clause in _SCOPES.items()},
        **{key: (clause if products_scoped else "") for key, clause in _PRODUCT_SCOPES.items()},
    )


INDICATORS_SQL = indicator_sql(scoped=False)
INDICATORS_SQL_SCOPED = indicator_sql(scoped=True)


def window_first_entry_id(start: dt.date) -> int:
    """A ledger entry id below which no entry can be dated ``start`` or later.

    Binary search on the primary key over ``recorded_at`` (about 25 one-row index
    probes). Entry ids follow posting order only roughly (a posting waiting on a
    lock writes its id after others recorded later), hence the margin: the result is
    one past an entry recorded more than ``ID_SEARCH_MARGIN`` before ``start``, and
    every entry dated from ``start`` on was recorded after it.
    """
    cutoff = timezone.make_aware(dt.datetime.combine(start, dt.time.min)) - ID_SEARCH_MARGIN
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM inventory_ledgerentry")
        low, high = cursor.fetchone()
        if low is None:
            return 0
        high += 1
        while low < high:
            middle = (low + high) // 2
            cursor.execute(
                "SELECT id, recorded_at FROM inventory_ledgerentry WHERE id >= %s ORDER BY id LIMIT 1", [middle]
            )
            found, recorded_at = cursor.fetchone()
            if recorded_at < cutoff:
                low = found + 1
            else:
                high = middle
    return low


def indicator_params(
    location_ids: Collection[int] | None = None,
    today: dt.date | None = None,
    *,
    first_id: int | None = None,
    product_ids: Collection[int] | None = None,
) -> dict:
    """The parameters of ``indicator_sql(location_ids is not None, product_ids is not None)``."""
    start, end = consumption_window(today, AMC_MONTHS)
    return {
        "start": start,
        "end": end,
        "first_id": window_first_entry_id(start) if first_id is None else first_id,
        "transit": virtual_location(VirtualRole.IN_TRANSIT).pk,
        "days": DAYS_PER_MONTH * AMC_MONTHS,
        "months": AMC_MONTHS,
        "locations": sorted(location_ids) if location_ids is not None else None,
        "products": sorted(product_ids) if product_ids is not None else None,
    }


def stock_indicators(
    location_ids: Collection[int] | None = None,
    today: dt.date | None = None,
    *,
    product_ids: Collection[int] | None = None,
) -> list[IndicatorRow]:
    """Indicators of every active real location (or of ``location_ids``) × active product
    (or those of ``product_ids``: a page about one product computes only its rows)."""
    if (location_ids is not None and not location_ids) or (product_ids is not None and not product_ids):
        return []
    params = indicator_params(location_ids, today, product_ids=product_ids)
    with transaction.atomic(), connection.cursor() as cursor:
        # Local to this transaction (or the caller's): the window's sort fits in memory.
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        # JIT compiles this statement's many expressions for longer than it runs.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(indicator_sql(location_ids is not None, product_ids is not None), params)
        return [IndicatorRow(*row) for row in cursor.fetchall()]


def indicators_for(location: Location, today: dt.date | None = None) -> list[IndicatorRow]:
    """One location's indicators, one row per active product (with ``product`` set), by product code."""
    rows = stock_indicators([location.pk], today)
    products = Product.objects.in_bulk([row.product_id for row in rows])
    for row in rows:
        row.product = products[row.product_id]
    return sorted(rows, key=lambda row: row.product.code)
