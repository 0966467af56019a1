"""Shipments: create a draft SBBK, then dispatch it (stock leaves for "in transit").

``shipment_create`` checks the route and the lines and numbers the draft
(``SBBK-<origin>-<year>-<000001>``, gap-free per origin and year: the counter row is
locked by the transaction that uses it and rolls back with it).

``shipment_dispatch`` locks the draft, allocates lots first-expiry-first-out where
none was chosen (never an expired lot, nor one that expires before the expected
arrival), posts one movement origin → in transit through ``movement_post``, and
gives the shipment its unguessable token. Lots that expire soon after arrival are
allowed but reported back as warnings.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.errors import InvalidShipment, LineShortage, ShipmentShortage, ShipmentStateError
from inventory.models import (
    Location,
    Lot,
    MovementKind,
    Product,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    StockBalance,
    VirtualRole,
)
from inventory.qr import new_shipment_token
from inventory.services.lead_times import expected_arrival
from inventory.services.posting import EntrySpec, movement_post, virtual_location

#: a line above this is a typing error, not a shipment (the largest BKKBN lots are ~10^6)
MAX_LINE_QUANTITY = 10_000_000


#: days from dispatch to expected arrival, by the destination's level (issue 4 makes
#: this configurable per route level)
@dataclass(frozen=True)
class LineSpec:
    product: Product
    quantity: int
    lot: Lot | None = None


@dataclass
class DispatchResult:
    shipment: Shipment
    warnings: list[str] = field(default_factory=list)


def _route_allowed(origin: Location, destination: Location) -> bool:
    """Down the tree (to a child), back up (a return to the parent), or between siblings."""
    return (
        destination.parent_id == origin.pk
        or origin.parent_id == destination.pk
        or (origin.parent_id is not None and origin.parent_id == destination.parent_id)
    )


def _validate_lines(lines: Sequence[LineSpec], today: dt.date) -> None:
    if not lines:
        raise InvalidShipment(_("A shipment needs at least one line."))
    for number, line in enumerate(lines, start=1):
        quantity = line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidShipment(_("Line %(line)d: the quantity must be a whole number.") % {"line": number})
        if quantity <= 0:
            raise InvalidShipment(_("Line %(line)d: the quantity must be greater than zero.") % {"line": number})
        if quantity > MAX_LINE_QUANTITY:
            raise InvalidShipment(
                _("Line %(line)d: %(quantity)d is more than %(max)d; check the quantity.")
                % {"line": number, "quantity": quantity, "max": MAX_LINE_QUANTITY}
            )
        if not line.product.is_active:
            raise InvalidShipment(
                _("Line %(line)d: product %(product)s is inactive.") % {"line": number, "product": line.product.code}
            )
        if line.lot is not None:
            if line.lot.product_id != line.product.pk:
                raise InvalidShipment(
                    _("Line %(line)d: lot %(batch)s is not a lot of %(product)s.")
                    % {"line": number, "batch": line.lot.batch, "product": line.product.code}
                )
            if line.lot.expiry <= today:
                raise InvalidShipment(
                    _("Line %(line)d: lot %(batch)s expired on %(expiry)s.")
                    % {"line": number, "batch": line.lot.batch, "expiry": line.lot.expiry.isoformat()}
                )


def _next_number(origin: Location, year: int) -> str:
    """The next gap-free SBBK number of ``origin`` in ``year`` (locks the counter row)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inventory_shipmentcounter (origin_id, year, last) VALUES (%s, %s, 0)"
            " ON CONFLICT (origin_id, year) DO NOTHING",
            [origin.pk, year],
        )
        cursor.execute(
            "UPDATE inventory_shipmentcounter SET last = last + 1 WHERE origin_id = %s AND year = %s RETURNING last",
            [origin.pk, year],
        )
        (sequence,) = cursor.fetchone()
    return f"SBBK-{origin.code}-{year}-{sequence:06d}"


def shipment_create(
    *,
    origin: Location,
    destination: Location,
    lines: Sequence[LineSpec],
    actor,
    note: str = "",
    _return_for: Shipment | None = None,
) -> Shipment:
    """Create a numbered draft shipment from ``origin`` (the actor's own location) to ``destination``.

    ``_return_for`` is internal (``inventory.services.discrepancies``): a return of that
    shipment's goods, created on behalf of ``origin`` by whoever resolved its
    discrepancy (the destination's staff, or a manager above it); it is recorded in
    ``Shipment.returns``.
    """
    today = timezone.localdate()
    if _return_for is None and not actor.is_superuser and actor.location_id != origin.pk:
        raise InvalidShipment(_("You can only create shipments from your own location."))
    if origin.is_virtual or destination.is_virtual:
        raise InvalidShipment(_("Shipments go between real locations."))
    if not destination.is_active:
        raise InvalidShipment(_("%(location)s is inactive.") % {"location": destination})
    if origin.pk == destination.pk:
        raise InvalidShipment(_("The origin and the destination are the same."))
    if not _route_allowed(origin, destination):
        raise InvalidShipment(
            _("%(origin)s cannot ship to %(destination)s: ship down the tree, back to the parent, or to a sibling.")
            % {"origin": origin, "destination": destination}
        )
    _validate_lines(lines, today)
    with transaction.atomic():
        shipment = Shipment.objects.create(
            number=_next_number(origin, today.year),
            origin=origin,
            destination=destination,
            created_by=actor,
            note=note,
            returns=_return_for,
        )
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, product=line.product, lot=line.lot, quantity=line.quantity)
            for line in lines
        )
    return shipment


