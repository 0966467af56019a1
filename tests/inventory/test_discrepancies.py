"""Resolving discrepancies: every resolution end to end with the ledger checked after,
partial resolutions, who may resolve what, double and concurrent resolution, closing."""

import datetime as dt
import threading
import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from inventory.errors import DocumentConflict, InvalidDocument, NotAllowed, ScopeError, ShipmentShortage
from inventory.models import (
    Discrepancy,
    LedgerEntry,
    Movement,
    MovementKind,
    Product,
    Shipment,
    ShipmentStatus,
    StockBalance,
    VirtualRole,
)
from inventory.services.discrepancies import discrepancy_resolve, resolutions_for
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.posting import virtual_location
from inventory.services.receipts import ReceiptLineSpec, in_transit_by_lot, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tree, make_user):
    """500 of SUNTIK-3 lot S3-A dispatched from the province (72) to Kota Palu (72.71)."""
    product = Product.objects.get(code="SUNTIK-3")
    today = timezone.localdate()
    lot = LotFactory(product=product, batch="S3-A", expiry=today + dt.timedelta(days=500))
    other = LotFactory(product=product, batch="S3-B", expiry=today + dt.timedelta(days=600))
    opening_balance_post(location=tree["prov"], lines=[(lot, 1000), (other, 100)], business_date=today)
    sender = make_user("prov72", tree["prov"])
    shipment = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(product, 500, lot)], actor=sender
    )
    shipment_dispatch(shipment=shipment, actor=sender)
    shipment.refresh_from_db()
    return {
        **tree,
        "product": product,
        "lot": lot,
        "lot_b": other,
        "shipment": shipment,
        "sender": sender,
        "receiver": make_user("kab7271", tree["palu"]),
        "manager": make_user("kabid72", tree["prov"], role="manager", first_name="Rina", last_name="Lamba"),
        "field": make_user("plkb7271", tree["palu"], role="field"),
        "stranger": make_user("kab7371", tree["other_district"]),
    }


def receive(setup, *lines):
    receipt_record(
        shipment=setup["shipment"],
        lines=[ReceiptLineSpec(setup["product"], lot, good, damaged) for lot, good, damaged in lines],
        client_uuid=uuid.uuid4(),
        actor=setup["receiver"],
    )


def open_one(setup, kind) -> Discrepancy:
    return Discrepancy.objects.get(shipment=setup["shipment"], kind=kind, status="open")


def resolve(setup, record, resolution, actor=None, **kwargs):
    return discrepancy_resolve(discrepancy=record, resolution=resolution, actor=actor or setup["receiver"], **kwargs)


def status_of(setup) -> str:
    return Shipment.objects.get(pk=setup["shipment"].pk).status


def balance(location, lot) -> int:
    row = StockBalance.objects.filter(location=location, lot=lot).first()
    return row.quantity if row else 0


def at_virtual(role, lot, **filters) -> int:
    entries = LedgerEntry.objects.filter(location=virtual_location(role), lot=lot, **filters)
    return sum(entries.values_list("quantity", flat=True))


# --- every resolution, end to end -----------------------------------------------------------


def test_write_off_of_a_short_posts_transit_to_loss_and_closes(setup):
    receive(setup, (setup["lot"], 470, 0))
    short = open_one(setup, "short")
    result = resolve(setup, short, "write_off", reason="stolen", note="Truck broken into at Tawaeli")
    record = result.discrepancy
    assert (record.status, record.resolution, record.resolution_reason) == ("resolved", "write_off", "stolen")
    assert record.resolved_by == setup["receiver"] and record.resolved_at is not None
    assert record.resolution_note == "Truck broken into at Tawaeli"
    movement = record.resolution_movement
    assert movement.kind == MovementKind.LOSS and movement.document == f"{setup['shipment'].number}-D{short.pk}"
    assert list(
        LedgerEntry.objects.filter(movement=movement, quantity__gt=0).values_list("location__virtual_role", "reason")
    ) == [(VirtualRole.LOSS, "stolen")]
    assert in_transit_by_lot(setup["shipment"]) == {}
    shipment = Shipment.objects.get(pk=setup["shipment"].pk)
    assert shipment.status == ShipmentStatus.CLOSED and shipment.closed_at is not None
    assert balance(setup["palu"], setup["lot"]) == 470
    assert ledger_check().ok


