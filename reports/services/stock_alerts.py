"""Stock alerts: stockout, below emergency order point, below minimum, above maximum,
and expiry risk, from the stock indicators (``reports.selectors.indicators``).

Stock status kinds: one per (location, product), the most severe that holds (they
are classes of one status, so exactly one kind or none):

============  ====================  ========  =====================================
kind          status class          severity  quantity
============  ====================  ========  =====================================
stockout      stocked_out           CRITICAL  suggested order
emergency     emergency             CRITICAL  suggested order
low_stock     below_min             WARNING   suggested order
overstock     above_max             INFO      units above max months × AMC
============  ====================  ========  =====================================

Expiry risk (WARNING), per (location, product): the lots in stock expiring within
``AlertSettings.expiry_horizon_days`` that the location cannot use up before they
expire at its AMC. Lots are used first-expiry-first-out, so a lot is used only after
the lots expiring before it: usable = max(0, AMC × months until its expiry − units of
the lots expiring before it), 30-day months; at risk = units − floor(usable). Lots
already expired are not counted (disposing of them is the expired-stock workflow),
nor used before the others. Without an AMC nothing is used: a lot within the horizon
is at risk whole. quantity = units at risk over the lots.

Both are computed by one statement (``candidate_sql``) in the database, the
indicator statement being its first CTE: ``compute_alerts`` syncs its rows straight
into the alert table (``alert_sync.sync_alerts_sql``: no row goes through Python);
``candidates`` reads them back as ``Candidate`` rows. The figures are built there as
``sync_alerts`` stores a Python candidate's: decimals (AMC, MOS, policy months) as
strings ("30.00"), units as numbers, an expiry as an ISO date. ``python_candidates``
(``status_candidate``, ``lots_at_risk``) states the same rules in Python: the tests
hold the statement to it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Collection
from decimal import Decimal

from django.db import connection, transaction

from inventory.models import StockBalance
from reports.models import AlertKind, AlertSettings, Severity
from reports.selectors.indicators import (
    DAYS_PER_MONTH,
    WORK_MEM,
    IndicatorRow,
    StockStatus,
    indicator_params,
    indicator_sql,
    stock_indicators,
)
from reports.services.alert_sync import Candidate, CandidateQuery

KINDS = (AlertKind.STOCKOUT, AlertKind.EMERGENCY, AlertKind.LOW_STOCK, AlertKind.OVERSTOCK, AlertKind.EXPIRY_RISK)

STATUS_KIND = {
    StockStatus.STOCKED_OUT: (AlertKind.STOCKOUT, Severity.CRITICAL),
    StockStatus.EMERGENCY: (AlertKind.EMERGENCY, Severity.CRITICAL),
    StockStatus.BELOW_MIN: (AlertKind.LOW_STOCK, Severity.WARNING),
    StockStatus.ABOVE_MAX: (AlertKind.OVERSTOCK, Severity.INFO),
}

# The indicator statement runs with these (as ``stock_indicators`` runs it), and without
# parallel workers: the nightly run already runs one statement per lock shard beside the
# dropout computation, and on 2 cores more processes only queue for them (measured in
# bench/alerts.py: first run 6.0 s with parallel workers, 5.7 s without).
SETTINGS = {"work_mem": WORK_MEM, "jit": "off", "max_parallel_workers_per_gather": "0"}

# (kind, location_id, product_id, severity, quantity, figures) of every stock alert
# that holds now. Decimals go into the figures as text, as ``json.dumps`` with
# ``alert_sync._json_default`` writes them (numeric::text is Decimal's str at these
# scales); bigints as numbers.
_CANDIDATE_SQL = """
WITH ind AS MATERIALIZED (
{indicators}
),
status_kind (status, kind, severity) AS (
    SELECT * FROM unnest(%(statuses)s::text[], %(status_kinds)s::text[], %(status_severities)s::smallint[])
),
-- Lots in stock expiring within the horizon (and not yet expired), in first-expiry-first-out
-- order per location and product, with the units of the lots before them.
lot AS (
    SELECT b.location_id, b.product_id, x.id AS lot_id, x.batch, x.expiry, b.quantity,
           coalesce(sum(b.quantity) OVER (
                PARTITION BY b.location_id, b.product_id ORDER BY x.expiry, x.batch, x.id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
      FROM inventory_stockbalance b
      JOIN inventory_lot x ON x.id = b.lot_id
      JOIN inventory_location l ON l.id = b.location_id
     WHERE b.quantity > 0 AND x.expiry > %(today)s AND x.expiry <= %(horizon)s
       AND l.level <> 'virtual' AND l.is_active {scope}
),
-- usable = max(0, AMC × months until expiry − units before), 30-day months (multiplied
-- before dividing); at risk = units − floor(usable).
risk AS (
    SELECT lot.*, i.amc,
           greatest(0, lot.quantity - floor(greatest(0,
                coalesce(i.amc, 0) * (lot.expiry - %(today)s::date) / %(days_per_month)s - lot.before
           )))::bigint AS at_risk
      FROM lot
      LEFT JOIN ind i ON i.location_id = lot.location_id AND i.product_id = lot.product_id
)
SELECT k.kind, i.location_id, i.product_id, k.severity,
       CASE WHEN k.kind <> %(overstock)s THEN i.suggested_order
            WHEN i.amc IS NULL OR i.max_months IS NULL THEN 0
            ELSE greatest(0, i.soh - ceil(i.max_months * i.amc))
       END,
       jsonb_build_object(
           'soh', i.soh, 'amc', i.amc::text, 'mos', i.mos::text, 'in_transit', i.in_transit,
           'min_months', i.min_months::text, 'max_months', i.max_months::text,
           'emergency_months', i.emergency_months::text, 'suggested_order', i.suggested_order)
  FROM ind i
  JOIN status_kind k ON k.status = i.status
UNION ALL
SELECT %(expiry_risk)s, r.location_id, r.product_id, %(expiry_severity)s::smallint, sum(r.at_risk),
       jsonb_build_object(
           'lots', jsonb_agg(
                jsonb_build_object('batch', r.batch, 'expiry', to_char(r.expiry, 'YYYY-MM-DD'),
                                   'quantity', r.quantity, 'at_risk', r.at_risk)
                ORDER BY r.expiry, r.batch, r.lot_id),
           'amc', r.amc::text,
           'horizon_days', %(horizon_days)s::int)
  FROM risk r
 WHERE r.at_risk > 0
 GROUP BY r.location_id, r.product_id, r.amc
"""


def candidate_sql(scoped: bool) -> str:
    """The candidate statement, for every location (``scoped=False``) or for ``%(locations)s``."""
    return _CANDIDATE_SQL.format(
        indicators=indicator_sql(scoped).strip(), scope="AND b.location_id = ANY(%(locations)s)" if scoped else ""
    )


def candidate_query(location_ids: Collection[int] | None, today: dt.date, thresholds: AlertSettings) -> CandidateQuery:
    """Every stock alert that holds now at ``location_ids`` (None: every real location), as
    a statement for ``sync_alerts_sql`` (what ``compute_alerts`` runs)."""
    horizon_days = thresholds.expiry_horizon_days
    params = indicator_params(location_ids, today)
    params.update(
        statuses=[str(status) for status in STATUS_KIND],
        status_kinds=[str(kind) for kind, _severity in STATUS_KIND.values()],
        status_severities=[int(severity) for _kind, severity in STATUS_KIND.values()],
        overstock=str(AlertKind.OVERSTOCK),
        expiry_risk=str(AlertKind.EXPIRY_RISK),
        expiry_severity=int(Severity.WARNING),
        today=today,
        horizon=today + dt.timedelta(days=horizon_days),
        horizon_days=horizon_days,
        days_per_month=DAYS_PER_MONTH,
    )
    return CandidateQuery(candidate_sql(location_ids is not None), params, SETTINGS)


def candidates(location_ids: Collection[int] | None, today: dt.date, thresholds: AlertSettings) -> list[Candidate]:
    """Every stock alert that holds now at ``location_ids`` (None: every real location):
    the rows of ``candidate_query``, figures as they are stored."""
    if location_ids is not None and not location_ids:
        return []
    query = candidate_query(location_ids, today, thresholds)
    with transaction.atomic(), connection.cursor() as cursor:
        for name, value in query.settings.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        cursor.execute(query.sql, query.params)
        rows = cursor.fetchall()
    return [
        Candidate(
            kind=kind,
            location_id=location_id,
            product_id=product_id,
            severity=Severity(severity),
            quantity=quantity,
            figures=json.loads(figures) if isinstance(figures, str | bytes) else figures,
        )
        for kind, location_id, product_id, severity, quantity, figures in rows
    ]


# --- the same rules in Python ----------------------------------------------------------


def status_candidate(row: IndicatorRow) -> Candidate | None:
    """The stock-status alert of one indicator row, if its status raises one."""
    kind_severity = STATUS_KIND.get(row.status)
    if kind_severity is None:
        return None
    kind, severity = kind_severity
    quantity = row.units_above_max if kind == AlertKind.OVERSTOCK else row.suggested_order
    return Candidate(
        kind=kind,
        location_id=row.location_id,
        product_id=row.product_id,
        severity=severity,
        quantity=quantity,
        figures={
            "soh": row.soh,
            "amc": row.amc,
            "mos": row.mos,
            "in_transit": row.in_transit,
            "min_months": row.min_months,
            "max_months": row.max_months,
            "emergency_months": row.emergency_months,
            "suggested_order": row.suggested_order,
        },
    )


def lots_at_risk(lots: list[tuple[str, dt.date, int]], amc: Decimal | None, today: dt.date) -> list[dict]:
    """``lots`` (batch, expiry, quantity) in FEFO order → each with its units at risk."""
    amc = amc or Decimal(0)
    before = 0  # units of the lots expiring earlier, used first
    result = []
    for batch, expiry, quantity in lots:
        # Multiplied before dividing, so a whole number of units stays whole.
        usable = max(Decimal(0), amc * (expiry - today).days / DAYS_PER_MONTH - before)
        at_risk = max(0, quantity - math.floor(usable))
        result.append({"batch": batch, "expiry": expiry.isoformat(), "quantity": quantity, "at_risk": at_risk})
        before += quantity
    return result


def python_candidates(
    location_ids: Collection[int] | None, today: dt.date, thresholds: AlertSettings
) -> list[Candidate]:
    """``candidates`` computed in Python from the indicator rows (``status_candidate``) and
    the expiring lots (``lots_at_risk`` at the pair's AMC): the reference the tests hold
    the statement to. Figures hold Decimals and dates, as ``sync_alerts`` takes them."""
    rows = stock_indicators(location_ids, today)
    result = [c for c in map(status_candidate, rows) if c is not None]
    amc = {(row.location_id, row.product_id): row.amc for row in rows}
    horizon_days = thresholds.expiry_horizon_days
    balances = (
        StockBalance.objects.filter(
            quantity__gt=0,
            lot__expiry__gt=today,
            lot__expiry__lte=today + dt.timedelta(days=horizon_days),
            location__is_active=True,
        )
        .exclude(location__level="virtual")
        .order_by("location_id", "lot__product_id", "lot__expiry", "lot__batch", "lot_id")
        .values_list("location_id", "lot__product_id", "lot__batch", "lot__expiry", "quantity")
    )
    if location_ids is not None:
        balances = balances.filter(location_id__in=location_ids)
    lots = defaultdict(list)
    for location_id, product_id, batch, expiry, quantity in balances:
        lots[location_id, product_id].append((batch, expiry, quantity))
    for (location_id, product_id), pair_lots in lots.items():
        pair_amc = amc.get((location_id, product_id))
        risky = [lot for lot in lots_at_risk(pair_lots, pair_amc, today) if lot["at_risk"] > 0]
        if risky:
            result.append(
                Candidate(
                    kind=AlertKind.EXPIRY_RISK,
                    location_id=location_id,
                    product_id=product_id,
                    severity=Severity.WARNING,
                    quantity=sum(lot["at_risk"] for lot in risky),
                    figures={"lots": risky, "amc": pair_amc, "horizon_days": horizon_days},
                )
            )
    return result
