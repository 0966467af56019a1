"""Stock counts (stock opname): start, fill in, submit, approve or reject.

The life of a count:

1. ``count_start`` opens a draft for one location, one line per lot the location
   holds (a balance above zero; lots with an empty balance row are old history
   and would only lengthen the sheet; a lot found on the shelf anyway is added
   by scanning or picking it). ``count_set_lines`` saves what the web sheet holds.
2. ``count_submit`` takes the count: under the same row locks a posting takes
   (the location's balance rows of the count's lots, ``FOR UPDATE`` in lot-id
   order), it records ``counted_at`` and, per line, the balance at that moment as
   ``system_quantity``. ``count_create_submitted`` is the API's one-step variant,
   idempotent on the client's UUID.
3. ``count_approve`` posts one ADJUSTMENT movement (``OPN-<id>``) with, per lot,
   ``counted − system_quantity`` between the location and the virtual
   count-adjustment location, dated the day of approval (when the adjustment
   becomes official; the count's own time is ``counted_at``). Dispatches and receipts posted between the count and
   its approval are therefore kept: only the difference found at count time
   moves. If the stock has meanwhile fallen below what a negative difference
   takes away, the posting refuses (``InsufficientStock``) and nothing changes.
   ``count_reject`` closes a count without posting.

A count covers the lots on its lines; a lot not on the count is not adjusted.

Why a location lock: two pending counts of one location would each compute
their difference against a balance that does not include the other's
adjustment, so approving both would adjust twice. Submitting therefore takes a
``FOR NO KEY UPDATE`` lock on the location row (it does not block postings,
whose foreign-key checks only take ``KEY SHARE``) and refuses while another
count of the location waits for approval.

Who: staff (warehouse or head) of the location itself start and submit a count;
a manager whose subtree holds the location, the head of the location itself, or
a superuser approves or rejects it, and never the person who submitted it (four
eyes; the CHECK ``count_not_approved_by_counter`` is the last guard). Decided
counts are final (database triggers of migration 0012).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alokon.models import Role
from alokon.text import local_datetime
from inventory.errors import DocumentConflict, InvalidDocument, NotAllowed
from inventory.models import (
    CountStatus,
    Location,
    Lot,
    MovementKind,
    Product,
    StockBalance,
    StockCount,
    StockCountLine,
    VirtualRole,
)
from inventory.selectors.counts import open_count
from inventory.selectors.scope import user_can_see
from inventory.services.posting import EntrySpec, movement_post, transfer, virtual_location
from inventory.services.shipments import MAX_LINE_QUANTITY

#: more lots than any warehouse holds; a bigger count is a client bug
MAX_COUNT_LINES = 500
NOTE_MAX_LENGTH = 2000


@dataclass(frozen=True)
class CountLineSpec:
    """One lot on a count sheet; ``counted`` may be None only while the count is a draft."""

    product: Product
    lot: Lot
    counted: int | None


@dataclass
class CountResult:
    count: StockCount
    created: bool


# --- who may do what ---------------------------------------------------------------------


def can_count(user, location: Location) -> bool:
    """Warehouse staff or head of the location itself, or a superuser who can see it."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return user_can_see(user, location)
    return user.is_warehouse_staff and user.location_id == location.pk