def test_partial_late_receipt_splits_then_write_off_closes(setup):
    receive(setup, (setup["lot"], 470, 0))
    short = open_one(setup, "short")
    result = resolve(setup, short, "late_receipt", quantity=10)
    assert result.discrepancy.quantity == 10 and result.discrepancy.resolution == "late_receipt"
    rest = result.remainder
    assert (rest.quantity, rest.status, rest.split_from_id, rest.kind) == (20, "open", short.pk, "short")
    assert rest.receipt_id == short.receipt_id and rest.created_at == short.created_at
    assert result.discrepancy.resolution_movement.kind == MovementKind.RECEIPT
    assert balance(setup["palu"], setup["lot"]) == 480
    assert in_transit_by_lot(setup["shipment"]) == {setup["lot"].pk: 20}
    assert status_of(setup) == ShipmentStatus.PARTIALLY_RECEIVED
    assert ledger_check().ok

    resolve(setup, rest, "write_off", reason="lost", actor=setup["sender"])
    assert status_of(setup) == ShipmentStatus.CLOSED
    assert at_virtual(VirtualRole.LOSS, setup["lot"], reason="lost") == 20
    assert ledger_check().ok


def test_accepting_an_over_receipt_moves_nothing_and_closes(setup):
    receive(setup, (setup["lot"], 510, 0))
    assert status_of(setup) == ShipmentStatus.RECEIVED
    movements = Movement.objects.count()
    result = resolve(setup, open_one(setup, "over"), "accept", note="Counted twice, it is 510")
    assert result.discrepancy.resolution == "accept" and result.discrepancy.resolution_movement is None
    assert Movement.objects.count() == movements
    assert status_of(setup) == ShipmentStatus.CLOSED
    assert balance(setup["palu"], setup["lot"]) == 510
    assert ledger_check().ok


def test_return_of_an_over_receipt_dispatches_a_return_shipment_by_a_manager(setup):
    receive(setup, (setup["lot"], 510, 0))
    result = resolve(setup, open_one(setup, "over"), "return", actor=setup["manager"])
    back = result.discrepancy.return_shipment
    assert back.returns_id == setup["shipment"].pk
    assert (back.origin, back.destination, back.status) == (setup["palu"], setup["prov"], ShipmentStatus.DISPATCHED)
    assert back.created_by == setup["manager"] and back.dispatched_by == setup["manager"]
    assert [(line.lot_id, line.quantity) for line in back.lines.all()] == [(setup["lot"].pk, 10)]
    assert balance(setup["palu"], setup["lot"]) == 500
    assert in_transit_by_lot(back) == {setup["lot"].pk: 10}
    assert status_of(setup) == ShipmentStatus.CLOSED
    assert ledger_check().ok
    # The province receives its return like any shipment.
    receipt_record(
        shipment=back,
        lines=[ReceiptLineSpec(setup["product"], setup["lot"], 10)],
        client_uuid=uuid.uuid4(),
        actor=setup["sender"],
    )
    assert balance(setup["prov"], setup["lot"]) == 510
    assert ledger_check().ok


def test_return_is_refused_when_the_goods_are_gone(setup):
    receive(setup, (setup["lot"], 510, 0))
    over = open_one(setup, "over")
    opening = StockBalance.objects.get(location=setup["palu"], lot=setup["lot"]).quantity
    assert opening == 510
    # Palu ships all it has onward before anyone resolves the over-receipt.
    onward = shipment_create(
        origin=setup["palu"],
        destination=setup["c1"],
        lines=[LineSpec(setup["product"], 510, setup["lot"])],
        actor=setup["receiver"],
    )
    shipment_dispatch(shipment=onward, actor=setup["receiver"])
    shipments = Shipment.objects.count()
    with pytest.raises(ShipmentShortage) as refused:
        resolve(setup, over, "return")
    assert refused.value.http_status == 409
    assert Shipment.objects.count() == shipments
    assert Discrepancy.objects.get(pk=over.pk).status == "open"
    assert ledger_check().ok


def test_accepting_another_lot_settles_the_short_of_the_shipped_lot(setup):
    receive(setup, (setup["lot"], 495, 0), (setup["lot_b"], 5, 0))
    other_lot = open_one(setup, "other_lot")
    short = open_one(setup, "short")
    assert (other_lot.quantity, short.quantity) == (5, 5)
    result = resolve(setup, other_lot, "accept")
    record = result.discrepancy
    assert record.mixup_lot == setup["lot"] and record.resolution_movement.kind == MovementKind.ADJUSTMENT
    [settled] = result.related
    assert (settled.pk, settled.status, settled.resolution) == (short.pk, "resolved", "accept")
    assert settled.mixup_lot == setup["lot_b"] and settled.resolution_movement == record.resolution_movement
    # The shipped lot left transit for the adjustment location, where the found lot came from.
    assert at_virtual(VirtualRole.ADJUSTMENT, setup["lot"]) == 5
    assert at_virtual(VirtualRole.ADJUSTMENT, setup["lot_b"]) == -5
    assert in_transit_by_lot(setup["shipment"]) == {}
    assert status_of(setup) == ShipmentStatus.CLOSED
    assert ledger_check().ok


