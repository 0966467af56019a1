"""The reconciliation report: do shipments arrive whole, and where do goods go missing?

Pure reads, one function per section, each returning plain rows (dicts) for a
period (``date_from``..``date_to``, inclusive local days) and a scope (the subtree
under ``root``; ``None`` is the whole country). The page and both exports format
the same rows (``report_sections``), so what is shown is what is exported.

The rules, stated once:
- A shipment is in scope when its origin or its destination is (the rule of every
  shipment page); a loss entry when its movement touches a real location in scope,
  or is a receipt or a discrepancy resolution of a shipment in scope (goods lost in
  transit leave no entry at a real location).
- Shipments by state: those created in the period, by their current state.
- In transit: now, not as of the period's end: per shipment still dispatched or
  partially received, the sum of the in-transit ledger entries of its dispatch,
  its receipts and its discrepancies' resolutions.
- Discrepancy rate: over the shipments with a receipt dated in the period. A
  discrepancy that a later receipt settled (resolution "received") does not count:
  the goods came. Short + damaged quantity counts every damaged record, short
  records except those the goods settled after all (a later receipt, a late
  receipt, another lot accepted in their place), and overdue records written off.
- Age of open discrepancies: now, in days since the record was opened.
- Write-offs: ledger entries at the loss location with a reason, dated in the period.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.models import (
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    EntryReason,
    LedgerEntry,
    Level,
    Location,
    Product,
    Receipt,
    Resolution,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    VirtualRole,
)

IN_TRANSIT_STATES = (ShipmentStatus.DISPATCHED, ShipmentStatus.PARTIALLY_RECEIVED)
#: resolutions that mean the goods arrived after all
ARRIVED = (Resolution.RECEIVED, Resolution.LATE_RECEIPT)
#: discrepancy records whose quantity did not reach the destination in good order
LOST = (
    Q(kind=DiscrepancyKind.DAMAGED)
    # Short, unless the goods came later or another lot came in their place.
    | (Q(kind=DiscrepancyKind.SHORT) & ~Q(resolution__in=ARRIVED) & Q(mixup_lot__isnull=True))
    # Never arrived, and written off.
    | Q(kind=DiscrepancyKind.OVERDUE, resolution=Resolution.WRITE_OFF)
)
WRITE_OFF_REASONS = (EntryReason.LOST, EntryReason.STOLEN, EntryReason.EXPIRED, EntryReason.DAMAGED)
#: (label, lowest age in days, highest age in days or None)
AGE_BUCKETS = (
    (_("0–7 days"), 0, 7),
    (_("8–30 days"), 8, 30),
    (_("31–90 days"), 31, 90),
    (_("over 90 days"), 91, None),
)


# --- scope and period ---------------------------------------------------------------------


def scope_locations(root: Location | None):
    """The real locations under ``root`` (a subquery of ids), or all of them."""
    qs = Location.objects.real()
    if root is not None:
        qs = qs.filter(path__startswith=root.path)
    return qs.values("pk")


def shipments_in_scope(root: Location | None):
    if root is None:
        return Shipment.objects.all()
    locations = scope_locations(root)
    return Shipment.objects.filter(Q(origin__in=locations) | Q(destination__in=locations))


def day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def rate(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"))


def level_label(value: str) -> str:
    return str(Level(value).label)


# --- the sections ---------------------------------------------------------------------------


def shipments_by_state(*, root, date_from: dt.date, date_to: dt.date) -> list[dict]:
    counts = dict(
        shipments_in_scope(root)
        .filter(created_at__gte=day_start(date_from), created_at__lt=day_start(date_to + dt.timedelta(days=1)))
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return [
        {"status": status, "label": str(label), "shipments": counts.get(status, 0)}
        for status, label in ShipmentStatus.choices
    ]


def in_transit_by_shipment(*, root) -> dict[int, dict[int, int]]:
    """Quantity still in transit per shipment id and product id (zeros left out)."""
    shipments = shipments_in_scope(root).filter(status__in=IN_TRANSIT_STATES)
    owner: dict[int, int] = {}  # movement id → shipment id
    owner.update(shipments.values_list("dispatch_movement_id", "pk"))
    owner.update(
        Receipt.objects.filter(shipment__in=shipments.values("pk"), movement__isnull=False).values_list(
            "movement_id", "shipment_id"
        )
    )
    owner.update(
        Discrepancy.objects.filter(shipment__in=shipments.values("pk"), resolution_movement__isnull=False)
        .values_list("resolution_movement_id", "shipment_id")
        .distinct()
    )
    owner.pop(None, None)
    if not owner:
        return {}
    transit = Location.objects.get(virtual_role=VirtualRole.IN_TRANSIT)
    sums = (
        LedgerEntry.objects.filter(location=transit, movement_id__in=list(owner))
        .values_list("movement_id", "product_id")
        .annotate(q=Sum("quantity"))
        .values_list("movement_id", "product_id", "q")
    )
    result: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for movement_id, product_id, quantity in sums:
        result[owner[movement_id]][product_id] += quantity
    return {
        sid: {pid: q for pid, q in by_product.items() if q}
        for sid, by_product in result.items()
        if any(by_product.values())
    }


def _shipment_routes(ids) -> dict[int, tuple[Location, Location]]:
    rows = (
        Shipment.objects.filter(pk__in=ids)
        .select_related("origin", "destination")
        .only(
            "origin__code",
            "origin__name",
            "origin__level",
            "destination__code",
            "destination__name",
            "destination__level",
        )
    )
    return {s.pk: (s.origin, s.destination) for s in rows}


def in_transit_by_route(*, root) -> tuple[list[dict], list[dict]]:
    """In transit now: by origin level → destination level, and by origin → destination; per product."""
    by_shipment = in_transit_by_shipment(root=root)
    routes = _shipment_routes(by_shipment)
    products = {p.pk: p for p in Product.objects.all()}
    levels: dict[tuple, list] = defaultdict(lambda: [set(), 0])
    pairs: dict[tuple, list] = defaultdict(lambda: [set(), 0])
    for sid, by_product in by_shipment.items():
        origin, destination = routes[sid]
        for pid, quantity in by_product.items():
            code = products[pid].code
            for table, key in (
                (levels, (origin.level, destination.level, code)),
                (pairs, (origin.code, destination.code, code)),
            ):
                table[key][0].add(sid)
                table[key][1] += quantity
    names = {loc.code: loc.name for pair in routes.values() for loc in pair}
    level_rows = [
        {
            "origin_level": level_label(o),
            "destination_level": level_label(d),
            "product": p,
            "shipments": len(v[0]),
            "quantity": v[1],
        }
        for (o, d, p), v in sorted(
            levels.items(), key=lambda kv: (level_order(kv[0][0]), level_order(kv[0][1]), kv[0][2])
        )
    ]
    pair_rows = [
        {
            "origin": o,
            "origin_name": names[o],
            "destination": d,
            "destination_name": names[d],
            "product": p,
            "shipments": len(v[0]),
            "quantity": v[1],
        }
        for (o, d, p), v in sorted(pairs.items())
    ]
    return level_rows, pair_rows


def level_order(level: str) -> int:
    return [choice for choice, _label in Level.choices].index(level)


def received_shipment_figures(*, root, date_from: dt.date, date_to: dt.date) -> list[dict]:
    """Per shipment with a receipt dated in the period: route, quantity shipped, whether it had a
    discrepancy, and its short + damaged quantity."""
    received = Receipt.objects.filter(shipment=OuterRef("pk"), business_date__gte=date_from, business_date__lte=date_to)
    shipments = list(
        shipments_in_scope(root)
        .filter(Exists(received))
        .select_related("origin", "destination")
        .only("origin__code", "origin__name", "origin__level", "destination__level")
    )
    ids = [s.pk for s in shipments]
    shipped = dict(
        ShipmentLine.objects.filter(shipment_id__in=ids)
        .values_list("shipment_id")
        .annotate(q=Sum("quantity"))
        .values_list("shipment_id", "q")
    )
    counted = Discrepancy.objects.filter(shipment_id__in=ids).exclude(resolution=Resolution.RECEIVED)
    with_discrepancy = set(counted.values_list("shipment_id", flat=True).distinct())
    lost = dict(
        Discrepancy.objects.filter(shipment_id__in=ids)
        .filter(LOST)
        .values_list("shipment_id")
        .annotate(q=Sum("quantity"))
        .values_list("shipment_id", "q")
    )
    return [
        {
            "shipment": s,
            "origin": s.origin,
            "route": (s.origin.level, s.destination.level),
            "shipped": shipped.get(s.pk, 0),
            "has_discrepancy": s.pk in with_discrepancy,
            "lost": lost.get(s.pk, 0),
        }
        for s in shipments
    ]


def _rate_rows(groups: dict) -> list[dict]:
    rows = []
    for key, figures in groups.items():
        n = len(figures)
        bad = sum(1 for f in figures if f["has_discrepancy"])
        shipped = sum(f["shipped"] for f in figures)
        lost = sum(f["lost"] for f in figures)
        rows.append(
            {
                "key": key,
                "received": n,
                "with_discrepancy": bad,
                "shipment_rate": rate(bad, n),
                "shipped": shipped,
                "short_damaged": lost,
                "quantity_rate": rate(lost, shipped),
            }
        )
    return rows


def discrepancy_rates(*, root, date_from: dt.date, date_to: dt.date) -> tuple[list[dict], list[dict]]:
    """Discrepancy rates by route (origin level → destination level) and by origin, worst origin first."""
    figures = received_shipment_figures(root=root, date_from=date_from, date_to=date_to)
    by_route, by_origin = defaultdict(list), defaultdict(list)
    origins = {}
    for f in figures:
        by_route[f["route"]].append(f)
        by_origin[f["origin"].code].append(f)
        origins[f["origin"].code] = f["origin"]
    route_rows = sorted(_rate_rows(by_route), key=lambda r: (level_order(r["key"][0]), level_order(r["key"][1])))
    for row in route_rows:
        row["origin_level"], row["destination_level"] = level_label(row["key"][0]), level_label(row["key"][1])
    origin_rows = _rate_rows(by_origin)
    for row in origin_rows:
        row["origin"], row["origin_name"] = row["key"], origins[row["key"]].name
    origin_rows.sort(key=lambda r: (-(r["quantity_rate"] or 0), -(r["shipment_rate"] or 0), r["origin"]))
    return route_rows, origin_rows


def open_discrepancy_ages(*, root, today: dt.date | None = None) -> list[dict]:
    """Open discrepancies by age in days (today minus the local day they were opened)."""
    today = today or timezone.localdate()
    aggregates = {}
    for i, (_label, low, high) in enumerate(AGE_BUCKETS):
        # Opened on a day d with low <= today − d <= high.
        q = Q(created_at__lt=day_start(today - dt.timedelta(days=low - 1)))
        if high is not None:
            q &= Q(created_at__gte=day_start(today - dt.timedelta(days=high)))
        aggregates[f"n{i}"] = Count("pk", filter=q)
        aggregates[f"q{i}"] = Sum("quantity", filter=q)
    totals = Discrepancy.objects.filter(
        status=DiscrepancyStatus.OPEN, shipment__in=shipments_in_scope(root).values("pk")
    ).aggregate(**aggregates)
    return [
        {"bucket": str(label), "discrepancies": totals[f"n{i}"], "quantity": totals[f"q{i}"] or 0}
        for i, (label, _low, _high) in enumerate(AGE_BUCKETS)
    ]


def write_offs_by_reason(*, root, date_from: dt.date, date_to: dt.date) -> list[dict]:
    """Quantity written off per reason and product: entries at the loss location dated in the period."""
    loss = Location.objects.get(virtual_role=VirtualRole.LOSS)
    entries = LedgerEntry.objects.filter(
        location=loss, reason__in=WRITE_OFF_REASONS, business_date__gte=date_from, business_date__lte=date_to
    )
    if root is not None:
        shipments = shipments_in_scope(root).values("pk")
        touches_scope = LedgerEntry.objects.filter(movement=OuterRef("movement"), location__in=scope_locations(root))
        entries = entries.filter(
            Exists(touches_scope)
            | Q(movement_id__in=Receipt.objects.filter(shipment__in=shipments).values("movement_id"))
            | Q(
                movement_id__in=Discrepancy.objects.filter(
                    shipment__in=shipments, resolution_movement__isnull=False
                ).values("resolution_movement_id")
            )
        )
    sums = (
        entries.values_list("reason", "product__code")
        .annotate(q=Sum("quantity"))
        .values_list("reason", "product__code", "q")
    )
    order = {reason: i for i, reason in enumerate(WRITE_OFF_REASONS)}
    return [
        {"reason": reason, "label": str(EntryReason(reason).label), "product": product, "quantity": quantity}
        for reason, product, quantity in sorted(sums, key=lambda r: (order[r[0]], r[1]))
    ]


# --- the report as the page and the exports show it ----------------------------------------


@dataclass
class Section:
    key: str
    title: str
    columns: list[str]
    rows: list[list]


def report_sections(*, root, date_from: dt.date, date_to: dt.date, today: dt.date | None = None) -> list[Section]:
    """Every section of the report as titled tables of plain values (str, int, Decimal, None)."""
    transit_levels, transit_pairs = in_transit_by_route(root=root)
    rate_routes, rate_origins = discrepancy_rates(root=root, date_from=date_from, date_to=date_to)
    rate_columns = [
        str(_("received")),
        str(_("with a discrepancy")),
        str(_("% of shipments")),
        str(_("quantity shipped")),
        str(_("short + damaged")),
        str(_("% of quantity")),
    ]

    def rate_values(r):
        return [
            r["received"],
            r["with_discrepancy"],
            r["shipment_rate"],
            r["shipped"],
            r["short_damaged"],
            r["quantity_rate"],
        ]

    return [
        Section(
            "states",
            str(_("Shipments by state")),
            [str(_("state")), str(_("shipments"))],
            [[r["label"], r["shipments"]] for r in shipments_by_state(root=root, date_from=date_from, date_to=date_to)],
        ),
        Section(
            "transit_routes",
            str(_("In transit now, by route")),
            [str(_("from level")), str(_("to level")), str(_("product")), str(_("shipments")), str(_("quantity"))],
            [
                [r["origin_level"], r["destination_level"], r["product"], r["shipments"], r["quantity"]]
                for r in transit_levels
            ],
        ),
        Section(
            "transit_pairs",
            str(_("In transit now, by origin and destination")),
            [
                str(_("origin")),
                str(_("origin name")),
                str(_("destination")),
                str(_("destination name")),
                str(_("product")),
                str(_("shipments")),
                str(_("quantity")),
            ],
            [
                [
                    r["origin"],
                    r["origin_name"],
                    r["destination"],
                    r["destination_name"],
                    r["product"],
                    r["shipments"],
                    r["quantity"],
                ]
                for r in transit_pairs
            ],
        ),
        Section(
            "rate_routes",
            str(_("Discrepancy rate by route")),
            [str(_("from level")), str(_("to level")), *rate_columns],
            [[r["origin_level"], r["destination_level"], *rate_values(r)] for r in rate_routes],
        ),
        Section(
            "rate_origins",
            str(_("Discrepancy rate by origin")),
            [str(_("origin")), str(_("origin name")), *rate_columns],
            [[r["origin"], r["origin_name"], *rate_values(r)] for r in rate_origins],
        ),
        Section(
            "open_ages",
            str(_("Age of open discrepancies")),
            [str(_("age")), str(_("discrepancies")), str(_("quantity"))],
            [[r["bucket"], r["discrepancies"], r["quantity"]] for r in open_discrepancy_ages(root=root, today=today)],
        ),
        Section(
            "write_offs",
            str(_("Write-offs by reason")),
            [str(_("reason")), str(_("product")), str(_("quantity"))],
            [
                [r["label"], r["product"], r["quantity"]]
                for r in write_offs_by_reason(root=root, date_from=date_from, date_to=date_to)
            ],
        ),
    ]
