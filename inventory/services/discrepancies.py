"""Discrepancies: resolving them, opening overdue ones, closing settled shipments.

A discrepancy is resolved once, by one of the resolutions that make sense for its
kind (``RESOLUTIONS``); each resolution posts the movement it needs through
``movement_post`` and records who, when and why on the discrepancy:

- write-off (short, overdue): in transit → loss, with the reason (lost, stolen, expired);
- late receipt (short, overdue): the missing goods came, in transit → destination;
- return (over, other lot): a return shipment destination → origin is created and
  dispatched (destination → in transit) on behalf of the destination;
- accept (over, other lot, damaged): the goods are kept as they are. For another
  lot, the lot that was shipped and never came (the short of the same product) is
  taken out of transit into the count-adjustment location, where the found lot
  came from at the receipt, and the mix-up is recorded on both records; for over
  and damaged nothing moves (the receipt already posted it).

A resolution for part of the quantity resolves the record for that part and opens
a new record for the rest (``split_from``), in the same transaction; the trigger
of migration 0012 refuses any change to a resolved record, so a discrepancy cannot
be resolved twice even around this code.

Locks: the shipment row first, then the discrepancy (``select_for_update`` of
themselves only). Every resolution and every receipt of a shipment takes the
shipment's lock first, so they queue in one order and never deadlock; of two
resolutions of one record, the second finds it resolved (409 naming who and when).

A shipment whose goods are all accounted for (nothing left in transit from its own
movements) and whose discrepancies are all resolved, after someone resolved one,
closes. One that simply arrived complete stays "received".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alokon.models import Role
from alokon.text import local_datetime
from inventory.errors import DocumentConflict, InvalidDocument, NotAllowed, ScopeError
from inventory.models import (
    WRITE_OFF_REASONS,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    MovementKind,
    Resolution,
    Shipment,
    ShipmentStatus,
    VirtualRole,
)
from inventory.selectors.scope import is_unscoped, visible_locations
from inventory.selectors.shipments import SHIPMENT_MOVEMENTS_SQL
from inventory.services.posting import EntrySpec, movement_post, virtual_location
from inventory.services.receipts import in_transit_by_lot
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch

#: what may resolve each kind, in the order a form offers them
RESOLUTIONS: dict[str, tuple[str, ...]] = {
    DiscrepancyKind.SHORT: (Resolution.WRITE_OFF, Resolution.LATE_RECEIPT),
    DiscrepancyKind.OVERDUE: (Resolution.WRITE_OFF, Resolution.LATE_RECEIPT),
    DiscrepancyKind.OVER: (Resolution.ACCEPT, Resolution.RETURN),
    DiscrepancyKind.OTHER_LOT: (Resolution.ACCEPT, Resolution.RETURN),
    # The receipt already posted the damaged units to loss (reason damaged).
    DiscrepancyKind.DAMAGED: (Resolution.ACCEPT,),
}

#: resolutions that only the destination (or a manager) may record: they say what is there
DESTINATION_ONLY = (Resolution.LATE_RECEIPT, Resolution.RETURN)


# --- who may do what --------------------------------------------------------------------------


def can_see_shipment(user, shipment: Shipment) -> bool:
    if is_unscoped(user):
        return True
    return visible_locations(user).filter(pk__in=(shipment.origin_id, shipment.destination_id)).exists()


def _is_manager(user) -> bool:
    return user.is_superuser or user.role in (Role.MANAGER, Role.ADMIN)


def may_resolve(user, shipment: Shipment, resolution: str) -> bool:
    """Whether ``user`` (who can see the shipment) may record ``resolution`` on it."""
    if _is_manager(user):
        return True
    if not user.is_warehouse_staff:
        return False
    if resolution in DESTINATION_ONLY:
        return user.location_id == shipment.destination_id
    return user.location_id in (shipment.origin_id, shipment.destination_id)


def resolutions_for(user, discrepancy: Discrepancy) -> list[str]:
    """The resolutions ``user`` may choose for ``discrepancy`` now (none once it is resolved)."""
    if discrepancy.status != DiscrepancyStatus.OPEN:
        return []
    return [r for r in RESOLUTIONS[discrepancy.kind] if may_resolve(user, discrepancy.shipment, r)]


def _labels(resolutions) -> str:
    return ", ".join(f"{Resolution(r).label} ({r})" for r in resolutions)


def _who(user) -> str:
    return user.display_name if user is not None else _("the system")


# --- resolving --------------------------------------------------------------------------------


def _document(shipment: Shipment, discrepancy: Discrepancy) -> str:
    return f"{shipment.number}-D{discrepancy.pk}"


def _resolve_record(record: Discrepancy, quantity: int, **fields) -> Discrepancy | None:
    """Resolve ``record`` for ``quantity``; the rest, if any, stays open as a new record.

    One UPDATE while the row is open (the trigger refuses any change after), guarded by
    the status so a row resolved behind our back would update nothing. The remainder
    is inserted after it, so the one-open-overdue-per-lot index never sees two.
    """
    rest = record.quantity - quantity
    updated = Discrepancy.objects.filter(pk=record.pk, status=DiscrepancyStatus.OPEN).update(
        quantity=quantity, status=DiscrepancyStatus.RESOLVED, **fields
    )
    if updated != 1:  # pragma: no cover - the shipment lock serialises resolutions
        raise DocumentConflict(_("This discrepancy was resolved meanwhile; reload the page."))
    if not rest:
        return None
    return Discrepancy.objects.create(
        shipment_id=record.shipment_id,
        receipt_id=record.receipt_id,
        kind=record.kind,
        product_id=record.product_id,
        lot_id=record.lot_id,
        quantity=rest,
        # The remainder is as old as the problem it is part of.
        created_at=record.created_at,
        split_from=record,
    )


def _check_quantity(quantity, record: Discrepancy) -> int:
    if quantity is None:
        return record.quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidDocument(_("The quantity must be a whole number."))
    if quantity <= 0:
        raise InvalidDocument(_("The quantity must be greater than zero."))
    if quantity > record.quantity:
        raise InvalidDocument(
            _("This discrepancy is for %(quantity)d units; you cannot resolve %(requested)d.")
            % {"quantity": record.quantity, "requested": quantity}
        )
    return quantity


def _in_transit(shipment: Shipment, record: Discrepancy, quantity: int) -> None:
    left = in_transit_by_lot(shipment).get(record.lot_id, 0)
    if quantity > left:
        raise InvalidDocument(
            _("Only %(left)d units of lot %(batch)s of shipment %(number)s are still in transit.")
            % {"left": left, "batch": record.lot.batch, "number": shipment.number}
        )


def _refresh_status(shipment: Shipment) -> None:
    """After goods left transit by a resolution: received once nothing is left in transit."""
    if shipment.status not in (ShipmentStatus.DISPATCHED, ShipmentStatus.PARTIALLY_RECEIVED):
        return
    if not in_transit_by_lot(shipment):
        shipment.status = ShipmentStatus.RECEIVED
    elif (
        shipment.status == ShipmentStatus.DISPATCHED
        and shipment.discrepancies.filter(resolution=Resolution.LATE_RECEIPT).exists()
    ):
        shipment.status = ShipmentStatus.PARTIALLY_RECEIVED
    else:
        return
    shipment.save(update_fields=["status"])


@dataclass
class ResolveResult:
    discrepancy: Discrepancy
    #: the open record for what was not resolved (a partial resolution), if any
    remainder: Discrepancy | None = None
    #: other records resolved with it (the shorts an accepted other lot stood in for)
    related: list[Discrepancy] = field(default_factory=list)


def discrepancy_resolve(
    *,
    discrepancy: Discrepancy,
    resolution: str,
    actor,
    quantity: int | None = None,
    reason: str = "",
    note: str = "",
    business_date: dt.date | None = None,
) -> ResolveResult:
    """Resolve ``discrepancy`` (or ``quantity`` of it) by ``resolution``; post what it moves."""
    business_date = business_date or timezone.localdate()
    with transaction.atomic():
        shipment = (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("origin", "destination")
            .get(pk=discrepancy.shipment_id)
        )
        if not can_see_shipment(actor, shipment):
            raise ScopeError(_("Discrepancy %(id)s was not found.") % {"id": discrepancy.pk})
        if not (_is_manager(actor) or actor.is_warehouse_staff):
            raise NotAllowed(_("Only warehouse staff and managers resolve discrepancies."))
        record = (
            Discrepancy.objects.select_for_update(of=("self",))
            .select_related("lot", "product", "resolved_by")
            .get(pk=discrepancy.pk)
        )
        if record.status != DiscrepancyStatus.OPEN:
            raise DocumentConflict(
                _("This discrepancy was already resolved (%(resolution)s) by %(user)s on %(when)s.")
                % {
                    "resolution": record.get_resolution_display(),
                    "user": _who(record.resolved_by),
                    "when": local_datetime(record.resolved_at),
                }
            )
        allowed = RESOLUTIONS[record.kind]
        if resolution not in allowed:
            raise InvalidDocument(
                _("A %(kind)s discrepancy can be resolved by: %(allowed)s.")
                % {"kind": record.get_kind_display().lower(), "allowed": _labels(allowed)}
            )
        if not may_resolve(actor, shipment, resolution):
            if resolution in DESTINATION_ONLY:
                raise NotAllowed(
                    _("Only staff of %(destination)s or a manager can record a %(resolution)s.")
                    % {"destination": shipment.destination.name, "resolution": Resolution(resolution).label.lower()}
                )
            raise NotAllowed(_("Only staff of the shipment's origin or destination, or a manager, resolve it."))
        quantity = _check_quantity(quantity, record)
        reason = reason or ""
        if resolution == Resolution.WRITE_OFF:
            if reason not in WRITE_OFF_REASONS:
                raise InvalidDocument(
                    _("A write-off needs a reason: lost, stolen or expired (in transit).")
                    if not reason
                    else _("%(reason)s is not a reason for a write-off: lost, stolen or expired.") % {"reason": reason}
                )
        else:
            reason = ""

        fields = {
            "resolution": resolution,
            "resolution_reason": reason,
            "resolution_note": note,
            "resolved_at": timezone.now(),
            "resolved_by": actor,
        }
        related: list[Discrepancy] = []
        transit = virtual_location(VirtualRole.IN_TRANSIT)
        if resolution in (Resolution.WRITE_OFF, Resolution.LATE_RECEIPT):
            _in_transit(shipment, record, quantity)
            target = virtual_location(VirtualRole.LOSS) if resolution == Resolution.WRITE_OFF else shipment.destination
            fields["resolution_movement"] = movement_post(
                kind=MovementKind.LOSS if resolution == Resolution.WRITE_OFF else MovementKind.RECEIPT,
                entries=[
                    EntrySpec(location=transit, lot=record.lot, quantity=-quantity, reason=reason),
                    EntrySpec(location=target, lot=record.lot, quantity=quantity, reason=reason),
                ],
                business_date=business_date,
                document=_document(shipment, record),
                actor=actor,
                note=note,
            )
        elif resolution == Resolution.RETURN:
            fields["return_shipment"] = _return(shipment, record, quantity, actor, note, business_date)
        elif record.kind == DiscrepancyKind.OTHER_LOT:
            movement, mixup, related = _accept_other_lot(shipment, record, quantity, actor, note, business_date)
            fields["resolution_movement"] = movement
            fields["mixup_lot"] = mixup
        remainder = _resolve_record(record, quantity, **fields)

        _refresh_status(shipment)
        shipment_close_if_settled(shipment)
        record.refresh_from_db()
    return ResolveResult(discrepancy=record, remainder=remainder, related=related)


def _return(shipment: Shipment, record: Discrepancy, quantity: int, actor, note: str, business_date) -> Shipment:
    """Send the extra goods back: a return shipment destination → origin, dispatched now."""
    draft = shipment_create(
        origin=shipment.destination,
        destination=shipment.origin,
        lines=[LineSpec(product=record.product, quantity=quantity, lot=record.lot)],
        actor=actor,
        note=note
        or _("Return of %(kind)s goods of %(number)s.")
        % {"kind": record.get_kind_display().lower(), "number": shipment.number},
        _return_for=shipment,
    )
    return shipment_dispatch(shipment=draft, actor=actor, business_date=business_date, _as_return=True).shipment


def _accept_other_lot(shipment: Shipment, record: Discrepancy, quantity: int, actor, note: str, business_date):
    """Keep the lot found in place of the shipped one.

    The found lot entered from the count-adjustment location at the receipt; the
    shipped lot of the same product is still in transit as a short. Accepting
    takes up to ``quantity`` of that shipped lot out of transit into the adjustment
    location, so the mix-up nets out there, and resolves those shorts (``accept``,
    the found lot as their mix-up). Without an open short of the product nothing moves.
    """
    shorts = list(
        Discrepancy.objects.select_for_update(of=("self",))
        .filter(
            shipment=shipment, kind=DiscrepancyKind.SHORT, status=DiscrepancyStatus.OPEN, product_id=record.product_id
        )
        .select_related("lot")
        .order_by("lot__expiry", "id")
    )
    in_transit = in_transit_by_lot(shipment)
    wanted = quantity
    takes: list[tuple[Discrepancy, int]] = []
    for short in shorts:
        take = min(wanted, short.quantity, in_transit.get(short.lot_id, 0))
        if take > 0:
            takes.append((short, take))
            in_transit[short.lot_id] -= take
            wanted -= take
    if not takes:
        return None, None, []
    transit = virtual_location(VirtualRole.IN_TRANSIT)
    adjustment = virtual_location(VirtualRole.ADJUSTMENT)
    entries = []
    for short, take in takes:
        entries.append(EntrySpec(location=transit, lot=short.lot, quantity=-take))
        entries.append(EntrySpec(location=adjustment, lot=short.lot, quantity=take))
    movement = movement_post(
        kind=MovementKind.ADJUSTMENT,
        entries=entries,
        business_date=business_date,
        document=_document(shipment, record),
        actor=actor,
        note=note,
    )
    now = timezone.now()
    related = []
    for short, take in takes:
        _resolve_record(
            short,
            take,
            resolution=Resolution.ACCEPT,
            resolution_note=note or _("Lot %(batch)s arrived in its place.") % {"batch": record.lot.batch},
            resolved_at=now,
            resolved_by=actor,
            resolution_movement=movement,
            mixup_lot=record.lot,
        )
        short.refresh_from_db()
        related.append(short)
    return movement, takes[0][0].lot, related


# --- closing ----------------------------------------------------------------------------------


def shipment_close_if_settled(shipment: Shipment) -> bool:
    """Close ``shipment`` (locked by the caller) if it is settled; return whether it closed.

    Settled: nothing of its own left in transit, no open discrepancy, and at least one
    discrepancy resolved by someone (write-off, late receipt, return, accept). A
    shipment that arrived complete, or whose shorts a later receipt brought, stays
    received: there was nothing to reconcile.
    """
    if shipment.status not in (ShipmentStatus.PARTIALLY_RECEIVED, ShipmentStatus.RECEIVED):
        return False
    discrepancies = Discrepancy.objects.filter(shipment=shipment)
    if discrepancies.filter(status=DiscrepancyStatus.OPEN).exists():
        return False
    if not discrepancies.exclude(resolution__in=("", Resolution.RECEIVED)).exists():
        return False
    if in_transit_by_lot(shipment):
        return False
    shipment.status = ShipmentStatus.CLOSED
    shipment.closed_at = timezone.now()
    shipment.save(update_fields=["status", "closed_at"])
    return True


# --- overdue ----------------------------------------------------------------------------------

# One statement: for every dispatched shipment past its expected arrival, what each lot
# still has in transit from the shipment's own movements, inserted as an open overdue
# record unless one is already open for that (shipment, lot). The partial unique index
# discrepancy_one_open_overdue is the conflict target, so two runs at once (a retried
# task beside the next day's) open each record once.
_OPEN_OVERDUE = f"""
WITH due AS (
    SELECT s.id AS shipment_id, e.lot_id, sum(e.quantity) AS quantity
      FROM inventory_shipment s
      JOIN {SHIPMENT_MOVEMENTS_SQL} ON m.movement_id IS NOT NULL
      JOIN inventory_ledgerentry e ON e.movement_id = m.movement_id AND e.location_id = %(transit)s
     WHERE s.status = 'dispatched' AND s.expected_arrival < %(today)s
     GROUP BY s.id, e.lot_id
    HAVING sum(e.quantity) > 0
)
INSERT INTO inventory_discrepancy
       (shipment_id, receipt_id, kind, product_id, lot_id, quantity, status, created_at,
        resolution, resolution_reason, resolution_note)
