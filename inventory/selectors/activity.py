"""The activity of a location: who did what to which document, and when, newest first.

Every document keeps its own audit columns (created/dispatched by and at on a
shipment, received by on a receipt, resolved by on a discrepancy, submitted and
decided by on a count, recorded by on dispensing and service figures, closed by on
a month). There is no separate audit table to keep in step: the activity page
reads those columns, one query per kind of event, each cut to the newest
``limit`` rows in the location's subtree and period, and merges the lists.
Since every source is already cut to its newest ``limit``, the merged newest
``limit`` are exact, and the work is bounded whatever the size of the tables.

A shipment, its receipts and its discrepancies belong to a location's activity
when the origin or the destination lies in the subtree (the rule of
``inventory.selectors.shipments.shipments_for``). Stock movements appear on their
own only when no document covers them: opening balances, disposals and other
losses, adjustments that are not a count's approval or a discrepancy's resolution.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass, field
from itertools import islice

from django.db.models import Exists, OuterRef, Q, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from inventory.errors import ScopeError
from inventory.models import (
    CountStatus,
    Discrepancy,
    DiscrepancyStatus,
    Dispensing,
    EntryReason,
    LedgerEntry,
    Level,
    Location,
    MonthClose,
    Movement,
    MovementKind,
    Receipt,
    Resolution,
    ServiceFigure,
    Shipment,
    StockCount,
)
from inventory.selectors.scope import is_unscoped

#: the most events one call returns (the page asks for page × page size + 1)
DEFAULT_LIMIT = 200

#: event kinds and their labels, in the order the filter lists them
KINDS = {
    "shipment_created": gettext_lazy("Shipment created"),
    "shipment_dispatched": gettext_lazy("Shipment dispatched"),
    "receipt_recorded": gettext_lazy("Receipt recorded"),
    "discrepancy_opened": gettext_lazy("Discrepancy opened"),
    "discrepancy_resolved": gettext_lazy("Discrepancy resolved"),
    "count_submitted": gettext_lazy("Stock count submitted"),
    "count_approved": gettext_lazy("Stock count approved"),
    "count_rejected": gettext_lazy("Stock count rejected"),
    "dispensing_recorded": gettext_lazy("Dispensing recorded"),
    "figures_recorded": gettext_lazy("Service figures recorded"),
    "figures_corrected": gettext_lazy("Service figures corrected"),
    "month_closed": gettext_lazy("Month closed"),
    "stock_movement": gettext_lazy("Stock movement"),
}

#: labels of the stock movements that stand on their own
MOVEMENT_LABELS = {
    MovementKind.OPENING: gettext_lazy("Opening balance"),
    MovementKind.ADJUSTMENT: gettext_lazy("Stock adjustment"),
    MovementKind.LOSS: gettext_lazy("Loss written off"),
}
DISPOSAL_LABEL = gettext_lazy("Expired stock disposed of")
SYSTEM = pgettext_lazy("who did it", "System")


@dataclass
class Event:
    when: dt.datetime
    kind: str
    label: str
    who: str
    document: str
    locations: list[Location]
    detail: str = ""
    #: (URL name, args) of the document's page, reversed only when shown
    link: tuple[str, tuple] | None = None
    #: tried when ``link`` does not resolve (a page another issue adds)
    fallback: tuple[str, tuple] | None = None
    #: ties of ``when`` broken by source and id, so the order is stable
    order: tuple = field(default=(), repr=False)

    @property
    def url(self) -> str | None:
        for target in (self.link, self.fallback):
            if target is None:
                continue
            try:
                return reverse(target[0], args=target[1])
            except NoReverseMatch:
                continue
        return None


def _who(user) -> str:
    if user is None:
        return str(SYSTEM)
    return user.display_name


def _bound(value, *, end: bool) -> dt.datetime | None:
    """A date is the whole local day: ``since`` its start, ``until`` the next day's start."""
    if value is None or isinstance(value, dt.datetime):
        return value
    day = value + dt.timedelta(days=1) if end else value
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def check_scope(user, location: Location) -> None:
    """A location outside the user's subtree is "not found", like every other page."""
    if is_unscoped(user):
        return
    home = getattr(user, "location", None)
    if home is None or location.is_virtual or not location.is_within(home):
        raise ScopeError(_("Location %(code)s was not found.") % {"code": location.code})


