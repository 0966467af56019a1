"""The one write path of the stock ledger.

``movement_post`` is the only function that writes ledger entries and stock
balances; every use case (opening balances, dispatch, receipt, dispensing, counts,
corrections) calls it inside its own transaction.

How a posting stays correct under concurrency:

1. Lock, then check, then write. The balance rows the movement touches are locked
   with ``SELECT … FOR UPDATE`` in one fixed order (location id, lot id), so two
   postings that touch the same rows queue instead of deadlocking. Rows that will
   receive stock for the first time are created afterwards, in the same order.
2. Availability is checked against the locked quantities; a shortage raises
   ``InsufficientStock`` naming every short line, and nothing is written.
3. One statement then moves the balances by atomic increment in SQL
   (``quantity = quantity + delta``, never read-modify-write in Python; the CHECK
   ``quantity >= 0`` is the last guard) and inserts the movement and its entries.
4. Each entry at a real location stores the balance right after it, computed from
   the locked quantities. Entries get their ids after the lock is held, so for one
   (location, lot) id order is posting order and the chain ``balance_after =
   previous + quantity`` holds. A backdated entry carries its business date but
   never rewrites later rows.

Virtual locations (supplier, in transit, dispensed, loss, adjustment) have no
balance rows: their entries carry no ``balance_after`` and lock nothing.

The SQL is in ``posting_sql``; a posting is two round trips and a commit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from inventory.errors import InsufficientStock, InvalidMovement, Shortage
from inventory.models import EntryReason, Location, Lot, Movement, MovementKind, VirtualRole
from inventory.reference import VIRTUAL_LOCATIONS
from inventory.services import posting_sql
from inventory.services.alert_wakeup import wake_alert_worker


@dataclass(frozen=True)
class EntrySpec:
    """One signed quantity of one lot at one location (positive = stock arrives)."""

    location: Location
    lot: Lot
    quantity: int
    reason: str = ""  # an EntryReason, for units going to loss or adjustment


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
        if entry.reason not in EntryReason.values and entry.reason != "":
            raise InvalidMovement(_("Unknown reason %(reason)s.") % {"reason": entry.reason})
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
    recorded_at = timezone.now()

    with transaction.atomic():
        cursor = _cursor()
        available = _lock(cursor, keys, deltas, products, recorded_at)
        short = [k for k in keys if available.get(k, 0) + deltas[k] < 0]
        if short:
            raise InsufficientStock(_shortages(short, available, deltas, entries))

        # The rows are locked, so each entry's balance-after is known before writing:
        # the locked quantity plus this movement's entries so far, in entry order.
        running = dict(available)
        rows = []
        for entry in entries:
            after = None
            if not entry.location.is_virtual:
                key = (entry.location.pk, entry.lot.pk)
                running[key] += entry.quantity
                after = running[key]
            rows.append((entry.location.pk, entry.lot.pk, entry.lot.product_id, entry.quantity, after, entry.reason))
        cursor.execute(
            posting_sql.WRITE,
            posting_sql.write_params(
                now=recorded_at,
                deltas={k: deltas[k] for k in keys},
                kind=str(kind),
                document=document,
                date=business_date,
                actor_id=actor.pk if actor is not None else None,
                note=note,
                reverses_id=reverses.pk if reverses is not None else None,
                rows=rows,
            ),
        )
        movement_id, balances_moved, entries_written, newly_queued = cursor.fetchone()
        if balances_moved != len(keys) or entries_written != len(entries):  # pragma: no cover - locked rows
            raise InvalidMovement(_("The stock changed while it was being posted; please try again."))
        if newly_queued and not _wake_pending():
            # A location that was quiet is now queued for alert computation: wake the
            # worker after commit (never needed for correctness: a periodic task
            # picks up anything queued, so a broker that is down loses nothing).
            # Once per transaction: a bulk load of a thousand postings sends one message.
            transaction.on_commit(wake_alert_worker, robust=True)

    movement = Movement(
        id=movement_id,
        kind=kind,
        document=document,
        business_date=business_date,
        recorded_at=recorded_at,
        recorded_by=actor,
        note=note,
        reverses=reverses,
    )
    movement._state.adding = False
    movement._state.db = connection.alias
    return movement


def _wake_pending() -> bool:
    """Whether this transaction already has the wake-up registered (Django keeps the
    on-commit callbacks of the current transaction in ``connection.run_on_commit``)."""
    return any(entry[1] is wake_alert_worker for entry in getattr(connection, "run_on_commit", ()))


def _cursor() -> psycopg.Cursor:
    """A server-side-binding cursor on Django's connection (inside its transaction).

    Django's own cursors bind parameters on the client, so PostgreSQL parses and
    plans every statement anew; psycopg's plain cursor sends them separately and,
    after a few executions, as prepared statements. The posting path is the hottest
    code in the system (bench/README.md has what this gained).
    """
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _lock(cursor, keys, deltas, products, now) -> dict[tuple[int, int], int]:
    """Lock the balance rows of ``keys`` in (location, lot) order; return their quantities.

    Pairs about to receive stock for the first time get a zero row first. Existing
    rows are locked before any row is created, and rows are created in the same
    order, so two postings never wait on each other in a cycle.
    """
    if not keys:
        return {}
    cursor.execute(posting_sql.LOCK, posting_sql.lock_params(keys))
    available = {(loc, lot): qty for loc, lot, qty in cursor.fetchall()}
    missing = [k for k in keys if k not in available and deltas[k] > 0]
    if missing:
        cursor.execute(posting_sql.CREATE, posting_sql.create_params(missing, products, now))
        cursor.execute(posting_sql.LOCK, posting_sql.lock_params(missing))
        available.update({(loc, lot): qty for loc, lot, qty in cursor.fetchall()})
    return available


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
            EntrySpec(location=e.location, lot=e.lot, quantity=-e.quantity, reason=e.reason)
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
