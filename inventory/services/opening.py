"""Opening balances: stock that is on the shelf when a location starts using alokon.

It enters from the virtual supplier through the same posting function as every
other movement, so it has a document, a date and an author like any other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction

from inventory.models import Location, Lot, Movement, MovementKind, VirtualRole
from inventory.services.posting import EntrySpec, movement_post, virtual_location


def opening_balance_post(
    *,
    location: Location,
    lines: Sequence[tuple[Lot, int]],
    business_date: dt.date,
    actor=None,
    document: str | None = None,
    note: str = "",
) -> Movement:
    """Post the opening stock of ``location``: one movement, supplier → location, per lot line."""
    supplier = virtual_location(VirtualRole.SUPPLIER)
    entries: list[EntrySpec] = []
    for lot, quantity in lines:
        entries.append(EntrySpec(location=supplier, lot=lot, quantity=-quantity))
        entries.append(EntrySpec(location=location, lot=lot, quantity=quantity))
    with transaction.atomic():
        return movement_post(
            kind=MovementKind.OPENING,
            entries=entries,
            business_date=business_date,
            document=document or f"SA-{location.code}-{business_date:%Y%m%d}",
            actor=actor,
            note=note,
        )