def activity_for(user, location: Location, since=None, until=None, kinds=None, *, limit: int = DEFAULT_LIMIT):
    """The newest ``limit`` events in ``location``'s subtree, newest first.

    ``since`` and ``until`` are dates (inclusive, local days) or aware datetimes
    (``until`` exclusive); ``kinds`` a collection of ``KINDS`` keys (all if empty).
    """
    check_scope(user, location)
    wanted = set(kinds or KINDS)
    since, until = _bound(since, end=False), _bound(until, end=True)
    subtree = Location.objects.filter(path__startswith=location.path).values("pk")
    shipment_q = Q(shipment__origin__in=subtree) | Q(shipment__destination__in=subtree)

    def window(field_name: str) -> Q:
        q = Q(**{f"{field_name}__isnull": False})
        if since is not None:
            q &= Q(**{f"{field_name}__gte": since})
        if until is not None:
            q &= Q(**{f"{field_name}__lt": until})
        return q

    sources = []
    for kind, build in _SOURCES:
        if kind in wanted:
            sources.append(build(subtree=subtree, shipment_q=shipment_q, window=window, limit=limit))
    merged = heapq.merge(*sources, key=lambda e: (e.when, e.order), reverse=True)
    return list(islice(merged, limit))


# --- the sources: each yields its events newest first ------------------------------------


def _route(shipment: Shipment) -> list[Location]:
    return [shipment.origin, shipment.destination]


def _shipments_created(*, subtree, window, limit, **_kw):
    rows = (
        Shipment.objects.filter(Q(origin__in=subtree) | Q(destination__in=subtree))
        .filter(window("created_at"))
        .select_related("origin", "destination", "created_by")
        .order_by("-created_at", "-id")[:limit]
    )
    for s in rows:
        yield Event(
            when=s.created_at,
            kind="shipment_created",
            label=str(KINDS["shipment_created"]),
            who=_who(s.created_by),
            document=s.number,
            locations=_route(s),
            detail=s.note,
            link=("shipment-detail", (s.number,)),
            order=(1, s.pk),
        )


def _shipments_dispatched(*, subtree, window, limit, **_kw):
    rows = (
        Shipment.objects.filter(Q(origin__in=subtree) | Q(destination__in=subtree))
        .filter(window("dispatched_at"))
        .select_related("origin", "destination", "dispatched_by")
        .order_by("-dispatched_at", "-id")[:limit]
    )
    for s in rows:
        detail = ""
        if s.expected_arrival:
            detail = _("Expected on %(date)s") % {"date": s.expected_arrival.isoformat()}
        yield Event(
            when=s.dispatched_at,
            kind="shipment_dispatched",
            label=str(KINDS["shipment_dispatched"]),
            who=_who(s.dispatched_by),
            document=s.number,
            locations=_route(s),
            detail=detail,
            link=("shipment-detail", (s.number,)),
            order=(2, s.pk),
        )


def _receipts(*, shipment_q, window, limit, **_kw):
    rows = (
        Receipt.objects.filter(shipment_q)
        .filter(window("received_at"))
        .select_related("shipment__origin", "shipment__destination", "received_by", "movement")
        .order_by("-received_at", "-id")[:limit]
    )
    for r in rows:
        s = r.shipment
        yield Event(
            when=r.received_at,
            kind="receipt_recorded",
            label=str(KINDS["receipt_recorded"]),
            who=_who(r.received_by),
            document=r.movement.document if r.movement else s.number,
            locations=_route(s),
            detail=r.note,
            # The shipment's page lists its receipts for both ends; the receipt's own
            # page is the receiving staff's only.
            link=("shipment-detail", (s.number,)),
            order=(3, r.pk),
        )


_DISCREPANCY_RELATED = ("shipment__origin", "shipment__destination", "product", "lot")


def _discrepancy_what(d: Discrepancy) -> str:
    return _("%(kind)s: %(quantity)d × %(product)s lot %(batch)s") % {
        "kind": d.get_kind_display(),
        "quantity": d.quantity,
        "product": d.product.code,
        "batch": d.lot.batch,
    }


