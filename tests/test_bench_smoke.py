"""The benchmark generator must keep producing a ledger that the ledger's own guards accept.

It runs ``bench.generate.load`` on a tiny national shape inside the test's
transaction (so nothing is left behind) and checks the rows it wrote: once with
every database guard switched on (the balance trigger and the foreign keys fire
at ``SET CONSTRAINTS ALL IMMEDIATE``), once on the fast path the 10M load uses
(indexes, foreign keys and the trigger must all be back afterwards).
"""

from __future__ import annotations

import pytest
from django.db import connection

from bench.generate import AlreadyGenerated, Shape, load, schema_fingerprint
from inventory.models import LedgerEntry, Level, Location, Movement, StockBalance
from inventory.services.ledger_check import ledger_check

TINY = Shape(entries=3_000, provinces=2, districts=5, clinics=17, lots_per_product=2, months=3)

pytestmark = pytest.mark.django_db


def _load(fast: bool):
    connection.ensure_connection()
    return load(connection.connection, TINY, fast=fast, log=lambda *_: None)


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