def can_decide(user, location: Location) -> bool:
    """A manager whose subtree holds the location, the location's own head, or a superuser who can see it."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return user_can_see(user, location)
    if user.role == Role.HEAD:
        return user.location_id == location.pk
    if user.role == Role.MANAGER:
        return user.location_id is not None and location.is_within(user.location)
    return False


def _require_counter(user, location: Location) -> None:
    if not can_count(user, location):
        raise NotAllowed(_("Only warehouse staff of %(location)s count its stock.") % {"location": location.name})


def _require_decider(user, count: StockCount) -> None:
    if not can_decide(user, count.location):
        raise NotAllowed(
            _("Only a manager over %(location)s or its warehouse head approves or rejects its stock counts.")
            % {"location": count.location.name}
        )
    if count.submitted_by_id is not None and count.submitted_by_id == user.pk:
        raise NotAllowed(_("You took this count, so someone else must approve or reject it."))


# --- validation --------------------------------------------------------------------------


def _validate_lines(lines: Sequence[CountLineSpec], *, complete: bool) -> None:
    if len(lines) > MAX_COUNT_LINES:
        raise InvalidDocument(
            _("A count has at most %(max)d lines; this one has %(count)d.")
            % {"max": MAX_COUNT_LINES, "count": len(lines)}
        )
    seen: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        value = line.counted
        if value is None:
            if complete:
                raise InvalidDocument(
                    _("Line %(line)d (%(product)s lot %(batch)s): enter the counted quantity (0 if there is none).")
                    % {"line": number, "product": line.product.code, "batch": line.lot.batch}
                )
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidDocument(_("Line %(line)d: quantities must be whole numbers.") % {"line": number})
            if value < 0:
                raise InvalidDocument(_("Line %(line)d: quantities cannot be negative.") % {"line": number})
            if value > MAX_LINE_QUANTITY:
                raise InvalidDocument(
                    _("Line %(line)d: %(quantity)d is more than %(max)d; check the quantity.")
                    % {"line": number, "quantity": value, "max": MAX_LINE_QUANTITY}
                )
        if line.lot.product_id != line.product.pk:
            raise InvalidDocument(
                _("Line %(line)d: lot %(batch)s is not a lot of %(product)s.")
                % {"line": number, "batch": line.lot.batch, "product": line.product.code}
            )
        if line.lot.pk in seen:
            raise InvalidDocument(
                _("Lines %(first)d and %(line)d are both lot %(batch)s of %(product)s; count each lot once.")
                % {"first": seen[line.lot.pk], "line": number, "batch": line.lot.batch, "product": line.product.code}
            )
        seen[line.lot.pk] = number


def _decided(count: StockCount) -> DocumentConflict:
    if count.status == CountStatus.APPROVED:
        message = _("Count %(number)s was already approved by %(user)s on %(when)s.")
    else:
        message = _("Count %(number)s was already rejected by %(user)s on %(when)s.")
    return DocumentConflict(
        message
        % {"number": count.number, "user": count.decided_by.display_name, "when": local_datetime(count.decided_at)}
    )


def _lock_count(count: StockCount) -> StockCount:
    """The count row, locked: decisions and edits of one count queue here.

    No joins: a request that waited for the lock gets the row as the other
    transaction left it, but a joined row (the approver) as it was before, so
    the related rows are read afterwards.
    """
    return StockCount.objects.select_for_update().get(pk=count.pk)


def _require_draft(count: StockCount) -> None:
    if count.status == CountStatus.SUBMITTED:
        raise DocumentConflict(
            _("Count %(number)s was already submitted by %(user)s on %(when)s.")
            % {
                "number": count.number,
                "user": count.submitted_by.display_name,
                "when": local_datetime(count.counted_at),
            }
        )
    if count.status != CountStatus.DRAFT:
        raise _decided(count)


def pending_count(location: Location, *, exclude: StockCount | None = None) -> StockCount | None:
    """A count of ``location`` that waits for approval, if any."""
    qs = StockCount.objects.filter(location=location, status=CountStatus.SUBMITTED)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.order_by("counted_at").first()


# --- use cases ---------------------------------------------------------------------------


def count_start(*, location: Location, actor, blind: bool = False) -> StockCount:
    """A draft count of ``location`` with one empty line per lot it holds."""
    _require_counter(actor, location)
    if location.is_virtual:
        raise InvalidDocument(_("Only real locations hold stock to count."))
    with transaction.atomic():
        # One open count per location at a time (see the module docstring); the
        # location lock makes two simultaneous starts queue.
        Location.objects.select_for_update(no_key=True).filter(pk=location.pk).first()
        existing = open_count(location)
        if existing is not None:
            raise DocumentConflict(
                _("Count %(number)s of %(location)s is still open; finish it first.")
                % {"number": existing.number, "location": location.name}
            )
        count = StockCount.objects.create(location=location, blind=blind, created_by=actor)
        held = StockBalance.objects.filter(location=location, quantity__gt=0).values_list("product_id", "lot_id")
        StockCountLine.objects.bulk_create(
            StockCountLine(count=count, product_id=product_id, lot_id=lot_id) for product_id, lot_id in held
        )
    return count


def count_set_lines(*, count: StockCount, lines: Sequence[CountLineSpec], actor, note: str | None = None) -> StockCount:
    """Replace a draft's lines with ``lines`` (the web sheet posts all of them); counted may be empty."""
    _validate_lines(lines, complete=False)
    if note is not None and len(note) > NOTE_MAX_LENGTH:
        raise InvalidDocument(_("The note is longer than %(max)d characters.") % {"max": NOTE_MAX_LENGTH})
    with transaction.atomic():
        locked = _lock_count(count)
        _require_counter(actor, locked.location)
        _require_draft(locked)
        _write_lines(locked, lines)
        if note is not None and note != locked.note:
            locked.note = note
            locked.save(update_fields=["note"])
    return locked


