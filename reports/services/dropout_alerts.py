"""Dropout-risk alerts (MOBIYA, *Gerakan Cegah Putus KB*): clinics where users of a
short-acting method (pill, injectable, condom: ``Product.short_acting``) may stop.

Two rules, per (clinic, short-acting product), computed in one SQL statement over
every clinic in scope (no query per clinic):

**stock_gap** (CRITICAL): the clinic's stock will run out before its next resupply
while it has active users.

- active users: the clinic's current service figure of the latest month that has one,
  from three months before the current month up to the current month;
- monthly need: AMC, the units dispensed over the last 3 complete months ÷ 3; with no
  dispensing in those months, what the active users need: active × 30 ÷ revisit days
  (one unit per visit, one visit per ``Product.revisit_days``);
- stock days = stock on hand ÷ (monthly need ÷ 30);
- next resupply: the earliest expected arrival of a shipment to the clinic, dispatched
  or partially received, that still has units of the product in transit; resupply
  days = days from today until then, at least 1 (a shipment already late is counted
  as arriving tomorrow: today's stock must last at least that long). With no such
  shipment: ``AlertSettings.resupply_days`` (``next_resupply`` is then null);
- the rule holds when stock days < resupply days;
- users at risk = ceil(active × (resupply days − stock days) ÷ revisit days), at most
  the active users: each user comes back once per revisit interval, so the users due
  during the days without stock find none.

**falling_dispensing** (WARNING): dispensing has fallen below ``AlertSettings.dropout_share``
of what the active users need in each of the last ``AlertSettings.dropout_months``
complete months: users are not coming back.

- need of a month = that month's active users × 30 ÷ revisit days (one unit per visit;
  a 30-day month for every month, as in the monthly need above);
- dispensed = the clinic's dispensing entries (kind dispensing, negative quantity at
  the clinic) dated in that month;
- the rule holds when, in every one of those months, the month has a service figure
  with active users and dispensed < share × need;
- users at risk = ceil(active × (1 − dispensed ÷ need)) of the latest of those months.

One candidate per (clinic, product): when both rules hold, the stock-gap alert wins and
says ``"also_falling": true`` (with the months beside its own figures). Figures and
quantity (= users at risk) follow the contract in ``reports.alert_text``.

The comparisons are made in integers in SQL (no rounding can flip them); the figures of
the few rows that hold are then computed exactly (``Fraction``) in Python.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection
from fractions import Fraction

from django.db import connection

from inventory.models import VirtualRole
from inventory.services.posting import virtual_location
from inventory.services.service_figures import add_months
from reports.models import AlertKind, AlertSettings, Severity
from reports.services.alert_sync import Candidate
from reports.services.document_alerts import in_transit_sql

KINDS = (AlertKind.DROPOUT_RISK,)

#: complete months the AMC is averaged over (as inventory.selectors.stock)
AMC_MONTHS = 3
#: how many months back (before the current one) a service figure still gives the active users
USERS_MONTHS = 3
DAYS_PER_MONTH = 30


def _sql(scoped: bool) -> str:
    scope = "AND f.location_id = ANY(%(locations)s)" if scoped else ""
    resupply_scope = "AND s.destination_id = ANY(%(locations)s)" if scoped else ""
    entry_scope = "AND e.location_id = ANY(%(locations)s)" if scoped else ""
    return f"""
