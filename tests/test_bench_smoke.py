"""The benchmark generator must keep producing a ledger that the ledger's own guards accept.

It runs ``bench.generate.load`` on a tiny national shape inside the test's
transaction (so nothing is left behind) and checks the rows it wrote: once with
every database guard switched on (the balance trigger and the foreign keys fire
at ``SET CONSTRAINTS ALL IMMEDIATE``), once on the fast path the 10M load uses
(indexes, foreign keys and the trigger must all be back afterwards). The "alerts"
profile (``bench.alerts``) is loaded with every guard on too, and its service
figures, shipments, discrepancies and status mix are checked, and its reference
query's status classes against the app's indicators.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import connection

from bench.alerts import reference_rows
from bench.generate import BENCH_USER, AlreadyGenerated, Shape, load, schema_fingerprint
from inventory.models import LedgerEntry, Level, Location, Movement, Product, ServiceFigure, StockBalance
from inventory.services.ledger_check import ledger_check

TINY = Shape(entries=3_000, provinces=2, districts=5, clinics=17, lots_per_product=2, months=3)
TINY_ALERTS = Shape(
    entries=12_000, provinces=2, districts=5, clinics=17, lots_per_product=2, months=4, profile="alerts"
)

pytestmark = pytest.mark.django_db


def _load(fast: bool, shape: Shape = TINY):
    connection.ensure_connection()
    return load(connection.connection, shape, fast=fast, log=lambda *_: None)


def _fire_deferred_constraints() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _independent_checks() -> None:
    """The invariants, computed here in SQL rather than trusted to check_ledger alone."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT e.location_id, e.lot_id, sum(e.quantity) AS total
                  FROM inventory_ledgerentry e JOIN inventory_location l ON l.id = e.location_id
                 WHERE l.level <> 'virtual' GROUP BY 1, 2
            ) s FULL JOIN inventory_stockbalance b USING (location_id, lot_id)
             WHERE s.total IS DISTINCT FROM b.quantity
            """
        )
        assert cursor.fetchone()[0] == 0, "a balance differs from the sum of its entries"
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT e.balance_after, e.quantity,
                       lag(e.balance_after) OVER (PARTITION BY e.location_id, e.lot_id ORDER BY e.id) AS previous
                  FROM inventory_ledgerentry e JOIN inventory_location l ON l.id = e.location_id
                 WHERE l.level <> 'virtual'
            ) c WHERE balance_after IS DISTINCT FROM coalesce(previous, 0) + quantity
            """
        )
        assert cursor.fetchone()[0] == 0, "a balance-after link is broken"
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM inventory_ledgerentry GROUP BY movement_id, lot_id"
            " HAVING sum(quantity) <> 0) u"
        )
        assert cursor.fetchone()[0] == 0, "a movement does not net to zero"


def test_generated_ledger_passes_every_guard_and_check():
    summary = _load(fast=False)
    _fire_deferred_constraints()  # the balance trigger and every deferred foreign key run here

    assert TINY.entries <= summary.entries < TINY.entries + 10
    assert LedgerEntry.objects.count() == summary.entries
    assert Movement.objects.count() == summary.movements
    assert StockBalance.objects.count() == summary.balances > 0
    assert not StockBalance.objects.filter(quantity__lt=0).exists()
    assert not LedgerEntry.objects.filter(location__level=Level.VIRTUAL, balance_after__isnull=False).exists()
    kinds = set(LedgerEntry.objects.values_list("kind", flat=True).distinct())
    assert {"receipt", "dispatch", "dispensing"} <= kinds

    levels = {
        level: Location.objects.filter(level=level).count()
        for level in (Level.NATIONAL, Level.PROVINCE, Level.DISTRICT, Level.CLINIC)
    }
    assert levels == {Level.NATIONAL: 1, Level.PROVINCE: 2, Level.DISTRICT: 5, Level.CLINIC: 17}
    for location in Location.objects.real().select_related("parent"):
        assert location.path == location.compute_path()

    _independent_checks()
    report = ledger_check()
    assert report.ok, [m.describe() for m in report.mismatches]


def test_fast_path_restores_indexes_foreign_keys_and_trigger():
    with connection.cursor() as cursor:
        before = schema_fingerprint(cursor.cursor)
    _load(fast=True)
    with connection.cursor() as cursor:
        assert schema_fingerprint(cursor.cursor) == before
    _fire_deferred_constraints()
    _independent_checks()
    assert ledger_check().ok


def test_generating_twice_refuses():
    _load(fast=True)
    with pytest.raises(AlreadyGenerated):
        _load(fast=True)