def _write_lines(count: StockCount, lines: Sequence[CountLineSpec]) -> None:
    wanted = {line.lot.pk: line for line in lines}
    existing = {line.lot_id: line for line in count.lines.all()}
    count.lines.exclude(lot_id__in=list(wanted)).delete()
    changed = []
    for lot_id, line in wanted.items():
        row = existing.get(lot_id)
        if row is not None and row.counted != line.counted:
            row.counted = line.counted
            changed.append(row)
    StockCountLine.objects.bulk_update(changed, ["counted"])
    StockCountLine.objects.bulk_create(
        StockCountLine(count=count, product=line.product, lot=line.lot, counted=line.counted)
        for lot_id, line in wanted.items()
        if lot_id not in existing
    )


def _take(count: StockCount, actor) -> None:
    """Submit a locked draft: the balances now are the count's system quantities."""
    location = count.location
    Location.objects.select_for_update(no_key=True).filter(pk=location.pk).first()
    waiting = pending_count(location, exclude=count)
    if waiting is not None:
        raise DocumentConflict(
            _(
                "Count %(number)s of %(location)s is waiting for approval; it must be approved or rejected "
                "before another count is submitted."
            )
            % {"number": waiting.number, "location": location.name}
        )
    lines = list(count.lines.select_related("product", "lot").order_by("lot_id"))
    if not lines:
        raise InvalidDocument(_("A count needs at least one lot; scan or pick what is on the shelf."))
    _validate_lines([CountLineSpec(line.product, line.lot, line.counted) for line in lines], complete=True)
    # The same lock a posting takes on these rows, in the same order (one location, lot ids
    # ascending): a posting in flight finishes first, and none starts until this commits.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT lot_id, quantity FROM inventory_stockbalance WHERE location_id = %s AND lot_id = ANY(%s) "
            "ORDER BY lot_id FOR UPDATE",
            [location.pk, [line.lot_id for line in lines]],
        )
        balances = dict(cursor.fetchall())
    for line in lines:
        line.system_quantity = balances.get(line.lot_id, 0)
    StockCountLine.objects.bulk_update(lines, ["system_quantity"])
    count.status = CountStatus.SUBMITTED
    count.counted_at = timezone.now()
    count.submitted_by = actor
    count.save(update_fields=["status", "counted_at", "submitted_by"])


def count_submit(*, count: StockCount, actor) -> StockCount:
    """Take the count: record when, and each lot's balance at that moment."""
    with transaction.atomic():
        locked = _lock_count(count)
        _require_counter(actor, locked.location)
        _require_draft(locked)
        _take(locked, actor)
    return locked


