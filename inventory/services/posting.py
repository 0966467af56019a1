"""The one write path of the stock ledger.

``movement_post`` is the only function that writes ledger entries and stock
balances; every use case (opening balances, dispatch, receipt, dispensing, counts,
corrections) calls it inside its own transaction.

How a posting stays correct under concurrency:

1. Lock, then check, then write. The balance rows the movement touches are locked
   with ``SELECT … FOR UPDATE`` in one fixed order (location id, lot id), so two
   postings that touch the same rows queue instead of deadlocking; rows that will
   receive stock for the first time are created first (``INSERT … ON CONFLICT DO
   NOTHING``, in the same order).
2. Availability is checked against the locked quantities; a shortage raises
   ``InsufficientStock`` naming every short line, and nothing is written.
3. Balances move by atomic increment in SQL (``quantity = quantity + delta``),
   never read-modify-write in Python; the CHECK ``quantity >= 0`` is the last guard.
4. Each entry at a real location stores the balance right after it. Entries get
   their ids after the lock is held, so for one (location, lot) id order is
   posting order and the chain ``balance_after = previous + quantity`` holds. A
   backdated entry carries its business date but never rewrites later rows.

Virtual locations (supplier, in transit, dispensed, loss, adjustment) have no
balance rows: their entries carry no ``balance_after`` and lock nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from inventory.errors import InsufficientStock, InvalidMovement, Shortage
from inventory.models import LedgerEntry, Location, Lot, Movement, MovementKind, VirtualRole
from inventory.reference import VIRTUAL_LOCATIONS


@dataclass(frozen=True)
class EntrySpec:
    """One signed quantity of one lot at one location (positive = stock arrives)."""

    location: Location
    lot: Lot
    quantity: int


def virtual_location(role: VirtualRole | str) -> Location:
    """The virtual location playing ``role`` (created by migration 0003)."""
    try:
        return Location.objects.get(virtual_role=role)
    except Location.DoesNotExist:
        # Only after a test flush or a hand-emptied table: recreate, do not fail.
        code, name = VIRTUAL_LOCATIONS[str(role)]
        location, _created = Location.objects.get_or_create(
            virtual_role=role, defaults={"code": code, "name": name, "level": "virtual"}
        )
        return location


def transfer(*, source: Location, destination: Location, lot: Lot, quantity: int) -> list[EntrySpec]:
    """The two entries that move ``quantity`` of ``lot`` from ``source`` to ``destination``."""
    return [
        EntrySpec(location=source, lot=lot, quantity=-quantity),
        EntrySpec(location=destination, lot=lot, quantity=quantity),
    ]


def _validate(entries: Sequence[EntrySpec], business_date: dt.date, document: str) -> None:
    if len(entries) < 2:
        raise InvalidMovement(
            _("A movement needs at least two entries: stock leaves one place and arrives at another.")
        )
    if not document:
        raise InvalidMovement(_("A movement needs a document number."))
    if business_date > timezone.localdate():
        raise InvalidMovement(_("The date %(date)s is in the future.") % {"date": business_date.isoformat()})
    net: dict[int, int] = defaultdict(int)
    for entry in entries:
        if isinstance(entry.quantity, bool) or not isinstance(entry.quantity, int):
            raise InvalidMovement(_("Quantities must be whole numbers."))
        if entry.quantity == 0:
            raise InvalidMovement(_("A quantity of zero moves nothing; leave the line out."))
        if entry.location.pk is None or entry.lot.pk is None:
            raise InvalidMovement(_("Every entry needs a saved location and lot."))
        if entry.quantity > 0 and not entry.location.is_active and not entry.location.is_virtual:
            raise InvalidMovement(
                _("%(location)s is inactive and cannot receive stock.") % {"location": entry.location}
            )
        net[entry.lot.pk] += entry.quantity
    unbalanced = [lot_id for lot_id, total in net.items() if total != 0]
    if unbalanced:
        raise InvalidMovement(
            ngettext(
                "The entries of a movement must net to zero for every lot; they do not for %(count)d lot.",
                "The entries of a movement must net to zero for every lot; they do not for %(count)d lots.",
                len(unbalanced),
            )
            % {"count": len(unbalanced)}
        )


def movement_post(
    *,
    kind: MovementKind | str,
    entries: Sequence[EntrySpec],
    business_date: dt.date,
    document: str,
    actor=None,
    note: str = "",
    reverses: Movement | None = None,
) -> Movement:
    """Post one movement: write its entries and move the balances, or raise and write nothing."""
    _validate(entries, business_date, document)

    # Net change per real (location, lot), in the fixed lock order.
    deltas: dict[tuple[int, int], int] = defaultdict(int)
    products: dict[tuple[int, int], int] = {}
    for entry in entries:
        if not entry.location.is_virtual:
            key = (entry.location.pk, entry.lot.pk)
            deltas[key] += entry.quantity
            products[key] = entry.lot.product_id
    keys = sorted(deltas)

    with transaction.atomic():
        finals: dict[tuple[int, int], int] = {}
        if keys:
            finals = _move_balances(keys, deltas, products, entries)

        recorded_at = timezone.now()
        movement = Movement.objects.create(
            kind=kind,
            document=document,
            business_date=business_date,
            recorded_at=recorded_at,
            recorded_by=actor,
            note=note,
            reverses=reverses,
        )
        # Running balance per (location, lot) within this movement, ending at the
        # final balance the UPDATE returned.
        running = {key: finals[key] - deltas[key] for key in keys}
        rows = []
        for entry in entries:
            balance_after = None
            if not entry.location.is_virtual:
                key = (entry.location.pk, entry.lot.pk)
                running[key] += entry.quantity
                balance_after = running[key]
            rows.append(
                LedgerEntry(
                    movement=movement,
                    location_id=entry.location.pk,
                    lot_id=entry.lot.pk,
                    product_id=entry.lot.product_id,
                    quantity=entry.quantity,
                    kind=kind,
                    business_date=business_date,
                    recorded_at=recorded_at,
                    recorded_by=actor,
                    balance_after=balance_after,
                )
            )
        LedgerEntry.objects.bulk_create(rows)
    return movement


def _move_balances(keys, deltas, products, entries) -> dict[tuple[int, int], int]:
    """Lock, check and update the balance rows of ``keys``; return the new quantities."""
    location_ids = [k[0] for k in keys]
    lot_ids = [k[1] for k in keys]
    with connection.cursor() as cursor:
        incoming = [k for k in keys if deltas[k] > 0]
        if incoming:
            cursor.execute(
                """
                INSERT INTO inventory_stockbalance (location_id, lot_id, product_id, quantity, updated_at)
                SELECT t.location_id, t.lot_id, t.product_id, 0, now()
                  FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS t(location_id, lot_id, product_id)
                ON CONFLICT (location_id, lot_id) DO NOTHING
                """,
                [[k[0] for k in incoming], [k[1] for k in incoming], [products[k] for k in incoming]],
            )
        cursor.execute(
            """
            SELECT b.location_id, b.lot_id, b.quantity
              FROM inventory_stockbalance b
              JOIN unnest(%s::bigint[], %s::bigint[]) AS t(location_id, lot_id)
                ON b.location_id = t.location_id AND b.lot_id = t.lot_id
             ORDER BY b.location_id, b.lot_id
               FOR UPDATE OF b
            """,
            [location_ids, lot_ids],
        )
        available = {(loc, lot): qty for loc, lot, qty in cursor.fetchall()}

        short_keys = [k for k in keys if available.get(k, 0) + deltas[k] < 0]
        if short_keys:
            raise InsufficientStock(_shortages(short_keys, available, deltas, entries))

        cursor.execute(
            """
            UPDATE inventory_stockbalance b
               SET quantity = b.quantity + t.delta, updated_at = now()
              FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS t(location_id, lot_id, delta)
             WHERE b.location_id = t.location_id AND b.lot_id = t.lot_id
            RETURNING b.location_id, b.lot_id, b.quantity
            """,
            [location_ids, lot_ids, [deltas[k] for k in keys]],
        )
        return {(loc, lot): qty for loc, lot, qty in cursor.fetchall()}


def _shortages(short_keys, available, deltas, entries) -> list[Shortage]:
    objects = {(e.location.pk, e.lot.pk): e for e in entries}
    result = []
    for key in short_keys:
        entry = objects[key]
        result.append(
            Shortage(
                location_code=entry.location.code,
                location_name=entry.location.name,
                product_code=entry.lot.product.code,
                batch=entry.lot.batch,
                available=available.get(key, 0),
                requested=-deltas[key],
            )
        )
    return result


def movement_reverse(*, movement: Movement, actor, business_date: dt.date | None = None, note: str = "") -> Movement:
    """Correct a mistake: post the opposite of ``movement`` (a movement is reversed once)."""
    with transaction.atomic():
        if Movement.objects.filter(reverses=movement).exists():
            raise InvalidMovement(
                _("Movement %(document)s has already been reversed.") % {"document": movement.document}
            )
        specs = [
            EntrySpec(location=e.location, lot=e.lot, quantity=-e.quantity)
            for e in movement.entries.select_related("location", "lot__product").order_by("id")
        ]
        return movement_post(
            kind=MovementKind.REVERSAL,
            entries=specs,
            business_date=business_date or timezone.localdate(),
            document=movement.document,
            actor=actor,
            note=note or _("Reversal of %(document)s") % {"document": movement.document},
            reverses=movement,
        )