SELECT due.shipment_id, NULL, 'overdue', lot.product_id, due.lot_id, due.quantity, 'open', %(now)s, '', '', ''
  FROM due JOIN inventory_lot lot ON lot.id = due.lot_id
 ORDER BY due.shipment_id, due.lot_id
    ON CONFLICT (shipment_id, lot_id) WHERE kind = 'overdue' AND status = 'open' DO NOTHING
RETURNING id
"""


@dataclass
class OverdueResult:
    opened: list[Discrepancy]

    @property
    def count(self) -> int:
        return len(self.opened)

    @property
    def shipments(self) -> int:
        return len({d.shipment_id for d in self.opened})


def open_overdue_discrepancies(today: dt.date | None = None) -> OverdueResult:
    """Open an overdue record per (shipment, lot) still in transit past its expected arrival."""
    today = today or timezone.localdate()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _OPEN_OVERDUE,
            {"transit": virtual_location(VirtualRole.IN_TRANSIT).pk, "today": today, "now": timezone.now()},
        )
        ids = [row[0] for row in cursor.fetchall()]
    opened = list(
        Discrepancy.objects.filter(pk__in=ids)
        .select_related("shipment", "product", "lot")
        .order_by("shipment__number", "lot__batch")
    )
    return OverdueResult(opened=opened)