def _scalar(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _month_starts(first: dt.date, before: dt.date) -> list[dt.date]:
    months, month = [], first.replace(day=1)
    while month < before.replace(day=1):
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def test_alerts_profile_passes_every_guard_and_has_work_for_every_alert_kind():
    summary = _load(fast=False, shape=TINY_ALERTS)
    _fire_deferred_constraints()
    _independent_checks()
    assert ledger_check().ok
    assert TINY_ALERTS.entries <= summary.entries < TINY_ALERTS.entries + 100
    today = dt.date.today()

    # Service figures: every clinic × product × month before the current one, current, by the bench user.
    months = _month_starts(today - dt.timedelta(days=TINY_ALERTS.months * 30), today)
    figures = ServiceFigure.objects.all()
    assert summary.service_figures == figures.count() == 17 * Product.objects.count() * len(months)
    assert set(figures.values_list("month", flat=True).distinct()) == set(months)
    assert not figures.exclude(is_current=True).exists()
    assert set(figures.values_list("recorded_by__username", flat=True).distinct()) == {BENCH_USER}
    assert figures.filter(active_users__gt=0).count() > figures.count() // 2

    # Active users never need less than what was dispensed (need = active × 30 ÷ revisit days,
    # rounding aside), and some short-acting pairs dispense below 70 % of need in each of the
    # last two complete months (users staying away, stockouts): the dropout rules have work.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT f.location_id, f.product_id, f.month, f.active_users * 30.0 / p.revisit_days AS need,
                   p.short_acting, coalesce((
                       SELECT -sum(e.quantity) FROM inventory_ledgerentry e
                        WHERE e.location_id = f.location_id AND e.product_id = f.product_id
                          AND e.kind = 'dispensing' AND e.quantity < 0
                          AND e.business_date >= f.month AND e.business_date < f.month + interval '1 month'
                   ), 0) AS dispensed
              FROM inventory_servicefigure f JOIN inventory_product p ON p.id = f.product_id
            """
        )
        rows = cursor.fetchall()
    assert all(dispensed <= need + 30 for _l, _p, _m, need, _s, dispensed in rows)
    last_two = set(months[-2:])
    below = Counter(
        (loc, prod)
        for loc, prod, month, need, short, dispensed in rows
        if short and month in last_two and need > 0 and dispensed < 0.7 * float(need)
    )
    assert any(n == 2 for n in below.values())

    # Every resupply dispatch is a shipment whose lines are what left the origin; the closed
    # ones were received, so what is still in transit is exactly the overdue shipments' lines.
    assert (
        _scalar(
            "SELECT count(*) FROM inventory_movement m WHERE m.kind = 'dispatch'"
            " AND NOT EXISTS (SELECT 1 FROM inventory_shipment s WHERE s.dispatch_movement_id = m.id)"
        )
        == 0
    )
    assert (
        _scalar(
            """
        SELECT count(*) FROM inventory_shipment s JOIN inventory_shipmentline l ON l.shipment_id = s.id
         WHERE l.quantity IS DISTINCT FROM (
               SELECT -sum(e.quantity) FROM inventory_ledgerentry e
                WHERE e.movement_id = s.dispatch_movement_id AND e.lot_id = l.lot_id AND e.location_id = s.origin_id)
        """
        )
        == 0
    )
    overdue = _scalar(
        "SELECT count(*) FROM inventory_shipment WHERE status = 'dispatched' AND expected_arrival < %s", [today]
    )
    assert overdue == summary.overdue >= 2
    assert _scalar("SELECT count(*) FROM inventory_shipment WHERE status NOT IN ('closed', 'dispatched')") == 0
    in_transit = _scalar(
        "SELECT coalesce(sum(e.quantity), 0) FROM inventory_ledgerentry e JOIN inventory_location l"
        " ON l.id = e.location_id WHERE l.virtual_role = 'in_transit'"
    )
    overdue_units = _scalar(
        "SELECT sum(l.quantity) FROM inventory_shipmentline l JOIN inventory_shipment s ON s.id = l.shipment_id"
        " WHERE s.status = 'dispatched'"
    )
    assert in_transit == overdue_units > 0
    assert (
        _scalar(
            """
        SELECT count(*) FROM inventory_discrepancy x JOIN inventory_shipment s ON s.id = x.shipment_id
         WHERE x.kind = 'overdue' AND x.status = 'open' AND s.status = 'dispatched'
           AND x.created_at > s.expected_arrival
        """
        )
        == summary.discrepancies
        > 0
    )

    # A mix of stock statuses, and the reference query's classes are the app's.
    from reports.selectors.indicators import stock_indicators

    mine = {(r[0], r[1]): r[-1] for r in reference_rows(connection.connection, today)}
    statuses = Counter(mine.values())
    assert {"stocked_out", "emergency", "below_min", "within", "above_max"} <= set(statuses), statuses
    app = {(r.location_id, r.product_id): r.status for r in stock_indicators(today=today)}
    assert app == mine