def _allocate(shipment: Shipment, lines: list[ShipmentLine], usable_after: dt.date) -> list[tuple[ShipmentLine, Lot]]:
    """Lots for every line, first-expiry-first-out where none was chosen.

    Returns (line, lot) pairs; a line without a lot may be split over several lots
    (new lines are created for the extra lots). Raises ShipmentShortage naming each
    line that cannot be covered by lots that are still usable at ``usable_after``.
    """
    # Lock the origin's balance rows of these products first, in the posting
    # service's order (location, lot), so concurrent dispatches from one warehouse
    # allocate one after the other from what is really left, instead of both
    # choosing the same first-expiring lot and one failing at posting.
    list(
        StockBalance.objects.select_for_update(of=("self",))
        .filter(location=shipment.origin, product__in={line.product_id for line in lines})
        .order_by("lot_id")
        .values_list("pk", flat=True)
    )
    balances = (
        StockBalance.objects.filter(location=shipment.origin, quantity__gt=0, lot__expiry__gt=usable_after)
        .select_related("lot")
        .order_by("lot__expiry", "lot__batch", "lot_id")
    )
    available: dict[int, list[list]] = defaultdict(list)  # product id → [[lot, quantity left], …]
    for balance in balances:
        available[balance.product_id].append([balance.lot, balance.quantity])
    by_lot = {entry[0].pk: entry for entries in available.values() for entry in entries}

    pairs: list[tuple[ShipmentLine, Lot]] = []
    shortages: list[LineShortage] = []
    # Lines with a chosen lot first, so FEFO does not take what they asked for.
    for line in sorted(lines, key=lambda ln: ln.lot_id is None):
        if line.lot_id is not None:
            entry = by_lot.get(line.lot_id)
            left = entry[1] if entry else 0
            if left < line.quantity:
                shortages.append(LineShortage(f"{line.product.code} ({line.lot.batch})", line.quantity, left))
            else:
                entry[1] -= line.quantity
                pairs.append((line, line.lot))
            continue
        need = line.quantity
        total = sum(entry[1] for entry in available[line.product_id])
        if total < need:
            shortages.append(LineShortage(line.product.code, need, total))
            continue
        first = True
        for entry in available[line.product_id]:
            if need == 0:
                break
            take = min(need, entry[1])
            if take == 0:
                continue
            entry[1] -= take
            need -= take
            if first:
                line.lot, line.quantity, first = entry[0], take, False
                line.save(update_fields=["lot", "quantity"])
                pairs.append((line, entry[0]))
            else:
                extra = ShipmentLine.objects.create(
                    shipment=shipment, product=line.product, lot=entry[0], quantity=take
                )
                pairs.append((extra, entry[0]))
    if shortages:
        raise ShipmentShortage(shortages)
    return pairs


def shipment_dispatch(
    *, shipment: Shipment, actor, business_date: dt.date | None = None, _as_return: bool = False
) -> DispatchResult:
    """Dispatch a draft: allocate lots, post origin → in transit, issue the token.

    ``_as_return`` is internal: a return draft (``Shipment.returns`` set) made by
    ``inventory.services.discrepancies`` may be dispatched by the one who resolved
    the discrepancy, on behalf of the return's origin.
    """
    business_date = business_date or timezone.localdate()
    warning_days = settings.ALOKON_EXPIRY_WARNING_DAYS
    with transaction.atomic():
        # Lock the draft: a second dispatch of the same shipment waits here, then
        # finds it dispatched.
        locked = (
            Shipment.objects.select_for_update(of=("self",)).select_related("origin", "destination").get(pk=shipment.pk)
        )
        if locked.status != ShipmentStatus.DRAFT:
            raise ShipmentStateError(_("Shipment %(number)s was already dispatched.") % {"number": locked.number})
        on_behalf = _as_return and locked.returns_id is not None
        if not on_behalf and not actor.is_superuser and actor.location_id != locked.origin_id:
            raise InvalidShipment(_("Only staff of the origin can dispatch this shipment."))
        expected = expected_arrival(locked.origin, locked.destination, business_date)
        lines = list(locked.lines.select_related("product", "lot"))
        pairs = _allocate(locked, lines, usable_after=expected)

        transit = virtual_location(VirtualRole.IN_TRANSIT)
        entries: list[EntrySpec] = []
        for line, lot in pairs:
            entries.append(EntrySpec(location=locked.origin, lot=lot, quantity=-line.quantity))
            entries.append(EntrySpec(location=transit, lot=lot, quantity=line.quantity))
        movement = movement_post(
            kind=MovementKind.DISPATCH,
            entries=entries,
            business_date=business_date,
            document=locked.number,
            actor=actor,
        )
        locked.status = ShipmentStatus.DISPATCHED
        locked.token = new_shipment_token()
        locked.dispatched_at = timezone.now()
        locked.dispatched_by = actor
        locked.dispatch_date = business_date
        locked.expected_arrival = expected
        locked.dispatch_movement = movement
        locked.save()

    warnings = [
        _("Lot %(batch)s of %(product)s expires on %(expiry)s, within %(days)d days of the expected arrival.")
        % {"batch": lot.batch, "product": line.product.code, "expiry": lot.expiry.isoformat(), "days": warning_days}
        for line, lot in pairs
        if lot.expiry <= expected + dt.timedelta(days=warning_days)
    ]
    return DispatchResult(shipment=locked, warnings=warnings)
