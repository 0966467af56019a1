"""Receiving a shipment: what the destination counted, posted once.

``receipt_record`` locks the shipment row, so receipts of one shipment queue: of
two full receipts sent at the same moment, the first posts and the second finds
the shipment received (409). Inside the lock a known client UUID returns its
receipt (same body) or is refused (different body), before anything is posted.

What moves, per lot counted:
- good units from in transit to the destination, damaged units from in transit
  to loss, as far as this shipment still has that lot in transit;
- anything beyond that (an over-receipt, or a lot that was not shipped) enters
  from the virtual count-adjustment location, so every lot still nets to zero
  and the shipment's own in-transit stock is never overdrawn; a discrepancy
  (over, other lot) records it until someone resolves it.
What is still in transit after the receipt is a short discrepancy; a later
receipt that brings it replaces that discrepancy with what is still missing, and
settles the shipment's open overdue records. A receipt that leaves nothing in
transit and no open discrepancy, after someone resolved one, closes the shipment
(``inventory.services.discrepancies.shipment_close_if_settled``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from alokon.text import local_datetime
from inventory.errors import InvalidReceipt, ReceiptConflict, ScopeError, ShipmentStateError
from inventory.models import (
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    EntryReason,
    LedgerEntry,
    Lot,
    MovementKind,
    Product,
    Receipt,
    ReceiptLine,
    Resolution,
    Shipment,
    ShipmentStatus,
    VirtualRole,
)
from inventory.services.posting import EntrySpec, movement_post, virtual_location
from inventory.services.shipments import MAX_LINE_QUANTITY


@dataclass(frozen=True)
class ReceiptLineSpec:
    product: Product
    lot: Lot
    received: int
    damaged: int = 0


@dataclass
class ReceiptResult:
    receipt: Receipt
    created: bool


def _validate(lines: Sequence[ReceiptLineSpec]) -> None:
    if not lines:
        raise InvalidReceipt(_("A receipt needs at least one line."))
    for number, line in enumerate(lines, start=1):
        for value in (line.received, line.damaged):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidReceipt(_("Line %(line)d: quantities must be whole numbers.") % {"line": number})
            if value < 0:
                raise InvalidReceipt(_("Line %(line)d: quantities cannot be negative.") % {"line": number})
            if value > MAX_LINE_QUANTITY:
                raise InvalidReceipt(
                    _("Line %(line)d: %(quantity)d is more than %(max)d; check the quantity.")
                    % {"line": number, "quantity": value, "max": MAX_LINE_QUANTITY}
                )
        if line.received + line.damaged == 0:
            raise InvalidReceipt(_("Line %(line)d: nothing was counted.") % {"line": number})
        if line.lot.product_id != line.product.pk:
            raise InvalidReceipt(
                _("Line %(line)d: lot %(batch)s is not a lot of %(product)s.")
                % {"line": number, "batch": line.lot.batch, "product": line.product.code}
            )


def request_hash(lines: Sequence[ReceiptLineSpec], note: str) -> str:
    """A fingerprint of what was sent, independent of line order."""
    body = sorted((line.product.code, line.lot.batch, line.received, line.damaged) for line in lines)
    return hashlib.sha256(json.dumps([body, note]).encode()).hexdigest()


def shipment_movement_ids(shipment: Shipment) -> set[int]:
    """The movements that move this shipment's goods through transit: its dispatch,
    its receipts, and the resolutions of its discrepancies (write-off, late receipt,
    accepting another lot). A return is a shipment of its own, with its own movements."""
    # One query (the receiving page counts them).
    receipts = Receipt.objects.filter(shipment=shipment, movement__isnull=False).values_list("movement_id", flat=True)
    resolutions = Discrepancy.objects.filter(shipment=shipment, resolution_movement__isnull=False).values_list(
        "resolution_movement_id", flat=True
    )
    ids = {shipment.dispatch_movement_id, *receipts.union(resolutions)}
    ids.discard(None)
    return ids


def in_transit_by_lot(shipment: Shipment) -> dict[int, int]:
    """Units of each lot this shipment still has in transit (from its own movements)."""
    rows = (
        LedgerEntry.objects.filter(
            movement_id__in=shipment_movement_ids(shipment), location=virtual_location(VirtualRole.IN_TRANSIT)
        )
        .values("lot_id")
        .annotate(total=Sum("quantity"))
    )
    return {r["lot_id"]: r["total"] for r in rows if r["total"]}


def _already_received(shipment: Shipment) -> ShipmentStateError:
    last = shipment.receipts.select_related("received_by").order_by("-received_at").first()
    if last is None:
        # Accounted for without a receipt: written off, or brought in by a late receipt.
        return ShipmentStateError(
            _("Shipment %(number)s has nothing left in transit: its discrepancies were resolved.")
            % {"number": shipment.number}
        )
    return ShipmentStateError(
        _("Shipment %(number)s was already received by %(user)s on %(when)s.")
        % {
            "number": shipment.number,
            "user": last.received_by.display_name,
            "when": local_datetime(last.received_at),
        }
    )


def receipt_record(
    *,
    shipment: Shipment,
    lines: Sequence[ReceiptLineSpec],
    client_uuid: uuid.UUID,
    actor,
    note: str = "",
    business_date: dt.date | None = None,
) -> ReceiptResult:
    """Record and post what arrived; the same ``client_uuid`` twice is one receipt."""
    _validate(lines)
    fingerprint = request_hash(lines, note)
    business_date = business_date or timezone.localdate()
    with transaction.atomic():
        locked = Shipment.objects.select_for_update(of=("self",)).select_related("destination").get(pk=shipment.pk)
        existing = Receipt.objects.filter(client_uuid=client_uuid).first()
        if existing is not None:
            if existing.shipment_id != locked.pk or existing.request_hash != fingerprint:
                raise ReceiptConflict(_("This receipt number (client UUID) was already used for a different receipt."))
            return ReceiptResult(receipt=existing, created=False)
        if not actor.is_superuser and actor.location_id != locked.destination_id:
            raise ScopeError(_("Shipment %(number)s was not found.") % {"number": locked.number})
        if locked.status == ShipmentStatus.DRAFT:
            raise ShipmentStateError(_("Shipment %(number)s has not been dispatched yet.") % {"number": locked.number})
        if locked.status in (ShipmentStatus.RECEIVED, ShipmentStatus.CLOSED):
            raise _already_received(locked)

        remaining = in_transit_by_lot(locked)
        shipped_lots = set(locked.lines.values_list("lot_id", flat=True))
        counted: dict[Lot, list[int]] = {}
        for line in lines:
            total = counted.setdefault(line.lot, [0, 0])
            total[0] += line.received
            total[1] += line.damaged

        transit = virtual_location(VirtualRole.IN_TRANSIT)
        loss = virtual_location(VirtualRole.LOSS)
        adjustment = virtual_location(VirtualRole.ADJUSTMENT)
        destination = locked.destination
        entries: list[EntrySpec] = []
        found: list[tuple[str, Lot, int]] = []  # discrepancies: (kind, lot, quantity)

        def move(source, target, lot, quantity, reason=""):
            if quantity:
                entries.append(EntrySpec(location=source, lot=lot, quantity=-quantity, reason=reason))
                entries.append(EntrySpec(location=target, lot=lot, quantity=quantity, reason=reason))

        for lot, (good, damaged) in counted.items():
            left = remaining.get(lot.pk, 0)
            good_in = min(good, left)
            damaged_in = min(damaged, left - good_in)
            remaining[lot.pk] = left - good_in - damaged_in
            move(transit, destination, lot, good_in)
            move(transit, loss, lot, damaged_in, EntryReason.DAMAGED)
            move(adjustment, destination, lot, good - good_in)
            move(adjustment, loss, lot, damaged - damaged_in, EntryReason.DAMAGED)
            beyond = good - good_in + damaged - damaged_in
            if lot.pk not in shipped_lots:
                found.append((DiscrepancyKind.OTHER_LOT, lot, good + damaged))
            elif beyond:
                found.append((DiscrepancyKind.OVER, lot, beyond))
            if damaged:
                found.append((DiscrepancyKind.DAMAGED, lot, damaged))

        ordinal = locked.receipts.count() + 1
        movement = movement_post(
            kind=MovementKind.RECEIPT,
            entries=entries,
            business_date=business_date,
            document=f"SBBM-{locked.number.removeprefix('SBBK-')}-{ordinal}",
            actor=actor,
            note=note,
        )
        try:
            with transaction.atomic():
                receipt = Receipt.objects.create(
                    shipment=locked,
                    client_uuid=client_uuid,
                    request_hash=fingerprint,
                    received_by=actor,
                    business_date=business_date,
                    note=note,
                    movement=movement,
                )
        except IntegrityError:
            # The same UUID sent for another shipment at the same instant: the other
            # request holds another shipment's lock, so only the UNIQUE index sees it.
            raise ReceiptConflict(
                _("This receipt number (client UUID) was already used for a different receipt.")
            ) from None
        ReceiptLine.objects.bulk_create(
            ReceiptLine(receipt=receipt, product=lot.product, lot=lot, received=good, damaged=damaged)
            for lot, (good, damaged) in counted.items()
        )
        # Short: what this shipment still has in transit. Earlier open shorts of the
        # same lot are replaced by the new figure (the late goods have arrived).
        open_shorts = Discrepancy.objects.filter(
            shipment=locked, kind=DiscrepancyKind.SHORT, status=DiscrepancyStatus.OPEN
        )
        short_before = defaultdict(int)
        for short in open_shorts:
            short_before[short.lot_id] += short.quantity
        lots = {lot.pk: lot for lot in Lot.objects.filter(pk__in=remaining.keys())}
        for lot_id, left in remaining.items():
            if left != short_before.get(lot_id, 0):
                open_shorts.filter(lot_id=lot_id).update(
                    status=DiscrepancyStatus.RESOLVED,
                    resolution=Resolution.RECEIVED,
                    resolved_at=timezone.now(),
                    resolved_by=actor,
                )
                if left > 0:
                    found.append((DiscrepancyKind.SHORT, lots[lot_id], left))
        # An overdue shipment has arrived: what is still missing is a short from now on.
        Discrepancy.objects.filter(shipment=locked, kind=DiscrepancyKind.OVERDUE, status=DiscrepancyStatus.OPEN).update(
            status=DiscrepancyStatus.RESOLVED,
            resolution=Resolution.RECEIVED,
            resolved_at=timezone.now(),
            resolved_by=actor,
        )
        Discrepancy.objects.bulk_create(
            Discrepancy(shipment=locked, receipt=receipt, kind=kind, product_id=lot.product_id, lot=lot, quantity=qty)
            for kind, lot, qty in found
        )
        locked.status = ShipmentStatus.RECEIVED if not any(remaining.values()) else ShipmentStatus.PARTIALLY_RECEIVED
        locked.save(update_fields=["status"])
        # Imported here: the discrepancy service builds on this module.
        from inventory.services.discrepancies import shipment_close_if_settled

        shipment_close_if_settled(locked)
    return ReceiptResult(receipt=receipt, created=True)
