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
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Collection
from decimal import Decimal

from django.db import connection

from reports.models import AlertKind, AlertSettings, Severity
from reports.selectors.indicators import DAYS_PER_MONTH, IndicatorRow, StockStatus, stock_indicators
from reports.services.alert_sync import Candidate

KINDS = (AlertKind.STOCKOUT, AlertKind.EMERGENCY, AlertKind.LOW_STOCK, AlertKind.OVERSTOCK, AlertKind.EXPIRY_RISK)

STATUS_KIND = {
    StockStatus.STOCKED_OUT: (AlertKind.STOCKOUT, Severity.CRITICAL),
    StockStatus.EMERGENCY: (AlertKind.EMERGENCY, Severity.CRITICAL),
    StockStatus.BELOW_MIN: (AlertKind.LOW_STOCK, Severity.WARNING),
    StockStatus.ABOVE_MAX: (AlertKind.OVERSTOCK, Severity.INFO),
}

# Lots in stock expiring within the horizon (and not yet expired), per location and
# product in first-expiry-first-out order.
_EXPIRING_SQL = """
SELECT b.location_id, b.product_id, lot.batch, lot.expiry, b.quantity
  FROM inventory_stockbalance b
  JOIN inventory_lot lot ON lot.id = b.lot_id
  JOIN inventory_location l ON l.id = b.location_id
 WHERE b.quantity > 0 AND lot.expiry > %(today)s AND lot.expiry <= %(horizon)s
   AND l.level <> 'virtual' AND l.is_active {scope}
 ORDER BY b.location_id, b.product_id, lot.expiry, lot.batch, lot.id
"""


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


def expiry_candidates(
    location_ids: Collection[int] | None, today: dt.date, horizon_days: int, amc: dict[tuple[int, int], Decimal | None]
) -> list[Candidate]:
    scoped = location_ids is not None
    by_pair: dict[tuple[int, int], list[tuple[str, dt.date, int]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            _EXPIRING_SQL.format(scope="AND b.location_id = ANY(%(locations)s)" if scoped else ""),
            {
                "today": today,
                "horizon": today + dt.timedelta(days=horizon_days),
                "locations": sorted(location_ids) if scoped else None,
            },
        )
        for location_id, product_id, batch, expiry, quantity in cursor.fetchall():
            by_pair[(location_id, product_id)].append((batch, expiry, quantity))
    candidates = []
    for (location_id, product_id), lots in by_pair.items():
        pair_amc = amc.get((location_id, product_id))
        risky = [lot for lot in lots_at_risk(lots, pair_amc, today) if lot["at_risk"] > 0]
        if not risky:
            continue
        candidates.append(
            Candidate(
                kind=AlertKind.EXPIRY_RISK,
                location_id=location_id,
                product_id=product_id,
                severity=Severity.WARNING,
                quantity=sum(lot["at_risk"] for lot in risky),
                figures={"lots": risky, "amc": pair_amc, "horizon_days": horizon_days},
            )
        )
    return candidates


def candidates(location_ids: Collection[int] | None, today: dt.date, thresholds: AlertSettings) -> list[Candidate]:
    """Every stock alert that holds now at ``location_ids`` (None: every real location)."""
    rows = stock_indicators(location_ids, today)
    result = [c for c in map(status_candidate, rows) if c is not None]
    amc = {(row.location_id, row.product_id): row.amc for row in rows}
    result += expiry_candidates(location_ids, today, thresholds.expiry_horizon_days, amc)
    return result
