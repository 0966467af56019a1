"""Dispensing: what a clinic gave to acceptors, posted clinic → dispensed.

``dispensing_record`` takes a day's dispensing or a month's total. Lines are merged
per (product, lot); a line with a lot takes that lot, a line without one is
allocated first-expiry-first-out over the clinic's lots that are still good on the
dispensing date, split across lots where one is not enough. A lot is good on a
date when it expires after it (an expiry date is the first day a lot may not be
used, as for shipments). Never an expired lot.

Concurrency: the clinic's row is locked (``FOR NO KEY UPDATE``, which does not block
rows that merely reference the clinic, such as ledger entries of a receipt), so two
dispensings of one clinic are allocated and numbered one after the other; then its
balance rows of these products are locked in the posting service's order before
allocating, so the allocation is made from what is really on the shelf.

A shortage names each product (and the lot, if one was chosen) and posts nothing.
With a ``client_uuid`` the same request twice is one record: the same body returns
the first record (``created=False``), a different body is a 409.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from inventory.errors import AlokonError, DocumentConflict, InvalidDocument, LineShortage, NotAllowed
from inventory.models import (
    Dispensing,
    DispensingPeriod,
    Level,
    Location,
    Lot,
    MovementKind,
    Product,
    StockBalance,
    VirtualRole,
)
from inventory.services.posting import EntrySpec, movement_post, virtual_location
from inventory.services.shipments import MAX_LINE_QUANTITY

#: how far back a clinic may record dispensing (a late monthly report, not last year's)
MAX_AGE_DAYS = 400


@dataclass(frozen=True)
class DispensingLineSpec:
    product: Product
    quantity: int
    lot: Lot | None = None


@dataclass
class DispensingResult:
    dispensing: Dispensing
    created: bool


class DispensingShortage(AlokonError):
    """Not enough usable stock at the clinic for one or more products; nothing was posted."""

    http_status = 409
    code = "insufficient_stock"

    def __init__(self, location: Location, shortages: list[LineShortage]):
        self.shortages = shortages
        head = ngettext(
            "Not enough stock at %(location)s to dispense %(count)d line:",
            "Not enough stock at %(location)s to dispense %(count)d lines:",
            len(shortages),
        ) % {"location": location.name, "count": len(shortages)}
        super().__init__(head + " " + "; ".join(s.describe() for s in shortages))


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def normalise_date(day: dt.date, period: str, today: dt.date) -> dt.date:
    """A monthly total is dated the month's last day, or today while the month is still running."""
    if period == DispensingPeriod.MONTH:
        return today if (day.year, day.month) == (today.year, today.month) else month_end(day)
    return day


def check_dispenser(actor, location: Location) -> None:
    """Dispensing is recorded by the clinic's own warehouse staff (or a superuser)."""
    if actor.is_superuser:
        return
    if actor.location_id != location.pk or not actor.is_warehouse_staff:
        raise NotAllowed(_("Only the staff of %(location)s can record its dispensing.") % {"location": location.name})


def _validate(location: Location, day: dt.date, period: str, lines: Sequence[DispensingLineSpec], today: dt.date):
    if location.level != Level.CLINIC:
        raise InvalidDocument(
            _("Dispensing is recorded by clinics; %(location)s is not a clinic.") % {"location": location.name}
        )
    if period not in DispensingPeriod.values:
        raise InvalidDocument(_("The period must be a day or a month."))
    if day > today:
        raise InvalidDocument(_("The date %(date)s is in the future.") % {"date": day.isoformat()})
    earliest = today - dt.timedelta(days=MAX_AGE_DAYS)
    if day < earliest:
        raise InvalidDocument(
            _("The date %(date)s is too far back: dispensing can be recorded from %(earliest)s on.")
            % {"date": day.isoformat(), "earliest": earliest.isoformat()}
        )
    if not lines:
        raise InvalidDocument(_("A dispensing record needs at least one line."))
    for number, line in enumerate(lines, start=1):
        quantity = line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidDocument(_("Line %(line)d: the quantity must be a whole number.") % {"line": number})
        if quantity <= 0:
            raise InvalidDocument(_("Line %(line)d: the quantity must be greater than zero.") % {"line": number})
        if quantity > MAX_LINE_QUANTITY:
            raise InvalidDocument(
                _("Line %(line)d: %(quantity)d is more than %(max)d; check the quantity.")
                % {"line": number, "quantity": quantity, "max": MAX_LINE_QUANTITY}
            )
        if line.lot is not None:
            if line.lot.product_id != line.product.pk:
                raise InvalidDocument(
                    _("Line %(line)d: lot %(batch)s is not a lot of %(product)s.")
                    % {"line": number, "batch": line.lot.batch, "product": line.product.code}
                )
            if line.lot.expiry <= day:
                raise InvalidDocument(
                    _("Line %(line)d: lot %(batch)s of %(product)s expired on %(expiry)s and cannot be dispensed.")
                    % {
                        "line": number,
                        "batch": line.lot.batch,
                        "product": line.product.code,
                        "expiry": line.lot.expiry.isoformat(),
                    }
                )


def request_hash(location: Location, day: dt.date, period: str, lines: Sequence[DispensingLineSpec], note: str) -> str:
    """A fingerprint of what was sent, independent of line order."""
    body = sorted((line.product.code, line.lot.batch if line.lot else "", line.quantity) for line in lines)
    return hashlib.sha256(json.dumps([location.code, day.isoformat(), period, body, note]).encode()).hexdigest()