WITH fig AS (
    -- current service figures of short-acting products at active clinics, in the window
    SELECT f.location_id, f.product_id, f.month, f.active_users, p.revisit_days
      FROM inventory_servicefigure f
      JOIN inventory_product p ON p.id = f.product_id AND p.short_acting AND p.is_active
      JOIN inventory_location l ON l.id = f.location_id AND l.level = 'clinic' AND l.is_active
     WHERE f.is_current AND f.month >= %(fig_start)s AND f.month <= %(this_month)s {scope}
),
latest AS (
    SELECT DISTINCT ON (location_id, product_id) location_id, product_id, active_users, revisit_days
      FROM fig
     WHERE month >= %(users_start)s
     ORDER BY location_id, product_id, month DESC
),
dispensed AS (
    -- only clinics dispense; every product (a join to the pairs above would hide the
    -- ledger's statistics from the planner and cost more than the few extra groups)
    SELECT e.location_id, e.product_id, date_trunc('month', e.business_date)::date AS month,
           -sum(e.quantity) AS units
      FROM inventory_ledgerentry e
     WHERE e.kind = 'dispensing' AND e.quantity < 0
       AND e.business_date >= %(dispensed_start)s AND e.business_date < %(this_month)s {entry_scope}
     GROUP BY 1, 2, 3
),
used AS (
    SELECT location_id, product_id, sum(units) AS units
      FROM dispensed
     WHERE month >= %(amc_start)s
     GROUP BY 1, 2
),
soh AS (
    SELECT b.location_id, b.product_id, sum(b.quantity) AS soh
      FROM inventory_stockbalance b
      JOIN latest la ON la.location_id = b.location_id AND la.product_id = b.product_id AND la.active_users > 0
     GROUP BY 1, 2
),
resupply AS (
    SELECT t.destination_id AS location_id, t.product_id, min(t.expected_arrival) AS next_resupply
      FROM ({in_transit_sql(resupply_scope)}) t
     GROUP BY 1, 2
),
gap AS (
    SELECT la.location_id, la.product_id, la.active_users, la.revisit_days,
           coalesce(soh.soh, 0) AS soh, coalesce(used.units, 0) AS used, r.next_resupply,
           CASE WHEN r.next_resupply IS NULL THEN %(resupply_days)s
                ELSE greatest(r.next_resupply - %(today)s::date, 1) END AS resupply_days
      FROM latest la
      LEFT JOIN soh ON soh.location_id = la.location_id AND soh.product_id = la.product_id
      LEFT JOIN used ON used.location_id = la.location_id AND used.product_id = la.product_id
      LEFT JOIN resupply r ON r.location_id = la.location_id AND r.product_id = la.product_id
     WHERE la.active_users > 0
),
gap_hit AS (
    -- stock days < resupply days, in integers:
    --   AMC need:   soh × 30 ÷ (used ÷ 3) < days  ⇔  soh × 90 < days × used
    --   user need:  soh × 30 ÷ (active × 30 ÷ revisit) < days  ⇔  soh × revisit < days × active
    SELECT * FROM gap
     WHERE CASE WHEN used > 0 THEN soh * {DAYS_PER_MONTH * AMC_MONTHS} < resupply_days * used
                ELSE soh * revisit_days < resupply_days * active_users END
),
falling AS (
    -- dispensed < share × active × 30 ÷ revisit  ⇔  dispensed × revisit < share × active × 30
    SELECT f.location_id, f.product_id, max(f.revisit_days) AS revisit_days,
           array_agg(f.month ORDER BY f.month) AS months,
           array_agg(f.active_users ORDER BY f.month) AS active,
           array_agg(coalesce(d.units, 0) ORDER BY f.month) AS units
      FROM fig f
      LEFT JOIN dispensed d ON d.location_id = f.location_id AND d.product_id = f.product_id AND d.month = f.month
     WHERE f.month >= %(falling_start)s AND f.month < %(this_month)s AND f.active_users > 0
       AND coalesce(d.units, 0) * f.revisit_days < %(share)s * f.active_users * {DAYS_PER_MONTH}
     GROUP BY f.location_id, f.product_id
    HAVING count(*) = %(falling_months)s
)
SELECT coalesce(g.location_id, fa.location_id), coalesce(g.product_id, fa.product_id),
       coalesce(g.revisit_days, fa.revisit_days), g.location_id IS NOT NULL,
       g.active_users, g.soh, g.used, g.next_resupply, g.resupply_days,
       fa.months, fa.active, fa.units
  FROM gap_hit g
  FULL JOIN falling fa ON fa.location_id = g.location_id AND fa.product_id = g.product_id
 ORDER BY 1, 2
"""


def _round(value: Fraction, places: int = 1) -> float:
    return round(float(value), places)


def _falling_figures(months, active, units, revisit: int, share) -> tuple[dict, int]:
    listed = [
        {
            "month": f"{month:%Y-%m}",
            "active_users": users,
            "dispensed": int(dispensed),
            "need": _round(Fraction(users * DAYS_PER_MONTH, revisit)),
        }
        for month, users, dispensed in zip(months, active, units, strict=True)
    ]
    users, dispensed = active[-1], int(units[-1])
    need = Fraction(users * DAYS_PER_MONTH, revisit)
    at_risk = math.ceil(users * (1 - Fraction(dispensed) / need))
    return {"share": float(share), "months": listed}, at_risk


def candidates(location_ids: Collection[int] | None, today: dt.date, thresholds: AlertSettings) -> list[Candidate]:
    """Dropout-risk candidates at the clinics among ``location_ids`` (None: every clinic)."""
    if location_ids is not None and not location_ids:
        return []
    this_month = today.replace(day=1)
    falling_months = thresholds.dropout_months
    falling_start = add_months(this_month, -falling_months)
    amc_start = add_months(this_month, -AMC_MONTHS)
    users_start = add_months(this_month, -USERS_MONTHS)
    params = {
        "locations": list(location_ids or []),
        "today": today,
        "this_month": this_month,
        "users_start": users_start,
        "fig_start": min(users_start, falling_start),
        "amc_start": amc_start,
        "dispensed_start": min(amc_start, falling_start),
        "falling_start": falling_start,
        "falling_months": falling_months,
        "share": thresholds.dropout_share,
        "resupply_days": thresholds.resupply_days,
        "transit": virtual_location(VirtualRole.IN_TRANSIT).pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(_sql(location_ids is not None), params)
        rows = cursor.fetchall()
    result = []
    for location_id, product_id, revisit, is_gap, active, soh, used, next_resupply, resupply_days, *falling in rows:
        months, falling_active, units = falling
        also_falling = months is not None
        if also_falling:
            falling_figures, falling_at_risk = _falling_figures(
                months, falling_active, units, revisit, thresholds.dropout_share
            )
        if not is_gap:
            result.append(
                Candidate(
                    kind=AlertKind.DROPOUT_RISK,
                    location_id=location_id,
                    product_id=product_id,
                    severity=Severity.WARNING,
                    quantity=falling_at_risk,
                    figures={
                        "rule": "falling_dispensing",
                        "active_users": falling_active[-1],
                        "users_at_risk": falling_at_risk,
                        **falling_figures,
                    },
                )
            )
            continue
        amc = Fraction(int(used), AMC_MONTHS)
        monthly_need = amc if used else Fraction(active * DAYS_PER_MONTH, revisit)
        stock_days = Fraction(int(soh) * DAYS_PER_MONTH) / monthly_need
        at_risk = min(active, math.ceil(active * (resupply_days - stock_days) / revisit))
        figures = {
            "rule": "stock_gap",
            "active_users": active,
            "users_at_risk": at_risk,
            "soh": int(soh),
            "amc": _round(amc),
            "daily_need": _round(monthly_need / DAYS_PER_MONTH, 2),
            "stock_days": _round(stock_days),
            "resupply_days": resupply_days,
            "next_resupply": next_resupply.isoformat() if next_resupply else None,
        }
        if also_falling:
            figures.update(also_falling=True, **falling_figures)
        result.append(
            Candidate(
                kind=AlertKind.DROPOUT_RISK,
                location_id=location_id,
                product_id=product_id,
                severity=Severity.CRITICAL,
                quantity=at_risk,
                figures=figures,
            )
        )
    return result
