"""A small history of shipments, receipts, discrepancies, write-offs, counts and
dispensing, shared by the activity, report and admin tests.

Shipments and receipts go through their services; documents whose services are
being written alongside this issue (discrepancy resolution, counts, dispensing,
service figures, month close) are written directly, respecting the database's
CHECK constraints, with their stock movements posted through ``movement_post``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from alokon.models import Role
from inventory.models import (
    CountStatus,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    Dispensing,
    EntryReason,
    MonthClose,
    MovementKind,
    Product,
    Resolution,
    ServiceFigure,
    Shipment,
    StockCount,
    StockCountLine,
    VirtualRole,
)
from inventory.services.opening import opening_balance_post
from inventory.services.posting import EntrySpec, movement_post, virtual_location
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory


def ship(origin, destination, lines, sender):
    shipment = shipment_create(origin=origin, destination=destination, lines=lines, actor=sender)
    shipment_dispatch(shipment=shipment, actor=sender)
    shipment.refresh_from_db()
    return shipment


def receive(shipment, lines, receiver, business_date=None):
    result = receipt_record(
        shipment=shipment, lines=lines, client_uuid=uuid.uuid4(), actor=receiver, business_date=business_date
    )
    shipment.refresh_from_db()
    return result.receipt


def lose(location, lot, quantity, reason, actor, document, business_date=None):
    loss = virtual_location(VirtualRole.LOSS)
    return movement_post(
        kind=MovementKind.LOSS,
        entries=[
            EntrySpec(location=location, lot=lot, quantity=-quantity, reason=reason),
            EntrySpec(location=loss, lot=lot, quantity=quantity, reason=reason),
        ],
        business_date=business_date or timezone.localdate(),
        document=document,
        actor=actor,
    )


def write_off(discrepancy, reason, actor, note=""):
    """What the resolution service does for a write-off: transit → loss, then the row resolved."""
    transit, loss = virtual_location(VirtualRole.IN_TRANSIT), virtual_location(VirtualRole.LOSS)
    movement = movement_post(
        kind=MovementKind.LOSS,
        entries=[
            EntrySpec(location=transit, lot=discrepancy.lot, quantity=-discrepancy.quantity, reason=reason),
            EntrySpec(location=loss, lot=discrepancy.lot, quantity=discrepancy.quantity, reason=reason),
        ],
        business_date=timezone.localdate(),
        document=f"WO-{discrepancy.shipment.number}",
        actor=actor,
    )
    Discrepancy.objects.filter(pk=discrepancy.pk).update(
        status=DiscrepancyStatus.RESOLVED,
        resolution=Resolution.WRITE_OFF,
        resolution_reason=reason,
        resolution_note=note,
        resolved_at=timezone.now(),
        resolved_by=actor,
        resolution_movement=movement,
    )
    discrepancy.refresh_from_db()
    return discrepancy


def late_receipt(discrepancy, actor):
    """What the resolution service does for a late receipt: transit → destination, then the row resolved."""
    shipment = discrepancy.shipment
    movement = movement_post(
        kind=MovementKind.RECEIPT,
        entries=[
            EntrySpec(
                location=virtual_location(VirtualRole.IN_TRANSIT), lot=discrepancy.lot, quantity=-discrepancy.quantity
            ),
            EntrySpec(location=shipment.destination, lot=discrepancy.lot, quantity=discrepancy.quantity),
        ],
        business_date=timezone.localdate(),
        document=f"LATE-{shipment.number}",
        actor=actor,
    )
    Discrepancy.objects.filter(pk=discrepancy.pk).update(
        status=DiscrepancyStatus.RESOLVED,
        resolution=Resolution.LATE_RECEIPT,
        resolved_at=timezone.now(),
        resolved_by=actor,
        resolution_movement=movement,
    )


def age(discrepancy, days):
    Discrepancy.objects.filter(pk=discrepancy.pk).update(created_at=timezone.now() - dt.timedelta(days=days))


def build(tree, make_user, lot):
    """The history; returns a dict of what the tests look up (see the comments for the figures)."""
    today = timezone.localdate()
    now = timezone.now()
    pk = lot  # PIL-KOMB, 100 at the province (``stocked``)
    s3_product = Product.objects.get(code="SUNTIK-3")
    s3 = LotFactory(product=s3_product, batch="S3-A", expiry=today + dt.timedelta(days=500))
    opening_balance_post(location=tree["prov"], lines=[(s3, 1000)], business_date=today)

    prov = make_user("gudang72", tree["prov"], first_name="Ani", last_name="Province")
    palu = make_user("gudang7271", tree["palu"], first_name="Budi", last_name="Palu")
    head = make_user("kepala7271", tree["palu"], role=Role.HEAD)
    sigi = make_user("gudang7210", tree["sigi"])
    clinic = make_user("faskes7271", tree["c1"])

    # A: province → Palu, 40 PK: 30 good + 5 damaged arrive; short 5 stays open (in transit 5).
    a = ship(tree["prov"], tree["palu"], [LineSpec(pk.product, 40, pk)], prov)
    receive(a, [ReceiptLineSpec(pk.product, pk, 30, 5)], palu)
    # B: province → Sigi, 20 PK, all arrive.
    b = ship(tree["prov"], tree["sigi"], [LineSpec(pk.product, 20, pk)], prov)
    receive(b, [ReceiptLineSpec(pk.product, pk, 20)], sigi)
    # C: province → Palu, 100 S3, still on the road; overdue for 100 days.
    c = ship(tree["prov"], tree["palu"], [LineSpec(s3_product, 100, s3)], prov)
    overdue = Discrepancy.objects.create(
        shipment=c, kind=DiscrepancyKind.OVERDUE, product=s3_product, lot=s3, quantity=100
    )
    age(overdue, 100)
    # D: Palu → clinic 72.71-001, 6 PK: 4 arrive, the short 2 is written off as lost (in transit 0).
    d = ship(tree["palu"], tree["c1"], [LineSpec(pk.product, 6, pk)], palu)
    receive(d, [ReceiptLineSpec(pk.product, pk, 4)], clinic)
    d_short = write_off(d.discrepancies.get(kind=DiscrepancyKind.SHORT), "lost", palu, note="Fell off the boat")
    # E: province → Sigi, 10 S3, created and received 45 days ago (outside the month): 8 arrive,
    # short 2 open for 20 days.
    e = ship(tree["prov"], tree["sigi"], [LineSpec(s3_product, 10, s3)], prov)
    receive(e, [ReceiptLineSpec(s3_product, s3, 8)], sigi, business_date=today - dt.timedelta(days=45))
    Shipment.objects.filter(pk=e.pk).update(created_at=now - dt.timedelta(days=50))
    e_short = e.discrepancies.get(kind=DiscrepancyKind.SHORT)
    age(e_short, 20)

    # F: province → Palu, 10 PK: 6 arrive, the short 4 comes later (in transit 0, nothing lost).
    f = ship(tree["prov"], tree["palu"], [LineSpec(pk.product, 10, pk)], prov)
    receive(f, [ReceiptLineSpec(pk.product, pk, 6)], palu)
    late_receipt(f.discrepancies.get(kind=DiscrepancyKind.SHORT), palu)

    # Write-offs outside shipments: a disposal at the clinic, a theft at Sigi, an old loss at Sigi.
    disposal = lose(tree["c1"], pk, 1, EntryReason.EXPIRED, clinic, "DISP-72.71-001-1")
    theft = lose(tree["sigi"], pk, 3, EntryReason.STOLEN, sigi, "LOSS-72.10-1")
    old_loss = lose(tree["sigi"], pk, 1, EntryReason.LOST, sigi, "LOSS-72.10-0", today - dt.timedelta(days=60))

    # Dispensing at the clinic: 2 PK to acceptors.
    movement = movement_post(
        kind=MovementKind.DISPENSING,
        entries=[
            EntrySpec(location=tree["c1"], lot=pk, quantity=-2),
            EntrySpec(location=virtual_location(VirtualRole.DISPENSED), lot=pk, quantity=2),
        ],
        business_date=today,
        document="DSP-72.71-001-1",
        actor=clinic,
    )
    dispensing = Dispensing.objects.create(
        location=tree["c1"], date=today, recorded_by=clinic, movement=movement, note="Posyandu"
    )

    # Counts: Palu's approved by its head; Sigi's submitted.
    palu_count = StockCount.objects.create(location=tree["palu"], created_by=palu)
    StockCountLine.objects.create(count=palu_count, product=pk.product, lot=pk, system_quantity=26, counted=26)
    StockCount.objects.filter(pk=palu_count.pk).update(
        status=CountStatus.APPROVED,
        counted_at=now,
        submitted_by=palu,
        decided_at=now,
        decided_by=head,
        decision_note="OK",
    )
    sigi_count = StockCount.objects.create(location=tree["sigi"], created_by=sigi)
    StockCount.objects.filter(pk=sigi_count.pk).update(status=CountStatus.SUBMITTED, counted_at=now, submitted_by=sigi)

    month = today.replace(day=1)
    figure = ServiceFigure.objects.create(
        location=tree["c1"], month=month, product=pk.product, active_users=40, new_users=3, recorded_by=clinic
    )
    closed = MonthClose.objects.create(location=tree["palu"], month=month, closed_by=palu)

    return {
        **tree,
        "pk": pk,
        "s3": s3,
        "users": {"prov": prov, "palu": palu, "head": head, "sigi": sigi, "clinic": clinic},
        "shipments": {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f},
        "overdue": overdue,
        "d_short": d_short,
        "e_short": e_short,
        "disposal": disposal,
        "theft": theft,
        "old_loss": old_loss,
        "dispensing": dispensing,
        "palu_count": palu_count,
        "sigi_count": sigi_count,
        "figure": figure,
        "closed": closed,
    }