def test_returning_another_lot_leaves_the_short_to_resolve(setup):
    receive(setup, (setup["lot"], 495, 0), (setup["lot_b"], 5, 0))
    result = resolve(setup, open_one(setup, "other_lot"), "return")
    assert result.discrepancy.return_shipment.lines.get().lot == setup["lot_b"]
    assert balance(setup["palu"], setup["lot_b"]) == 0
    assert status_of(setup) == ShipmentStatus.PARTIALLY_RECEIVED
    resolve(setup, open_one(setup, "short"), "write_off", reason="expired")
    assert status_of(setup) == ShipmentStatus.CLOSED
    assert ledger_check().ok


def test_accepting_damaged_units_confirms_the_loss_without_moving(setup):
    receive(setup, (setup["lot"], 490, 10))
    movements = Movement.objects.count()
    result = resolve(setup, open_one(setup, "damaged"), "accept", actor=setup["sender"])
    assert result.discrepancy.resolution_movement is None and Movement.objects.count() == movements
    assert at_virtual(VirtualRole.LOSS, setup["lot"], reason="damaged") == 10
    assert status_of(setup) == ShipmentStatus.CLOSED
    assert ledger_check().ok


def test_a_later_receipt_after_a_partial_write_off_closes_the_shipment(setup):
    receive(setup, (setup["lot"], 400, 0))
    result = resolve(setup, open_one(setup, "short"), "write_off", quantity=30, reason="lost")
    assert result.remainder.quantity == 70
    assert in_transit_by_lot(setup["shipment"]) == {setup["lot"].pk: 70}
    receive(setup, (setup["lot"], 70, 0))
    assert not Discrepancy.objects.filter(status="open").exists()
    assert Discrepancy.objects.get(pk=result.remainder.pk).resolution == "received"
    assert status_of(setup) == ShipmentStatus.CLOSED
    assert ledger_check().ok


def test_a_complete_late_receipt_without_resolutions_stays_received(setup):
    receive(setup, (setup["lot"], 400, 0))
    receive(setup, (setup["lot"], 100, 0))
    assert status_of(setup) == ShipmentStatus.RECEIVED


# --- what is refused ---------------------------------------------------------------------------


class NothingWritten:
    def __init__(self):
        self.before = None

    def __enter__(self):
        self.before = (Movement.objects.count(), Shipment.objects.count(), list(Discrepancy.objects.values()))
        return self

    def __exit__(self, *exc):
        after = (Movement.objects.count(), Shipment.objects.count(), list(Discrepancy.objects.values()))
        assert after == self.before
        assert ledger_check().ok
        return False


def test_only_the_resolutions_of_the_kind_are_offered_and_accepted(setup, english):
    receive(setup, (setup["lot"], 505, 0))
    over = open_one(setup, "over")
    assert resolutions_for(setup["receiver"], over) == ["accept", "return"]
    with NothingWritten(), pytest.raises(InvalidDocument, match=r"Accept \(accept\), Return \(return\)"):
        resolve(setup, over, "write_off", reason="lost")
    with NothingWritten(), pytest.raises(InvalidDocument):
        resolve(setup, over, "received")


@pytest.mark.parametrize("quantity", [0, -1, 6, True, 1.5, "2"])
def test_bad_quantities_are_refused(setup, quantity, english):
    receive(setup, (setup["lot"], 495, 0))
    with NothingWritten(), pytest.raises(InvalidDocument):
        resolve(setup, open_one(setup, "short"), "write_off", reason="lost", quantity=quantity)


@pytest.mark.parametrize("reason", ["", "damaged", "eaten"])
def test_a_write_off_needs_a_reason_for_goods_in_transit(setup, reason, english):
    receive(setup, (setup["lot"], 495, 0))
    with NothingWritten(), pytest.raises(InvalidDocument, match="lost, stolen or expired"):
        resolve(setup, open_one(setup, "short"), "write_off", reason=reason)


