"""The database itself refuses a broken ledger: each test goes around the ORM and the
posting service (``.update()``, raw SQL) and watches PostgreSQL say no."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from inventory.models import LedgerEntry, Movement, Product, StockBalance, VirtualRole
from inventory.services.posting import virtual_location
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


#: a raw ledger row, written around the posting service
INSERT_ENTRY = (
    "INSERT INTO inventory_ledgerentry (movement_id, location_id, lot_id, product_id, quantity, kind,"
    " business_date, recorded_at, balance_after)"
)


def refused(sql, params=()):
    """Run ``sql`` in a savepoint, forcing deferred constraints; return the database's error."""
    with pytest.raises(DatabaseError) as excinfo, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return str(excinfo.value)


def test_ledger_entry_update_is_refused(stocked):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.all().update(quantity=5)


def test_ledger_entry_delete_is_refused_even_in_raw_sql(stocked):
    assert "append-only" in refused("DELETE FROM inventory_ledgerentry")
    assert LedgerEntry.objects.count() == 2


def test_movement_update_and_delete_are_refused(stocked):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Movement.objects.all().update(document="X")
    assert "append-only" in refused("DELETE FROM inventory_movement")


def test_zero_quantity_is_refused(stocked, lot):
    entry = LedgerEntry.objects.filter(location=stocked["prov"]).first()
    message = refused(
        INSERT_ENTRY + " VALUES (%s, %s, %s, %s, 0, 'adjustment', now(), now(), 100)",
        [entry.movement_id, entry.location_id, lot.id, lot.product_id],
    )
    assert "entry_quantity_nonzero" in message


def test_negative_balance_is_refused(stocked, lot):
    with pytest.raises(IntegrityError, match="balance_quantity_nonnegative"), transaction.atomic():
        StockBalance.objects.filter(location=stocked["prov"], lot=lot).update(quantity=-1)


def test_negative_balance_after_is_refused(stocked, lot):
    entry = LedgerEntry.objects.filter(location=stocked["prov"]).first()
    message = refused(
        INSERT_ENTRY + " VALUES (%s, %s, %s, %s, -1, 'adjustment', now(), now(), -1)",
        [entry.movement_id, entry.location_id, lot.id, lot.product_id],
    )
    assert "entry_balance_after_nonnegative" in message


def test_movement_that_does_not_net_to_zero_is_refused_at_commit_check(stocked, lot):
    entry = LedgerEntry.objects.filter(location=stocked["prov"]).first()
    message = refused(
        INSERT_ENTRY + " VALUES (%s, %s, %s, %s, 7, 'adjustment', now(), now(), 107)",
        [entry.movement_id, entry.location_id, lot.id, lot.product_id],
    )
    assert "does not net to zero" in message


def test_entry_product_must_be_its_lots_product(stocked, lot):
    other = Product.objects.get(code="KONDOM")
    movement = Movement.objects.first()
    supplier = virtual_location(VirtualRole.SUPPLIER)
    message = refused(
        "INSERT INTO inventory_ledgerentry (movement_id, location_id, lot_id, product_id, quantity, kind,"
        " business_date, recorded_at) VALUES (%s, %s, %s, %s, 1, 'adjustment', now(), now()),"
        " (%s, %s, %s, %s, -1, 'adjustment', now(), now())",
        [movement.id, supplier.id, lot.id, other.id, movement.id, supplier.id, lot.id, other.id],
    )
    assert "entry_lot_product_fk" in message


def test_virtual_location_keeps_no_balance_row(stocked, lot):
    transit = virtual_location(VirtualRole.IN_TRANSIT)
    message = refused(
        "INSERT INTO inventory_stockbalance (location_id, lot_id, product_id, quantity, updated_at)"
        " VALUES (%s, %s, %s, 0, now())",
        [transit.id, lot.id, lot.product_id],
    )
    assert "keeps no stock balance" in message


def test_lot_batch_is_unique_per_product(db):
    LotFactory(batch="DUP-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        LotFactory._meta.model.objects.create(
            product=Product.objects.get(code="KONDOM"), batch="DUP-1", expiry="2030-01-01"
        )


@pytest.mark.django_db(transaction=True)
def test_unbalanced_movement_fails_at_commit(stocked, lot):
    """Without forcing the check, the deferred trigger fires when the transaction commits."""
    entry = LedgerEntry.objects.filter(location=stocked["prov"]).first()
    with (
        pytest.raises(IntegrityError, match="does not net to zero"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            INSERT_ENTRY + " VALUES (%s, %s, %s, %s, 3, 'adjustment', now(), now(), 103)",
            [entry.movement_id, entry.location_id, lot.id, lot.product_id],
        )
    assert LedgerEntry.objects.count() == 2


def test_entry_with_a_lot_that_does_not_exist_is_refused(stocked, lot):
    """Only the composite (lot, product) foreign key guards the lot column; it is enough."""
    entry = LedgerEntry.objects.filter(location=stocked["prov"]).first()
    message = refused(
        INSERT_ENTRY + " VALUES (%s, %s, %s, %s, 1, 'adjustment', now(), now(), 101),"
        " (%s, %s, %s, %s, -1, 'adjustment', now(), now(), 100)",
        [entry.movement_id, entry.location_id, 999999, lot.product_id] * 2,
    )
    assert "entry_lot_product_fk" in message
