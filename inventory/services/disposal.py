"""Disposal of expired stock: one step, location → loss, with the reason "expired".

``dispose_expired`` takes every lot the location still holds that has expired (or
the lots chosen, each of which must have) and posts one movement of kind loss.
A lot has expired on the day of its expiry date: it can no longer be dispensed or
shipped from that day (as ``dispensing`` and ``shipments`` decide), so from that
day it can be disposed of.

The location's balance rows are locked before they are read, so the quantities
disposed of are what is on the shelf, and a dispensing or a dispatch that runs at
the same moment either goes first or finds nothing left. The location's own row is
locked (``FOR NO KEY UPDATE``) so that two disposals are numbered one after the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.errors import InvalidDocument, NotAllowed
from inventory.models import EntryReason, Location, Lot, Movement, MovementKind, StockBalance, VirtualRole
from inventory.services.posting import EntrySpec, movement_post, virtual_location

DOCUMENT_PREFIX = "MUSNAH"  # pemusnahan: destruction of expired goods


def expired_balances(location: Location, today: dt.date | None = None):
    """Balances of ``location`` with stock of a lot that has expired by ``today``."""
    today = today or timezone.localdate()
    return (
        StockBalance.objects.filter(location=location, quantity__gt=0, lot__expiry__lte=today)
        .select_related("lot__product")
        .order_by("lot__product__code", "lot__expiry", "lot__batch")
    )


def can_dispose(user, location: Location) -> bool:
    return user.is_superuser or (user.location_id == location.pk and user.is_warehouse_staff)


def _document(location: Location, day: dt.date) -> str:
    prefix = f"{DOCUMENT_PREFIX}-{location.code}-{day:%Y%m%d}-"
    ordinal = Movement.objects.filter(kind=MovementKind.LOSS, document__startswith=prefix).count() + 1
    return f"{prefix}{ordinal}"


def dispose_expired(
    *, location: Location, actor, lots: Sequence[Lot] | None = None, today: dt.date | None = None, note: str = ""
) -> Movement:
    """Write off the expired stock of ``location`` (all of it, or of ``lots``) as a loss; one movement."""
    today = today or timezone.localdate()
    if location.is_virtual:
        raise InvalidDocument(_("Only stock held at a real location can be disposed of."))
    if not can_dispose(actor, location):
        raise NotAllowed(
            _("Only the warehouse staff of %(location)s can dispose of its stock.") % {"location": location.name}
        )
    with transaction.atomic():
        locked = Location.objects.select_for_update(no_key=True).get(pk=location.pk)
        list(
            StockBalance.objects.select_for_update(of=("self",))
            .filter(location=locked, quantity__gt=0, lot__expiry__lte=today)
            .order_by("lot_id")
            .values_list("pk", flat=True)
        )
        balances = list(expired_balances(locked, today))
        if lots is not None:
            if not lots:
                raise InvalidDocument(_("Choose at least one lot to dispose of."))
            held = {balance.lot_id: balance for balance in balances}
            for lot in lots:
                if lot.expiry > today:
                    raise InvalidDocument(
                        _("Lot %(batch)s of %(product)s has not expired (it expires on %(expiry)s).")
                        % {"batch": lot.batch, "product": lot.product.code, "expiry": lot.expiry.isoformat()}
                    )
                if lot.pk not in held:
                    raise InvalidDocument(
                        _("%(location)s holds no stock of lot %(batch)s of %(product)s.")
                        % {"location": locked.name, "batch": lot.batch, "product": lot.product.code}
                    )
            chosen = {lot.pk for lot in lots}
            balances = [balance for balance in balances if balance.lot_id in chosen]
        if not balances:
            raise InvalidDocument(_("%(location)s holds no expired stock.") % {"location": locked.name})
        loss = virtual_location(VirtualRole.LOSS)
        entries: list[EntrySpec] = []
        for balance in balances:
            entries.append(
                EntrySpec(location=locked, lot=balance.lot, quantity=-balance.quantity, reason=EntryReason.EXPIRED)
            )
            entries.append(
                EntrySpec(location=loss, lot=balance.lot, quantity=balance.quantity, reason=EntryReason.EXPIRED)
            )
        return movement_post(
            kind=MovementKind.LOSS,
            entries=entries,
            business_date=today,
            document=_document(locked, today),
            actor=actor,
            note=note or _("Expired stock disposed of"),
        )