def test_who_may_resolve(setup, english):
    receive(setup, (setup["lot"], 495, 0), (setup["lot_b"], 5, 0))
    short, other_lot = open_one(setup, "short"), open_one(setup, "other_lot")
    with NothingWritten():
        with pytest.raises(ScopeError):
            resolve(setup, short, "write_off", reason="lost", actor=setup["stranger"])
        with pytest.raises(NotAllowed):
            resolve(setup, short, "write_off", reason="lost", actor=setup["field"])
        # A late receipt and a return say what is at the destination: its own act, or a manager's.
        with pytest.raises(NotAllowed, match="Kota Palu"):
            resolve(setup, short, "late_receipt", actor=setup["sender"])
        with pytest.raises(NotAllowed):
            resolve(setup, other_lot, "return", actor=setup["sender"])
    assert resolutions_for(setup["sender"], short) == ["write_off"]
    assert resolutions_for(setup["field"], short) == []
    assert resolutions_for(setup["manager"], other_lot) == ["accept", "return"]
    resolve(setup, short, "write_off", reason="lost", actor=setup["sender"])


def test_warehouse_staff_above_see_but_do_not_resolve(setup, make_user, english):
    # The province's staff see a Palu → clinic shipment (their subtree) but are neither end of it.
    opening_balance_post(location=setup["palu"], lines=[(setup["lot"], 10)], business_date=timezone.localdate())
    onward = shipment_create(
        origin=setup["palu"],
        destination=setup["c1"],
        lines=[LineSpec(setup["product"], 10, setup["lot"])],
        actor=setup["receiver"],
    )
    shipment_dispatch(shipment=onward, actor=setup["receiver"])
    receipt_record(
        shipment=onward,
        lines=[ReceiptLineSpec(setup["product"], setup["lot"], 8)],
        client_uuid=uuid.uuid4(),
        actor=make_user("pkm7271001", setup["c1"]),
    )
    short = Discrepancy.objects.get(shipment=onward, kind="short")
    with NothingWritten(), pytest.raises(NotAllowed):
        resolve(setup, short, "write_off", reason="lost", actor=setup["sender"])
    resolve(setup, short, "write_off", reason="lost", actor=setup["manager"])


def test_a_discrepancy_is_resolved_once_and_the_second_hears_who(setup, english):
    receive(setup, (setup["lot"], 495, 0))
    short = open_one(setup, "short")
    resolve(setup, short, "write_off", reason="lost", actor=setup["manager"])
    with NothingWritten(), pytest.raises(DocumentConflict, match="Rina Lamba") as conflict:
        resolve(setup, short, "late_receipt")
    assert conflict.value.http_status == 409


def test_the_database_refuses_changing_a_resolved_discrepancy(setup):
    receive(setup, (setup["lot"], 495, 0))
    short = open_one(setup, "short")
    resolve(setup, short, "write_off", reason="lost")
    with pytest.raises(DatabaseError, match="final"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_discrepancy SET status = 'open', resolution = '' WHERE id = %s", [short.pk])


def test_a_write_off_beyond_what_is_in_transit_is_refused(setup, english):
    receive(setup, (setup["lot"], 495, 0))
    short = open_one(setup, "short")
    # Another way out of transit took the goods already (as a stale record would claim).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_discrepancy SET quantity = 9 WHERE id = %s", [short.pk])
    short.refresh_from_db()
    with NothingWritten(), pytest.raises(InvalidDocument, match="Only 5 units"):
        resolve(setup, short, "write_off", reason="lost")


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_eight_simultaneous_resolutions_one_wins(setup):
    receive(setup, (setup["lot"], 470, 0))
    short = open_one(setup, "short")
    barrier = threading.Barrier(8)
    outcomes, lock = [], threading.Lock()

    def attempt(index):
        try:
            barrier.wait(timeout=30)
            try:
                if index % 2:
                    resolve(setup, short, "write_off", reason="lost")
                else:
                    resolve(setup, short, "late_receipt", actor=setup["manager"])
                outcome = "ok"
            except DocumentConflict:
                outcome = "conflict"
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
    assert Movement.objects.filter(document=f"{setup['shipment'].number}-D{short.pk}").count() == 1
    assert status_of(setup) == ShipmentStatus.CLOSED
    assert ledger_check().ok


# --- the ledger check ------------------------------------------------------------------------------


def test_check_ledger_reports_a_received_shipment_with_goods_in_transit(setup, english):
    receive(setup, (setup["lot"], 470, 0))
    assert ledger_check().ok  # partially received: the 30 in transit are a short, not a fault
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_shipment SET status = 'received' WHERE id = %s", [setup["shipment"].pk])
    mismatches = ledger_check().mismatches
    assert [(m.kind, m.batch, m.found) for m in mismatches] == [("shipment_in_transit", "S3-A", 30)]
    assert setup["shipment"].number in mismatches[0].describe() and "in transit" in mismatches[0].describe()
