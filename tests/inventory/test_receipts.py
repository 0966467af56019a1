"""Receiving: good and damaged units, partial receipts, discrepancies, idempotency, races."""

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from inventory.errors import InvalidReceipt, ReceiptConflict, ScopeError, ShipmentStateError
from inventory.models import (
    Discrepancy,
    LedgerEntry,
    Movement,
    Product,
    Receipt,
    ShipmentStatus,
    StockBalance,
    VirtualRole,
)
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.posting import virtual_location
from inventory.services.receipts import ReceiptLineSpec, in_transit_by_lot, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tree, make_user):
    product = Product.objects.get(code="SUNTIK-3")
    today = timezone.localdate()
    lot = LotFactory(product=product, batch="S3-A", expiry=today + dt.timedelta(days=500))
    other = LotFactory(product=product, batch="S3-B", expiry=today + dt.timedelta(days=600))
    opening_balance_post(location=tree["prov"], lines=[(lot, 1000), (other, 100)], business_date=today)
    sender = make_user("prov72", tree["prov"])
    receiver = make_user("kab7271", tree["palu"])
    shipment = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(product, 500, lot)], actor=sender
    )
    shipment_dispatch(shipment=shipment, actor=sender)
    shipment.refresh_from_db()
    return {"product": product, "lot": lot, "lot_b": other, "shipment": shipment, "receiver": receiver, **tree}


def record(setup, lines, key=None, actor=None):
    return receipt_record(
        shipment=setup["shipment"], lines=lines, client_uuid=key or uuid.uuid4(), actor=actor or setup["receiver"]
    )


def test_full_receipt_moves_transit_to_destination(setup):
    result = record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 500)])
    assert result.created
    setup["shipment"].refresh_from_db()
    assert setup["shipment"].status == ShipmentStatus.RECEIVED
    assert StockBalance.objects.get(location=setup["palu"], lot=setup["lot"]).quantity == 500
    assert in_transit_by_lot(setup["shipment"]) == {}
    assert not Discrepancy.objects.exists()
    assert result.receipt.movement.document.startswith("SBBM-72-")
    assert ledger_check().ok


def test_short_and_damaged_open_discrepancies_and_partial_status(setup):
    record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 470, damaged=20)])
    setup["shipment"].refresh_from_db()
    assert setup["shipment"].status == ShipmentStatus.PARTIALLY_RECEIVED
    kinds = sorted(Discrepancy.objects.values_list("kind", "quantity"))
    assert kinds == [("damaged", 20), ("short", 10)]
    assert StockBalance.objects.get(location=setup["palu"], lot=setup["lot"]).quantity == 470
    loss = virtual_location(VirtualRole.LOSS)
    assert sum(LedgerEntry.objects.filter(location=loss).values_list("quantity", flat=True)) == 20
    assert in_transit_by_lot(setup["shipment"]) == {setup["lot"].pk: 10}
    assert ledger_check().ok


def test_late_arrival_replaces_the_short(setup):
    record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 400)])
    record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 100)])
    setup["shipment"].refresh_from_db()
    assert setup["shipment"].status == ShipmentStatus.RECEIVED
    assert list(Discrepancy.objects.values_list("kind", "quantity", "status")) == [("short", 100, "resolved")]


def test_other_lot_and_over_come_from_adjustment_and_are_flagged(setup):
    record(
        setup,
        [
            ReceiptLineSpec(setup["product"], setup["lot"], 510),
            ReceiptLineSpec(setup["product"], setup["lot_b"], 5),
        ],
    )
    kinds = sorted(Discrepancy.objects.values_list("kind", "quantity"))
    assert kinds == [("other_lot", 5), ("over", 10)]
    assert StockBalance.objects.get(location=setup["palu"], lot=setup["lot_b"]).quantity == 5
    assert in_transit_by_lot(setup["shipment"]) == {}
    assert ledger_check().ok


def test_same_uuid_twice_is_one_receipt(setup):
    key = uuid.uuid4()
    first = record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 300)], key=key)
    movements = Movement.objects.count()
    again = record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 300)], key=key)
    assert not again.created and again.receipt.pk == first.receipt.pk
    assert Movement.objects.count() == movements
    with pytest.raises(ReceiptConflict):
        record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 299)], key=key)


def test_fully_received_shipment_says_who_and_when(setup):
    record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 500)])
    with pytest.raises(ShipmentStateError, match="kab7271"):
        record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 1)])


def test_receiving_a_draft_or_from_outside_is_refused(setup, make_user):
    draft = shipment_create(
        origin=setup["prov"],
        destination=setup["palu"],
        lines=[LineSpec(setup["product"], 1)],
        actor=make_user("prov72b", setup["prov"]),
    )
    with pytest.raises(ShipmentStateError):
        receipt_record(
            shipment=draft,
            lines=[ReceiptLineSpec(setup["product"], setup["lot"], 1)],
            client_uuid=uuid.uuid4(),
            actor=setup["receiver"],
        )
    stranger = make_user("kab7210", setup["sigi"])
    with pytest.raises(ScopeError):
        record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 1)], actor=stranger)
    assert not Receipt.objects.exists()


@pytest.mark.parametrize(("received", "damaged"), [(0, 0), (-1, 0), (1.5, 0), (10**9, 0), (1, -1), (True, 0)])
def test_bad_quantities_post_nothing(setup, received, damaged):
    with pytest.raises(InvalidReceipt):
        record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], received, damaged)])
    assert not Receipt.objects.exists()
    assert ledger_check().ok


def test_a_lot_of_another_product_is_refused(setup):
    condom = Product.objects.get(code="KONDOM")
    with pytest.raises(InvalidReceipt):
        record(setup, [ReceiptLineSpec(condom, setup["lot"], 1)])


@pytest.mark.django_db(transaction=True)
def test_eight_simultaneous_full_receipts_make_one(setup):
    barrier = threading.Barrier(8)
    outcomes, lock = [], threading.Lock()

    def receive():
        try:
            barrier.wait(timeout=30)
            try:
                record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 500)])
                outcome = "ok"
            except ShipmentStateError:
                outcome = "conflict"
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=receive) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
    assert Receipt.objects.count() == 1
    assert StockBalance.objects.get(location=setup["palu"], lot=setup["lot"]).quantity == 500
    assert ledger_check().ok


def test_damaged_units_go_to_loss_with_their_reason(setup):
    record(setup, [ReceiptLineSpec(setup["product"], setup["lot"], 490, damaged=10)])
    loss = virtual_location(VirtualRole.LOSS)
    assert list(LedgerEntry.objects.filter(location=loss).values_list("quantity", "reason")) == [(10, "damaged")]
    transit = virtual_location(VirtualRole.IN_TRANSIT)
    reasons = sorted(LedgerEntry.objects.filter(location=transit, quantity__lt=0).values_list("quantity", "reason"))
    assert reasons == [(-490, ""), (-10, "damaged")]