def _discrepancies_opened(*, shipment_q, window, limit, **_kw):
    rows = (
        Discrepancy.objects.filter(shipment_q)
        .filter(window("created_at"))
        .select_related(*_DISCREPANCY_RELATED, "receipt__received_by", "split_from__resolved_by")
        .order_by("-created_at", "-id")[:limit]
    )
    for d in rows:
        # Opened by whoever resolved part of the record it was split from, by the
        # receipt that showed it, or by the daily overdue check (the system).
        opener = d.receipt.received_by if d.receipt else None
        if d.split_from is not None:
            opener = d.split_from.resolved_by
        yield Event(
            when=d.created_at,
            kind="discrepancy_opened",
            label=str(KINDS["discrepancy_opened"]),
            who=_who(opener),
            document=d.shipment.number,
            locations=_route(d.shipment),
            detail=_discrepancy_what(d),
            link=("discrepancy-detail", (d.pk,)),
            fallback=("shipment-detail", (d.shipment.number,)),
            order=(4, d.pk),
        )


def _discrepancies_resolved(*, shipment_q, window, limit, **_kw):
    rows = (
        Discrepancy.objects.filter(shipment_q, status=DiscrepancyStatus.RESOLVED)
        .filter(window("resolved_at"))
        .select_related(*_DISCREPANCY_RELATED, "resolved_by")
        .order_by("-resolved_at", "-id")[:limit]
    )
    reasons = dict(EntryReason.choices)
    for d in rows:
        parts = [_discrepancy_what(d), str(Resolution(d.resolution).label) if d.resolution else ""]
        if d.resolution_reason:
            parts.append(str(reasons.get(d.resolution_reason, d.resolution_reason)))
        if d.resolution_note:
            parts.append(d.resolution_note)
        yield Event(
            when=d.resolved_at,
            kind="discrepancy_resolved",
            label=str(KINDS["discrepancy_resolved"]),
            who=_who(d.resolved_by),
            document=d.shipment.number,
            locations=_route(d.shipment),
            detail=" · ".join(p for p in parts if p),
            link=("discrepancy-detail", (d.pk,)),
            fallback=("shipment-detail", (d.shipment.number,)),
            order=(5, d.pk),
        )


def _counts_submitted(*, subtree, window, limit, **_kw):
    rows = (
        StockCount.objects.filter(location__in=subtree)
        .exclude(status=CountStatus.DRAFT)
        .filter(window("counted_at"))
        .select_related("location", "submitted_by")
        .order_by("-counted_at", "-id")[:limit]
    )
    for c in rows:
        yield Event(
            when=c.counted_at,
            kind="count_submitted",
            label=str(KINDS["count_submitted"]),
            who=_who(c.submitted_by),
            document=c.number,
            locations=[c.location],
            detail=c.note,
            link=("count-detail", (c.pk,)),
            order=(6, c.pk),
        )


def _counts_decided(status: str, kind: str, rank: int):
    def source(*, subtree, window, limit, **_kw):
        rows = (
            StockCount.objects.filter(location__in=subtree, status=status)
            .filter(window("decided_at"))
            .select_related("location", "decided_by")
            .order_by("-decided_at", "-id")[:limit]
        )
        for c in rows:
            yield Event(
                when=c.decided_at,
                kind=kind,
                label=str(KINDS[kind]),
                who=_who(c.decided_by),
                document=c.number,
                locations=[c.location],
                detail=c.decision_note,
                link=("count-detail", (c.pk,)),
                order=(rank, c.pk),
            )

    return source


def _dispensing(*, subtree, window, limit, **_kw):
    rows = (
        Dispensing.objects.filter(location__in=subtree)
        .filter(window("recorded_at"))
        .select_related("location", "recorded_by", "movement")
        .order_by("-recorded_at", "-id")[:limit]
    )
    for d in rows:
        yield Event(
            when=d.recorded_at,
            kind="dispensing_recorded",
            label=str(KINDS["dispensing_recorded"]),
            who=_who(d.recorded_by),
            document=d.movement.document,
            locations=[d.location],
            detail=" · ".join(p for p in (f"{d.get_period_display()} {d.date.isoformat()}", d.note) if p),
            order=(9, d.pk),
        )