def _merge(lines: Sequence[DispensingLineSpec]) -> tuple[dict[Lot, int], dict[Product, int]]:
    """Quantities per chosen lot, and per product where no lot was chosen."""
    by_lot: dict[Lot, int] = defaultdict(int)
    by_product: dict[Product, int] = defaultdict(int)
    for line in lines:
        if line.lot is not None:
            by_lot[line.lot] += line.quantity
        else:
            by_product[line.product] += line.quantity
    return by_lot, by_product


def allocate(
    location: Location, day: dt.date, by_lot: dict[Lot, int], by_product: dict[Product, int]
) -> list[tuple[Lot, int]]:
    """(lot, quantity) to dispense: chosen lots as asked, the rest first-expiry-first-out.

    Locks the clinic's balance rows of these products (in lot order, as the posting
    service does) first. Raises ``DispensingShortage`` naming every short line.
    """
    product_ids = {lot.product_id for lot in by_lot} | {product.pk for product in by_product}
    list(
        StockBalance.objects.select_for_update(of=("self",))
        .filter(location=location, product_id__in=product_ids)
        .order_by("lot_id")
        .values_list("pk", flat=True)
    )
    balances = (
        StockBalance.objects.filter(location=location, product_id__in=product_ids, quantity__gt=0)
        .select_related("lot__product")
        .order_by("lot__expiry", "lot__batch", "lot_id")
    )
    left = {balance.lot_id: balance.quantity for balance in balances}
    usable: dict[int, list[Lot]] = defaultdict(list)  # product id → lots good on the day, FEFO order
    for balance in balances:
        if balance.lot.expiry > day:
            usable[balance.product_id].append(balance.lot)

    taken: dict[Lot, int] = defaultdict(int)
    shortages: list[LineShortage] = []
    # Chosen lots first, so that FEFO does not take what they asked for.
    for lot, quantity in sorted(by_lot.items(), key=lambda item: (item[0].product.code, item[0].batch)):
        available = left.get(lot.pk, 0)
        if available < quantity:
            shortages.append(LineShortage(f"{lot.product.code} ({lot.batch})", quantity, available))
            continue
        left[lot.pk] = available - quantity
        taken[lot] += quantity
    for product, quantity in sorted(by_product.items(), key=lambda item: item[0].code):
        available = sum(left[lot.pk] for lot in usable[product.pk])
        if available < quantity:
            shortages.append(LineShortage(product.code, quantity, available))
            continue
        need = quantity
        for lot in usable[product.pk]:
            take = min(need, left[lot.pk])
            if take:
                left[lot.pk] -= take
                taken[lot] += take
                need -= take
            if need == 0:
                break
    if shortages:
        raise DispensingShortage(location, shortages)
    return sorted(taken.items(), key=lambda item: (item[0].product.code, item[0].expiry, item[0].batch))


def _document(location: Location, day: dt.date) -> str:
    """``DSP-<clinic>-<YYYYMMDD>-<n>``: the clinic's n-th record of that date (the clinic row is locked)."""
    ordinal = Dispensing.objects.filter(location=location, date=day).count() + 1
    return f"DSP-{location.code}-{day:%Y%m%d}-{ordinal}"


def dispensing_record(
    *,
    location: Location,
    date: dt.date,
    lines: Sequence[DispensingLineSpec],
    actor,
    period: str = DispensingPeriod.DAY,
    client_uuid: uuid.UUID | None = None,
    note: str = "",
) -> DispensingResult:
    """Record and post what ``location`` dispensed on ``date`` (or in its month); all or nothing."""
    today = timezone.localdate()
    period = str(period)
    if period in DispensingPeriod.values:
        date = normalise_date(date, period, today)
    _validate(location, date, period, lines, today)
    check_dispenser(actor, location)
    fingerprint = request_hash(location, date, period, lines, note)
    with transaction.atomic():
        clinic = Location.objects.select_for_update(no_key=True).get(pk=location.pk)
        if client_uuid is not None:
            existing = Dispensing.objects.filter(client_uuid=client_uuid).first()
            if existing is not None:
                if existing.location_id != clinic.pk or existing.request_hash != fingerprint:
                    raise DocumentConflict(
                        _("This record number (client UUID) was already used for a different dispensing record.")
                    )
                return DispensingResult(dispensing=existing, created=False)
        by_lot, by_product = _merge(lines)
        pairs = allocate(clinic, date, by_lot, by_product)
        dispensed = virtual_location(VirtualRole.DISPENSED)
        entries: list[EntrySpec] = []
        for lot, quantity in pairs:
            entries.append(EntrySpec(location=clinic, lot=lot, quantity=-quantity))
            entries.append(EntrySpec(location=dispensed, lot=lot, quantity=quantity))
        movement = movement_post(
            kind=MovementKind.DISPENSING,
            entries=entries,
            business_date=date,
            document=_document(clinic, date),
            actor=actor,
            note=note,
        )
        try:
            with transaction.atomic():
                record = Dispensing.objects.create(
                    location=clinic,
                    date=date,
                    period=period,
                    client_uuid=client_uuid,
                    request_hash=fingerprint if client_uuid else "",
                    note=note,
                    recorded_by=actor,
                    movement=movement,
                )
        except IntegrityError:
            # The same UUID sent for another clinic at the same instant: only the UNIQUE index sees it.
            raise DocumentConflict(
                _("This record number (client UUID) was already used for a different dispensing record.")
            ) from None
    return DispensingResult(dispensing=record, created=True)


def dispensed_lines(dispensing: Dispensing) -> list[tuple[Lot, int]]:
    """(lot, units) of a record, read from its movement's entries at the clinic."""
    return [
        (entry.lot, -entry.quantity)
        for entry in dispensing.movement.entries.all()
        if entry.location_id == dispensing.location_id
    ]