def _same_body(count: StockCount, location: Location, lines: Sequence[CountLineSpec], note: str, blind: bool) -> bool:
    sent = sorted((line.lot.pk, line.counted) for line in lines)
    stored = sorted(count.lines.values_list("lot_id", "counted"))
    return count.location_id == location.pk and sent == stored and count.note == note and count.blind == blind


def count_create_submitted(
    *,
    location: Location,
    lines: Sequence[CountLineSpec],
    actor,
    client_uuid: uuid.UUID | None = None,
    note: str = "",
    blind: bool = False,
) -> CountResult:
    """Create and submit a count in one transaction (the API); the same ``client_uuid`` twice is one count."""
    _require_counter(actor, location)
    if location.is_virtual:
        raise InvalidDocument(_("Only real locations hold stock to count."))
    _validate_lines(lines, complete=True)
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidDocument(_("The note is longer than %(max)d characters.") % {"max": NOTE_MAX_LENGTH})
    conflict = DocumentConflict(_("This count number (client UUID) was already used for a different count."))

    def replay() -> CountResult | None:
        existing = StockCount.objects.filter(client_uuid=client_uuid).first() if client_uuid else None
        if existing is None:
            return None
        if not _same_body(existing, location, lines, note, blind):
            raise conflict
        return CountResult(count=existing, created=False)

    if (found := replay()) is not None:
        return found
    try:
        with transaction.atomic():
            # The insert comes first: a retry with the same UUID waits here on the unique
            # index until this transaction ends, then fails and replays.
            count = StockCount.objects.create(
                location=location, blind=blind, client_uuid=client_uuid, note=note, created_by=actor
            )
            StockCountLine.objects.bulk_create(
                StockCountLine(count=count, product=line.product, lot=line.lot, counted=line.counted) for line in lines
            )
            _take(count, actor)
    except IntegrityError:
        if client_uuid is None or (found := replay()) is None:  # pragma: no cover - only the UUID is unique
            raise
        return found
    return CountResult(count=count, created=True)


def count_approve(*, count: StockCount, actor, note: str = "") -> StockCount:
    """Approve a submitted count and post its differences as one adjustment (or nothing, if none)."""
    with transaction.atomic():
        locked = _lock_count(count)
        _require_decider(actor, locked)
        if locked.status == CountStatus.DRAFT:
            raise DocumentConflict(_("Count %(number)s has not been submitted yet.") % {"number": locked.number})
        if locked.status != CountStatus.SUBMITTED:
            raise _decided(locked)
        location = locked.location
        adjustment = virtual_location(VirtualRole.ADJUSTMENT)
        entries: list[EntrySpec] = []
        for line in locked.lines.select_related("lot").order_by("lot_id"):
            difference = line.difference
            if difference > 0:
                entries += transfer(source=adjustment, destination=location, lot=line.lot, quantity=difference)
            elif difference < 0:
                entries += transfer(source=location, destination=adjustment, lot=line.lot, quantity=-difference)
        if entries:
            locked.movement = movement_post(
                kind=MovementKind.ADJUSTMENT,
                entries=entries,
                business_date=timezone.localdate(),
                document=locked.number,
                actor=actor,
                note=note[:NOTE_MAX_LENGTH],
            )
        locked.status = CountStatus.APPROVED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_note = note[:NOTE_MAX_LENGTH]
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "movement"])
    return locked


def count_reject(*, count: StockCount, actor, note: str) -> StockCount:
    """Reject a submitted count: nothing is posted; the reason is kept."""
    note = (note or "").strip()
    if not note:
        raise InvalidDocument(_("Say why the count is rejected."))
    with transaction.atomic():
        locked = _lock_count(count)
        _require_decider(actor, locked)
        if locked.status == CountStatus.DRAFT:
            raise DocumentConflict(_("Count %(number)s has not been submitted yet.") % {"number": locked.number})
        if locked.status != CountStatus.SUBMITTED:
            raise _decided(locked)
        locked.status = CountStatus.REJECTED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_note = note[:NOTE_MAX_LENGTH]
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return locked