def _service_figures(kind: str, rank: int):
    correction = kind == "figures_corrected"

    def source(*, subtree, window, limit, **_kw):
        rows = (
            ServiceFigure.objects.filter(location__in=subtree, is_correction=correction)
            .filter(window("recorded_at"))
            .select_related("location", "product", "recorded_by")
            .order_by("-recorded_at", "-id")[:limit]
        )
        for f in rows:
            detail = _("%(product)s: %(active)d active, %(new)d new users") % {
                "product": f.product.code,
                "active": f.active_users,
                "new": f.new_users,
            }
            yield Event(
                when=f.recorded_at,
                kind=kind,
                label=str(KINDS[kind]),
                who=_who(f.recorded_by),
                document=f"{f.month:%Y-%m}",
                locations=[f.location],
                detail=" · ".join(p for p in (detail, f.note) if p),
                order=(rank, f.pk),
            )

    return source


def _months_closed(*, subtree, window, limit, **_kw):
    rows = (
        MonthClose.objects.filter(location__in=subtree)
        .filter(window("closed_at"))
        .select_related("location", "closed_by")
        .order_by("-closed_at", "-id")[:limit]
    )
    for m in rows:
        yield Event(
            when=m.closed_at,
            kind="month_closed",
            label=str(KINDS["month_closed"]),
            who=_who(m.closed_by),
            document=f"{m.month:%Y-%m}",
            locations=[m.location],
            order=(13, m.pk),
        )


def _movements(*, subtree, window, limit, **_kw):
    """Opening balances, losses and adjustments that no document (count, discrepancy) covers."""
    in_subtree = LedgerEntry.objects.filter(movement=OuterRef("pk"), location__in=subtree)
    rows = (
        Movement.objects.filter(kind__in=list(MOVEMENT_LABELS))
        .filter(window("recorded_at"))
        .filter(Exists(in_subtree))
        .filter(~Exists(StockCount.objects.filter(movement=OuterRef("pk"))))
        .filter(~Exists(Discrepancy.objects.filter(resolution_movement=OuterRef("pk"))))
        .annotate(
            place_id=Subquery(in_subtree.exclude(location__level=Level.VIRTUAL).values("location_id")[:1]),
            reason=Subquery(
                LedgerEntry.objects.filter(movement=OuterRef("pk")).exclude(reason="").values("reason")[:1]
            ),
        )
        .select_related("recorded_by")
        .order_by("-recorded_at", "-id")[:limit]
    )
    rows = list(rows)
    places = Location.objects.in_bulk({m.place_id for m in rows if m.place_id})
    reasons = dict(EntryReason.choices)
    for m in rows:
        if m.kind == MovementKind.LOSS and m.reason == EntryReason.EXPIRED:
            label = DISPOSAL_LABEL
        else:
            label = MOVEMENT_LABELS[m.kind]
        parts = [str(reasons[m.reason]) if m.reason in reasons else "", m.note]
        yield Event(
            when=m.recorded_at,
            kind="stock_movement",
            label=str(label),
            who=_who(m.recorded_by),
            document=m.document,
            locations=[places[m.place_id]] if m.place_id in places else [],
            detail=" · ".join(p for p in parts if p),
            order=(14, m.pk),
        )


_SOURCES = [
    ("shipment_created", _shipments_created),
    ("shipment_dispatched", _shipments_dispatched),
    ("receipt_recorded", _receipts),
    ("discrepancy_opened", _discrepancies_opened),
    ("discrepancy_resolved", _discrepancies_resolved),
    ("count_submitted", _counts_submitted),
    ("count_approved", _counts_decided(CountStatus.APPROVED, "count_approved", 7)),
    ("count_rejected", _counts_decided(CountStatus.REJECTED, "count_rejected", 8)),
    ("dispensing_recorded", _dispensing),
    ("figures_recorded", _service_figures("figures_recorded", 10)),
    ("figures_corrected", _service_figures("figures_corrected", 11)),
    ("month_closed", _months_closed),
    ("stock_movement", _movements),
]
